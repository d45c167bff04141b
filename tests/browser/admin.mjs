// The admin page: registering first makes nobody admin; the one-time setup code the server
// printed (BOOTSTRAP_CODE), entered on the admin page, does. The admin sees the live connection
// count, and banning a user disconnects them at once and refuses their login; the admin role is
// given and taken from the page; the write buffer's dead letters are shown. A non-admin is refused.

import { BASE, run, newPage, register, login, shot, unique, check } from './common.mjs';

async function statValue(page, metric) {
  return page.locator(`[data-metric="${metric}"]`).textContent();
}

await run(async (browser) => {
  const boss = await newPage(browser, 'boss');
  const mallory = await newPage(browser, 'mallory');
  const bossName = unique('boss');
  const malloryName = unique('mallory');
  await register(boss, bossName, 'Boss');
  await register(mallory, malloryName, 'Mallory');
  check(await boss.locator('#admin-link').isHidden(), 'the first account is not an admin by being first');

  // The boss enters the setup code on the admin page: a wrong one is refused in the page.
  const setup = await boss.context().newPage();
  await setup.goto(`${BASE}/admin/`);
  await setup.locator('#refused', { hasText: 'Admins only' }).waitFor();
  await setup.fill('#bootstrap-code', 'not-the-code');
  await setup.click('#bootstrap-submit');
  await setup.locator('#bootstrap-error', { hasText: 'invalid or used' }).waitFor();
  await setup.fill('#bootstrap-code', process.env.BOOTSTRAP_CODE);
  await setup.click('#bootstrap-submit');
  await setup.locator('#panels').waitFor();
  check(await setup.locator('#bootstrap').isHidden(), 'no setup form for an admin');
  await setup.close();
  await boss.reload();
  await boss.locator('#admin-link').waitFor();
  check(await mallory.locator('#admin-link').isHidden(), 'no admin link for a non-admin');

  // They talk, so there is a conversation to list.
  await boss.click('#new-chat-button');
  await boss.fill('#people-search', malloryName);
  await boss.locator(`#people-results li[data-user="${malloryName}"] button`, { hasText: 'Chat' }).click();
  await boss.locator('#composer-input').fill('Welcome aboard');
  await boss.keyboard.press('Enter');
  await mallory.locator('.room .last', { hasText: 'Welcome aboard' }).waitFor();

  // A non-admin opening the admin page is refused.
  const peek = await mallory.context().newPage();
  await peek.goto(`${BASE}/admin/`);
  await peek.locator('#refused', { hasText: 'Admins only' }).waitFor();
  check(await peek.locator('#panels').isHidden(), 'no admin panels for a non-admin');
  await peek.fill('#bootstrap-code', process.env.BOOTSTRAP_CODE);
  await peek.click('#bootstrap-submit');
  await peek.locator('#bootstrap-error', { hasText: 'invalid or used' }).waitFor();
  await shot(peek, 'admin-refused.png');
  await peek.close();

  // The admin sees both open chat pages as live connections.
  const admin = await boss.context().newPage();
  await admin.goto(`${BASE}/admin/`);
  await admin.waitForFunction(() => document.querySelector('[data-metric="connections"]')?.textContent === '2');
  await admin.fill('#user-search', malloryName);
  const row = admin.locator(`#users tr[data-user="${malloryName}"]`);
  await row.waitFor();
  await shot(admin, 'admin.png');

  // The conversation is listed with its size; a click shows its members.
  const convo = admin.locator('#rooms tr', { hasText: 'dm' });
  await convo.locator('td:nth-child(3)', { hasText: '2' }).waitFor();
  await convo.locator('td:nth-child(4)', { hasText: '1' }).waitFor();
  await convo.click();
  await admin.locator('#member-list li', { hasText: `@${malloryName}` }).waitFor();
  await admin.locator('#member-list li', { hasText: `@${bossName}` }).waitFor();

  // The admin is never offered to ban themselves.
  await admin.fill('#user-search', bossName);
  const own = admin.locator(`#users tr[data-user="${bossName}"]`);
  await own.waitFor();
  check(await own.locator('button', { hasText: /^Ban$/ }).count() === 0, "no Ban button on the admin's own row");
  await admin.fill('#user-search', malloryName);
  await row.waitFor();

  // Ban asks first, in the page: Cancel changes nothing.
  let nativeDialog = false;
  admin.on('dialog', (d) => { nativeDialog = true; d.dismiss(); });
  await row.locator('button', { hasText: 'Ban' }).click();
  await admin.locator('#confirm[open]', { hasText: malloryName }).waitFor();
  await admin.click('#confirm-no');
  await admin.locator('#confirm[open]').waitFor({ state: 'detached' }).catch(() => {});
  check(await admin.locator('#confirm').evaluate((d) => !d.open), 'the question closed');
  check(await row.locator('td.banned').count() === 0, 'Cancel did not ban');
  check(await mallory.locator('#app').isVisible(), 'Mallory is still signed in after Cancel');

  // Banning Mallory closes her connection at once: her page goes back to the sign-in form.
  await row.locator('button', { hasText: 'Ban' }).click();
  await admin.locator('#confirm[open]').waitFor();
  await admin.click('#confirm-yes');
  await mallory.locator('#auth-notice', { hasText: 'banned' }).waitFor();
  await admin.locator(`#users tr[data-user="${malloryName}"] td.banned`).waitFor();
  await admin.waitForFunction(() => document.querySelector('[data-metric="connections"]')?.textContent === '1');
  check(await statValue(admin, 'connections') === '1', 'one connection left');
  await shot(admin, 'admin-banned.png');
  check(!nativeDialog, 'no native confirm or alert');

  // Her login is refused.
  await mallory.fill('#auth-username', malloryName);
  await mallory.fill('#auth-password', 'correct horse battery');
  await mallory.click('#auth-submit');
  await mallory.locator('#auth-error', { hasText: 'banned' }).waitFor();
  await shot(mallory, 'banned-login.png');

  // Unbanned, she can sign in again.
  await admin.locator(`#users tr[data-user="${malloryName}"] button`, { hasText: 'Unban' }).click();
  await admin.locator(`#users tr[data-user="${malloryName}"] td`, { hasText: 'active' }).waitFor();
  await login(mallory, malloryName);

  // The admin role is given from the page, asked first; Mallory then sees the admin link, and
  // the role is taken back the same way. The admin's own row offers neither.
  check(await own.locator('button', { hasText: /admin/ }).count() === 0, "no role button on the admin's own row");
  await row.locator('button', { hasText: 'Make admin' }).click();
  await admin.locator('#confirm[open]', { hasText: malloryName }).waitFor();
  await admin.click('#confirm-yes');
  await admin.locator(`#users tr[data-user="${malloryName}"] td`, { hasText: /^admin$/ }).waitFor();
  await mallory.reload();
  await mallory.locator('#admin-link').waitFor();
  await row.locator('button', { hasText: 'Remove admin' }).click();
  await admin.locator('#confirm[open]').waitFor();
  await admin.click('#confirm-yes');
  await admin.locator(`#users tr[data-user="${malloryName}"] td`, { hasText: /^user$/ }).waitFor();

  // The write buffer's state: this server has no Redis, so nothing can be dead-lettered.
  await admin.locator('#dead-letters-state', { hasText: 'No Redis write buffer' }).waitFor();
  check(await admin.locator('[data-metric="dead_letters"]').textContent() === '0', 'dead letters charted');
});
