// Things a new user notices first: the "new conversation" button shows an icon that cannot go
// missing (inline SVG, not a font glyph), the page loads without a 404 (favicon), and links are
// readable in every theme (contrast of at least 4.5:1 against the panel).

import { BASE, run, newPage, register, unique, check } from './common.mjs';

function luminance([r, g, b]) {
  const c = [r, g, b].map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

function rgb(css) {
  const hex = css.trim().match(/^#([0-9a-f]{6})$/i);
  if (hex) return [0, 2, 4].map((i) => parseInt(hex[1].slice(i, i + 2), 16));
  const m = css.match(/rgba?\((\d+),\s*(\d+),\s*(\d+)/);
  if (!m) throw new Error(`not a colour: ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

await run(async (browser) => {
  const page = await newPage(browser, 'new user');
  const missing = [];
  page.on('response', (r) => { if (r.status() === 404) missing.push(r.url()); });
  await page.goto(BASE);
  await register(page, unique('nina'), 'Nina');

  const icon = await page.locator('#new-chat-button svg').boundingBox();
  check(icon && icon.width >= 12 && icon.height >= 12, `the new-conversation icon is drawn: ${JSON.stringify(icon)}`);
  const favicon = await page.request.get(`${BASE}/favicon.svg`);
  check(favicon.status() === 200, `favicon served (${favicon.status()})`);
  check(missing.length === 0, `no 404 while loading: ${missing.join(', ')}`);

  // Made the admin with the server's setup code, so the "Admin" link is there to measure.
  const made = await page.evaluate(async (code) => (await fetch('/api/admin/bootstrap', {
    method: 'POST',
    headers: { Authorization: `Bearer ${localStorage.getItem('chat.token')}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ code }),
  })).status, process.env.BOOTSTRAP_CODE);
  check(made === 200, `bootstrap code accepted (${made})`);
  await page.reload();
  const link = page.locator('#admin-link');
  await link.waitFor();
  for (const theme of ['light', 'dark', 'ocean', 'forest', 'high_contrast']) {
    const [fg, bg] = await page.evaluate((t) => {
      document.documentElement.dataset.theme = t;
      const a = document.getElementById('admin-link');
      return [getComputedStyle(a).color, getComputedStyle(document.documentElement).getPropertyValue('--panel')];
    }, theme);
    const [l1, l2] = [luminance(rgb(fg)), luminance(rgb(bg))].sort((x, y) => y - x);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    check(ratio >= 4.5, `links readable in ${theme}: ${fg} on ${bg} is ${ratio.toFixed(2)}:1`);
  }
});
