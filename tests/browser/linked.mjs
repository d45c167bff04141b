// Linked sign-in accounts in the settings: with a provider configured the section shows, with
// the button to link it; without one it is hidden. Env: USERNAME, PROVIDER (its name, or empty
// when the server has none).

import { run, newPage, login, check } from './common.mjs';

await run(async (browser) => {
  const page = await newPage(browser, 'linked');
  await login(page, process.env.USERNAME);
  await page.click('#me-button');
  const section = page.locator('#linked-accounts');
  const provider = process.env.PROVIDER;
  if (provider) {
    await section.getByRole('heading', { name: 'Linked accounts' }).waitFor();
    await section.getByRole('button', { name: `Link ${provider}` }).waitFor();
  } else {
    // Once the page has asked the server (data-checked), the section stays hidden.
    await page.locator('#linked-accounts[data-checked="true"]').waitFor({ state: 'attached' });
    check(await section.isHidden(), 'no provider: the section is hidden');
  }
});
