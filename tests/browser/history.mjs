// History scrolls back: a conversation read to the end opens on its latest messages and
// scrolling up loads older pages until the first message, each message exactly once and in
// order. Then the connection drops; the other side sends while the reader is away; the client
// reconnects by itself and `sync` brings exactly the missed messages (no gap, no duplicate).
// Env: USERNAME (the reader), PEER (display name of the other side), COUNT (messages already
// sent), PEER_TOKEN and ROOM (to send as the other side while the reader is disconnected).

import { run, newPage, login, shot, check, online } from './common.mjs';

const count = Number(process.env.COUNT);
const away = ['while you were away 1', 'while you were away 2', 'while you were away 3'];

await run(async (browser) => {
  const page = await newPage(browser, 'reader');
  // Every WebSocket of the page goes through this route, so the test can cut the reader's.
  const readerSockets = [];
  let refuse = false;
  await page.routeWebSocket(/\/ws/, (ws) => {
    if (ws.url().includes(encodeURIComponent(process.env.PEER_TOKEN))) {
      ws.connectToServer();
      return;
    }
    if (refuse) {
      ws.close({ code: 1012, reason: 'test: server away' });
      return;
    }
    const server = ws.connectToServer();
    readerSockets.push({ ws, server });
  });

  await login(page, process.env.USERNAME);
  await page.locator('.room', { hasText: process.env.PEER }).click();
  await page.locator('#messages .msg .body', { hasText: `history message ${count}` }).waitFor();
  const first = page.locator('#messages .msg .body', { hasText: /^history message 1$/ });
  check((await first.count()) === 0, 'the first message is not loaded before scrolling');
  const bodies = page.locator('#messages .msg .body');
  for (let i = 0; i < 20 && (await first.count()) === 0; i++) {
    const before = await bodies.count();
    await page.locator('#messages').evaluate((el) => { el.scrollTop = 0; });
    await page.waitForFunction((n) => document.querySelectorAll('#messages .msg').length > n, before);
  }
  await first.waitFor();
  const expected = Array.from({ length: count }, (_, i) => `history message ${i + 1}`);
  let texts = await bodies.allTextContents();
  check(JSON.stringify(texts) === JSON.stringify(expected), `every message once, in order; got ${texts.length}: ${texts.slice(0, 3)}…`);
  await shot(page, 'history.png');

  // Cut the reader's connection and keep refusing new ones while the peer sends.
  refuse = true;
  const { ws, server } = readerSockets.at(-1);
  await server.close({ code: 1001 });
  await ws.close({ code: 1012, reason: 'test: connection lost' });
  await page.waitForFunction(() => document.body.dataset.conn !== 'online');
  await page.evaluate(async ({ token, room, bodies: toSend }) => {
    const sock = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
    const acked = new Set();
    await new Promise((resolve, reject) => {
      sock.onerror = () => reject(new Error('peer socket failed'));
      sock.onmessage = (ev) => {
        const f = JSON.parse(ev.data);
        if (f.type === 'hello') toSend.forEach((body, i) => sock.send(JSON.stringify({ type: 'send', room, client_id: `away-${i}`, body })));
        if (f.type === 'ack') acked.add(f.client_id);
        if (f.type === 'error') reject(new Error(f.message));
        if (acked.size === toSend.length) resolve();
      };
    });
    sock.close();
  }, { token: process.env.PEER_TOKEN, room: process.env.ROOM, bodies: away });

  // Let the client back in: it reconnects by itself and syncs.
  refuse = false;
  await online(page);
  await page.locator('#messages .msg .body', { hasText: away[2] }).waitFor();
  texts = await bodies.allTextContents();
  check(JSON.stringify(texts) === JSON.stringify([...expected, ...away]), `after reconnect: no gap, no duplicate; got the last ${texts.slice(-5)}`);
  await shot(page, 'reconnected.png');
});
