// Small DOM helpers. Text is always set with textContent, never parsed as HTML.

/** Creates an element with properties (`text` sets textContent, `class` the class) and children. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = v;
    else if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

export const $ = (id) => document.getElementById(id);

export function show(node, on = true) { node.hidden = !on; }

// Times and dates in the page's language: static/app/i18n.js.
export { formatTime as timeOf, dayLabel, lastSeenText } from './i18n.js';

/** The calendar day of `ts` in local time, as a key to compare days. */
export function dayKey(ts) {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function initials(name) {
  return (name || '?').trim().slice(0, 1).toUpperCase();
}

/** An avatar circle: the picture if there is one, else the initial; optional presence dot. */
export function avatar(name, url, online) {
  const a = el('span', { class: 'avatar', 'aria-hidden': 'true' });
  if (url) a.append(el('img', { src: url, alt: '' }));
  else a.textContent = initials(name);
  if (online !== undefined) a.append(el('span', { class: `dot${online ? ' online' : ''}` }));
  return a;
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}
