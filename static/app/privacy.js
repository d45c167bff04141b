// The settings dialog's "Privacy and security" section and the screens it opens (one dialog,
// `#privacy`, showing one screen at a time): blocked people (GET /api/blocks, unblock with
// DELETE /api/blocks/{user}), active sessions (static/app/sessions.js), changing the password
// (POST /api/me/password: the server signs out every other session) and deleting the account
// (DELETE /api/me, confirmed in the page with the password). Text only via textContent.

import { get, del, post, api } from './api.js';
import { $, el } from './util.js';
import { avatarFor } from './avatars.js';
import { openPanel } from './dialogs.js';
import { renderSessions } from './sessions.js';
import { t } from './i18n.js';

/** What the page does once the account is gone (back to the sign-in screen). */
let onDeleted = () => {};

/** Builds the section in `box` (inside the settings dialog). `deleted(notice)` signs the page
 * out after the account was deleted. */
export function setupPrivacy(box, deleted) {
  onDeleted = deleted;
  box.replaceChildren(el('h2', { text: t('privacy.title') }),
    el('div', { class: 'row screen-links' },
      el('button', { type: 'button', id: 'open-blocked', text: t('privacy.blocked'), onclick: () => open(blockedScreen) }),
      el('button', { type: 'button', id: 'open-sessions', text: t('privacy.sessions'), onclick: () => open(sessionsScreen) }),
      el('button', { type: 'button', id: 'open-password', text: t('privacy.password'), onclick: () => open(passwordScreen) }),
      el('button', { type: 'button', id: 'open-delete', class: 'danger', text: t('privacy.delete'), onclick: () => open(deleteScreen) })));
}

/** The open screen's error and notice lines. */
let lines = null;

function say(text, isError = false) {
  lines.error.textContent = isError ? text : '';
  lines.error.hidden = !isError;
  lines.notice.textContent = isError ? '' : text;
  lines.notice.hidden = isError || !text;
}

/** Shows `screen` (a function filling the body) in the `#privacy` dialog. */
function open(screen) {
  const dialog = $('privacy');
  lines = { error: el('p', { class: 'error', role: 'alert', hidden: true }), notice: el('p', { class: 'notice', role: 'status', hidden: true }) };
  const title = el('h2', { id: 'privacy-title' });
  const body = el('div');
  const close = el('button', { type: 'button', class: 'link', text: t('common.close'), onclick: () => dialog.close() });
  dialog.replaceChildren(title, lines.error, lines.notice, body, el('div', { class: 'row' }, el('span', { class: 'grow' }), close));
  const first = screen({ title, body, say, dialog });
  openPanel(dialog, first || close);
}

// ----- blocked people -----

function blockedScreen({ title, body }) {
  title.textContent = t('privacy.blocked');
  const list = el('ul', { class: 'members', 'aria-label': t('privacy.blocked') });
  const empty = el('p', { class: 'notice', text: t('privacy.blockedNone'), hidden: true });
  body.replaceChildren(el('p', { class: 'notice', text: t('privacy.blockedNotice') }), empty, list);
  const load = async () => {
    try {
      const { blocked } = await get('/blocks');
      list.replaceChildren(...blocked.map((u) => el('li', { dataset: { user: u.username } },
        avatarFor(u.display_name, u.avatar),
        el('div', { class: 'grow' }, el('div', { class: 'person-name', text: u.display_name }), el('div', { class: 'sub', text: `@${u.username}` })),
        el('button', { type: 'button', text: t('profile.unblock'), 'aria-label': t('privacy.unblockName', { name: u.display_name }), onclick: async () => {
          try {
            await del(`/blocks/${encodeURIComponent(u.id)}`);
            say(t('profile.unblocked', { name: u.display_name }));
            await load();
          } catch (e) { say(e.message, true); }
        } }))));
      empty.hidden = blocked.length > 0;
    } catch (e) { say(e.message, true); }
  };
  load();
}

// ----- sessions -----

function sessionsScreen({ title, body }) {
  title.textContent = t('privacy.sessions');
  renderSessions(body, say);
}

// ----- password -----

/** Turns the server's "field: problem" into words for the form. */
function passwordError(e) {
  if (e.status === 403) return t('password.wrong');
  if (e.status === 429) return t('password.tooMany');
  if (e.status === 400 && /^new_password: /.test(e.message)) return t('password.rule', { rule: e.message.replace(/^new_password: /, '') });
  return e.message;
}

function passwordScreen({ title, body }) {
  title.textContent = t('privacy.password');
  const current = el('input', { type: 'password', id: 'pw-current', autocomplete: 'current-password' });
  const fresh = el('input', { type: 'password', id: 'pw-new', autocomplete: 'new-password' });
  const again = el('input', { type: 'password', id: 'pw-again', autocomplete: 'new-password' });
  const currentRow = el('label', {}, `${t('password.current')} `, current);
  // An account made by a provider sign-in has no password yet: it sets its first one.
  let hasPassword = true;
  get('/auth/oauth/links').then((r) => { hasPassword = r.has_password !== false; currentRow.hidden = !hasPassword; }).catch(() => {});
  const form = el('form', { onsubmit: async (e) => {
    e.preventDefault();
    if (hasPassword && !current.value) return say(t('password.enterCurrent'), true);
    if (!fresh.value) return say(t('password.enterNew'), true);
    if (fresh.value !== again.value) return say(t('password.mismatch'), true);
    try {
      const payload = { new_password: fresh.value };
      if (hasPassword) payload.old_password = current.value;
      await post('/me/password', payload);
      for (const f of [current, fresh, again]) f.value = '';
      say(t('password.changed'));
    } catch (err) { say(passwordError(err), true); }
  } },
  currentRow,
  el('label', {}, `${t('password.new')} `, fresh),
  el('label', {}, `${t('password.again')} `, again),
  el('p', { class: 'notice', text: t('password.notice') }),
  el('button', { type: 'submit', text: t('privacy.password') }));
  body.replaceChildren(form);
  return current;
}

// ----- deleting the account -----

function deleteScreen({ title, body, dialog }) {
  title.textContent = t('privacy.delete');
  // An account made by a provider sign-in has no password: it confirms with its username.
  const password = el('input', { type: 'password', id: 'delete-password', autocomplete: 'current-password' });
  const label = el('span', { text: t('delete.password') });
  let hasPassword = true;
  get('/auth/oauth/links').then((r) => {
    hasPassword = r.has_password !== false;
    if (!hasPassword) {
      Object.assign(password, { type: 'text', id: 'delete-username', autocomplete: 'off' });
      label.textContent = t('delete.username');
    }
  }).catch(() => {});
  const form = el('form', { onsubmit: async (e) => {
    e.preventDefault();
    if (!password.value) return say(hasPassword ? t('delete.enterPassword') : t('delete.enterUsername'), true);
    try {
      await api('DELETE', '/me', hasPassword ? { password: password.value } : { username: password.value });
    } catch (err) {
      password.value = '';
      const wrong = hasPassword ? t('delete.wrongPassword') : t('delete.wrongUsername');
      return say(err.status === 403 ? wrong : err.message, true);
    }
    dialog.close();
    onDeleted(t('delete.done'));
  } },
  el('p', { text: t('delete.explain') }),
  el('label', {}, label, ' ', password),
  el('div', { class: 'row' },
    el('button', { type: 'submit', class: 'danger-fill', text: t('delete.submit') }),
    el('button', { type: 'button', class: 'link', text: t('common.cancel'), onclick: () => dialog.close() })));
  body.replaceChildren(form);
  return password;
}
