// Resumable uploads with tus 1.0 against the server's /api/uploads/ (creation, termination):
// a small client in the spirit of tus-js-client. The file goes up in PATCH requests of CHUNK
// bytes; after a dropped connection or a server hiccup it asks the server (HEAD) how much
// arrived and goes on from there, waiting for the browser to be online again. The upload's URL
// is remembered per file in localStorage, so a reload of the page resumes it too. `cancel()`
// stops and deletes the upload on the server.

import { t } from './i18n.js';

const ENDPOINT = '/api/uploads/';
const CHUNK = 2 * 1024 * 1024;
/** Waits before the 1st, 2nd, ... retry in a row; the last one repeats. */
const RETRY_DELAYS = [0, 500, 1500, 3000, 5000, 10000];
const STORE_PREFIX = 'chat.tus.';

/** An upload refused or failed for good; `status` 0 means the network. */
export class TusError extends Error {
  constructor(status, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
  }
}

/** Thrown by `start()` after `cancel()`. */
export class TusCancelled extends Error {
  constructor() { super('cancelled'); }
}

/** Worth trying again: the network, a conflicting or locked offset, the server being busy. */
function retryable(e) {
  return e instanceof TusError && (e.status === 0 || e.status === 409 || e.status === 423 || e.status === 429 || e.status >= 500);
}

function b64(text) {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

async function errorOf(res) {
  const data = await res.json().catch(() => null);
  return new TusError(res.status, data?.error?.message);
}

export class TusUpload {
  /**
   * `token`: the bearer token; `metadata`: extra Upload-Metadata pairs; `onProgress(sent, total)`;
   * `onRetry(error)` when the connection failed and the upload waits to go on.
   */
  constructor(file, { token, metadata = {}, chunkSize = CHUNK, onProgress, onRetry } = {}) {
    this.file = file;
    this.token = token;
    this.metadata = { filename: file.name || 'file', filetype: file.type || 'application/octet-stream', ...metadata };
    this.chunkSize = chunkSize;
    this.onProgress = onProgress || (() => {});
    this.onRetry = onRetry || (() => {});
    this.key = `${STORE_PREFIX}${file.name}|${file.size}|${file.lastModified}|${file.type}`;
    this.url = null;
    this.cancelled = false;
    this.xhr = null;
    this.wake = null;
  }

  headers(extra = {}) {
    const h = { 'Tus-Resumable': '1.0.0', ...extra };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  /** Uploads everything; resolves to the id of the media item the upload became. */
  async start() {
    let attempt = 0;
    let offset;
    for (;;) {
      this.checkCancelled();
      try {
        if (!this.url) {
          this.url = this.remembered() || await this.create();
          offset = undefined;
        }
        let mediaId = null;
        if (offset === undefined) ({ offset, mediaId } = await this.head());
        if (!mediaId && (offset < this.file.size || this.file.size === 0)) {
          ({ offset, mediaId } = await this.patch(offset));
          attempt = 0;
        }
        if (mediaId) {
          localStorage.removeItem(this.key);
          this.onProgress(this.file.size, this.file.size);
          return mediaId;
        }
      } catch (e) {
        this.checkCancelled();
        if (e instanceof TusError && e.status === 404 && this.url) {
          // Expired or removed on the server: start a new upload.
          localStorage.removeItem(this.key);
          this.url = null;
          if (attempt++ > RETRY_DELAYS.length) throw e;
          continue;
        }
        if (!retryable(e)) throw e;
        offset = undefined;
        this.onRetry(e);
        await this.pause(RETRY_DELAYS[Math.min(attempt++, RETRY_DELAYS.length - 1)]);
      }
    }
  }

  /** Stops the upload and deletes what the server received. */
  cancel() {
    if (this.cancelled) return;
    this.cancelled = true;
    this.xhr?.abort();
    this.wake?.();
    localStorage.removeItem(this.key);
    if (this.url) fetch(this.url, { method: 'DELETE', headers: this.headers() }).catch(() => {});
  }

  checkCancelled() {
    if (this.cancelled) throw new TusCancelled();
  }

  remembered() {
    return localStorage.getItem(this.key);
  }

  /** Waits `ms`, and until the browser is online; `cancel()` ends the wait. */
  async pause(ms) {
    await new Promise((resolve) => {
      const done = () => { clearTimeout(timer); window.removeEventListener('online', onOnline); this.wake = null; resolve(); };
      const onOnline = () => setTimeout(done, 200);
      const timer = setTimeout(() => { if (navigator.onLine) done(); }, ms);
      window.addEventListener('online', onOnline);
      this.wake = done;
    });
  }

  async create() {
    const meta = Object.entries(this.metadata).map(([k, v]) => `${k} ${b64(String(v))}`).join(',');
    let res;
    try {
      res = await fetch(ENDPOINT, {
        method: 'POST',
        headers: this.headers({ 'Upload-Length': String(this.file.size), 'Upload-Metadata': meta }),
      });
    } catch {
      throw new TusError(0, t('api.unreachable'));
    }
    if (res.status !== 201) throw await errorOf(res);
    const url = new URL(res.headers.get('Location'), location.href).href;
    localStorage.setItem(this.key, url);
    return url;
  }

  /** How much the server has: {offset, mediaId}. */
  async head() {
    let res;
    try {
      res = await fetch(this.url, { method: 'HEAD', headers: this.headers(), cache: 'no-store' });
    } catch {
      throw new TusError(0, t('api.unreachable'));
    }
    if (!res.ok) throw new TusError(res.status);
    const offset = Number(res.headers.get('Upload-Offset'));
    if (!Number.isSafeInteger(offset)) throw new TusError(0, 'bad Upload-Offset');
    this.onProgress(offset, this.file.size);
    return { offset, mediaId: res.headers.get('Upload-Media-Id') };
  }

  /** Sends the next chunk from `offset`: {offset, mediaId}. XHR, for upload progress events. */
  patch(offset) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open('PATCH', this.url);
      const h = this.headers({ 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' });
      for (const [k, v] of Object.entries(h)) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => this.onProgress(offset + e.loaded, this.file.size);
      xhr.onload = () => {
        this.xhr = null;
        if (xhr.status !== 204) {
          let message;
          try { message = JSON.parse(xhr.responseText)?.error?.message; } catch { /* not JSON */ }
          return reject(new TusError(xhr.status, message));
        }
        const next = Number(xhr.getResponseHeader('Upload-Offset'));
        if (!Number.isSafeInteger(next)) return reject(new TusError(0, 'bad Upload-Offset'));
        this.onProgress(next, this.file.size);
        resolve({ offset: next, mediaId: xhr.getResponseHeader('Upload-Media-Id') });
      };
      xhr.onerror = () => { this.xhr = null; reject(new TusError(0, t('upload.dropped'))); };
      xhr.onabort = xhr.onerror;
      xhr.send(this.file.slice(offset, offset + this.chunkSize));
    });
  }
}
