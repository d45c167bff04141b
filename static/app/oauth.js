// Sign-in with a provider, guarded against login CSRF. Anyone can get a token of their own and
// send someone to `/#oauth_token=THEIRS`; so before a sign-in the page makes a random value, keeps
// it in sessionStorage (this tab only) and passes it to the start route. The server carries it
// through the provider in the OAuth `state` and hands it back as `oauth_nonce` beside the token.
// A token is taken only beside the value this tab made (which is then forgotten), and never
// replaces another signed-in account without asking in the page.

import { token } from './api.js';
import { ask } from './dialogs.js';
import { t } from './i18n.js';

const NONCE_KEY = 'chat.oauth_nonce';

function randomValue() {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Goes to the provider through `startUrl`, with a fresh value of this page's. */
export function startSignIn(startUrl) {
  const nonce = randomValue();
  sessionStorage.setItem(NONCE_KEY, nonce);
  location.href = `${startUrl}${startUrl.includes('?') ? '&' : '?'}nonce=${encodeURIComponent(nonce)}`;
}

/** The token in fragment parameters `h`, if this tab started that sign-in; null otherwise. The
 * page's value is used once: forgotten whatever the answer. */
export function tokenFromReturn(h) {
  const expected = sessionStorage.getItem(NONCE_KEY);
  sessionStorage.removeItem(NONCE_KEY);
  const fresh = h.get('oauth_token');
  if (!fresh || !expected || h.get('oauth_nonce') !== expected) return null;
  return fresh;
}

async function whoIs(bearer) {
  try {
    const res = await fetch('/api/me', { headers: { Authorization: `Bearer ${bearer}` } });
    return res.ok ? (await res.json()).user : null;
  } catch {
    return null;
  }
}

/** Signs in with `fresh`: at once when nobody (or the same account) is signed in here; when
 * another account is, only if the person says so in the page; otherwise `fresh` is signed out
 * and dropped. Resolves to whether it was taken. */
export async function adoptToken(fresh) {
  const current = token.get();
  if (current && current !== fresh) {
    const [was, now] = await Promise.all([whoIs(current), whoIs(fresh)]);
    if (was && now && was.id !== now.id) {
      const yes = await ask(
        t('oauth.switchAsk', { was: was.username, now: now.username }),
        { ok: t('oauth.switch', { now: now.username }) },
      );
      if (!yes) {
        await fetch('/api/auth/logout', {
          method: 'POST',
          headers: { Authorization: `Bearer ${fresh}`, 'Content-Type': 'application/json' },
          body: '{}',
        }).catch(() => {});
        return false;
      }
    }
  }
  token.set(fresh);
  return true;
}
