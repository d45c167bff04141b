// The accessibility audit of issue 22: axe-core (tests/browser/node_modules, injected into the
// page) runs on every screen of the web client and on the admin page, in every theme, and no
// violation of impact "serious" or "critical" may be found. Each screen is brought up the way a
// person would (clicks, typing), and audited once it shows what it is for (messages loaded, the
// picture decoded, lists filled). Rules that do not depend on colours run in the first theme;
// colour contrast runs in all of them. A screen that is a dialog is audited within the dialog
// (the page behind it was audited on its own). Everything found is printed (rule, impact, the
// elements and what to fix) before the test fails; lesser findings are printed as notes.
// Env: VIEWPORT (desktop or phone), USERNAME (Ann, the admin), PEER (her name for Ben, their dm
// has a photo with the text CAPTION), GROUP, QUERY (finds messages), BLOCKED (a name she blocked).

import { createRequire } from 'node:module';
import { BASE, run, newPage, login, shot, check, watchPopups } from './common.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const THEMES = ['light', 'dark', 'ocean', 'forest', 'high_contrast'];
/** The rules whose outcome depends on the theme's colours. */
const COLOUR_RULES = ['color-contrast', 'link-in-text-block', 'non-text-contrast'];
const BLOCKING = new Set(['serious', 'critical']);
const { VIEWPORT = 'desktop', USERNAME, PEER, GROUP, CAPTION, QUERY, BLOCKED } = process.env;
const phone = VIEWPORT === 'phone';

const problems = [];
const notes = new Map();
let audited = 0;

/** Runs axe on the page (or within `scope`, a selector) in every theme; records what it finds. */
async function audit(page, screen, scope = null) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  const before = await page.evaluate(() => document.documentElement.dataset.theme);
  for (const [i, theme] of THEMES.entries()) {
    const found = await page.evaluate(async ({ theme, scope, rules }) => {
      document.documentElement.dataset.theme = theme;
      const context = scope ? document.querySelector(scope) : document;
      if (!context) throw new Error(`nothing matches ${scope}`);
      const available = new Set(window.axe.getRules().map((r) => r.ruleId));
      const options = { resultTypes: ['violations'] };
      if (rules) options.runOnly = { type: 'rule', values: rules.filter((r) => available.has(r)) };
      const result = await window.axe.run(context, options);
      return result.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
        nodes: v.nodes.map((n) => `${n.target.join(' ')}${n.failureSummary ? `: ${n.failureSummary.replace(/\s+/g, ' ')}` : ''}`),
      }));
    }, { theme, scope, rules: i === 0 ? null : COLOUR_RULES });
    audited++;
    for (const v of found) {
      const where = `${VIEWPORT} / ${screen} / ${theme}`;
      if (BLOCKING.has(v.impact)) problems.push({ where, ...v });
      else if (!notes.has(`${screen} ${v.id}`)) notes.set(`${screen} ${v.id}`, { where, ...v });
    }
  }
  await page.evaluate((t) => { document.documentElement.dataset.theme = t; }, before);
  await shot(page, `a11y-${VIEWPORT}-${screen.replace(/\W+/g, '-')}.png`);
}

/** Presses Escape and waits until `selector` is gone. */
async function escape(page, selector) {
  await page.keyboard.press('Escape');
  await page.locator(selector).waitFor({ state: 'hidden' });
}

/** Shows a message's actions: hovering on a desktop, a tap on a touch screen. */
async function showActions(msg) {
  if (!phone) await msg.hover();
  else if (!(await msg.locator('.actions').isVisible())) await msg.locator('.body').tap();
  await msg.locator('.actions').waitFor();
}

async function backToList(page) {
  if (phone && await page.locator('#back-button').isVisible()) {
    await page.click('#back-button');
    await page.locator('#room-list').waitFor();
  }
}

async function visit(page) {
  const { native, tabs } = watchPopups(page);

  // Signing in and registering.
  await page.goto(BASE);
  await page.locator('#auth-form').waitFor();
  await audit(page, 'sign in');
  await page.click('#auth-toggle');
  await page.locator('#auth-display').waitFor();
  await audit(page, 'register');

  await login(page, USERNAME);
  const room = (name) => page.locator('#room-list .room', { hasText: name });
  await room(PEER).waitFor();
  await room(GROUP).locator('.last', { hasText: 'chapter two' }).waitFor();
  await audit(page, 'conversation list');

  // Search.
  await page.fill('#search-input', QUERY);
  await page.locator('.search-result').nth(1).waitFor();
  await audit(page, 'search results');
  await escape(page, '#search-results');

  // The dialogs opened from the list's header.
  await page.click('#new-chat-button');
  await page.locator('#new-chat').waitFor();
  await page.fill('#people-search', 'Cy');
  await page.locator('#people-results li', { hasText: 'Cy' }).waitFor();
  await audit(page, 'new conversation', '#new-chat');
  await page.locator('#new-chat').getByRole('tab', { name: 'Group' }).click();
  await page.locator('#group-name').waitFor();
  await audit(page, 'new group', '#new-chat');
  await escape(page, '#new-chat');

  await page.click('#contacts-button');
  await page.locator('#contacts .contact-list li', { hasText: 'Benny' }).waitFor();
  await audit(page, 'contacts', '#contacts');
  await escape(page, '#contacts');

  await page.click('#me-button');
  await page.locator('#settings #linked-accounts[data-checked]').waitFor({ state: 'attached' });
  await page.locator('#contact-phone-state').waitFor({ state: 'attached' });
  await audit(page, 'profile and settings', '#settings');
  const privacy = [['#open-blocked', 'blocked people', `#privacy li:has-text("${BLOCKED}")`],
    ['#open-sessions', 'active sessions', '#privacy .session.current'],
    ['#open-password', 'change password', '#pw-new'],
    ['#open-delete', 'delete account', '#delete-password']];
  for (const [button, screen, ready] of privacy) {
    await page.click(button);
    await page.locator(ready).waitFor();
    await audit(page, screen, '#privacy');
    await escape(page, '#privacy');
  }
  await escape(page, '#settings');

  // The dm: text, a reply, a reaction, a photo, and a message of mine.
  await room(PEER).click();
  const photo = page.locator('#messages .msg', { hasText: CAPTION }).locator('img');
  await photo.waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll('#messages .msg img')].every((i) => i.complete && i.naturalWidth > 0));
  await page.locator('#messages .reaction').waitFor();
  await page.fill('#composer-input', 'see you there');
  await page.click('#send-button');
  const mine = page.locator('#messages .msg.mine', { hasText: 'see you there' });
  await mine.locator('.ticks.sent, .ticks.delivered, .ticks.read').waitFor();
  await audit(page, 'dm');

  await page.click('#emoji-button');
  await page.locator('#emoji-picker').waitFor();
  await audit(page, 'emoji picker');
  await escape(page, '#emoji-picker');

  if (phone) {
    await page.click('#attach-menu-button');
    await page.locator('#attach-menu').waitFor();
    await audit(page, 'attach menu');
    await escape(page, '#attach-menu');
  }

  await showActions(mine);
  await audit(page, 'message actions');
  await mine.getByRole('button', { name: 'React' }).click();
  await mine.locator('.react-palette').waitFor();
  await audit(page, 'reaction palette');
  await escape(page, '#messages .react-palette:visible');
  await showActions(mine);
  await mine.getByRole('button', { name: 'Forward' }).click();
  await page.locator('#forward-list li', { hasText: GROUP }).waitFor();
  await audit(page, 'forward', '#forward');
  await escape(page, '#forward');
  await showActions(mine);
  await mine.getByRole('button', { name: 'Delete' }).click();
  await page.locator('#ask').waitFor();
  await audit(page, 'question', '#ask');
  await escape(page, '#ask');

  await page.getByRole('button', { name: /^Show / }).click();
  await page.locator('#viewer').waitFor();
  await page.waitForFunction(() => { const i = document.getElementById('viewer-img'); return i.complete && i.naturalWidth > 0; });
  await audit(page, 'picture viewer', '#viewer');
  await escape(page, '#viewer');

  await page.click('#chat-info');
  await page.locator('#profile-view fieldset.actions:not([disabled])').waitFor();
  await audit(page, 'profile', '#profile-view');
  await escape(page, '#profile-view');

  await page.click('#mute-button');
  await page.locator('#mute-menu').waitFor();
  await audit(page, 'mute', '#mute-menu');
  await escape(page, '#mute-menu');

  // Starred messages (one starred first).
  await showActions(mine);
  await mine.getByRole('button', { name: 'Star' }).click();
  await mine.locator('.star-mark').waitFor();
  await backToList(page);
  await page.click('#starred-button');
  await page.locator('#starred-list button', { hasText: 'see you there' }).waitFor();
  await audit(page, 'starred messages', '#starred');
  await escape(page, '#starred');

  // The group and its panel.
  await room(GROUP).click();
  await page.locator('#messages .msg', { hasText: 'chapter two' }).waitFor();
  await audit(page, 'group');
  await page.click('#chat-info');
  await page.locator('#group-panel .members li').nth(2).waitFor();
  await audit(page, 'group details', '#group-panel');
  await escape(page, '#group-panel');

  // The admin page.
  await page.goto(`${BASE}/admin/`);
  await page.locator('#users tr').nth(3).waitFor();
  await page.locator('#rooms tr').nth(1).waitFor();
  await page.locator('[data-metric="users"]', { hasText: /\d/ }).waitFor();
  await audit(page, 'admin');

  check(native.length === 0 && tabs.length === 0, `no native dialog or tab: ${[...native, ...tabs].join('; ')}`);
}

await run(async (browser) => {
  // axe is injected as a script: the page's Content-Security-Policy (script-src 'self') would
  // refuse it, so this test's browser context bypasses it (the app's own pages are unchanged).
  const options = { bypassCSP: true, ...(phone ? { viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true } : {}) };
  try {
    await visit(await newPage(browser, VIEWPORT, options));
  } finally {
    // What was found so far, also when a screen could not be brought up.
    for (const n of notes.values()) {
      console.log(`note (${n.impact}): ${n.where}: ${n.id}: ${n.help} (${n.nodes.length}: ${n.nodes[0]})`);
    }
    for (const p of problems) {
      console.error(`\n${p.where}: ${p.id} (${p.impact}): ${p.help}\n  ${p.url}\n  ${p.nodes.join('\n  ')}`);
    }
  }
  check(problems.length === 0, `${problems.length} serious or critical axe violations on ${VIEWPORT} (listed above)`);
  console.log(`${audited} axe runs on ${VIEWPORT}, nothing serious`);
});
