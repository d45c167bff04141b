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
