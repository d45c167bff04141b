// Privacy and security in the settings, on a desktop and then a phone-sized touch screen (each
// with its own Ann, who blocked Dan). Ann is signed in on this screen and on another browser
// ("the laptop", a second page); from the settings she
// - opens "Blocked people": Dan is listed; Unblock empties the list (and the server's);
// - opens "Active sessions": two, this one marked "This device", the other named by its browser
//   and system with when it signed in and was last used; "Sign out" on the other one sends the
//   laptop back to the sign-in screen; signed in there again and on a third page, "Sign out all
//   other sessions" (asked in the page) signs both out and leaves only this one;
// - changes her password: an empty form, a wrong current password, two new ones that differ and
//   one too short are each refused with a clear message; then it is changed, and the laptop
//   (signed in again meanwhile) is signed out while this page stays signed in;
// - deletes her account: a wrong password is refused and nothing happens; with the right one the
//   page is back at the sign-in screen saying so, and the account no longer signs in.
// No native dialog opens. Env: {DESKTOP,PHONE}_ANN (usernames).

import { BASE, run, newPage, login, shot, check, PASSWORD } from './common.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const NEW_PASSWORD = 'a much better secret';

async function api(page, path) {
  const token = await page.evaluate(() => localStorage.getItem('chat.token'));
  const r = await page.request.get(`${BASE}/api${path}`, { headers: { Authorization: `Bearer ${token}` } });
  return r.json();
}

/** Waits until `page` shows the sign-in screen with a notice containing `text`. */
async function signedOut(page, text) {
  await page.locator('#auth').waitFor();
  await page.locator('#auth-notice', { hasText: text }).waitFor();
}

async function openScreen(page, name) {
  if (!await page.locator('#settings').isVisible()) await page.click('#me-button');
  await page.locator('#privacy-section').getByRole('button', { name, exact: true }).click();
  const screen = page.locator('#privacy');
  await screen.getByRole('heading', { name }).waitFor();
  return screen;
}

async function closeScreen(page) {
  await page.keyboard.press('Escape');
  await page.locator('#privacy').waitFor({ state: 'hidden' });
}

async function visit(browser, phone) {
  const tag = phone ? 'phone' : 'desktop';
  const username = process.env[phone ? 'PHONE_ANN' : 'DESKTOP_ANN'];
  const native = [];
  const watch = (p) => p.on('dialog', (d) => { native.push(d.message()); d.dismiss(); });
  const ann = await newPage(browser, `ann-${tag}`, phone ? PHONE : {});
  const laptop = await newPage(browser, `laptop-${tag}`);
  watch(ann);
  watch(laptop);
  await login(ann, username);
  await login(laptop, username);

  // Blocked people.
  let screen = await openScreen(ann, 'Blocked people');
  const blocked = screen.getByRole('list', { name: 'Blocked people' });
  await blocked.locator('li', { hasText: 'Dan' }).waitFor();
  await screen.getByRole('button', { name: 'Unblock Dan' }).click();
  await screen.getByText('Dan is no longer blocked.').waitFor();
  await screen.getByText('You have not blocked anyone.').waitFor();
  check((await api(ann, '/blocks')).blocked.length === 0, `${tag}: the server has no block left`);
  await closeScreen(ann);

  // Sessions: one signed out, then all others.
  screen = await openScreen(ann, 'Active sessions');
  const sessions = screen.getByRole('list', { name: 'Active sessions' });
  await sessions.locator('li').nth(1).waitFor();
  check(await sessions.locator('li').count() === 2, `${tag}: two sessions`);
  const mine = sessions.locator('li.current');
  await mine.getByText('This device').waitFor();
  const other = sessions.locator('li:not(.current)');
  await other.getByText('Chrome (headless) on Linux').waitFor();
  await other.getByText(/Signed in .* · last used /).waitFor();
  if (phone) {
    for (const b of await screen.getByRole('button').all()) {
      const box = await b.boundingBox();
      if (box) check(box.height >= 40, `${tag}: "${await b.textContent()}" is ${box.height}px high`);
    }
  }
  await shot(ann, `sessions-${tag}.png`);
  await other.getByRole('button', { name: /^Sign out / }).click();
  await screen.getByText('Chrome (headless) on Linux was signed out.').waitFor();
  await signedOut(laptop, 'signed out');
  await sessions.locator('li:not(.current)').first().waitFor({ state: 'detached' });

  await login(laptop, username);
  const third = await newPage(browser, `third-${tag}`);
  watch(third);
  await login(third, username);
  await closeScreen(ann);
  screen = await openScreen(ann, 'Active sessions');
  await sessions.locator('li').nth(2).waitFor();
  await screen.getByRole('button', { name: 'Sign out all other sessions' }).click();
  const askBox = ann.locator('#ask');
  await askBox.getByText('Sign out every other session?').waitFor();
  await askBox.getByRole('button', { name: 'Sign out others' }).click();
  await screen.getByText('Every other session was signed out.').waitFor();
  await signedOut(laptop, 'signed out');
  await signedOut(third, 'signed out');
  await sessions.locator('li:not(.current)').first().waitFor({ state: 'detached' });
  check(await sessions.locator('li').count() === 1, `${tag}: only this session is left`);
  await third.context().close();
  await closeScreen(ann);

  // Password: clear refusals, then a change that signs the laptop out.
  await login(laptop, username);
  screen = await openScreen(ann, 'Change password');
  const submit = screen.getByRole('button', { name: 'Change password' });
  const error = screen.getByRole('alert');
  await submit.click();
  await error.filter({ hasText: 'Enter your current password.' }).waitFor();
  await screen.getByLabel('Current password').fill('not my password');
  await screen.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await screen.getByLabel('New password again').fill(NEW_PASSWORD);
  await submit.click();
  await error.filter({ hasText: 'The current password is wrong.' }).waitFor();
  await screen.getByLabel('Current password').fill(PASSWORD);
  await screen.getByLabel('New password again').fill('something else');
  await submit.click();
  await error.filter({ hasText: 'The new passwords do not match.' }).waitFor();
  await screen.getByLabel('New password', { exact: true }).fill('short');
  await screen.getByLabel('New password again').fill('short');
  await submit.click();
  await error.filter({ hasText: 'The new password must be 8 to 1024 characters.' }).waitFor();
  await screen.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await screen.getByLabel('New password again').fill(NEW_PASSWORD);
  await submit.click();
  await screen.getByText('Password changed. Every other session was signed out.').waitFor();
  await signedOut(laptop, 'signed out');
  check(await ann.locator('#app').isVisible(), `${tag}: this page stays signed in`);
  check((await api(ann, '/me')).user?.username === username.toLowerCase(), `${tag}: this token still works`);
  await closeScreen(ann);

  // Deleting the account: asked for the password in the page.
  screen = await openScreen(ann, 'Delete account');
  await screen.getByText('It cannot be undone.').waitFor();
  await screen.getByLabel('Your password, to confirm').fill(PASSWORD);
  await screen.getByRole('button', { name: 'Delete my account' }).click();
  await screen.getByRole('alert').filter({ hasText: 'That is not your password; the account was not deleted.' }).waitFor();
  check((await api(ann, '/me')).user?.deleted === false, `${tag}: the account is still there`);
  await shot(ann, `delete-account-${tag}.png`);
  await screen.getByLabel('Your password, to confirm').fill(NEW_PASSWORD);
  await screen.getByRole('button', { name: 'Delete my account' }).click();
  await signedOut(ann, 'Your account was deleted.');
  check(await ann.evaluate(() => localStorage.getItem('chat.token')) === null, `${tag}: the token is gone`);
  await ann.fill('#auth-username', username);
  await ann.fill('#auth-password', NEW_PASSWORD);
  await ann.click('#auth-submit');
  await ann.locator('#auth-error', { hasText: 'Wrong username or password.' }).waitFor();
  check(native.length === 0, `${tag}: no native dialog: ${native.join('; ')}`);
  await ann.context().close();
  await laptop.context().close();
}

await run(async (browser) => {
  await visit(browser, false);
  await visit(browser, true);
});
