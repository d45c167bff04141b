// An admin removes a message and then a whole conversation from the admin page, each asked in
// the page first (Cancel changes nothing): the members watching see the message deleted at
// once, then the conversation leave their lists. Ann reads on a phone-sized screen, Bob on a
// desktop; the admin removes the message on a desktop and the conversation on a phone.
// Env: ADMIN, ANN, BOB (usernames), GROUP (the group's name), SPAM (the text of the message to
// remove, whose id is MESSAGE), KEPT (another message of the group).

import { BASE, run, newPage, login, shot, check } from './common.mjs';

const { GROUP, SPAM, KEPT, MESSAGE } = process.env;
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

await run(async (browser) => {
  const native = [];
  const watch = (page) => page.on('dialog', (d) => { native.push(d.message()); d.dismiss(); });
  const ann = await newPage(browser, 'ann', PHONE);
  const bob = await newPage(browser, 'bob');
  const admin = await newPage(browser, 'admin');
  for (const p of [ann, bob, admin]) watch(p);
  await login(ann, process.env.ANN);
  await login(bob, process.env.BOB);
  for (const p of [ann, bob]) {
    await p.locator('.room', { hasText: GROUP }).click();
    await p.locator('#messages .msg .body', { hasText: SPAM }).waitFor();
  }
  await login(admin, process.env.ADMIN);
  await admin.goto(`${BASE}/admin/`);
  await admin.locator('#panels').waitFor();

  // A message id that does not exist is refused in the page.
  const ask = admin.locator('#confirm');
  await admin.getByLabel(/Message id/).fill('no-such-message');
  await admin.getByRole('button', { name: 'Remove message' }).click();
  await ask.getByRole('button', { name: 'Remove message' }).click();
  await admin.locator('#remove-error', { hasText: 'No message has this id.' }).waitFor();

  // Cancel keeps it; confirming deletes it for everyone, live.
  await admin.getByLabel(/Message id/).fill(MESSAGE);
  await admin.locator('#remove-message').getByRole('button', { name: 'Remove message' }).click();
  await ask.locator('#confirm-text', { hasText: 'for everyone' }).waitFor();
  await ask.getByRole('button', { name: 'Cancel' }).click();
  check(await ask.evaluate((d) => !d.open), 'the question closed');
  check(await bob.locator('#messages .msg.deleted').count() === 0, 'Cancel removed nothing');
  await admin.locator('#remove-message').getByRole('button', { name: 'Remove message' }).click();
  await ask.getByRole('button', { name: 'Remove message' }).click();
  await admin.locator('#removed', { hasText: 'removed for everyone' }).waitFor();
  for (const p of [ann, bob]) {
    await p.locator('#messages .msg.deleted', { hasText: 'Message deleted' }).waitFor();
    check(await p.locator('#messages .msg .body', { hasText: SPAM }).count() === 0, 'the text is gone');
    check(await p.locator('#messages .msg .body', { hasText: KEPT }).count() === 1, 'the other message stays');
  }
  await shot(ann, 'admin-removed-message-phone.png');

  // The whole conversation, from a phone-sized admin page.
  const small = await newPage(browser, 'admin-phone', PHONE);
  watch(small);
  await login(small, process.env.ADMIN);
  await small.goto(`${BASE}/admin/`);
  const row = small.locator('#rooms tr', { hasText: GROUP });
  await row.waitFor();
  const remove = row.getByRole('button', { name: `Remove the group ${GROUP}` });
  await remove.click();
  const question = small.locator('#confirm');
  await question.locator('#confirm-text', { hasText: 'for all 2 members' }).waitFor();
  await question.getByRole('button', { name: 'Cancel' }).click();
  check(await question.evaluate((d) => !d.open), 'the question closed');
  check(await ann.locator('.room', { hasText: GROUP }).count() + await bob.locator('.room', { hasText: GROUP }).count() > 0, 'Cancel kept it');
  await remove.click();
  await shot(small, 'admin-remove-room-phone.png');
  await question.getByRole('button', { name: 'Remove conversation' }).click();
  await row.waitFor({ state: 'detached' });
  // Each member's page drops it: the open conversation closes and the list no longer has it.
  for (const p of [ann, bob]) {
    await p.locator('#chat-title', { hasText: GROUP }).waitFor({ state: 'hidden' });
    await p.locator('.room', { hasText: GROUP }).waitFor({ state: 'detached' });
  }
  await ann.reload();
  await ann.locator('#app').waitFor();
  await ann.waitForFunction(() => document.body.dataset.conn === 'online');
  check(await ann.locator('.room', { hasText: GROUP }).count() === 0, 'it stays gone after a reload');
  check(native.length === 0, `no native dialog: ${native.join('; ')}`);
});
