// The service worker and Web Push: registers /sw.js, subscribes with the server's VAPID key and
// hands the subscription to POST /api/push/subscriptions.

import { get, post } from './api.js';
import { t } from './i18n.js';

export async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return null;
  try {
    return await navigator.serviceWorker.register('/sw.js');
  } catch (e) {
    console.warn('service worker not registered', e);
    return null;
  }
}

function keyBytes(base64url) {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** Asks for permission and subscribes this browser; resolves to a short status text. */
export async function enablePush() {
  if (!('serviceWorker' in navigator) || !('PushManager' in window)) return t('push.unsupported');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return t('push.blocked');
  const reg = await navigator.serviceWorker.ready;
  const { public_key: key } = await get('/push/vapid');
  let sub = await reg.pushManager.getSubscription();
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  const json = sub.toJSON();
  await post('/push/subscriptions', { kind: 'webpush', endpoint: json.endpoint, keys: json.keys, device: navigator.userAgent.slice(0, 100) });
  return t('push.on');
}
