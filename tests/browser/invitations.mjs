// Invitations to groups: Cy lets nobody add her, so Ann's adds become invitations. One arrives
// live and is accepted in the page (the group appears); one waiting across a reload is declined
// (it goes, and no group appears).
// Env: CY_USERNAME, CY_ID, ANN_TOKEN, CLUB (room id), OTHER (room id).

import { BASE, run, newPage, login, shot, check } from './common.mjs';

const invite = (page, room) => page.request.post(`${BASE}/api/rooms/${room}/members`, {
  headers: { Authorization: `Bearer ${process.env.ANN_TOKEN}` },
  data: { user: process.env.CY_ID },
});

await run(async (browser) => {
  const cy = await newPage(browser, 'cy');
  await login(cy, process.env.CY_USERNAME);
  check(await cy.locator('#invitations').isHidden(), 'no invitations at first');

  const r = await invite(cy, process.env.CLUB);
  check(r.status() === 202, `invited (${r.status()})`);
  const club = cy.locator('#invitations li', { hasText: 'Club' });
  await club.waitFor();
  await shot(cy, 'invitation.png');
  check(await cy.locator('#room-list li', { hasText: 'Club' }).count() === 0, 'no group before accepting');
  await club.locator('button', { hasText: 'Accept' }).click();
  await cy.locator('#room-list li', { hasText: 'Club' }).waitFor();
  await cy.locator('#invitations').waitFor({ state: 'hidden' });

  const r2 = await invite(cy, process.env.OTHER);
  check(r2.status() === 202, `invited again (${r2.status()})`);
  await cy.reload();
  const other = cy.locator('#invitations li', { hasText: 'Other' });
  await other.waitFor();
  await other.locator('button', { hasText: 'Decline' }).click();
  await cy.locator('#invitations').waitFor({ state: 'hidden' });
  const left = await cy.request.get(`${BASE}/api/invitations`, {
    headers: { Authorization: `Bearer ${await cy.evaluate(() => localStorage.getItem('chat.token'))}` },
  });
  check((await left.json()).invitations.length === 0, 'declined: none pending');
  check(await cy.locator('#room-list li', { hasText: 'Other' }).count() === 0, 'no group after declining');
});
