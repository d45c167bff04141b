// Reactions under a message: one chip per emoji with its count (mine highlighted; tap to add
// or take back mine), and a small palette to add a new one.

import { el } from './util.js';

/** The emoji offered by the "React" button. */
export const QUICK = ['👍', '❤️', '😂', '😮', '😢', '🎉'];

/**
 * The row of reaction chips for `m` (null when it has none). `toggle(emoji, on)` sends a react;
 * `nameOf(id)` names a user for the chip's tooltip.
 */
export function reactionRow(m, me, toggle, nameOf) {
  const entries = Object.entries(m.reactions || {}).filter(([, users]) => users.length);
  if (!entries.length) return null;
  const row = el('div', { class: 'reactions' });
  for (const [emoji, users] of entries) {
    const mine = users.includes(me);
    const who = users.map((u) => (u === me ? 'You' : nameOf(u))).join(', ');
    row.append(el('button', {
      type: 'button',
      class: `reaction${mine ? ' mine' : ''}`,
      title: who,
      'aria-pressed': String(mine),
      'aria-label': `${emoji} ${users.length}: ${who}`,
      dataset: { emoji },
      onclick: () => toggle(emoji, !mine),
    }, el('span', { text: emoji }), el('span', { class: 'count', text: String(users.length) })));
  }
  return row;
}

/** A "React" button that opens the quick palette; `pick(emoji)` adds that reaction. */
export function reactButton(pick) {
  const palette = el('div', { class: 'react-palette', role: 'menu', hidden: true });
  for (const e of QUICK) {
    palette.append(el('button', {
      type: 'button', role: 'menuitem', text: e, 'aria-label': `React ${e}`,
      onclick: (ev) => { ev.stopPropagation(); palette.hidden = true; pick(e); },
    }));
  }
  const button = el('button', {
    type: 'button', class: 'react-button', text: '☺', title: 'React', 'aria-label': 'React',
    onclick: (ev) => { ev.stopPropagation(); palette.hidden = !palette.hidden; },
  });
  return el('span', { class: 'react-wrap' }, button, palette);
}

/** Applies a `reaction` event to a message's `reactions` map. */
export function applyReaction(m, f) {
  const reactions = { ...(m.reactions || {}) };
  const users = (reactions[f.emoji] || []).filter((u) => u !== f.user);
  if (f.on) users.push(f.user);
  if (users.length) reactions[f.emoji] = users;
  else delete reactions[f.emoji];
  m.reactions = reactions;
}
