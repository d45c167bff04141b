// Group management from the conversation header, on a desktop and then a phone-sized touch
// screen (one group each). Ann owns the group; Ben and Cy are members with the app open on
// desktops. Ann opens the members panel from the header (by mouse, Escape closes it and the
// keyboard opens it again) and
// - renames the group: Ben's conversation list and his open panel show the new name;
// - makes Ben an admin: Ben's panel says so and offers "Add members", live;
// - finds Eve by name and adds her: she is listed on both sides; Dan (who lets nobody add him)
//   is shown as invited, not as an error; Fay (who blocked Ann) is refused inline;
// - removes Cy (asked in the page): Cy's conversation list loses the group;
// - changes the group photo: Ben's header shows the picture.
// Ben, a plain member at first, sees no management; finally he leaves (asked in the page, Cancel
// first): his list loses the group and Ann's panel loses him. No native dialog opens.
// Env: ANN, BEN, CY (usernames), GROUPS (the two groups' names, comma-separated).

import { run, newPage, login, shot, check } from './common.mjs';

const PHONE = { viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true };

/** Counts native dialogs (there must be none). */
function watchNative(page, native) {
  page.on('dialog', (d) => { native.push(d.message()); d.dismiss(); });
}

/** The room-list entry named exactly `name`. */
const roomEntry = (page, name) => page.locator('#room-list .room').filter({ has: page.locator('.name', { hasText: new RegExp(`^${name}$`) }) });

async function openGroup(page, name) {
  await roomEntry(page, name).click();
  await page.locator('#chat-title', { hasText: name }).waitFor();
}

async function openPanel(page) {
  await page.click('#chat-info');
  const panel = page.locator('#group-panel');
  await panel.waitFor();
  return panel;
}

/** The member row of display name `name` in `panel`. */
const memberRow = (panel, name) => panel.getByRole('list', { name: 'Members' }).locator('li')
  .filter({ has: panel.page().locator('.person-name', { hasText: new RegExp(`^${name}( \\(you\\))?$`) }) });

async function pngOf(page) {
  const url = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 96;
    c.height = 96;
    const g = c.getContext('2d');
    g.fillStyle = '#c2410c';
    g.fillRect(0, 0, 96, 96);
    g.fillStyle = '#fde68a';
    g.fillRect(24, 24, 48, 48);
    return c.toDataURL('image/png');
  });
  return Buffer.from(url.split(',')[1], 'base64');
}

async function manage(browser, group, phone) {
  const tag = phone ? 'phone' : 'desktop';
  const native = [];
  const renamed = `${group} renamed`;

  const ben = await newPage(browser, `ben-${tag}`);
  watchNative(ben, native);
  await login(ben, process.env.BEN);
  await openGroup(ben, group);
  const benPanel = await openPanel(ben);
  await memberRow(benPanel, 'Ann').getByText('owner').waitFor();
  await memberRow(benPanel, 'Ben').getByText('member').waitFor();
  await memberRow(benPanel, 'Cy').getByText('member').waitFor();
  check(await benPanel.getByRole('button', { name: 'Rename' }).isHidden(), `${tag}: a member cannot rename`);
  check(await benPanel.getByText('Add members').isHidden(), `${tag}: a member cannot add`);
  check(await benPanel.getByRole('button', { name: /^Remove/ }).count() === 0, `${tag}: a member cannot remove`);
  await benPanel.getByRole('button', { name: 'Leave group' }).waitFor();

  const cy = await newPage(browser, `cy-${tag}`);
  await login(cy, process.env.CY);
  await roomEntry(cy, group).waitFor();

  const ann = await newPage(browser, `ann-${tag}`, phone ? PHONE : {});
  watchNative(ann, native);
  await login(ann, process.env.ANN);
  await openGroup(ann, group);
  let panel = await openPanel(ann);
  await memberRow(panel, 'Ann').locator('.person', { hasText: 'Ann (you)' }).waitFor();
  check(await memberRow(panel, 'Ben').getByRole('combobox', { name: 'Role of Ben' }).inputValue() === 'member', `${tag}: Ben is a member`);
  await panel.getByText(/3 members/).waitFor();
  await shot(ann, `group-panel-${tag}.png`);

  // The keyboard: Escape closes and gives focus back to the header; Enter opens it again.
  await ann.keyboard.press('Escape');
  await panel.waitFor({ state: 'hidden' });
  await ann.waitForFunction(() => document.activeElement?.id === 'chat-info', null, { timeout: 2000 })
    .catch(() => { throw new Error(`${tag}: focus is not back on the header`); });
  await ann.keyboard.press('Enter');
  await panel.waitFor();
  check(await ann.evaluate(() => !!document.activeElement?.closest('#group-panel')), `${tag}: focus is in the panel`);

  // Rename: the other member sees the new name in his list and his open panel.
  await panel.getByLabel('Group name').fill(renamed);
  await panel.getByRole('button', { name: 'Rename' }).click();
  await panel.getByRole('heading', { name: renamed }).waitFor();
  await ann.locator('#chat-title', { hasText: renamed }).waitFor();
  await roomEntry(ben, renamed).waitFor();
  await benPanel.getByRole('heading', { name: renamed }).waitFor();
  await ben.locator('#chat-title', { hasText: renamed }).waitFor();

  // Roles: Ben becomes an admin; his panel follows and now offers adding.
  await memberRow(panel, 'Ben').getByRole('combobox', { name: 'Role of Ben' }).selectOption('admin');
  await benPanel.getByText('you are an admin').waitFor();
  await memberRow(benPanel, 'Ben').getByText('admin').waitFor();
  await benPanel.getByText('Add members').waitFor();
  await benPanel.getByRole('button', { name: 'Remove Cy' }).waitFor();

  // Adding: Eve joins; Dan is invited; Fay, who blocked Ann, is refused in the panel.
  const find = panel.getByLabel('Find people');
  const found = panel.getByRole('list', { name: 'People found' });
  await find.fill('Eve');
  await found.getByRole('button', { name: 'Add Eve' }).click();
  await memberRow(panel, 'Eve').waitFor();
  await memberRow(benPanel, 'Eve').waitFor();
  await panel.getByText('Eve was added.').waitFor();
  await find.fill('Dan');
  await found.getByRole('button', { name: 'Add Dan' }).click();
  await found.locator('li', { hasText: 'Dan' }).getByText('Invited').waitFor();
  await panel.getByText('Dan was invited').waitFor();
  check(await panel.getByRole('alert').isHidden(), `${tag}: an invitation is no error`);
  check(await memberRow(panel, 'Dan').count() === 0, `${tag}: Dan is not a member yet`);
  await find.fill('Fay');
  await found.getByRole('button', { name: 'Add Fay' }).click();
  await panel.getByRole('alert').filter({ hasText: 'Fay cannot be added to this group by you.' }).waitFor();
  check(await memberRow(panel, 'Fay').count() === 0, `${tag}: Fay was not added`);
  await shot(ann, `group-adds-${tag}.png`);

  // Removing asks in the page; Cy's list loses the group.
  await memberRow(panel, 'Cy').getByRole('button', { name: 'Remove Cy' }).click();
  const askBox = ann.locator('#ask');
  await askBox.getByText(`Remove Cy from “${renamed}”?`).waitFor();
  await askBox.getByRole('button', { name: 'Remove' }).click();
  await memberRow(panel, 'Cy').waitFor({ state: 'detached' });
  await memberRow(benPanel, 'Cy').waitFor({ state: 'detached' });
  await roomEntry(cy, renamed).waitFor({ state: 'detached' });
  check(await roomEntry(cy, group).count() === 0, `${tag}: Cy's list no longer has the group`);

  // The group photo: Ben's header shows it.
  await panel.locator('input[type=file]').setInputFiles({ name: 'group.png', mimeType: 'image/png', buffer: await pngOf(ann) });
  await panel.getByText('Group photo changed.').waitFor();
  await ben.waitForFunction(() => {
    const img = document.querySelector('#chat-avatar img');
    return img && img.complete && img.naturalWidth > 0;
  });
  await shot(ben, `group-photo-${tag}.png`);

  // Ben leaves, asked first; Cancel keeps him in.
  await benPanel.getByRole('button', { name: 'Leave group' }).click();
  const benAsk = ben.locator('#ask');
  await benAsk.getByText(`Leave “${renamed}”?`).waitFor();
  await benAsk.getByRole('button', { name: 'Cancel' }).click();
  await benAsk.waitFor({ state: 'hidden' });
  check(await roomEntry(ben, renamed).count() === 1, `${tag}: Cancel keeps Ben in the group`);
  await benPanel.getByRole('button', { name: 'Leave group' }).click();
  await benAsk.getByRole('button', { name: 'Leave' }).click();
  await benPanel.waitFor({ state: 'hidden' });
  await roomEntry(ben, renamed).waitFor({ state: 'detached' });
  await memberRow(panel, 'Ben').waitFor({ state: 'detached' });
  await panel.getByText(/^2 members/).waitFor();
  await shot(ann, `group-after-${tag}.png`);
  check(native.length === 0, `${tag}: no native dialog: ${native.join('; ')}`);
  for (const p of [ann, ben, cy]) await p.context().close();
}

await run(async (browser) => {
  const [desktopGroup, phoneGroup] = process.env.GROUPS.split(',');
  await manage(browser, desktopGroup, false);
  await manage(browser, phoneGroup, true);
});
