// Message search in the web client: typing in the search box lists matching messages of my
// conversations with the match marked; opening a result opens its conversation scrolled to the
// message, which is further back than the first page of history.
// Env: USERNAME (the searcher), PEER (display name of the other side), TARGET (the text of the
// message to find), QUERY (what to type), MARKED (the text expected inside <mark>).

import { run, newPage, login, shot, check, boxOf } from './common.mjs';

await run(async (browser) => {
  const page = await newPage(browser, 'searcher');
  await login(page, process.env.USERNAME);
  await page.fill('#search-input', process.env.QUERY);
  const result = page.locator('.search-result', { hasText: process.env.TARGET });
  await result.waitFor();
  check((await page.locator('.search-result').count()) === 1, 'one result');
  const mark = await result.locator('mark').first().textContent();
  check(mark === process.env.MARKED, `the match is marked: got ${mark}`);
  check((await result.locator('.name').textContent()) === process.env.PEER, 'the result names its conversation');
  check(await page.locator('#room-list').isHidden(), 'results replace the conversation list');
  await shot(page, 'search-results.png');

  // A button: focused and opened with Space, as a keyboard user would.
  await result.getByRole('button').focus();
  await page.keyboard.press('Space');
  const found = page.locator('#messages .msg.found .body', { hasText: process.env.TARGET });
  await found.waitFor();
  // The outline ('found') goes after 2.5 s; from here on the message is followed by its key.
  const key = await found.evaluate((b) => b.closest('li.msg').dataset.key);
  const target = page.locator(`#messages li.msg[data-key="${key}"]`);
  // In view once the pages above it are in (the jump loads older pages, and reaching the top of
  // what is loaded loads one more, after which the message is brought back into view): waited
  // for as an event in the page, then measured.
  const inView = (k) => {
    const m = document.querySelector(`#messages li.msg[data-key="${k}"]`);
    const list = document.querySelector('#messages');
    if (!m || !list) return false;
    const a = m.getBoundingClientRect();
    const b = list.getBoundingClientRect();
    return a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5;
  };
  await page.waitForFunction(inView, key, { timeout: 10000 }).catch(() => {});
  const box = await boxOf(target);
  const list = await page.locator('#messages').boundingBox();
  check(box && list && box.y >= list.y - 0.5 && box.y + box.height <= list.y + list.height + 0.5,
    `the message is scrolled into view (message ${JSON.stringify(box)}, list ${JSON.stringify(list)})`);
  check((await page.locator('#chat-title').textContent()) === process.env.PEER, 'its conversation is open');
  await shot(page, 'search-opened.png');

  // Escape clears the search and brings the conversation list back.
  await page.fill('#search-input', '');
  await page.locator('#search-input').press('Escape');
  await page.locator('#room-list').waitFor();
});
