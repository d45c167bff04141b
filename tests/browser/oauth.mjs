// Sign-in with a provider (a stand-in Facebook on loopback) and login CSRF: a token handed to the
// page in `#oauth_token=` is taken only beside the value the page made when it started that
// sign-in, and never replaces a signed-in account without asking in the page.
// Env: ATTACKER_TOKEN (someone else's valid token), VERA_USERNAME (a password account),
// OLGA_NAME (the display name of the account the provider signs in). At the end Olga, who has no
// password, deletes her account by typing her username.

import { BASE, run, newPage, login, shot, check } from './common.mjs';

const ATTACKER = process.env.ATTACKER_TOKEN;
const VERA = process.env.VERA_USERNAME.toLowerCase();
const OLGA = process.env.OLGA_NAME;

/** Who the page's stored token belongs to (null when none or invalid). */
async function signedInAs(page) {
  return page.evaluate(async () => {
    const t = localStorage.getItem('chat.token');
    if (!t) return null;
    const res = await fetch('/api/me', { headers: { Authorization: `Bearer ${t}` } });
    return res.ok ? (await res.json()).user.display_name : null;
  });
}

await run(async (browser) => {
  let nativeDialog = false;

  // 1. Vera is signed in; a link carrying someone else's token (no value of this page's, or a
  // made-up one) changes nothing, and says so.
  const vera = await newPage(browser, 'vera');
  vera.on('dialog', (d) => { nativeDialog = true; d.dismiss(); });
  await login(vera, VERA);
  const veraName = await signedInAs(vera);
  for (const fragment of [`oauth_token=${ATTACKER}`, `oauth_token=${ATTACKER}&oauth_nonce=madeupvalue0123456789`]) {
    // A link followed from elsewhere: a fresh load of the page (not a same-page hash change).
    await vera.goto('about:blank');
    await vera.goto(`${BASE}/#${fragment}`);
    await vera.locator('#notice-bar', { hasText: 'did not start' }).waitFor();
    await vera.locator('#me-name', { hasText: veraName }).waitFor();
    check(await signedInAs(vera) === veraName, `still Vera after ${fragment.slice(0, 20)}…`);
    check(await vera.evaluate((a) => localStorage.getItem('chat.token') !== a, ATTACKER), 'the foreign token was not stored');
  }

  // 2. Nobody signed in: the foreign token is ignored too; the sign-in form stays.
  const fresh = await newPage(browser, 'fresh');
  await fresh.goto(`${BASE}/#oauth_token=${ATTACKER}`);
  await fresh.locator('#auth-notice', { hasText: 'did not start' }).waitFor();
  check(await fresh.locator('#app').isHidden(), 'not signed in by a foreign link');
  check(await fresh.evaluate(() => localStorage.getItem('chat.token')) === null, 'no token stored');

  // 3. A sign-in this page started works: provider, callback, back with the token and the value.
  await fresh.locator('#oauth-providers button', { hasText: 'facebook' }).click();
  await fresh.locator('#app').waitFor();
  await fresh.locator('#me-name', { hasText: OLGA }).waitFor();
  check(await signedInAs(fresh) === OLGA, 'signed in through the provider');
  check(await fresh.evaluate(() => sessionStorage.getItem('chat.oauth_nonce')) === null, 'the value is forgotten once used');
  check(!(await fresh.evaluate(() => location.hash)), 'the fragment is cleared');
  await shot(fresh, 'oauth-signed-in.png');

  // 4. A sign-in started on a tab still showing the form, while another tab of the same browser
  // signed Vera in: the page asks before switching. Cancel keeps Vera (and signs the new token
  // out); Switch changes to the new account.
  async function returnWhileVeraIsSignedIn(name) {
    const tab = await newPage(browser, name);
    tab.on('dialog', (d) => { nativeDialog = true; d.dismiss(); });
    await tab.goto(BASE);
    await tab.locator('#oauth-providers button', { hasText: 'facebook' }).waitFor();
    const other = await tab.context().newPage();
    await login(other, VERA);
    await other.close();
    await tab.locator('#oauth-providers button', { hasText: 'facebook' }).click();
    await tab.locator('#ask[open]', { hasText: VERA }).waitFor();
    check(await tab.evaluate(() => sessionStorage.getItem('chat.oauth_nonce')) === null, 'the value is used up');
    return tab;
  }
  const stay = await returnWhileVeraIsSignedIn('stay');
  await shot(stay, 'oauth-switch-question.png');
  await stay.click('#ask-cancel');
  await stay.locator('#me-name', { hasText: veraName }).waitFor();
  check(await signedInAs(stay) === veraName, 'Cancel keeps Vera signed in');

  const change = await returnWhileVeraIsSignedIn('switch');
  await change.click('#ask-ok');
  await change.locator('#me-name', { hasText: OLGA }).waitFor();
  check(await signedInAs(change) === OLGA, 'Switch signs in as the new account');

  // 5. Olga's account, made by the provider sign-in, has no password: deleting it asks for her
  // username instead, refuses another one, and signs her out once it is hers.
  const olgaName = await change.evaluate(async () => {
    const res = await fetch('/api/me', { headers: { Authorization: `Bearer ${localStorage.getItem('chat.token')}` } });
    return (await res.json()).user.username;
  });
  await change.click('#me-button');
  await change.locator('#privacy-section').getByRole('button', { name: 'Delete account', exact: true }).click();
  const screen = change.locator('#privacy');
  const field = screen.getByLabel('Your username, to confirm');
  await field.waitFor();
  check(await screen.getByLabel('Your password, to confirm').count() === 0, 'no password is asked for');
  await field.fill('somebody.else');
  await screen.getByRole('button', { name: 'Delete my account' }).click();
  await screen.getByRole('alert').filter({ hasText: 'That is not your username; the account was not deleted.' }).waitFor();
  check(await signedInAs(change) === OLGA, 'a wrong username deletes nothing');
  await field.fill(olgaName);
  await screen.getByRole('button', { name: 'Delete my account' }).click();
  await change.locator('#auth-notice', { hasText: 'Your account was deleted.' }).waitFor();
  check(await change.evaluate(() => localStorage.getItem('chat.token')) === null, 'the token is gone');
  check(!nativeDialog, 'no native dialog');
});
