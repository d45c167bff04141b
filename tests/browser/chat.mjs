// Two people chat in a DM: each sees the other typing and the message arrive; an image dropped
// onto the chat reaches the other side and displays; a theme change survives a reload and a new
// sign-in. Bob uses a phone-sized touch screen.

import { BASE, run, newPage, register, login, shot, unique, check, online } from './common.mjs';

await run(async (browser) => {
  const alice = await newPage(browser, 'alice');
  const bob = await newPage(browser, 'bob', { viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true });
  const aliceName = unique('alice');
  const bobName = unique('bob');

  await alice.goto(BASE);
  await alice.locator('#auth-form').waitFor();
  await shot(alice, 'login.png');
  await register(alice, aliceName, 'Alice');
  await register(bob, bobName, 'Bob');

  // Alice starts a DM with Bob from the people search.
  await alice.click('#new-chat-button');
  await alice.fill('#people-search', bobName);
  await alice.locator(`#people-results li[data-user="${bobName}"] button`, { hasText: 'Chat' }).click();
  await alice.locator('#chat-title', { hasText: 'Bob' }).waitFor();

  // The conversation appears in Bob's list; he opens it.
  await bob.locator('.room', { hasText: 'Alice' }).click();
  await bob.locator('#chat-title', { hasText: 'Alice' }).waitFor();
  await alice.locator('#chat-status', { hasText: 'online' }).waitFor();

  // Alice types: Bob sees it; she sends: Bob sees the message.
  await alice.locator('#composer-input').pressSequentially('Hello Bob, <b>not bold</b> 👋');
  await bob.locator('#chat-status', { hasText: 'typing' }).waitFor();
  await alice.keyboard.press('Enter');
  const received = bob.locator('#messages .msg .body', { hasText: 'Hello Bob' });
  await received.waitFor();
  check((await received.textContent()) === 'Hello Bob, <b>not bold</b> 👋', 'the text arrives as typed');
  check((await bob.locator('#messages .msg b').count()) === 0, 'message text is not rendered as HTML');

  // Bob answers with an emoji from the picker: Alice sees him typing, then the message.
  await bob.locator('#composer-input').pressSequentially('Hi Alice ');
  await alice.locator('#chat-status', { hasText: 'typing' }).waitFor();
  await bob.click('#emoji-button');
  await bob.locator('#emoji-picker button', { hasText: '🎉' }).click();
  await bob.click('#send-button');
  await alice.locator('#messages .msg .body', { hasText: 'Hi Alice 🎉' }).waitFor();
  // Bob has the conversation open, so Alice's message shows as read.
  await alice.locator('#messages .msg.mine .ticks.read').first().waitFor();
  await shot(alice, 'chat-desktop.png');
  await shot(bob, 'chat-phone.png');

  // Alice drops an image onto the chat; Bob sees it displayed.
  const files = await alice.evaluateHandle(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 96;
    canvas.height = 64;
    const g = canvas.getContext('2d');
    g.fillStyle = '#e11d48';
    g.fillRect(0, 0, 96, 64);
    g.fillStyle = '#2563eb';
    g.fillRect(24, 16, 48, 32);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    const dt = new DataTransfer();
    dt.items.add(new File([blob], 'squares.png', { type: 'image/png' }));
    return dt;
  });
  await alice.dispatchEvent('#messages', 'dragenter', { dataTransfer: files });
  await alice.locator('#drop-hint').waitFor();
  await alice.dispatchEvent('#messages', 'drop', { dataTransfer: files });
  await bob.locator('#messages .msg img').waitFor();
  await bob.waitForFunction(() => {
    const img = document.querySelector('#messages .msg img');
    return img && img.complete && img.naturalWidth > 0;
  });
  await alice.locator('#messages .msg.mine img').waitFor();
  await shot(bob, 'image-phone.png');

  // Alice picks the ocean theme; it survives a reload and a sign-in elsewhere.
  await alice.click('#me-button');
  await alice.locator('#settings').waitFor();
  await shot(alice, 'settings.png');
  const saved = alice.waitForResponse((r) => r.url().endsWith('/api/me/settings') && r.request().method() === 'PATCH' && r.ok());
  await alice.selectOption('#theme-select', 'ocean');
  await saved;
  await alice.click('#settings-close');
  await alice.reload();
  await online(alice);
  check(await alice.evaluate(() => document.documentElement.dataset.theme) === 'ocean', 'theme after reload');
  const bg = await alice.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg === 'rgb(224, 242, 254)', `ocean background after reload, got ${bg}`);
  const elsewhere = await newPage(browser, 'alice-2');
  await login(elsewhere, aliceName);
  await elsewhere.waitForFunction(() => document.documentElement.dataset.theme === 'ocean');
  await shot(elsewhere, 'theme-ocean.png');
});
