// Reactions under a message: one chip per emoji with its count (mine highlighted; tap to add
// or take back mine), and a small palette to add a new one.

import { el } from './util.js';
import { t, formatNumber } from './i18n.js';

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
    const who = users.map((u) => (u === me ? t('common.you') : nameOf(u))).join(', ');
    row.append(el('button', {
      type: 'button',
      class: `reaction${mine ? ' mine' : ''}`,
      title: who,
      'aria-pressed': String(mine),
      'aria-label': `${emoji} ${formatNumber(users.length)}: ${who}`,
      dataset: { emoji },
      onclick: () => toggle(emoji, !mine),
    }, el('span', { text: emoji }), el('span', { class: 'count', text: formatNumber(users.length) })));
  }
  return row;
}

/** A "React" button that opens the quick palette; `pick(emoji)` adds that reaction. From the
 * keyboard the palette takes focus, the arrows move in it, and Escape closes it (below). */
export function reactButton(pick) {
  const palette = el('div', { class: 'react-palette', role: 'menu', 'aria-label': t('react.label'), hidden: true });
  const button = el('button', {
    type: 'button', class: 'react-button', text: '☺', title: t('react.label'), 'aria-label': t('react.label'), 'aria-haspopup': 'menu', 'aria-expanded': 'false',
    onclick: (ev) => {
      ev.stopPropagation();
      if (!palette.hidden) { close(palette, false); return; }
      closeAll();
      palette.hidden = false;
      button.setAttribute('aria-expanded', 'true');
      if (ev.detail === 0) palette.querySelector('button').focus();
    },
  });
  for (const e of QUICK) {
    palette.append(el('button', {
      type: 'button', role: 'menuitem', text: e, 'aria-label': t('react.with', { emoji: e }),
      onclick: (ev) => { ev.stopPropagation(); close(palette, false); pick(e); },
    }));
  }
  palette.addEventListener('keydown', (ev) => {
    const items = [...palette.querySelectorAll('button')];
    const at = items.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[ev.key];
    if (step) {
      ev.preventDefault();
      items[(at + step + items.length) % items.length].focus();
    } else if (ev.key === 'Tab') close(palette, false);
  });
  return el('span', { class: 'react-wrap' }, button, palette);
}

/** Hides `palette`, focusing its button again with `refocus`. */
function close(palette, refocus) {
  palette.hidden = true;
  const button = palette.previousElementSibling;
  button?.setAttribute('aria-expanded', 'false');
  if (refocus) button?.focus();
}

function closeAll() {
  for (const p of document.querySelectorAll('.react-palette:not([hidden])')) close(p, false);
}

// A click anywhere else closes an open palette, and so does Escape (focus on its button, say).
document.addEventListener('click', (ev) => {
  if (!ev.target.closest?.('.react-palette')) closeAll();
});
document.addEventListener('keydown', (ev) => {
  if (ev.key !== 'Escape') return;
  for (const p of document.querySelectorAll('.react-palette:not([hidden])')) {
    ev.preventDefault();
    close(p, p.parentElement.contains(document.activeElement));
  }
});

/** Applies a `reaction` event to a message's `reactions` map. */
export function applyReaction(m, f) {
  const reactions = { ...(m.reactions || {}) };
  const users = (reactions[f.emoji] || []).filter((u) => u !== f.user);
  if (f.on) users.push(f.user);
  if (users.length) reactions[f.emoji] = users;
  else delete reactions[f.emoji];
  m.reactions = reactions;
}
