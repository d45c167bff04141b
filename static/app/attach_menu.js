// The composer's "attach" menu: on a phone the photo, voice, video and file buttons would leave
// little room to type, so they are tucked behind one button that opens a small menu (the CSS
// shows either the menu button or the row of buttons, by screen width). Each item presses the
// button it stands for, so the menu adds no second way of doing anything (focus goes back to the
// menu button first: a dialog it opens returns there when it closes).

import { $, el } from './util.js';
import { t } from './i18n.js';

/** [id of the composer button, label of its menu item, icon] */
const ITEMS = [
  ['photo-button', t('composer.photo'), '📷'],
  ['voice-button', t('composer.voice'), '🎤'],
  ['video-button', t('composer.video'), '🎬'],
  ['attach-button', t('composer.sendFile'), '📎'],
];

/** Adds the menu button at the start of the composer and its menu (once, at start). */
export function setupAttachMenu() {
  const composer = $('composer');
  const button = el('button', { type: 'button', id: 'attach-menu-button', class: 'attach-menu-button', title: t('composer.attach'), 'aria-label': t('composer.attach'), 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': 'attach-menu' });
  // The same plus as the new-conversation button: an icon, not a character a font may lack.
  button.innerHTML = '<svg class="icon" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true"><path d="M12 5v14M5 12h14" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" fill="none"/></svg>';
  const menu = el('div', { id: 'attach-menu', class: 'attach-menu', role: 'menu', 'aria-label': t('composer.attach'), hidden: true });
  for (const [target, label, icon] of ITEMS) {
    menu.append(el('button', { type: 'button', role: 'menuitem', dataset: { for: target }, onclick: () => { close(); $(target).click(); } },
      el('span', { class: 'icon', 'aria-hidden': 'true', text: icon }), el('span', { text: label })));
  }
  composer.prepend(button);
  composer.after(menu);

  const items = () => [...menu.querySelectorAll('[role="menuitem"]')];
  function open() {
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    items()[0].focus();
  }
  function close(refocus = true) {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    if (refocus) button.focus();
  }
  button.addEventListener('click', (ev) => {
    ev.stopPropagation();
    if (menu.hidden) open(); else close();
  });
  menu.addEventListener('keydown', (ev) => {
    const list = items();
    const at = list.indexOf(document.activeElement);
    if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); close(); }
    else if (ev.key === 'ArrowDown') { ev.preventDefault(); list[(at + 1) % list.length].focus(); }
    else if (ev.key === 'ArrowUp') { ev.preventDefault(); list[(at - 1 + list.length) % list.length].focus(); }
    else if (ev.key === 'Tab') close(false);
  });
  document.addEventListener('click', (ev) => {
    if (!menu.hidden && !menu.contains(ev.target) && ev.target !== button) close(false);
  });
}
