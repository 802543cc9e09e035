import { decodeClaims } from './jwt.js';
import type { StorageStrategy, Tokens } from './types.js';

export type { StorageStrategy, Tokens } from './types.js';

/**
 * Sharing says which tabs see the same session, and so must coordinate
 * their refreshes (rotating refresh tokens punish racing ones, RFC 9700
 * §4.14.2):
 *
 * - `origin`: every tab of the origin (the cookie, localStorage). One Web
 *   Lock serialises the refreshes and a BroadcastChannel hands the result
 *   to the others.
 * - `session`: only tabs that hold the same session (sessionStorage, where
 *   that happens when a tab is duplicated and its storage copied). Those
 *   tabs follow one leader, which alone refreshes.
 * - `none`: each tab is alone (memory).
 */
export type Sharing = 'origin' | 'session' | 'none';

/**
 * StoredNews is what storage tells, under the refresh lock, about tokens
 * newer than the ones a refresh was asked to replace.
 */
export type StoredNews =
  /** Nothing newer is known: refresh. */
  | { kind: 'none' }
  /** Another tab signed out: the storage is empty. */
  | { kind: 'signedOut' }
  /** The storage holds other tokens (another tab refreshed): use them if fresh. */
  | { kind: 'tokens'; tokens: Tokens }
  /** Another tab refreshed; its tokens are on their way over the channel. */
  | { kind: 'pending' };

/**
 * TokenStorage is one storage strategy: where the tokens are kept, how the
 * refresh token travels, and what other tabs can learn from it. The
 * client has no other knowledge of the strategy.
 */
export interface TokenStorage {
  readonly strategy: StorageStrategy;
  readonly sharing: Sharing;
  /**
   * cookieTransport reports that the refresh token travels only in
   * Gatehouse's HttpOnly cookie (CONTRACT §5): the client asks for it with
   * `X-Refresh-Transport: cookie`, sends credentials, and never sees it.
   */
  readonly cookieTransport: boolean;
  /** load returns the tokens this tab can start from, if any. */
  load(): Tokens | null;
  /** save records the tokens this tab got from the server (null: signed out). */
  save(tokens: Tokens | null): void;
  /**
   * maySignIn reports, for the cookie transport, whether this browser may
   * hold a session cookie: false only when the marker storage is readable
   * and has no marker (no sign-in since the last sign-out). Absent
   * elsewhere.
   */
  maySignIn?(): boolean;
  /** refreshToken returns the refresh token to present, given the tokens the tab holds. */
  refreshToken(held: Tokens | null): string | null;
  /** shareable returns the tokens as they may be posted to other tabs. */
  shareable(tokens: Tokens): Tokens;
  /** adopt takes tokens another tab posted, and returns them as this tab is to hold them. */
  adopt(tokens: Tokens): Tokens;
  /** newer reports what is known of tokens newer than stale (see {@link StoredNews}). */
  newer(stale: Tokens | null): StoredNews;
  /**
   * tabId reads and writes the id of this tab, for storage that a
   * duplicated tab copies (sessionStorage); absent elsewhere.
   */
  readonly tabId?: { read(): string | null; write(id: string): void };
}

/** tokensFrom builds Tokens from a token answer received at `now`. */
export function tokensFrom(accessToken: string, refreshToken: string | null, expiresInSeconds: number | undefined, now: number): Tokens {
  const claims = decodeClaims(accessToken);
  let expiresAt: number;
  if (typeof expiresInSeconds === 'number' && expiresInSeconds > 0) {
    // expires_in is relative, so a skewed local clock does not matter.
    expiresAt = now + expiresInSeconds * 1000;
  } else if (typeof claims?.exp === 'number') {
    expiresAt = claims.exp * 1000;
  } else {
    expiresAt = now + 60_000;
  }
  return { accessToken, refreshToken, expiresAt, issuedAt: Math.min(now, expiresAt), sid: typeof claims?.sid === 'string' ? claims.sid : null };
}

/** validTokens reports whether t (from storage or another tab) looks like Tokens. */
export function validTokens(t: unknown): t is Tokens {
  const v = t as Tokens | null;
  return !!v && typeof v.accessToken === 'string' && typeof v.expiresAt === 'number' && typeof v.issuedAt === 'number';
}

function parse(raw: string | null): Tokens | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<Tokens>;
    if (typeof v.accessToken !== 'string' || typeof v.expiresAt !== 'number') return null;
    return {
      accessToken: v.accessToken,
      refreshToken: typeof v.refreshToken === 'string' ? v.refreshToken : null,
      expiresAt: v.expiresAt,
      issuedAt: typeof v.issuedAt === 'number' ? v.issuedAt : v.expiresAt - 60_000,
      sid: typeof v.sid === 'string' ? v.sid : null,
    };
  } catch {
    return null;
  }
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    // Storage can throw (disabled, quota, privacy mode); the session then
    // simply does not persist.
    return fallback;
  }
}

/** webStorage returns the page's localStorage or sessionStorage, or null where there is none or it may not be read. */
export function webStorage(kind: 'localStorage' | 'sessionStorage'): Storage | null {
  return safe(() => (globalThis as unknown as Record<string, Storage | undefined>)[kind] ?? null, null);
}

function withoutRefreshToken(t: Tokens): Tokens {
  return { ...t, refreshToken: null };
}

/**
 * cookieStorage keeps the refresh token out of every script's reach: only
 * the browser holds it, in Gatehouse's HttpOnly cookie. The access token
 * stays in memory; what localStorage gets is a marker with no token in it
 * (the session and expiry of the newest tokens), so that a tab waiting for
 * the refresh lock knows that another tab has refreshed before that tab's
 * message arrives.
 */
export function cookieStorage(local: Storage | null, key: string): TokenStorage {
  const markerKey = `${key}.newest`;
  const marker = (): { sid: string | null; expiresAt: number } | null => {
    if (!local) return null;
    return safe(() => {
      const raw = local.getItem(markerKey);
      if (!raw) return null;
      const m = JSON.parse(raw) as { sid?: unknown; expiresAt?: unknown };
      return typeof m.expiresAt === 'number' ? { sid: typeof m.sid === 'string' ? m.sid : null, expiresAt: m.expiresAt } : null;
    }, null);
  };
  return {
    strategy: 'cookie',
    sharing: 'origin',
    cookieTransport: true,
    load: () => null,
    maySignIn: () => !local || safe(() => local.getItem(markerKey) !== null, true),
    save: (t) => {
      if (!local) return;
      safe(() => (t ? local.setItem(markerKey, JSON.stringify({ sid: t.sid, expiresAt: t.expiresAt })) : local.removeItem(markerKey)), undefined);
    },
    refreshToken: () => null,
    shareable: withoutRefreshToken,
    adopt: withoutRefreshToken,
    newer: (stale) => {
      const m = stale ? marker() : null;
      return m && stale && m.sid === stale.sid && m.expiresAt > stale.expiresAt ? { kind: 'pending' } : { kind: 'none' };
    },
  };
}

/**
 * localTokenStorage keeps both tokens in localStorage, which every tab of
 * the origin reads: it is the truth, and the refresh token never travels
 * over the channel.
 */
export function localTokenStorage(local: Storage | null, key: string): TokenStorage {
  const tokensKey = `${key}.tokens`;
  const load = () => (local ? safe(() => parse(local.getItem(tokensKey)), null) : null);
  return {
    strategy: 'localStorage',
    sharing: 'origin',
    cookieTransport: false,
    load,
    save: (t) => {
      if (!local) return;
      safe(() => (t ? local.setItem(tokensKey, JSON.stringify(t)) : local.removeItem(tokensKey)), undefined);
    },
    // Another tab may have rotated it: localStorage is the truth.
    refreshToken: () => load()?.refreshToken ?? null,
    shareable: withoutRefreshToken,
    adopt: (t) => ({ ...t, refreshToken: load()?.refreshToken ?? null }),
    newer: (stale) => {
      const stored = load();
      if (!stored) return stale ? { kind: 'signedOut' } : { kind: 'none' };
      return stored.accessToken !== stale?.accessToken ? { kind: 'tokens', tokens: stored } : { kind: 'none' };
    },
  };
}

/**
 * sessionTokenStorage keeps both tokens in this tab's sessionStorage. A
 * duplicated tab starts with a copy of it, refresh token and tab id
 * included; the tabs of one session pass each rotated refresh token to
 * each other (the channel is same-origin, like the storage that holds it),
 * and each keeps the newest in its own storage.
 */
export function sessionTokenStorage(session: Storage | null, key: string): TokenStorage {
  const tokensKey = `${key}.tokens`;
  const tabKey = `${key}.tab`;
  const save = (t: Tokens | null) => {
    if (!session) return;
    safe(() => (t ? session.setItem(tokensKey, JSON.stringify(t)) : session.removeItem(tokensKey)), undefined);
  };
  return {
    strategy: 'sessionStorage',
    sharing: 'session',
    cookieTransport: false,
    load: () => (session ? safe(() => parse(session.getItem(tokensKey)), null) : null),
    save,
    refreshToken: (held) => held?.refreshToken ?? null,
    shareable: (t) => t,
    adopt: (t) => {
      save(t);
      return t;
    },
    newer: () => ({ kind: 'none' }),
    tabId: {
      read: () => (session ? safe(() => session.getItem(tabKey), null) : null),
      write: (id) => {
        if (session) safe(() => session.setItem(tabKey, id), undefined);
      },
    },
  };
}

/** memoryStorage keeps nothing beyond the page's life. */
export function memoryStorage(): TokenStorage {
  return {
    strategy: 'memory',
    sharing: 'none',
    cookieTransport: false,
    load: () => null,
    save: () => undefined,
    refreshToken: (held) => held?.refreshToken ?? null,
    shareable: withoutRefreshToken,
    adopt: (t) => t,
    newer: () => ({ kind: 'none' }),
  };
}

/** createTokenStorage returns the {@link TokenStorage} of a strategy. */
export function createTokenStorage(strategy: StorageStrategy, key: string, storage?: { local?: Storage | null; session?: Storage | null }): TokenStorage {
  const local = () => (storage?.local !== undefined ? storage.local : webStorage('localStorage'));
  const session = () => (storage?.session !== undefined ? storage.session : webStorage('sessionStorage'));
  switch (strategy) {
    case 'cookie':
      return cookieStorage(local(), key);
    case 'localStorage':
      return localTokenStorage(local(), key);
    case 'sessionStorage':
      return sessionTokenStorage(session(), key);
    case 'memory':
      return memoryStorage();
    default:
      throw new TypeError(`unknown storage strategy ${String(strategy)}`);
  }
}
