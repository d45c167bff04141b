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

  // Alice writes first: the conversation appears in Bob's list with the message and an unread
  // badge, and Bob shows as online in Alice's list.
  await alice.locator('#composer-input').fill('Are you there?');
  await alice.keyboard.press('Enter');
  const bobsRoom = bob.locator('.room', { hasText: 'Alice' });
  await bobsRoom.locator('.last', { hasText: 'Are you there?' }).waitFor();
  await bobsRoom.locator('.badge', { hasText: '1' }).waitFor();
  await alice.locator('.room', { hasText: 'Bob' }).locator('.dot.online').waitFor();
  await shot(bob, 'list-phone.png');

  // Bob opens it: the badge goes.
  await bobsRoom.click();
  await bob.locator('#messages .msg .body', { hasText: 'Are you there?' }).waitFor();
  await bob.locator('#back-button').click();
  await bob.locator('.room', { hasText: 'Alice' }).waitFor();
  check(await bob.locator('.room .badge').count() === 0, 'no unread badge once read');
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

  // Bob replies to Alice's greeting by swiping it to the right on his touch screen.
  await bob.locator('.msg', { hasText: 'Hello Bob' }).evaluate((el) => {
    const box = el.getBoundingClientRect();
    const at = (x) => new Touch({ identifier: 1, target: el, clientX: x, clientY: box.top + box.height / 2 });
    const fire = (type, x, touching) => el.dispatchEvent(new TouchEvent(type, { bubbles: true, cancelable: true,
      touches: touching ? [at(x)] : [], changedTouches: [at(x)] }));
    fire('touchstart', box.left + 10, true);
    fire('touchmove', box.left + 110, true);
    fire('touchend', box.left + 110, false);
  });
  await bob.locator('#reply-bar', { hasText: 'Hello Bob' }).waitFor();
  await bob.locator('#composer-input').fill('Replying to that');
  await bob.click('#send-button');
  const reply = alice.locator('.msg', { hasText: 'Replying to that' });
  await reply.locator('.quote', { hasText: 'Hello Bob' }).waitFor();

  // Alice edits and then deletes her first message; Bob sees both.
  const firstMsg = alice.locator('.msg.mine', { hasText: 'Are you there?' });
  await firstMsg.hover();
  await firstMsg.getByRole('button', { name: 'Edit' }).click();
  await alice.locator('#composer-input').fill('Are you still there?');
  await alice.keyboard.press('Enter');
  const edited = bob.locator('.msg', { hasText: 'Are you still there?' });
  await edited.locator('.meta', { hasText: 'edited' }).waitFor();
  const editedMine = alice.locator('.msg.mine', { hasText: 'Are you still there?' });
  await editedMine.hover();
  await editedMine.getByRole('button', { name: 'Delete' }).click();
  await alice.locator('#ask', { hasText: 'Delete this message for everyone?' }).getByRole('button', { name: 'Delete' }).click();
  await bob.locator('.msg.deleted', { hasText: 'Message deleted' }).waitFor();
  check(await bob.locator('.msg', { hasText: 'Are you still there?' }).count() === 0, 'deleted text is gone');

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

  // A file from the picker arrives as a download link.
  await alice.setInputFiles('#file-input', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('plain notes\n') });
  await bob.locator('#messages .msg a.file', { hasText: 'notes.txt' }).waitFor();

  // A broadcast to picked people lands in each one's DM.
  await alice.click('#new-chat-button');
  await alice.click('#new-chat .tab[data-tab="broadcast"]');
  await alice.fill('#people-search', bobName);
  await alice.locator(`#people-results li[data-user="${bobName}"] button`, { hasText: 'Add' }).click();
  await alice.fill('#broadcast-text', 'News for everyone');
  await alice.click('#new-chat-go');
  await alice.locator('#new-chat-result', { hasText: 'Sent to 1 of 1' }).waitFor();
  await bob.locator('#messages .msg .body', { hasText: 'News for everyone' }).waitFor();
  await alice.click('#new-chat button[value="cancel"]');
  await alice.locator('.room', { hasText: 'Bob' }).locator('.last', { hasText: 'News for everyone' }).waitFor();
  await alice.click('#new-chat-button');

  // A new group shows up in Bob's list.
  await alice.click('#new-chat .tab[data-tab="group"]');
  await alice.fill('#group-name', 'Weekend plans');
  await alice.fill('#people-search', bobName);
  await alice.locator(`#people-results li[data-user="${bobName}"] button`, { hasText: 'Add' }).click();
  await alice.click('#new-chat-go');
  await alice.locator('#chat-title', { hasText: 'Weekend plans' }).waitFor();
  await alice.locator('#composer-input').fill('Group hello');
  await alice.keyboard.press('Enter');
  await bob.locator('#back-button').click();
  await bob.locator('.room', { hasText: 'Weekend plans' }).locator('.last', { hasText: 'Group hello' }).waitFor();

  // Bob leaves: Alice sees when he was last online.
  await alice.locator('.room', { hasText: 'Bob' }).click();
  await alice.locator('#chat-status', { hasText: 'online' }).waitFor();
  await bob.context().close();
  await alice.locator('#chat-status', { hasText: 'last seen' }).waitFor();
  await alice.locator('.room', { hasText: 'Bob' }).locator('.dot:not(.online)').waitFor();

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
