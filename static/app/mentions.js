// @mentions: message text with the mentioned members highlighted, and completion of `@name`
// in the composer from the conversation's members.

import { el } from './util.js';

const TOKEN = /@([a-z0-9][a-z0-9_.-]{2,31})/gi;

/**
 * The body of `m` as nodes: plain text, with `@username` of each mentioned member in a
 * `.mention` span (`.mention.self` for me). Never HTML from the message.
 */
export function bodyNodes(m, me, userOf) {
  const mentioned = new Map();
  for (const id of m.mentions || []) {
    const u = userOf(id);
    if (u.username) mentioned.set(u.username.toLowerCase(), id);
  }
  if (!mentioned.size) return [document.createTextNode(m.body)];
  const out = [];
  let last = 0;
  for (const match of m.body.matchAll(TOKEN)) {
    const name = match[1].toLowerCase().replace(/[.-]+$/, '');
    const id = mentioned.get(name);
    if (!id) continue;
    const start = match.index;
    const end = start + 1 + name.length;
    if (start > last) out.push(document.createTextNode(m.body.slice(last, start)));
    out.push(el('span', { class: `mention${id === me ? ' self' : ''}`, text: m.body.slice(start, end) }));
    last = end;
  }
  if (last < m.body.length) out.push(document.createTextNode(m.body.slice(last)));
  return out;
}

/**
 * Completes `@name` in `input` with the usernames of `members()` (users with `username` and
 * `display_name`), in the list element `list`.
 */
export function setupMentionCompletion(input, list, members) {
  let matches = [];
  let active = 0;
  // The textbox pattern with a list: assistive technology follows the active option through
  // aria-activedescendant while focus stays in the composer.
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', list.id);
  const close = () => { list.hidden = true; matches = []; input.removeAttribute('aria-activedescendant'); };
  const query = () => {
    const upto = input.value.slice(0, input.selectionStart ?? input.value.length);
    const m = /(^|[^a-z0-9_.-])@([a-z0-9_.-]{0,31})$/i.exec(upto);
    return m ? m[2].toLowerCase() : null;
  };
  const pick = (u) => {
    const caret = input.selectionStart ?? input.value.length;
    const q = query() ?? '';
    const start = caret - q.length;
    input.value = `${input.value.slice(0, start)}${u.username} ${input.value.slice(caret)}`;
    input.selectionStart = input.selectionEnd = start + u.username.length + 1;
    close();
    input.focus();
  };
  const render = () => {
    list.replaceChildren(...matches.map((u, i) => el('li', {
      role: 'option',
      id: `${list.id}-${i}`,
      class: i === active ? 'active' : '',
      'aria-selected': String(i === active),
      dataset: { username: u.username },
      onmousedown: (e) => { e.preventDefault(); pick(u); },
    }, el('strong', { text: u.display_name }), el('span', { text: ` @${u.username}` }))));
    list.hidden = !matches.length;
    if (matches.length) input.setAttribute('aria-activedescendant', `${list.id}-${active}`);
    else input.removeAttribute('aria-activedescendant');
  };
  input.addEventListener('input', () => {
    const q = query();
    if (q === null) return close();
    matches = members()
      .filter((u) => u.username && (u.username.startsWith(q) || u.display_name?.toLowerCase().startsWith(q)))
      .slice(0, 8);
    active = 0;
    render();
  });
  input.addEventListener('keydown', (e) => {
    if (list.hidden || !matches.length) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      active = (active + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length;
      render();
    } else if (e.key === 'Enter' || e.key === 'Tab') {
      e.preventDefault();
      e.stopImmediatePropagation();
      pick(matches[active]);
    } else if (e.key === 'Escape') {
      close();
    }
  });
  input.addEventListener('blur', () => setTimeout(close, 100));
}
