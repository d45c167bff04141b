// Avatars by media id: each picture's URL is asked for once (GET /api/media/{id}); an avatar
// circle shows the initial until its picture is known, then the picture.

import { get } from './api.js';
import { avatar } from './util.js';

/** media id → URL (or null when there is none to show), once known. */
const urls = new Map();
/** media id → the pending lookup. */
const pending = new Map();

/** The URL of the avatar picture `id` (its square thumbnail when there is one), or null. */
export function avatarUrl(id) {
  if (!id) return Promise.resolve(null);
  if (urls.has(id)) return Promise.resolve(urls.get(id));
  if (!pending.has(id)) {
    pending.set(id, get(`/media/${encodeURIComponent(id)}`)
      .then((m) => m.thumb_url || m.url || null, () => null)
      .then((url) => { urls.set(id, url); pending.delete(id); return url; }));
  }
  return pending.get(id);
}

/** An avatar circle for `name` with the picture `mediaId` (if any) and an optional presence dot. */
export function avatarFor(name, mediaId, online) {
  const a = avatar(name, mediaId ? urls.get(mediaId) : null, online);
  if (mediaId) {
    a.dataset.media = mediaId;
    if (!urls.has(mediaId)) {
      avatarUrl(mediaId).then((url) => { if (url) setPicture(a, url); });
    }
  }
  return a;
}

function setPicture(a, url) {
  const dot = a.querySelector('.dot');
  a.replaceChildren(Object.assign(document.createElement('img'), { src: url, alt: '' }));
  if (dot) a.append(dot);
}
