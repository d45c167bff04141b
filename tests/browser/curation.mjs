// Pins, stars and forwarding in the web client: a pinned message shows in the bar of both
// members and clicking the bar brings it into view; a starred message is listed under ★ and
// opens in its conversation; a forward picked in the dialog arrives in the other conversation,
// marked as forwarded.
// Env: ERIN, FINN (usernames), PLANS (a group of both), SIDE (a second group of both), FIRST
// (a message Erin wrote in PLANS).

import { run, newPage, login, shot, check } from './common.mjs';

const { ERIN, FINN, PLANS, SIDE, FIRST } = process.env;

await run(async (browser) => {
  const erin = await newPage(browser, 'erin');
  const finn = await newPage(browser, 'finn');
  await login(erin, ERIN);
  await login(finn, FINN);
  for (const p of [erin, finn]) {
    await p.locator('.room', { hasText: PLANS }).click();
    await p.locator('#messages .msg .body', { hasText: FIRST }).waitFor();
  }

  // Erin pins the first message: both see it in the pinned bar.
  const first = erin.locator('#messages .msg', { hasText: FIRST });
  await first.hover();
  await first.locator('.actions button[aria-label="Pin"]').click();
  for (const p of [erin, finn]) await p.locator('#pinned-bar .pinned', { hasText: FIRST }).waitFor();
  await finn.locator('#pinned-bar .pinned').click();
  await finn.locator('#messages .msg.flash', { hasText: FIRST }).waitFor();
  await shot(finn, 'pinned.png');

  // Finn stars it: the ★ list has it, and opening it from the other group shows it.
  const finnsFirst = finn.locator('#messages .msg', { hasText: FIRST });
  await finnsFirst.hover();
  await finnsFirst.locator('.actions button[aria-label="Star"]').click();
  await finnsFirst.locator('.star-mark').waitFor();
  await finn.locator('.room', { hasText: SIDE }).click();
  await finn.locator('#chat-title', { hasText: SIDE }).waitFor();
  await finn.click('#starred-button');
  await finn.locator('#starred-list button', { hasText: FIRST }).click();
  await finn.locator('#chat-title', { hasText: PLANS }).waitFor();
  await finn.locator('#messages .msg.flash', { hasText: FIRST }).waitFor();

  // Erin forwards it to the other group: Finn sees it there, marked as forwarded.
  await first.hover();
  await first.locator('.actions button[aria-label="Forward"]').click();
  await erin.locator('#forward-list label', { hasText: SIDE }).locator('input').check();
  await erin.click('#forward-go');
  await finn.locator('.room', { hasText: SIDE }).click();
  const copy = finn.locator('#messages .msg', { hasText: FIRST });
  await copy.locator('.forwarded').waitFor();
  check((await copy.count()) === 1, 'one forwarded copy');
});
