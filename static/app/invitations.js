// Invitations to groups (people whose "who may add me" setting asks to be invited): listed above
// the conversations with Accept and Decline. Filled from GET /api/invitations at start and from
// `invitation` frames; accepting joins the group (its `room_event` `member_added` brings it in).

import { get, post } from './api.js';
import { $, el, show } from './util.js';
import { notify } from './dialogs.js';

const pending = new Map();

function render() {
  const list = $('invitations');
  list.replaceChildren(...[...pending.values()].map((inv) => el('li', { class: 'invitation', dataset: { invitation: inv.id } },
    el('span', { class: 'grow', text: `${inv.inviter.display_name} (@${inv.inviter.username}) invites you to “${inv.room_name || 'a group'}”` }),
    el('button', { type: 'button', text: 'Accept', onclick: () => answer(inv, 'accept') }),
    el('button', { type: 'button', class: 'link', text: 'Decline', onclick: () => answer(inv, 'decline') }))));
  show(list, pending.size > 0);
}

async function answer(inv, what) {
  try {
    await post(`/invitations/${encodeURIComponent(inv.id)}/${what}`);
    if (what === 'accept') notify(`You joined “${inv.room_name || 'the group'}”.`);
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
