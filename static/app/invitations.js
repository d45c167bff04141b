// Invitations to groups (people whose "who may add me" setting asks to be invited): listed above
// the conversations with Accept and Decline. Filled from GET /api/invitations at start and from
// `invitation` frames; accepting joins the group (its `room_event` `member_added` brings it in).

import { get, post } from './api.js';
import { $, el, show } from './util.js';
import { notify } from './dialogs.js';
import { t } from './i18n.js';

const pending = new Map();

function render() {
  const list = $('invitations');
  list.replaceChildren(...[...pending.values()].map((inv) => el('li', { class: 'invitation', dataset: { invitation: inv.id } },
    el('span', { class: 'grow', text: inv.room_name ? t('invitations.to', { name: inv.inviter.display_name, username: inv.inviter.username, group: inv.room_name })
      : t('invitations.toAGroup', { name: inv.inviter.display_name, username: inv.inviter.username }) }),
    el('button', { type: 'button', text: t('invitations.accept'), onclick: () => answer(inv, 'accept') }),
    el('button', { type: 'button', class: 'link', text: t('invitations.decline'), onclick: () => answer(inv, 'decline') }))));
  show(list, pending.size > 0);
}

async function answer(inv, what) {
  try {
    await post(`/invitations/${encodeURIComponent(inv.id)}/${what}`);
    if (what === 'accept') notify(inv.room_name ? t('invitations.joined', { group: inv.room_name }) : t('invitations.joinedTheGroup'));
  } catch (e) {
    notify(e.message);
  }
  pending.delete(inv.id);
  render();
}

/** One invitation arrived (an `invitation` frame). */
export function addInvitation(inv) {
  pending.set(inv.id, inv);
  render();
}

/** Loads the pending invitations (at start). */
export async function loadInvitations() {
  pending.clear();
  try {
    const { invitations } = await get('/invitations');
    for (const inv of invitations) pending.set(inv.id, inv);
  } catch { /* shown again at the next start */ }
  render();
}
