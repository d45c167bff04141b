// The in-app emoji picker: a grid of common emoji, inserted at the caret.

const EMOJI = ('😀 😃 😄 😁 😆 😅 😂 🤣 😊 😇 🙂 🙃 😉 😌 😍 🥰 😘 😗 😋 😛 😜 🤪 😝 🤗 🤭 🤫 🤔 🤐 🤨 😐 😑 😶 '
  + '😏 😒 🙄 😬 😮 😯 😲 😳 🥺 😢 😭 😤 😠 😡 🤯 😱 😴 🤤 😷 🤒 🤕 🤢 🥳 😎 🤓 🧐 👍 👎 👌 ✌️ 🤞 '
  + '🤝 🙏 👏 🙌 👋 💪 👀 🎉 🎂 🎁 ❤️ 🧡 💛 💚 💙 💜 🖤 💔 💯 🔥 ✨ ⭐ 🌈 ☀️ 🌙 ⚡ ☕ 🍕 🍺 🍷 ⚽ 🚀 ✅ ❌ ❓ ❗').split(' ');

/** Columns of the picker's grid (styles.css), for the arrow keys. */
const COLUMNS = 8;

export function setupEmojiPicker(button, picker, input) {
  for (const e of EMOJI) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = e;
    b.setAttribute('aria-label', e);
    b.addEventListener('click', () => {
      insertAtCaret(input, e);
      close(false);
    });
    picker.append(b);
  }
  const emoji = () => [...picker.querySelectorAll('button')];
  function close(refocus) {
    if (picker.hidden) return;
    picker.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    if (refocus) button.focus();
  }
  button.addEventListener('click', (ev) => {
    ev.stopPropagation();
    if (!picker.hidden) { close(false); return; }
    picker.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    // Opened from the keyboard (Enter, Space: no pointer position), the first emoji takes focus.
    if (ev.detail === 0) emoji()[0].focus();
  });
  // The arrows move through the grid; Escape closes it and goes back to the button.
  picker.addEventListener('keydown', (ev) => {
    const list = emoji();
    const at = list.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLUMNS, ArrowUp: -COLUMNS }[ev.key];
    if (step && at >= 0) {
      ev.preventDefault();
      list[Math.min(list.length - 1, Math.max(0, at + step))].focus();
    }
  });
  document.addEventListener('click', (ev) => {
    if (!picker.hidden && !picker.contains(ev.target)) close(false);
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !picker.hidden) { ev.preventDefault(); close(true); }
  });
}

function insertAtCaret(input, text) {
  const start = input.selectionStart ?? input.value.length;
  const end = input.selectionEnd ?? input.value.length;
  input.value = input.value.slice(0, start) + text + input.value.slice(end);
  input.selectionStart = input.selectionEnd = start + text.length;
  input.focus();
  input.dispatchEvent(new Event('input'));
}

// An emoji as drawn: one with emoji presentation, or any pictograph asking for it (U+FE0F),
// with skin tones and ZWJ sequences; or a flag (two regional indicators).
const EMOJI_RUN = /(?:\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F)(?:\p{Emoji_Modifier}|\uFE0F|\u200D\p{Extended_Pictographic}\uFE0F?)*|\p{Regional_Indicator}{2}/gu;

/** `nodes` with the emoji of their text nodes wrapped in `<span class="emoji">`: a text font
 * that has a plain black glyph for some emoji (☕, ⚡ in DejaVu Sans) would otherwise draw them
 * without colour, and the colour emoji font cannot come first for all text (it has digits). */
export function withEmoji(nodes) {
  const out = [];
  for (const node of nodes) {
    const text = node.nodeType === Node.TEXT_NODE ? node.textContent : null;
    EMOJI_RUN.lastIndex = 0;
    if (!text || !EMOJI_RUN.test(text)) { out.push(node); continue; }
    let last = 0;
    for (const m of text.matchAll(EMOJI_RUN)) {
      if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
      const span = document.createElement('span');
      span.className = 'emoji';
      span.textContent = m[0];
      out.push(span);
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  }
  return out;
}
