// Keyboard only (issue 22): with nothing but page.keyboard (Tab, Shift+Tab, Enter, Escape,
// arrows, typing), Ann signs in, opens and closes every dialog and menu of the list's header
// (settings and the privacy screens over it, contacts, starred messages, a new conversation with
// its tabs), searches, opens her dm from the list, sends a message, uses the emoji picker, the
// attach menu (phone), a message's actions (the reaction palette, forward, the delete question),
// the picture viewer, the profile and the mute menu, then the group (an @mention picked with the
// arrows and Enter) and its details. Escape
// closes each dialog or menu and focus goes back to the control that opened it; Tab stays inside
// an open dialog; and every element focus lands on shows it (an outline or a box shadow).
// Env: VIEWPORT (desktop or phone), USERNAME, PEER (her name for Ben, their dm has a photo with
// the text CAPTION), GROUP, QUERY (finds two messages), BLOCKED (a name she blocked).

import { BASE, PASSWORD, run, newPage, online, shot, check, watchPopups } from './common.mjs';

const { VIEWPORT = 'desktop', USERNAME, PEER, GROUP, QUERY, BLOCKED } = process.env;
const phone = VIEWPORT === 'phone';

/** The step under way, named in the error when one fails. */
let step = 'starting';

/** What has focus: a description, whether it shows it, whether it is on screen. */
function focusNow(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    if (!a || a === document.body) return { desc: '(nothing)', shown: false, visible: false };
    const s = getComputedStyle(a);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
    const shadow = s.boxShadow !== 'none';
    const label = (a.getAttribute('aria-label') || a.textContent || a.placeholder || '').trim().replace(/\s+/g, ' ').slice(0, 30);
    const desc = `${a.tagName.toLowerCase()}${a.id ? `#${a.id}` : ''}${a.className && typeof a.className === 'string' ? `.${a.className.trim().split(/\s+/).join('.')}` : ''}${label ? ` "${label}"` : ''}`;
    return { desc, shown: outline || shadow, visible: a.checkVisibility() };
  });
}

/** Fails unless focus is visible where it is now. */
async function focusShows(page, why) {
  const f = await focusNow(page);
  check(f.visible && f.shown, `${VIEWPORT}: focus ${why} shows (an outline or a shadow) on a visible element: ${f.desc} ${JSON.stringify(f)}`);
  return f;
}

/** Whether focus is on an element matching `selector` (and containing `text`, if given). */
function focusIs(page, selector, text) {
  return page.evaluate(([sel, t]) => {
    const a = document.activeElement;
    return !!a && a.matches(sel) && (!t || a.textContent.includes(t));
  }, [selector, text]);
}

/** Fails unless focus is on `selector` (with `text`), saying where it is instead. */
async function expectFocus(page, selector, text, why) {
  if (await focusIs(page, selector, text)) return;
  throw new Error(`check failed: ${VIEWPORT}: ${why}: focus is on ${(await focusNow(page)).desc}, not ${selector}`);
}

/** Presses Tab (Shift+Tab with `back`) until focus is on `selector` (with `text`), checking at
 * every stop that focus shows; fails with the way it went when it gets nowhere. */
async function tabTo(page, selector, { back = false, text = null, max = 60 } = {}) {
  step = `${back ? 'Shift+Tab' : 'Tab'} to ${selector}${text ? ` "${text}"` : ''}`;
  const way = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    const f = await focusShows(page, `on the way to ${selector}`);
    way.push(f.desc);
    if (await focusIs(page, selector, text)) return;
  }
  throw new Error(`${VIEWPORT}: ${back ? 'Shift+Tab' : 'Tab'} never reached ${selector}${text ? ` "${text}"` : ''}: ${way.join(' → ')}`);
}

/** Presses Enter on what has focus and waits for `opened`; checks focus went inside it. */
async function openWithEnter(page, opened, inside = opened) {
  step = `Enter on ${(await focusNow(page)).desc} opens ${opened} with focus inside`;
  await page.keyboard.press('Enter');
  await page.locator(opened).waitFor();
  await page.waitForFunction((sel) => document.querySelector(sel)?.contains(document.activeElement), inside);
  await focusShows(page, `inside ${inside}`);
}

/** Presses Escape: `opened` closes and focus is back on `opener`, showing. */
async function closeWithEscape(page, opened, opener, text = null) {
  step = `Escape closes ${opened}, focus back on ${opener}`;
  await page.keyboard.press('Escape');
  await page.locator(opened).waitFor({ state: 'hidden' });
  await page.waitForFunction(([sel, t]) => {
    const a = document.activeElement;
    return !!a && a.matches(sel) && (!t || a.textContent.includes(t));
  }, [opener, text]);
  await focusShows(page, `back on ${opener}`);
}

/** Presses Tab more times than `dialog` has controls: focus never leaves it. */
async function staysInside(page, dialog, presses = 14) {
  step = `Tab stays inside ${dialog}`;
  for (let i = 0; i < presses; i++) {
    await page.keyboard.press(i % 3 === 2 ? 'Shift+Tab' : 'Tab');
    const inside = await page.evaluate((sel) => document.querySelector(sel).contains(document.activeElement), dialog);
    const f = await focusShows(page, `in ${dialog}`);
    check(inside, `${VIEWPORT}: Tab stays inside ${dialog}, not on ${f.desc}`);
  }
}

async function visit(page) {
  const { native, tabs } = watchPopups(page);

  // Signing in.
  await page.goto(BASE);
  await page.locator('#auth-form').waitFor();
  await tabTo(page, '#auth-username');
  await page.keyboard.type(USERNAME);
  await tabTo(page, '#auth-password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.locator('#app').waitFor();
  await online(page);
  await page.locator('#room-list .room', { hasText: GROUP }).waitFor();

  // Profile and settings, and two privacy screens over them.
  await tabTo(page, '#me-button');
  await openWithEnter(page, '#settings');
  await tabTo(page, '#open-blocked');
  await openWithEnter(page, '#privacy');
  await page.locator('#privacy li', { hasText: BLOCKED }).waitFor();
  await closeWithEscape(page, '#privacy', '#open-blocked');
  check(await page.locator('#settings').isVisible(), `${VIEWPORT}: Escape closed only the screen on top`);
  await tabTo(page, '#open-sessions');
  await openWithEnter(page, '#privacy');
  await page.locator('#privacy .session.current').waitFor();
  await closeWithEscape(page, '#privacy', '#open-sessions');
  await closeWithEscape(page, '#settings', '#me-button');

  // Contacts (Tab stays in it), starred messages, a new conversation and its tabs.
  await tabTo(page, '#contacts-button');
  await openWithEnter(page, '#contacts');
  await page.locator('#contacts .contact-list li').waitFor();
  await staysInside(page, '#contacts');
  await closeWithEscape(page, '#contacts', '#contacts-button');
  await tabTo(page, '#starred-button');
  await openWithEnter(page, '#starred');
  await closeWithEscape(page, '#starred', '#starred-button');
  await tabTo(page, '#new-chat-button');
  await openWithEnter(page, '#new-chat');
  await expectFocus(page, '#people-search', null, 'a new conversation starts in "Find people"');
  await tabTo(page, '#new-chat [role="tab"][aria-selected="true"]', { back: true });
  await page.keyboard.press('ArrowRight');
  await page.locator('#group-name').waitFor();
  await expectFocus(page, '[role="tab"][aria-selected="true"]', 'Group', 'the arrow selects and focuses the next tab');
  await focusShows(page, 'on the Group tab');
  await closeWithEscape(page, '#new-chat', '#new-chat-button');

  // Search, cleared with Escape.
  await tabTo(page, '#search-input');
  await page.keyboard.type(QUERY);
  await page.locator('.search-result').nth(1).waitFor();
  await tabTo(page, '.search-result .search-open');
  await tabTo(page, '#search-input', { back: true });
  await page.keyboard.press('Escape');
  await page.locator('#search-results').waitFor({ state: 'hidden' });

  // The dm, from the list: a message sent, the emoji picker, the attach menu.
  await tabTo(page, '#room-list .room-open', { text: PEER });
  await page.keyboard.press('Enter');
  await page.locator('#messages .msg', { hasText: 'the lighthouse' }).locator('img').waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'composer-input');
  await focusShows(page, 'in the composer');
  await page.keyboard.type('hello from the keyboard');
  await page.keyboard.press('Enter');
  const mine = page.locator('#messages .msg.mine', { hasText: 'hello from the keyboard' });
  await mine.locator('.ticks.sent, .ticks.delivered, .ticks.read').waitFor();
  await shot(page, `keyboard-${VIEWPORT}-sent.png`);

  await tabTo(page, '#emoji-button', { back: true });
  await openWithEnter(page, '#emoji-picker');
  await page.keyboard.press('ArrowRight');
  await focusShows(page, 'on the second emoji');
  await page.keyboard.press('Enter');
  await page.locator('#emoji-picker').waitFor({ state: 'hidden' });
  await expectFocus(page, '#composer-input', null, 'after an emoji, focus is back in the composer');
  check((await page.locator('#composer-input').inputValue()).includes('😃'), `${VIEWPORT}: the emoji was inserted`);
  await page.keyboard.press('Backspace');
  await tabTo(page, '#emoji-button', { back: true });
  await openWithEnter(page, '#emoji-picker');
  await closeWithEscape(page, '#emoji-picker', '#emoji-button');

  if (phone) {
    await tabTo(page, '#attach-menu-button', { back: true });
    await openWithEnter(page, '#attach-menu');
    await page.keyboard.press('ArrowDown');
    await focusShows(page, 'in the attach menu');
    await closeWithEscape(page, '#attach-menu', '#attach-menu-button');
  }

  // A message's actions: focus on the message shows them, Tab goes into them.
  await tabTo(page, '#messages .msg.mine', { back: true, text: 'hello from the keyboard' });
  await mine.locator('.actions').waitFor();
  await page.keyboard.press('Tab');
  await expectFocus(page, '.msg.mine .actions button[aria-label="Reply"]', null, 'Tab from a message goes to its Reply button');
  await tabTo(page, '.msg.mine button[aria-label="React"]');
  await openWithEnter(page, '#messages .msg.mine .react-palette', '#messages .msg.mine .react-palette');
  await page.keyboard.press('ArrowRight');
  await focusShows(page, 'in the reaction palette');
  await closeWithEscape(page, '#messages .msg.mine .react-palette', '.msg.mine button[aria-label="React"]');
  await tabTo(page, '.msg.mine button[aria-label="Forward"]');
  await openWithEnter(page, '#forward');
  await closeWithEscape(page, '#forward', '.msg.mine button[aria-label="Forward"]');
  await tabTo(page, '.msg.mine button[aria-label="Delete"]');
  await openWithEnter(page, '#ask');
  await expectFocus(page, '#ask-ok', null, 'the question starts on its answer');
  await staysInside(page, '#ask', 5);
  await closeWithEscape(page, '#ask', '.msg.mine button[aria-label="Delete"]');
  check((await mine.getAttribute('class')).includes('deleted') === false, `${VIEWPORT}: Escape deleted nothing`);

  // The picture viewer.
  await tabTo(page, '#messages button.picture', { back: true });
  await openWithEnter(page, '#viewer');
  await expectFocus(page, '#viewer-close', null, 'the viewer starts on its close button');
  await closeWithEscape(page, '#viewer', '#messages button.picture');

  // The header: Ben's profile, the mute menu.
  await tabTo(page, '#chat-info', { back: true });
  await openWithEnter(page, '#profile-view');
  await page.locator('#profile-view fieldset.actions:not([disabled])').waitFor();
  await staysInside(page, '#profile-view', 8);
  await closeWithEscape(page, '#profile-view', '#chat-info');
  await tabTo(page, '#mute-button');
  await openWithEnter(page, '#mute-menu');
  await closeWithEscape(page, '#mute-menu', '#mute-button');

  // The group, from the list (a phone goes back to it first), and its details.
  if (phone) {
    await tabTo(page, '#back-button', { back: true });
    await page.keyboard.press('Enter');
    await page.locator('#room-list').waitFor();
    await expectFocus(page, '#room-list .room-open', PEER, 'back in the list, focus is on the conversation left');
    await focusShows(page, 'back in the list');
  }
  await tabTo(page, '#room-list .room-open', { text: GROUP, back: !phone });
  await page.keyboard.press('Enter');
  await page.locator('#messages .msg', { hasText: 'chapter two' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'composer-input');
  // @ offers the members; the arrows move the active one (named to assistive technology through
  // aria-activedescendant while focus stays in the composer), Enter takes it.
  step = 'mention completion';
  await page.keyboard.type('@');
  await page.locator('#mention-list li').nth(1).waitFor();
  const activeOption = () => page.evaluate(() => {
    const input = document.getElementById('composer-input');
    const id = input.getAttribute('aria-activedescendant');
    const option = id ? document.getElementById(id) : null;
    return option ? { selected: option.getAttribute('aria-selected'), username: option.dataset.username, index: [...option.parentNode.children].indexOf(option) } : null;
  });
  const first = await activeOption();
  check(first?.index === 0 && first.selected === 'true', `${VIEWPORT}: the first member is the active option: ${JSON.stringify(first)}`);
  await page.keyboard.press('ArrowDown');
  const second = await activeOption();
  check(second?.index === 1 && second.selected === 'true', `${VIEWPORT}: ArrowDown makes the next one active: ${JSON.stringify(second)}`);
  await page.keyboard.press('Enter');
  await page.locator('#mention-list').waitFor({ state: 'hidden' });
  await expectFocus(page, '#composer-input', null, 'after a mention, focus is in the composer');
  const typed = await page.locator('#composer-input').inputValue();
  check(typed === `@${second.username} `, `${VIEWPORT}: Enter took the active member: ${JSON.stringify(typed)}`);
  check(await page.locator('#composer-input').getAttribute('aria-activedescendant') === null, `${VIEWPORT}: no active option once the list is closed`);
  await page.keyboard.press(process.platform === 'darwin' ? 'Meta+A' : 'Control+A');
  await page.keyboard.press('Backspace');
  await tabTo(page, '#chat-info', { back: true });
  await openWithEnter(page, '#group-panel');
  await page.locator('#group-panel .members li').nth(2).waitFor();
  await tabTo(page, '#group-panel button.person', { text: 'Cy' });
  await openWithEnter(page, '#profile-view');
  await closeWithEscape(page, '#profile-view', '#group-panel button.person', 'Cy');
  await closeWithEscape(page, '#group-panel', '#chat-info');
  await shot(page, `keyboard-${VIEWPORT}-done.png`);

  check(native.length === 0 && tabs.length === 0, `${VIEWPORT}: no native dialog or tab: ${[...native, ...tabs].join('; ')}`);
}

await run(async (browser) => {
  const options = phone ? { viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true } : {};
  const page = await newPage(browser, VIEWPORT, options);
  try {
    await visit(page);
  } catch (e) {
    await shot(page, `keyboard-${VIEWPORT}-failed.png`).catch(() => {});
    const where = (await focusNow(page).catch(() => ({ desc: '?' }))).desc;
    throw new Error(`${VIEWPORT}, at "${step}" (focus on ${where}): ${e.message}`);
  }
});
