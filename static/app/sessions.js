// Active sessions (GET /api/me/sessions): each signed-in browser or device with what it is (its
// browser and system, from the user agent it signed in with), when it signed in and when it was
// last used, this one marked; another one is signed out with DELETE /api/me/sessions/{id}, all
// others with DELETE /api/me/sessions. Their open pages are signed out by the server (4001).

import { get, del } from './api.js';
import { el, timeOf } from './util.js';
import { ask } from './dialogs.js';
import { t } from './i18n.js';

/** A short name for a user agent: "Chrome on Linux", or the raw text when not recognised. */
export function describeAgent(ua) {
  if (!ua) return t('sessions.unknown');
  const browser = [['Edg/', 'Edge'], ['OPR/', 'Opera'], ['Firefox/', 'Firefox'], ['HeadlessChrome/', t('sessions.headless')], ['Chrome/', 'Chrome'], ['Safari/', 'Safari']]
    .find(([k]) => ua.includes(k))?.[1];
  const system = [['Android', 'Android'], ['iPhone', 'iPhone'], ['iPad', 'iPad'], ['Windows', 'Windows'], ['Mac OS', 'macOS'], ['CrOS', 'ChromeOS'], ['Linux', 'Linux']]
    .find(([k]) => ua.includes(k))?.[1];
  if (browser && system) return t('sessions.agent', { browser, system });
  return browser || system || ua.slice(0, 60);
}

/** Fills `box` with the sessions; messages go to `say(text, isError)`. */
export function renderSessions(box, say) {
  const list = el('ul', { class: 'members session-list', 'aria-label': t('privacy.sessions') });
  const others = el('button', { type: 'button', class: 'danger', text: t('sessions.signOutOthers'), hidden: true, onclick: async () => {
    if (!await ask(t('sessions.signOutOthersAsk'), { ok: t('sessions.signOutOthersOk'), danger: true })) return;
    try {
      await del('/me/sessions');
      say(t('sessions.othersSignedOut'));
      await load();
    } catch (e) { say(e.message, true); }
  } });
  box.replaceChildren(list, el('div', { class: 'row' }, others));

  async function load() {
    let sessions;
    try {
      ({ sessions } = await get('/me/sessions'));
    } catch (e) { say(e.message, true); return; }
    // This one first, then the others newest first (as the server lists them).
    sessions.sort((a, b) => Number(b.current) - Number(a.current));
    list.replaceChildren(...sessions.map(row));
    others.hidden = !sessions.some((s) => !s.current);
  }

  function row(s) {
    const what = describeAgent(s.user_agent);
    const when = [t('sessions.signedIn', { time: timeOf(s.created_at) })];
    if (s.last_used_at) when.push(t('sessions.lastUsed', { time: timeOf(s.last_used_at) }));
    return el('li', { class: s.current ? 'session current' : 'session', dataset: { session: s.id } },
      el('div', { class: 'grow' },
        el('div', { class: 'person-name', text: what }),
        el('div', { class: 'sub', text: when.join(' · ') })),
      s.current ? el('span', { class: 'role', text: t('sessions.thisDevice') })
        : el('button', { type: 'button', text: t('sessions.signOut'), 'aria-label': t('sessions.signOutName', { name: what }), onclick: async () => {
          try {
            await del(`/me/sessions/${encodeURIComponent(s.id)}`);
            say(t('sessions.signedOut', { name: what }));
            await load();
          } catch (e) { say(e.status === 404 ? t('sessions.ended') : e.message, true); await load(); }
        } }));
  }

  load();
}
