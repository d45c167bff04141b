// Resumable attachments (tus): Alice sends a 5 MB file; the connection is cut in the middle of
// the upload (a PATCH aborted, and the browser offline for a moment); the client shows that it
// is reconnecting, asks the server how much arrived, goes on from there (not from zero), and
// Bob gets the attachment. A second upload is cancelled with its button: the row goes and the
// upload is deleted on the server.

import { run, newPage, register, unique, check, shot } from './common.mjs';

const CHUNK = 2 * 1024 * 1024;

await run(async (browser) => {
  const alice = await newPage(browser, 'alice');
  const bob = await newPage(browser, 'bob');
  const bobName = unique('bob');
  await register(alice, unique('alice'), 'Alice');
  await register(bob, bobName, 'Bob');

  await alice.click('#new-chat-button');
  await alice.fill('#people-search', bobName);
  await alice.locator(`#people-results li[data-user="${bobName}"] button`, { hasText: 'Chat' }).click();
  await alice.locator('#chat-title', { hasText: 'Bob' }).waitFor();
  await alice.locator('#composer-input').fill('A big file is coming');
  await alice.keyboard.press('Enter');
  await bob.locator('.room', { hasText: 'Alice' }).click();
  await bob.locator('#messages .msg .body', { hasText: 'A big file is coming' }).waitFor();

  // Every tus request Alice's browser makes, and the second PATCH cut off.
  const requests = [];
  let patches = 0;
  const tus = (url) => url.pathname.startsWith('/api/uploads');
  await alice.route(tus, async (route) => {
    const req = route.request();
    requests.push({ method: req.method(), offset: req.headers()['upload-offset'] });
    if (req.method() === 'PATCH' && ++patches === 2) {
      await alice.context().setOffline(true);
      return route.abort('connectionreset');
    }
    return route.continue();
  });

  const size = 5 * 1024 * 1024 + 12345;
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 11)) & 0xff;
  await alice.setInputFiles('#file-input', { name: 'big.bin', mimeType: 'application/octet-stream', buffer: data });
  await alice.locator('#uploads .upload progress').waitFor();
  await alice.locator('#uploads .upload .cancel').waitFor();
  await alice.locator('#uploads .upload .state', { hasText: 'reconnecting' }).waitFor();
  await shot(alice, 'upload-reconnecting.png');
  await alice.context().setOffline(false);

  // Bob gets it; Alice's upload row is gone.
  await bob.locator('#messages .msg a.file', { hasText: 'big.bin' }).waitFor();
  await alice.locator('#uploads .upload').waitFor({ state: 'detached' });
  const creations = requests.filter((r) => r.method === 'POST');
  check(creations.length === 1, `one upload was created, not ${creations.length}`);
  const offsets = requests.filter((r) => r.method === 'PATCH').map((r) => Number(r.offset));
  check(offsets[0] === 0 && offsets[1] === CHUNK, `PATCH offsets start 0, ${CHUNK}: ${offsets}`);
  check(offsets.slice(2).every((o) => o >= CHUNK), `after the cut it resumed, not restarted: ${offsets}`);
  check(requests.some((r) => r.method === 'HEAD'), 'it asked the server for the offset');
  // What Bob downloads is the file, byte for byte.
  const href = await bob.locator('#messages .msg a.file', { hasText: 'big.bin' }).getAttribute('href');
  const got = await bob.evaluate(async (url) => {
    const buf = new Uint8Array(await (await fetch(url)).arrayBuffer());
    let sum = 0;
    for (const b of buf) sum = (sum * 31 + b) >>> 0;
    return { len: buf.length, sum };
  }, href);
  let sum = 0;
  for (const b of data) sum = (sum * 31 + b) >>> 0;
  check(got.len === size && got.sum === sum, `downloaded ${got.len} bytes, checksum ${got.sum} vs ${sum}`);

  // A second upload, held in its first PATCH, is cancelled: the row goes, the server deletes it.
  await alice.unroute(tus);
  let held = null;
  let deleted = false;
  await alice.route(tus, (route) => {
    const method = route.request().method();
    if (method === 'PATCH') { held = route; return undefined; }
    if (method === 'DELETE') deleted = true;
    return route.continue();
  });
  await alice.setInputFiles('#file-input', { name: 'never.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(300000, 7) });
  await alice.locator('#uploads .upload .cancel').waitFor();
  while (!held) await new Promise((r) => setTimeout(r, 20));
  await alice.locator('#uploads .upload .cancel').click();
  await alice.locator('#uploads .upload').waitFor({ state: 'detached' });
  await held.abort().catch(() => {});
  const deadline = Date.now() + 5000;
  while (!deleted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  check(deleted, 'the cancelled upload was deleted on the server');
  check(await bob.locator('#messages .msg a.file', { hasText: 'never.bin' }).count() === 0, 'nothing of it was sent');
});
