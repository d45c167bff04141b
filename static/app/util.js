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

export function timeOf(ts) {
  const d = new Date(ts);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** The label of a day separator: "Today", "Yesterday", else the weekday and date (with the
 * year when it is not this year's). */
export function dayLabel(ts, now = new Date()) {
  const d = new Date(ts);
  const midnight = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((midnight(now) - midnight(d)) / 86400000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  const opts = { weekday: 'long', month: 'long', day: 'numeric' };
  if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString([], opts);
}

/** The calendar day of `ts` in local time, as a key to compare days. */
export function dayKey(ts) {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function lastSeenText(ts) {
  if (!ts) return 'offline';
  return `last seen ${timeOf(ts)}`;
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
