// The WebSocket (protocol v1, JSON frames) with automatic reconnect. After every `hello` the
// owner is told (onHello) and is expected to send `sync` with its cursors; frames are handed to
// onFrame. A close with code 4001 (token revoked, banned, logged out) does not reconnect.

import { token, get, ApiError } from './api.js';
import { t } from './i18n.js';

export class Socket {
  constructor({ onHello, onFrame, onState, onRevoked }) {
    Object.assign(this, { onHello, onFrame, onState, onRevoked });
    this.ws = null;
    this.retry = 0;
    this.stopped = false;
    this.refs = new Map();
    this.nextRef = 1;
  }

  connect() {
    this.stopped = false;
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(token.get() || '')}`);
    this.ws = ws;
    let helloSeen = false;
    this.onState('connecting');
    ws.onmessage = (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch { return; }
      if (frame.type === 'hello') {
        helloSeen = true;
        this.retry = 0;
        this.onState('online');
        this.onHello(frame);
        return;
      }
      if (frame.ref && this.refs.has(frame.ref)) {
        const { resolve } = this.refs.get(frame.ref);
        this.refs.delete(frame.ref);
        resolve(frame);
      }
      this.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onState('offline');
      for (const { reject } of this.refs.values()) reject(new Error(t('conn.disconnected')));
      this.refs.clear();
      if (ev.code === 4001) {
        this.stopped = true;
        this.onRevoked(ev.reason || t('conn.signedOut'));
        return;
      }
      if (this.stopped) return;
      if (!helloSeen) this.checkToken();
      // Back off 0.5 s, 1 s, 2 s ... up to 15 s, with jitter.
      const delay = Math.min(15000, 500 * 2 ** this.retry++) * (0.75 + Math.random() / 2);
      setTimeout(() => { if (!this.stopped) this.connect(); }, delay);
    };
  }

  /** A refused upgrade looks like any network failure: ask whether the token still works. */
  async checkToken() {
    try {
      await get('/me');
    } catch (e) {
      if (e instanceof ApiError && e.status === 401 && !this.stopped) {
        this.stopped = true;
        this.onRevoked(t('conn.sessionEnded'));
      }
    }
  }

  /** Sends a frame; false when not connected. */
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Sends a frame with a `ref` and resolves to the answer that echoes it. */
  request(frame) {
    const ref = `r${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      this.refs.set(ref, { resolve, reject });
      if (!this.send({ ...frame, ref })) {
        this.refs.delete(ref);
        reject(new Error(t('conn.notConnected')));
      }
    });
  }

  get online() { return !!this.ws && this.ws.readyState === WebSocket.OPEN; }

  close() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }
}
