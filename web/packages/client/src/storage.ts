import { decodeClaims } from './jwt.js';

/**
 * Where the client keeps tokens.
 *
 * - `cookie` (the default): the refresh token lives only in Gatehouse's
 *   HttpOnly, SameSite=Strict cookie (CONTRACT §5), so no script can read
 *   it; the access token is kept in memory only. Tabs share the cookie and
 *   pass the access token to each other over a BroadcastChannel.
 * - `localStorage`: both tokens in localStorage, shared by every tab of the
 *   origin. The seeds' "pragmatic choice": any script running on the page
 *   (an XSS) can read and exfiltrate the refresh token, so use it only with
 *   a strict Content-Security-Policy and short access lifetimes.
 * - `sessionStorage`: like localStorage but per tab, and gone when the tab
 *   closes; each tab is its own session.
 * - `memory`: nothing persists; a reload needs a new login.
 */
export type StorageStrategy = 'cookie' | 'localStorage' | 'sessionStorage' | 'memory';

/** Tokens as the client holds them. */
export interface Tokens {
  accessToken: string;
  /** Null in cookie mode: the browser holds it where scripts cannot. */
  refreshToken: string | null;
  /** When the access token expires, in ms since the epoch by this machine's clock. */
  expiresAt: number;
  /** When this client received it, by the same clock (the lifetime is expiresAt - issuedAt). */
  issuedAt: number;
  /** The session the tokens belong to (the access token's `sid`). */
  sid: string | null;
}

/** What cookie mode records in localStorage: no token, only which one is newest. */
interface Marker {
  sid: string | null;
  expiresAt: number;
}

export interface TokenStore {
  readonly strategy: StorageStrategy;
  /** shared reports whether every tab of the origin sees the same session. */
  readonly shared: boolean;
  load(): Tokens | null;
  save(tokens: Tokens | null): void;
  /** newest reports the session and expiry of the newest tokens any tab saved, when known. */
  newest(): Marker | null;
}

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

export function webStorage(kind: 'localStorage' | 'sessionStorage'): Storage | null {
  return safe(() => (globalThis as unknown as Record<string, Storage | undefined>)[kind] ?? null, null);
}

export function createTokenStore(strategy: StorageStrategy, key: string, storage?: { local?: Storage | null; session?: Storage | null }): TokenStore {
  const local = storage?.local !== undefined ? storage.local : webStorage('localStorage');
  const session = storage?.session !== undefined ? storage.session : webStorage('sessionStorage');
  const tokensKey = `${key}.tokens`;
  const markerKey = `${key}.newest`;
  switch (strategy) {
    case 'localStorage':
    case 'sessionStorage': {
      const s = strategy === 'localStorage' ? local : session;
      const store: TokenStore = {
        strategy,
        shared: strategy === 'localStorage',
        load: () => (s ? safe(() => parse(s.getItem(tokensKey)), null) : null),
        save: (t) => {
          if (!s) return;
          safe(() => (t ? s.setItem(tokensKey, JSON.stringify(t)) : s.removeItem(tokensKey)), undefined);
        },
        newest: () => {
          const t = store.load();
          return t ? { sid: t.sid, expiresAt: t.expiresAt } : null;
        },
      };
      return store;
    }
    case 'cookie':
      return {
        strategy,
        shared: true,
        load: () => null,
        save: (t) => {
          if (!local) return;
          safe(() => (t ? local.setItem(markerKey, JSON.stringify({ sid: t.sid, expiresAt: t.expiresAt })) : local.removeItem(markerKey)), undefined);
        },
        newest: () => {
          if (!local) return null;
          return safe(() => {
            const raw = local.getItem(markerKey);
            if (!raw) return null;
            const m = JSON.parse(raw) as Partial<Marker>;
            return typeof m.expiresAt === 'number' ? { sid: typeof m.sid === 'string' ? m.sid : null, expiresAt: m.expiresAt } : null;
          }, null);
        },
      };
    case 'memory':
      return { strategy, shared: false, load: () => null, save: () => undefined, newest: () => null };
    default:
      throw new TypeError(`unknown storage strategy ${String(strategy)}`);
  }
}
