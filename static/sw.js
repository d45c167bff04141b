// Service worker: shows Web Push notifications and opens the conversation when one is clicked.
// Payload (see README "Push notifications"): {type, title, body, room, message, seq, count, ts}.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch { data = { body: event.data?.text() }; }
  const title = data.title || 'New message';
  event.waitUntil((async () => {
    // No notification while a window of the app is visible: the page shows the message itself.
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    if (windows.some((w) => w.visibilityState === 'visible')) return;
    await self.registration.showNotification(title, {
      body: data.body || '',
      tag: data.room || 'chat',
      renotify: true,
      data: { room: data.room },
    });
  })());
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const room = event.notification.data?.room;
  const url = room ? `/#room=${encodeURIComponent(room)}` : '/';
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const w of windows) {
      if (new URL(w.url).origin === self.location.origin) {
        w.postMessage({ type: 'open_room', room });
        // Focusing needs the click's user activation; the conversation opens either way.
        await w.focus().catch(() => {});
        return;
      }
    }
    await self.clients.openWindow(url);
  })());
});
