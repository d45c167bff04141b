// The in-app emoji picker: a grid of common emoji, inserted at the caret.

const EMOJI = ('😀 😃 😄 😁 😆 😅 😂 🤣 😊 😇 🙂 🙃 😉 😌 😍 🥰 😘 😗 😋 😛 😜 🤪 😝 🤗 🤭 🤫 🤔 🤐 🤨 😐 😑 😶 '
  + '😏 😒 🙄 😬 😮 😯 😲 😳 🥺 😢 😭 😤 😠 😡 🤯 😱 😴 🤤 😷 🤒 🤕 🤢 🥳 😎 🤓 🧐 👍 👎 👌 ✌️ 🤞 '
  + '🤝 🙏 👏 🙌 👋 💪 👀 🎉 🎂 🎁 ❤️ 🧡 💛 💚 💙 💜 🖤 💔 💯 🔥 ✨ ⭐ 🌈 ☀️ 🌙 ⚡ ☕ 🍕 🍺 🍷 ⚽ 🚀 ✅ ❌ ❓ ❗').split(' ');

export function setupEmojiPicker(button, picker, input) {
  for (const e of EMOJI) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = e;
    b.setAttribute('aria-label', e);
    b.addEventListener('click', () => {
      insertAtCaret(input, e);
      picker.hidden = true;
    });
    picker.append(b);
  }
  button.addEventListener('click', (ev) => {
    ev.stopPropagation();
    picker.hidden = !picker.hidden;
  });
  document.addEventListener('click', (ev) => {
    if (!picker.hidden && !picker.contains(ev.target)) picker.hidden = true;
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !picker.hidden) { picker.hidden = true; button.focus(); }
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
