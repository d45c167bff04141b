// Web Push end to end in Chromium: the server's push (decrypted by the test's push service,
// PAYLOAD) is delivered to the app's service worker through DevTools, as a push service would;
// the worker shows a notification while no window of the app is visible, and a click on it
// opens the conversation in the app.
// Env: TOKEN (Bob's), ROOM (his dm with Ann), PEER (Ann's display name), PAYLOAD (JSON).
import { BASE, TIMEOUT, launch, newPage, shot } from './common.mjs';

const { TOKEN, ROOM, PEER, PAYLOAD } = process.env;
const payload = JSON.parse(PAYLOAD);
const origin = new URL(BASE).origin;

function check(cond, what) {
  if (!cond) throw new Error(what);
}

/** Polls `fn` until it returns something truthy. */
async function until(fn, what) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const browser = await launch();
try {
  const page = await newPage(browser, 'bob');
  const ctx = page.context();
  await ctx.grantPermissions(['notifications'], { origin });
  const cdp = await ctx.newCDPSession(page);
  const registrations = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: rs }) => {
    for (const r of rs) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
  });
  await cdp.send('ServiceWorker.enable');

  // Bob signed in: the app registers /sw.js.
  await page.goto(BASE);
  await page.evaluate((t) => localStorage.setItem('chat.token', t), TOKEN);
  await page.goto(BASE);
  await page.locator('#app').waitFor();
  await page.evaluate(() => navigator.serviceWorker.ready);
  const registrationId = await until(() => registrations.get(`${origin}/`), 'the service worker registration');
  const worker = await until(() => ctx.serviceWorkers()[0], 'the service worker');

  // No window of the app is visible any more (the tab shows another page).
  await page.goto('about:blank');
  await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId, data: PAYLOAD });
  const shown = await until(
    () => worker.evaluate(async () => (await self.registration.getNotifications())
      .map((n) => ({ title: n.title, body: n.body, room: n.data?.room }))).then((ns) => ns[0]),
    'a notification',
  );
  check(shown.title === payload.title && shown.title.includes(PEER), `title: ${JSON.stringify(shown)}`);
  check(shown.body === 'see you at noon', `body: ${JSON.stringify(shown)}`);
  check(shown.room === ROOM, `room: ${JSON.stringify(shown)}`);

  // Bob comes back to the app on the conversation list; a click on the notification (DevTools
  // cannot click a system notification, so the worker gets the click event the browser would
  // send) opens the conversation and closes the notification.
  await page.goto(BASE);
  await page.locator('#app').waitFor();
  await worker.evaluate(async () => {
    const [n] = await self.registration.getNotifications();
    self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n }));
  });
  await until(
    () => page.evaluate((peer) => document.querySelector('#chat-title')?.textContent.includes(peer), PEER),
    'the conversation opened by the click',
  );
  await page.locator('#messages').getByText('see you at noon').waitFor();
  await until(() => worker.evaluate(async () => (await self.registration.getNotifications()).length === 0),
    'the notification closed');
  await shot(page, 'webpush-opened.png');
} finally {
  await browser.close();
}
