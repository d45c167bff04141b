// The contacts screen, on a desktop and then a phone-sized touch screen (each with its own Ann,
// Ben and Cy; Ben verified his phone number, Cy her e-mail address). Ann
// - opens Contacts from the list's header: none yet; a file with nothing usable, and one too big,
//   are refused with a message;
// - picks an address book (a vCard on the desktop, a CSV file on the phone) holding Ben's number
//   written her way, Cy's address in capitals and numbers of nobody: "Found 2 people", Ben and
//   Cy listed; she adds Ben, then "Add all" adds Cy; both are now in her contacts (and the
//   server's);
// - gives Ben the nickname "Benny": the list shows it; "Message" opens the dm with Ben, whose
//   header and entry in the conversation list say "Benny";
// - removes Cy (asked in the page; Cancel first keeps her): Cy is gone, here and on the server;
// - Escape closes the screen and focus goes back to the Contacts button.
// On the phone every button of the screen is at least 40 px high. No native dialog opens.
// Env: {DESKTOP,PHONE}_ANN (usernames), {DESKTOP,PHONE}_N (1 or 2: Ben's +1202555010N, Cy's cyN@example.org).

import { BASE, run, newPage, login, shot, check } from './common.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

async function api(page, path) {
  const token = await page.evaluate(() => localStorage.getItem('chat.token'));
  const r = await page.request.get(`${BASE}/api${path}`, { headers: { Authorization: `Bearer ${token}` } });
  return r.json();
}

function addressBook(phone, n) {
  if (!phone) {
    return {
      name: 'contacts.vcf', mimeType: 'text/vcard',
      buffer: Buffer.from([
        'BEGIN:VCARD', 'VERSION:3.0', 'FN:Ben', `item1.TEL;TYPE=CELL:(202) 555-010${n}`, 'END:VCARD',
        'BEGIN:VCARD', 'VERSION:3.0', 'FN:Cy', `EMAIL;TYPE=INTERNET:CY${n}@EXAMPLE.ORG`, 'TEL:+1 202 555 0188', 'END:VCARD',
        'BEGIN:VCARD', 'VERSION:3.0', 'FN:Nobody', 'EMAIL:nobody@example.org', 'END:VCARD', ''].join('\r\n')),
    };
  }
  return {
    name: 'contacts.csv', mimeType: 'text/csv',
    buffer: Buffer.from(`name,phone,email\nBen,202-555-010${n},\nCy,,CY${n}@EXAMPLE.ORG\nNobody,+1 202 555 0177,nobody@example.org\n`),
  };
}

async function visit(browser, phone) {
  const tag = phone ? 'phone' : 'desktop';
  const prefix = phone ? 'PHONE' : 'DESKTOP';
  const n = process.env[`${prefix}_N`];
  const native = [];
  const ann = await newPage(browser, `ann-${tag}`, phone ? PHONE : {});
  ann.on('dialog', (d) => { native.push(d.message()); d.dismiss(); });
  await login(ann, process.env[`${prefix}_ANN`]);

  await ann.getByRole('button', { name: 'Contacts', exact: true }).click();
  const screen = ann.locator('#contacts');
  await screen.getByRole('heading', { name: 'Contacts' }).waitFor();
  await screen.getByText('No contacts yet.').waitFor();
  const file = screen.getByLabel('Address book file');
  await file.setInputFiles({ name: 'empty.txt', mimeType: 'text/plain', buffer: Buffer.from('hello\nworld\n') });
  await screen.getByRole('alert').filter({ hasText: 'No phone numbers or e-mail addresses found in empty.txt.' }).waitFor();
  await file.setInputFiles({ name: 'huge.txt', mimeType: 'text/plain', buffer: Buffer.alloc(5 * 1024 * 1024 + 1, 'a') });
  await screen.getByRole('alert').filter({ hasText: 'huge.txt is too big' }).waitFor();

  await file.setInputFiles(addressBook(phone, n));
  await screen.getByText('Found 2 people among 4 numbers and addresses.').waitFor();
  const found = screen.getByRole('list', { name: 'Found in your address book' });
  await found.locator('li', { hasText: 'Ben' }).waitFor();
  await found.locator('li', { hasText: 'Cy' }).waitFor();
  check(await found.locator('li').count() === 2, `${tag}: only Ben and Cy found`);
  await shot(ann, `contacts-found-${tag}.png`);
  await found.getByRole('button', { name: 'Add Ben' }).click();
  await screen.getByText('Ben added to your contacts.').waitFor();
  await found.locator('li', { hasText: 'Ben' }).getByText('Contact', { exact: true }).waitFor();
  await screen.getByRole('button', { name: 'Add all as contacts' }).click();
  await found.locator('li', { hasText: 'Cy' }).getByText('Contact', { exact: true }).waitFor();
  const list = screen.getByRole('list', { name: 'Contacts' });
  await list.locator('li', { hasText: 'Ben' }).waitFor();
  await list.locator('li', { hasText: 'Cy' }).waitFor();
  check((await api(ann, '/contacts')).contacts.length === 2, `${tag}: the server has both contacts`);

  // A nickname, shown in the list.
  await list.getByLabel('Nickname for Ben').fill('Benny');
  await list.locator('li', { hasText: 'Ben' }).getByRole('button', { name: 'Save' }).click();
  await screen.getByText('Saved: you call Ben “Benny”.').waitFor();
  await list.locator('.person-name', { hasText: /^Benny$/ }).waitFor();
  if (phone) {
    for (const b of await screen.getByRole('button').all()) {
      const box = await b.boundingBox();
      if (box) check(box.height >= 40, `${tag}: "${await b.textContent()}" is ${box.height}px high`);
    }
  }
  await shot(ann, `contacts-${tag}.png`);

  // Removing asks first; Cancel keeps her.
  const cyRow = list.locator('li', { hasText: 'Cy' });
  await cyRow.getByRole('button', { name: 'Remove' }).click();
  const askBox = ann.locator('#ask');
  await askBox.getByText('Remove Cy from your contacts?').waitFor();
  await askBox.getByRole('button', { name: 'Cancel' }).click();
  await askBox.waitFor({ state: 'hidden' });
  check(await cyRow.count() === 1, `${tag}: Cancel keeps Cy`);
  await cyRow.getByRole('button', { name: 'Remove' }).click();
  await askBox.getByRole('button', { name: 'Remove' }).click();
  await screen.getByText('Cy is no longer a contact.').waitFor();
  await cyRow.waitFor({ state: 'detached' });
  const left = (await api(ann, '/contacts')).contacts;
  check(left.length === 1 && left[0].nickname === 'Benny', `${tag}: the server keeps Ben as Benny only: ${JSON.stringify(left)}`);

  // Escape closes; focus is back on the button that opened it.
  await ann.keyboard.press('Escape');
  await screen.waitFor({ state: 'hidden' });
  check(await ann.evaluate(() => document.activeElement?.id === 'contacts-button'), `${tag}: focus back on Contacts`);

  // Message from the contact: the dm opens, named by the nickname in the header and the list.
  await ann.getByRole('button', { name: 'Contacts', exact: true }).click();
  await list.locator('li', { hasText: 'Benny' }).getByRole('button', { name: 'Message' }).click();
  await screen.waitFor({ state: 'hidden' });
  await ann.locator('#chat-title', { hasText: /^Benny$/ }).waitFor();
  await ann.locator('#composer-input').fill(`hi Ben, from the ${tag}`);
  await ann.click('#send-button');
  await ann.locator('#messages .msg.mine .ticks.sent, #messages .msg.mine .ticks.delivered, #messages .msg.mine .ticks.read').first().waitFor();
  if (phone) await ann.click('#back-button');
  await ann.locator('#room-list .room .name', { hasText: /^Benny$/ }).waitFor();
  await shot(ann, `contacts-dm-${tag}.png`);
  check(native.length === 0, `${tag}: no native dialog: ${native.join('; ')}`);
  await ann.context().close();
}

await run(async (browser) => {
  await visit(browser, false);
  await visit(browser, true);
});
