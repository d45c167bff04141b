// Languages (issue 22): the web client and the admin page speak the browser's language. First
// the catalogue (static/app/i18n.js) is checked here in node: every language has exactly the
// English keys, the plural forms its rules need and the same {placeholders}; every key the code
// and the pages use (t('…'), data-i18n…="…") exists, each t() is given a literal key, and no key
// is left unused. Then Ann signs in with Chromium set to German (the context's locale de-DE sets
// navigator.languages and Accept-Language) and sees German: the sign-in page and its error, the
// list (an unread count), her dm with Ben (a day separator three days back written the German way,
// "Heute", the time of day, "zuletzt online gestern um …" from Intl.RelativeTimeFormat, a file of
// 5,000 bytes as "4,9 KB"), the group ("3 Mitglieder"), the settings and the admin page; on each
// screen no visible text, title, label or placeholder is an English message of the catalogue. The
// language picked in the settings wins over the browser's until set back. The same run with
// en-US shows English (and no German). Dates are compared with what Intl gives in node for the
// same locale and time zone (UTC, set on the context).
// Env: VIEWPORT (desktop or phone), USERNAME (Ann, the admin), PEER (Ben), GROUP (Ben and Cy
// wrote there), UNREAD (a group with two unread messages, never opened), FILE_NAME (Ben's file of 5,000 bytes in the dm). The dm's message starting
// "earlier:" is moved three days back in the history answers the page receives.

import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE, PASSWORD, run, newPage, online, shot, check, watchPopups } from './common.mjs';

const { VIEWPORT = 'desktop', USERNAME, PEER, GROUP, UNREAD, FILE_NAME } = process.env;
const phone = VIEWPORT === 'phone';
const DAY = 86400000;
const STATIC = join(dirname(fileURLToPath(import.meta.url)), '../../static');

// ----- the catalogue -----

const { MESSAGES, LANGUAGES } = await import(join(STATIC, 'app/i18n.js'));

function placeholders(msg) {
  const forms = typeof msg === 'object' ? Object.values(msg) : [msg];
  return [...new Set(forms.flatMap((f) => [...f.matchAll(/\{(\w+)\}/g)].map((m) => m[1])))].sort().join(',');
}

function checkCatalogue() {
  const problems = [];
  const en = MESSAGES.en;
  check(Object.keys(LANGUAGES).length >= 2 && Object.keys(LANGUAGES).every((l) => MESSAGES[l]),
    `at least two languages, each with messages: ${Object.keys(LANGUAGES)}`);
  check(Object.keys(MESSAGES).every((l) => LANGUAGES[l]), 'every language of MESSAGES is named in LANGUAGES');
  for (const [lang, messages] of Object.entries(MESSAGES)) {
    const categories = new Intl.PluralRules(lang).resolvedOptions().pluralCategories;
    for (const key of Object.keys(en)) if (!(key in messages)) problems.push(`${lang}: "${key}" is missing`);
    for (const [key, msg] of Object.entries(messages)) {
      if (!(key in en)) { problems.push(`${lang}: "${key}" is not an English key`); continue; }
      if (typeof msg !== typeof en[key]) problems.push(`${lang}: "${key}" is ${typeof msg}, in English ${typeof en[key]}`);
      if (typeof msg === 'object') {
        for (const c of categories) if (typeof msg[c] !== 'string') problems.push(`${lang}: "${key}" has no plural form "${c}"`);
        for (const c of Object.keys(msg)) if (!categories.includes(c)) problems.push(`${lang}: "${key}" has a form "${c}" ${lang} does not use`);
      } else if (typeof msg !== 'string' || !msg.trim()) problems.push(`${lang}: "${key}" is empty`);
      if (placeholders(msg) !== placeholders(en[key])) problems.push(`${lang}: "${key}" has {${placeholders(msg)}}, in English {${placeholders(en[key])}}`);
    }
  }
  // The keys the code and the pages use.
  const files = [
    ...readdirSync(join(STATIC, 'app')).filter((f) => f.endsWith('.js')).map((f) => join('app', f)),
    'admin/admin.js', 'index.html', 'admin/index.html',
  ];
  const used = new Set();
  for (const file of files) {
    const text = readFileSync(join(STATIC, file), 'utf8');
    const found = [...text.matchAll(/\bt\(\s*'([^']+)'/g), ...text.matchAll(/data-i18n(?:-[a-z-]+)?="([^"]+)"/g)].map((m) => m[1]);
    for (const key of found) {
      used.add(key);
      if (!(key in en)) problems.push(`${file}: uses "${key}", not in the catalogue`);
    }
    // A key made at run time would escape this check.
    if (file !== join('app', 'i18n.js')) {
      for (const m of text.matchAll(/\bt\(\s*([^'\s)][^,)]*)/g)) problems.push(`${file}: t(${m[1]}…) is not given a literal key`);
    }
  }
  for (const key of Object.keys(en)) if (!used.has(key)) problems.push(`"${key}" is used nowhere`);
  check(problems.length === 0, `the catalogue:\n  ${problems.join('\n  ')}`);
  console.log(`catalogue: ${Object.keys(en).length} keys in ${Object.keys(MESSAGES).join(', ')}, ${used.size} used`);
}

// ----- the page -----

/** Backdates the dm's "earlier:" message by three days and says Ben was last seen a day ago. */
async function rewrite(page) {
  await page.route(/\/api\/rooms\/[^/]+\/messages/, async (route) => {
    const response = await route.fetch();
    const json = await response.json();
    for (const m of json.messages || []) if (m.body.startsWith('earlier:')) m.ts -= 3 * DAY;
    await route.fulfill({ response, json });
  });
  await page.route(/\/api\/presence$/, async (route) => {
    const response = await route.fetch();
    const json = await response.json();
    for (const p of json.presence || []) if (!p.online) p.last_seen = Date.now() - DAY;
    await route.fulfill({ response, json });
  });
}

/** The messages of language `lang` that the other language says differently (what must not be
 * seen while the page speaks the other one): whole texts without placeholders. */
function foreign(lang, other) {
  const forms = (l) => Object.values(MESSAGES[l]).flatMap((m) => (typeof m === 'object' ? Object.values(m) : [m]));
  // Words both languages use ("Chat", "online", "Video") are not telling.
  const theirs = new Set(forms(other));
  return [...new Set(forms(lang).filter((m) => !/\{/.test(m) && m.length >= 4 && !theirs.has(m)))];
}

/** Visible texts, titles, labels and placeholders of the page (or of `scope`) that are messages
 * of the wrong language. */
function leftovers(page, wrong, scope = 'body') {
  return page.evaluate(({ wrong, scope }) => {
    const bad = new Set(wrong);
    const found = new Set();
    const root = document.querySelector(scope);
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let n = walker.currentNode; n; n = walker.nextNode()) {
      const elem = n.nodeType === Node.TEXT_NODE ? n.parentElement : n;
      if (!elem.checkVisibility()) continue;
      const texts = n.nodeType === Node.TEXT_NODE ? [n.textContent]
        : ['title', 'aria-label', 'placeholder'].map((a) => n.getAttribute(a)).filter(Boolean);
      for (const t of texts) if (bad.has(t.trim())) found.add(t.trim());
    }
    if (scope === 'body' && bad.has(document.title)) found.add(document.title);
    return [...found];
  }, { wrong, scope });
}

async function noLeftovers(page, wrong, screen, scope) {
  const found = await leftovers(page, wrong, scope);
  check(found.length === 0, `${VIEWPORT}: ${screen} shows words of the other language: ${JSON.stringify(found)}`);
}

/** What each language must show, with the date and number formats of its locale. */
const EXPECT = {
  de: {
    locale: 'de-DE', title: 'Chat', logIn: 'Anmelden', create: 'Konto erstellen', username: 'Benutzername', password: 'Passwort',
    wrong: 'Benutzername oder Passwort falsch.', conversations: 'Unterhaltungen', search: 'Nachrichten durchsuchen',
    newChat: 'Neue Unterhaltung', unread: '2 ungelesen', today: 'Heute', time: /^\d{2}:\d{2}$/, size: '4,9 KB',
    download: `${FILE_NAME} herunterladen`, lastSeen: /^zuletzt online gestern um \d{2}:\d{2}$/, message: 'Nachricht',
    send: 'Senden', reply: 'Antworten', members: '3 Mitglieder', settings: 'Profil', theme: 'Design', light: 'Hell',
    language: 'Sprache', auto: 'Sprache des Browsers', logOut: 'Abmelden', close: 'Schließen', details: 'Telefon und E-Mail',
    privacy: 'Datenschutz und Sicherheit', admin: 'Chat-Verwaltung', users: 'Benutzer', connections: 'Verbindungen',
  },
  en: {
    locale: 'en-US', title: 'Chat', logIn: 'Log in', create: 'Create an account', username: 'Username', password: 'Password',
    wrong: 'Wrong username or password.', conversations: 'Conversations', search: 'Search messages',
    newChat: 'New conversation', unread: '2 unread', today: 'Today', time: /^\d{2}:\d{2} (AM|PM)$/, size: '4.9 KB',
    download: `Download ${FILE_NAME}`, lastSeen: /^last seen yesterday at \d{2}:\d{2} (AM|PM)$/, message: 'Message',
    send: 'Send', reply: 'Reply', members: '3 members', settings: 'Profile', theme: 'Theme', light: 'Light',
    language: 'Language', auto: "The browser's language", logOut: 'Log out', close: 'Close', details: 'Phone and e-mail',
    privacy: 'Privacy and security', admin: 'Chat admin', users: 'Users', connections: 'Connections',
  },
};

async function backToList(page) {
  if (phone && await page.locator('#back-button').isVisible()) {
    await page.click('#back-button');
    await page.locator('#room-list').waitFor();
  }
}

async function visit(browser, lang) {
  const other = lang === 'de' ? 'en' : 'de';
  const x = EXPECT[lang];
  const wrong = foreign(other, lang);
  const tag = `${VIEWPORT} ${x.locale}`;
  const options = { locale: x.locale, timezoneId: 'UTC', ...(phone ? { viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true } : {}) };
  const page = await newPage(browser, `${VIEWPORT}-${lang}`, options);
  const { native, tabs } = watchPopups(page);
  await rewrite(page);

  // The sign-in page, and its error.
  await page.goto(BASE);
  await page.locator('#auth-form').waitFor();
  check(await page.evaluate(() => document.documentElement.lang) === lang, `${tag}: <html lang="${lang}">`);
  check(await page.title() === x.title, `${tag}: the title`);
  check((await page.locator('#auth-submit').innerText()) === x.logIn, `${tag}: the sign-in button says "${x.logIn}"`);
  check((await page.locator('#auth-toggle').innerText()) === x.create, `${tag}: "${x.create}"`);
  await page.getByLabel(x.username).fill(USERNAME);
  await page.getByLabel(x.password).fill('not the password');
  await page.locator('#auth-submit').click();
  await page.locator('#auth-error', { hasText: x.wrong }).waitFor();
  await noLeftovers(page, wrong, 'the sign-in page');
  await shot(page, `i18n-${VIEWPORT}-${lang}-sign-in.png`);
  await page.getByLabel(x.password).fill(PASSWORD);
  await page.locator('#auth-submit').click();
  await page.locator('#app').waitFor();
  await online(page);

  // The list: its labels, and the group's unread count.
  await page.getByRole('list', { name: x.conversations }).waitFor();
  check(await page.getByPlaceholder(x.search, { exact: true }).isVisible(), `${tag}: the search box says "${x.search}"`);
  check(await page.getByRole('button', { name: x.newChat }).isVisible(), `${tag}: "${x.newChat}"`);
  await page.locator('.room', { hasText: UNREAD }).locator('.badge .sr-only', { hasText: x.unread }).waitFor({ state: 'attached' });
  await noLeftovers(page, wrong, 'the list');
  await shot(page, `i18n-${VIEWPORT}-${lang}-list.png`);

  // The dm: day separators, times, last seen, the file's size.
  await page.locator('.room', { hasText: PEER }).click();
  const file = page.locator('#messages .msg a.file', { hasText: FILE_NAME });
  await file.waitFor();
  const seps = await page.locator('#messages > li.day-sep').allInnerTexts();
  const d = new Date(Date.now() - 3 * DAY);
  const opts = { weekday: 'long', month: 'long', day: 'numeric', timeZone: 'UTC' };
  if (d.getUTCFullYear() !== new Date().getUTCFullYear()) opts.year = 'numeric';
  const threeDaysAgo = d.toLocaleDateString(x.locale, opts);
  check(JSON.stringify(seps) === JSON.stringify([threeDaysAgo, x.today]), `${tag}: day separators ${JSON.stringify(seps)}, not ${JSON.stringify([threeDaysAgo, x.today])}`);
  const size = (await file.locator('.file-size').innerText()).trim();
  check(size === `(${x.size})`, `${tag}: the file's size is "${size}", not "(${x.size})"`);
  check((await file.getAttribute('title')) === x.download, `${tag}: the file's title is "${await file.getAttribute('title')}"`);
  const fileMsg = page.locator('#messages .msg', { has: page.locator('a.file', { hasText: FILE_NAME }) });
  const time = (await fileMsg.locator('.meta > span').last().innerText()).trim();
  check(x.time.test(time), `${tag}: the message's time "${time}" is written the ${x.locale} way`);
  await page.locator('#chat-status', { hasText: x.lastSeen }).waitFor();
  check(await page.getByPlaceholder(x.message, { exact: true }).isVisible(), `${tag}: the composer says "${x.message}"`);
  check((await page.locator('#send-button').innerText()) === x.send, `${tag}: "${x.send}"`);
  if (!phone) await fileMsg.hover();
  else await fileMsg.locator('.meta').tap();
  await fileMsg.getByRole('button', { name: x.reply, exact: true }).waitFor();
  await noLeftovers(page, wrong, 'the dm');
  await shot(page, `i18n-${VIEWPORT}-${lang}-dm.png`);
  await backToList(page);

  // The group: its member count.
  await page.locator('.room', { hasText: GROUP }).click();
  await page.locator('#chat-status', { hasText: x.members }).waitFor();
  await page.locator('#messages .msg').first().waitFor();
  await noLeftovers(page, wrong, 'the group');
  await backToList(page);

  // The settings.
  await page.click('#me-button');
  const settings = page.locator('#settings');
  await settings.getByRole('heading', { name: x.settings, exact: true }).waitFor();
  const theme = settings.getByLabel(x.theme);
  check((await theme.locator('option[value="light"]').innerText()) === x.light, `${tag}: the light theme is "${x.light}"`);
  const language = settings.getByLabel(x.language);
  check((await language.inputValue()) === '', `${tag}: the language follows the browser`);
  check((await language.locator('option[value=""]').innerText()) === x.auto, `${tag}: "${x.auto}"`);
  check(await settings.getByRole('button', { name: x.logOut }).isVisible(), `${tag}: "${x.logOut}"`);
  check(await settings.getByRole('heading', { name: x.details }).isVisible(), `${tag}: "${x.details}"`);
  check(await settings.getByRole('heading', { name: x.privacy }).isVisible(), `${tag}: "${x.privacy}"`);
  await page.locator('#contact-phone-state').waitFor({ state: 'attached' });
  await noLeftovers(page, wrong, 'the settings', '#settings');
  await shot(page, `i18n-${VIEWPORT}-${lang}-settings.png`);

  // Picking the other language: the page comes back in it, and in the browser's again when
  // set back.
  await language.selectOption(other);
  await page.waitForFunction((l) => document.documentElement.lang === l, other);
  await online(page);
  await page.getByRole('list', { name: EXPECT[other].conversations }).waitFor();
  await noLeftovers(page, foreign(lang, other), `the list with ${other} picked`);
  await page.click('#me-button');
  await settings.getByLabel(EXPECT[other].language).selectOption('');
  await page.waitForFunction((l) => document.documentElement.lang === l, lang);
  await online(page);
  await page.getByRole('list', { name: x.conversations }).waitFor();

  // The admin page.
  await page.goto(`${BASE}/admin/`);
  await page.getByRole('heading', { name: x.admin, level: 1 }).waitFor();
  check(await page.evaluate(() => document.documentElement.lang) === lang, `${tag}: the admin page's <html lang="${lang}">`);
  await page.getByRole('heading', { name: x.users, exact: true }).waitFor();
  await page.locator('#stat-connections .label', { hasText: x.connections }).waitFor();
  await page.locator('#users tr').nth(2).waitFor();
  await page.locator('#rooms tr').nth(1).waitFor();
  await noLeftovers(page, wrong, 'the admin page');
  await shot(page, `i18n-${VIEWPORT}-${lang}-admin.png`);

  check(native.length === 0 && tabs.length === 0, `${tag}: no native dialog or tab: ${[...native, ...tabs].join('; ')}`);
  await page.context().close();
}

checkCatalogue();
await run(async (browser) => {
  await visit(browser, 'de');
  await visit(browser, 'en');
});
