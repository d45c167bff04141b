// Mentions, reactions and replies in a group, as two members see them: `@` completes a member's
// name, the mentioned member's list shows an @ badge and the mention is highlighted; a reaction
// from the palette shows on both sides, tapping it adds or takes back mine; a reply shows a
// quote of the original, and clicking the quote brings the original into view.
// Env: ERIN, FINN (usernames, both in the group PLANS, where Erin wrote FIRST).

import { run, newPage, login, shot, check } from './common.mjs';

const { ERIN, FINN, PLANS, FIRST } = process.env;

await run(async (browser) => {
  const erin = await newPage(browser, 'erin');
  const finn = await newPage(browser, 'finn');
  await login(erin, ERIN);
  await login(finn, FINN);

  // Erin mentions Finn by completing "@fi…".
  await erin.locator('.room', { hasText: PLANS }).click();
  await erin.locator('#messages .msg .body', { hasText: FIRST }).waitFor();
  const input = erin.locator('#composer-input');
  await input.pressSequentially(`@${FINN.slice(0, 3)}`);
  await erin.locator(`#mention-list li[data-username="${FINN}"]`).waitFor();
  await input.press('Enter');
  check((await input.inputValue()) === `@${FINN} `, `completed to "@${FINN} ", got "${await input.inputValue()}"`);
  await input.pressSequentially('pizza?');
  await input.press('Enter');

  // Finn's list marks the mention; in the conversation it is highlighted.
  const room = finn.locator('.room', { hasText: PLANS });
  await room.locator('.mention-badge').waitFor();
  await room.click();
  const mention = finn.locator('#messages .msg.mentions-me .mention.self', { hasText: `@${FINN}` });
  await mention.waitFor();
  check((await finn.locator('.room .mention-badge').count()) === 0, 'the @ badge goes once read');
  await shot(finn, 'mention.png');

  // Finn reacts from the palette; Erin sees it and adds hers by tapping the chip.
  const finnsFirst = finn.locator('#messages .msg', { hasText: FIRST });
  await finnsFirst.hover();
  await finnsFirst.locator('.react-button').click();
  await finnsFirst.locator('.react-palette button', { hasText: '👍' }).click();
  const erinsChip = erin.locator('#messages .msg', { hasText: FIRST }).locator('.reaction[data-emoji="👍"]');
  await erinsChip.locator('.count', { hasText: '1' }).waitFor();
  check((await erinsChip.getAttribute('aria-pressed')) === 'false', 'not mine yet');
  await erinsChip.click();
  await erinsChip.locator('.count', { hasText: '2' }).waitFor();
  check((await erinsChip.getAttribute('aria-pressed')) === 'true', 'mine after tapping');
  const finnsChip = finnsFirst.locator('.reaction[data-emoji="👍"]');
  await finnsChip.locator('.count', { hasText: '2' }).waitFor();
  // Finn takes his back.
  await finnsChip.click();
  await erinsChip.locator('.count', { hasText: '1' }).waitFor();
  await shot(erin, 'reactions.png');

  // Finn replies to the first message; Erin sees the quote and clicking it shows the original.
  await finnsFirst.hover();
  await finnsFirst.locator('.actions button[aria-label="Reply"]').click();
  await finn.locator('#composer-input').pressSequentially('sushi');
  await finn.locator('#composer-input').press('Enter');
  const reply = erin.locator('#messages .msg', { hasText: 'sushi' });
  const quote = reply.locator('.quote', { hasText: FIRST });
  await quote.waitFor();
  await quote.click();
  await erin.locator('#messages .msg.flash', { hasText: FIRST }).waitFor();
  check((await erin.locator('#messages .msg', { hasText: /null/ }).count()) === 0, 'no stray "null" in messages');
});
