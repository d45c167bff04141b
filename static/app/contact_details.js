// The settings dialog's "Phone and e-mail" section: the profile phone and e-mail and the number
// for texts about unread messages, each saved, then verified with a code the server sends there
// (POST /api/me/{phone,email}/verify, then .../confirm). Unverified values are not texted and do
// not let people find the account by their address book; a value another account verified is
// refused (409), which shows as the error under the dialog.

import { get, post, patch } from './api.js';
import { $, el } from './util.js';
import { t } from './i18n.js';

/** The three values: where each is saved and read, and which code it is verified with. */
const ROWS = [
  { id: 'phone', label: t('details.phone'), code: t('details.codePhone'), kind: 'phone', type: 'tel',
    read: (m) => [m.user.phone, m.user.phone_verified],
    save: (v) => patch('/me', { phone: v || null }) },
  { id: 'email', label: t('details.email'), code: t('details.codeEmail'), kind: 'email', type: 'email',
    read: (m) => [m.user.email, m.user.email_verified],
    save: (v) => patch('/me', { email: v || null }) },
  { id: 'sms', label: t('details.sms'), code: t('details.codeSms'), kind: 'phone', type: 'tel',
    read: (m) => [m.push.sms_phone, m.push.sms_phone_verified],
    save: (v) => patch('/push/settings', { sms_phone: v || '' }) },
];

let onError = () => {};
let current = {};

/** Builds the section inside `box`; errors go to `showError` (the dialog's error line). */
export function setupContactDetails(box, showError) {
  onError = showError;
  box.replaceChildren(el('h2', { text: t('details.title') }),
    el('p', { class: 'notice', text: t('details.notice') }),
    ...ROWS.map(row),
    el('label', { class: 'check' },
      el('input', { type: 'checkbox', id: 'contact-sms-fallback', onchange: (e) => saveFallback(e.target.checked) }),
      ` ${t('details.smsFallback')}`));
}

function row(r) {
  const id = `contact-${r.id}`;
  return el('div', { class: 'contact-row', dataset: { kind: r.id } },
    el('label', {}, `${r.label} `, el('input', { id, type: r.type })),
    el('div', { class: 'row' },
      el('button', { type: 'button', id: `${id}-save`, text: t('common.save'), onclick: () => act(() => save(r)) }),
      el('span', { class: 'notice', id: `${id}-state` }),
      el('button', { type: 'button', id: `${id}-send`, text: t('details.sendCode'), hidden: true, onclick: () => act(() => sendCode(r)) })),
    el('div', { class: 'row', id: `${id}-code-row`, hidden: true },
      el('input', { id: `${id}-code`, inputmode: 'numeric', autocomplete: 'one-time-code', placeholder: t('details.code'), 'aria-label': r.code, maxlength: '12' }),
      el('button', { type: 'button', id: `${id}-confirm`, text: t('details.confirm'), onclick: () => act(() => confirmCode(r)) })));
}

/** The dialog's actions, chained: see `act`. */
let queue = Promise.resolve();

/**
 * Runs `step`, then shows what the server says now; the dialog's actions run one after another,
 * each once the one before has been shown. So "Send code" clicked right after "Save" names the
 * value just saved, not the one it replaced, and answers never show out of order.
 */
function act(step) {
  queue = queue.catch(() => {}).then(async () => {
    try {
      await step();
      onError('');
    } catch (e) {
      onError(e.message);
    }
    await refreshContactDetails();
  });
  return queue;
}

async function save(r) {
  await r.save($(`contact-${r.id}`).value.trim());
  $(`contact-${r.id}-code-row`).hidden = true;
}

async function sendCode(r) {
  const [value] = r.read(current);
  await post(`/me/${r.kind}/verify`, r.kind === 'phone' ? { phone: value } : { email: value });
  $(`contact-${r.id}-code-row`).hidden = false;
  $(`contact-${r.id}-code`).focus();
}

async function confirmCode(r) {
  await post(`/me/${r.kind}/confirm`, { code: $(`contact-${r.id}-code`).value });
  $(`contact-${r.id}-code`).value = '';
  $(`contact-${r.id}-code-row`).hidden = true;
}

function saveFallback(on) {
  return act(() => patch('/push/settings', { sms_fallback: on }));
}

/** Reads the values and whether each is verified, and shows them. */
export async function refreshContactDetails() {
  try {
    const [{ user }, { settings: push }] = await Promise.all([get('/me'), get('/push/settings')]);
    current = { user, push };
  } catch (e) {
    onError(e.message);
    return;
  }
  for (const r of ROWS) {
    const [value, verified] = r.read(current);
    const id = `contact-${r.id}`;
    if (document.activeElement !== $(id)) $(id).value = value || '';
    $(`${id}-state`).textContent = value ? (verified ? t('details.verified') : t('details.notVerified')) : '';
    $(`${id}-send`).hidden = !value || verified;
    if (verified) $(`${id}-code-row`).hidden = true;
  }
  $('contact-sms-fallback').checked = !!current.push.sms_fallback;
}
