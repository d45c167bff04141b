// Reading comforts (issue 22), on a desktop and on a phone-sized touch screen, each in a group
// where the reader has 25 unread messages, more than fit on the screen:
// - the conversation opens at a "New messages" line right above the first unread message, not at
//   the bottom; the jump button then brings the newest message into view and hides;
// - day separators: the API cannot backdate messages, so this script rewrites `ts` in the history
//   answers the page receives (bodies starting "earlier:" three days back, "yesterday:" one day
//   back) and checks the separators the client draws from them ("Today", "Yesterday", weekday
//   and date) and that they move up when an older page arrives;
// - consecutive messages of one sender are grouped: the name shows on the first only, and again
//   after someone else's message or a day separator;
// - scrolling to the top shows "Loading older messages…" while the older page is on its way (the
//   script holds that answer), then a start-of-conversation line above the first message.
// No native dialog may open. Env: USERNAME (the reader), ROOMS (two group names, comma-separated),
// ANN and BEN (the senders' display names).

import { run, newPage, login, shot, check } from './common.mjs';

const DAY = 86400000;
const [ROOM_DESK, ROOM_PHONE] = process.env.ROOMS.split(',');
const { ANN, BEN } = process.env;

/** Rewrites the history answers' `ts`; answers for older pages wait for the returned release. */
async function backdate(page) {
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  await page.route(/\/api\/rooms\/[^/]+\/messages/, async (route) => {
    const response = await route.fetch();
    const json = await response.json();
    for (const m of json.messages || []) {
      if (m.body.startsWith('earlier:')) m.ts -= 3 * DAY;
      else if (m.body.startsWith('yesterday:')) m.ts -= DAY;
    }
    if (route.request().url().includes('before=')) await gate;
    await route.fulfill({ response, json });
  });
  return release;
}

/** The message whose text is exactly `body`. */
function msg(page, body) {
  return page.locator('#messages > li.msg').filter({ has: page.locator('.body', { hasText: new RegExp(`^${body}$`) }) });
}

/** Whether `locator` lies within the visible part of the message list. */
function inView(locator) {
  return locator.evaluate((node) => {
    const box = node.getBoundingClientRect();
    const list = document.getElementById('messages').getBoundingClientRect();
    return box.height > 0 && box.top >= list.top - 1 && box.bottom <= list.bottom + 1;
  });
}

/** Waits (at most 5 s) until the "New messages" line and the message whose text is exactly `body`
 * both lie within the visible part of the list: the client positions the list again while its
 * layout settles (pictures, the pinned bar, a page arriving late on a busy machine). The checks
 * after it say what was reached. */
async function settledAt(page, body) {
  await page.waitForFunction((text) => {
    const list = document.getElementById('messages')?.getBoundingClientRect();
    const line = document.querySelector('#messages > li.new-divider');
    const m = [...document.querySelectorAll('#messages > li.msg')]
      .find((li) => li.querySelector('.body')?.textContent === text);
    const shown = (n) => {
      const box = n.getBoundingClientRect();
      return box.height > 0 && box.top >= list.top - 1 && box.bottom <= list.bottom + 1;
    };
    return Boolean(list && line && m && shown(line) && shown(m));
  }, body, { timeout: 5000 }).catch(() => {});
}

/** Each day separator's label and the text of the message right after it, top to bottom. */
function separators(page) {
  return page.locator('#messages > li.day-sep').evaluateAll((seps) => seps.map((s) => {
    let n = s.nextElementSibling;
    while (n && !n.classList.contains('msg')) n = n.nextElementSibling;
    return [s.textContent, n?.querySelector('.body')?.textContent];
  }));
}

async function read(page, room, name) {
  const release = await backdate(page);
  const native = [];
  page.on('dialog', (d) => { native.push(d.message()); d.dismiss(); });
  await login(page, process.env.USERNAME);
  await page.locator('.room', { hasText: room }).click();

  // Opens at the first unread message, under a "New messages" line, not at the bottom.
  const divider = page.locator('#messages > li.new-divider');
  await divider.waitFor();
  check((await divider.textContent()) === 'New messages', `${name}: the line says "New messages"`);
  const afterDivider = await divider.evaluate((d) => {
    let n = d.nextElementSibling;
    while (n && !n.classList.contains('msg')) n = n.nextElementSibling;
    return n?.querySelector('.body')?.textContent;
  });
  check(afterDivider === 'today 1', `${name}: the line is right above the first unread message, not "${afterDivider}"`);
  await settledAt(page, 'today 1');
  check(await inView(divider), `${name}: the "New messages" line is on screen`);
  check(await inView(msg(page, 'today 1')), `${name}: the first unread message is on screen`);
  check(!(await inView(msg(page, 'today 25'))), `${name}: it did not open at the bottom`);
  await shot(page, `reading-unread-${name}.png`);

  // Day separators, from the (rewritten) timestamps.
  const d = new Date(Date.now() - 3 * DAY);
  const opts = { weekday: 'long', month: 'long', day: 'numeric', timeZone: 'UTC' };
  if (d.getUTCFullYear() !== new Date().getUTCFullYear()) opts.year = 'numeric';
  const threeDaysAgo = d.toLocaleDateString('en-US', opts);
  let seps = await separators(page);
  check(JSON.stringify(seps) === JSON.stringify([[threeDaysAgo, 'earlier: 29'], ['Yesterday', 'yesterday: a'], ['Today', 'today 1']]),
    `${name}: day separators above the first message of each day: ${JSON.stringify(seps)}`);
  check(await page.locator('#messages > li.day-sep', { hasText: 'Today' }).isVisible(), `${name}: "Today" is shown`);

  // Groups: the sender's name once per run of messages.
  const nameShown = async (body, who) => {
    const from = msg(page, body).locator('.from-name');
    return (await from.isVisible()) && (await from.textContent()) === who;
  };
  const grouped = async (body) => (await msg(page, body).getAttribute('class')).split(' ').includes('grouped')
    && !(await msg(page, body).locator('.from').isVisible());
  check(await nameShown('today 1', ANN), `${name}: the first of Ann's run shows her name`);
  check(await grouped('today 2') && await grouped('today 3'), `${name}: Ann's next messages are grouped under it, without the name`);
  check(await nameShown('today 4', BEN), `${name}: Ben's message shows his name`);
  check(await nameShown('today 5', ANN), `${name}: Ann's name shows again after Ben's message`);
  check(await grouped('today 6'), `${name}: and her next one is grouped again`);
  check(await nameShown('yesterday: a', ANN), `${name}: a new day starts a new group (same sender)`);
  check(await grouped('earlier: 30'), `${name}: earlier: 30 follows earlier: 29 in a group`);

  // The jump button brings the newest message into view, then hides.
  const jump = page.getByRole('button', { name: 'Jump to the newest message' });
  await jump.click();
  await page.waitForFunction(() => {
    const list = document.getElementById('messages');
    return list.scrollHeight - list.scrollTop - list.clientHeight < 2;
  });
  check(await inView(msg(page, 'today 25')), `${name}: the newest message is on screen after the jump`);
  await jump.waitFor({ state: 'hidden' });

  // Scrolling to the top: a loading line while the older page is held, then the start.
  const first = msg(page, 'earlier: 1');
  check((await first.count()) === 0, `${name}: the first message is not loaded yet`);
  await page.locator('#messages').evaluate((el) => { el.scrollTop = 0; });
  const loading = page.locator('#messages > li.history-status');
  await loading.waitFor();
  check((await loading.textContent()) === 'Loading older messages…', `${name}: the loading line says so`);
  check(await inView(loading), `${name}: the loading line is on screen`);
  await shot(page, `reading-loading-${name}.png`);
  release();
  await first.waitFor();
  await loading.waitFor({ state: 'detached' });
  const start = page.locator('#messages > li.history-start');
  await start.waitFor();
  check((await start.textContent()) === 'This is the start of the conversation', `${name}: the start line says so`);
  check(await page.locator('#messages > li').first().evaluate((n) => n.classList.contains('history-start')),
    `${name}: the start line is above everything`);
  await page.locator('#messages').evaluate((el) => { el.scrollTop = 0; });
  check(await inView(start), `${name}: the start line is on screen at the top`);
  seps = await separators(page);
  check(JSON.stringify(seps) === JSON.stringify([[threeDaysAgo, 'earlier: 1'], ['Yesterday', 'yesterday: a'], ['Today', 'today 1']]),
    `${name}: the older day's separator moved up to its first message: ${JSON.stringify(seps)}`);
  check(await grouped('earlier: 29'), `${name}: the loaded page joined the group`);
  await shot(page, `reading-start-${name}.png`);
  check(native.length === 0, `${name}: no native dialog: ${native.join('; ')}`);
}

await run(async (browser) => {
  const where = { locale: 'en-US', timezoneId: 'UTC' };
  await read(await newPage(browser, 'desktop', where), ROOM_DESK, 'desktop');
  await read(await newPage(browser, 'phone', { ...where, viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true }), ROOM_PHONE, 'phone');
});
