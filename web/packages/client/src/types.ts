import type { AuthError } from './errors.js';
import type { Acr } from './jwt.js';
import type { TokenBody, User } from './schema.js';

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
 *   closes; each tab is its own session, except a duplicated tab, which
 *   shares the session of the tab it was copied from.
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

/** A Gatehouse user (CONTRACT §2) and their role: the description's schemas (schema.ts). */
export type { Role, User } from './schema.js';

/** AuthStatus is where start-up validation and the session stand. */
export type AuthStatus = 'loading' | 'authenticated' | 'unauthenticated';

/**
 * AuthState is the client's snapshot. `status` is `loading` until start-up
 * validation has finished; `error` is set while the server cannot be
 * reached (the session is kept and the client keeps trying). `acr` and
 * `amr` say how the signed-in session was authenticated (the access
 * token's claims, CONTRACT §8): `aal2` after a second factor. They are for
 * the UI; the server decides what a session may do.
 */
export interface AuthState {
  readonly status: AuthStatus;
  readonly user: User | null;
  readonly error: AuthError | null;
  /** `aal1` or `aal2` while authenticated; null otherwise, or from a server without §8. */
  readonly acr: Acr | null;
  /** RFC 8176 method names (`pwd`, `otp`, `mfa`, …) while authenticated; empty otherwise. */
  readonly amr: readonly string[];
}

/** AuthStateInput is what the client sets; the session adds `acr` and `amr` from its tokens. */
export type AuthStateInput = Pick<AuthState, 'status' | 'user' | 'error'>;

/** Why a tab became signed out. */
export type SignOutReason = 'logout' | 'expired' | 'remote';

export interface AuthEvents {
  signedIn: { user: User };
  refreshed: { expiresAt: number };
  signedOut: { reason: SignOutReason };
  sessionExpired: { error: AuthError | null };
}
export type AuthEventName = keyof AuthEvents;

/** The part of the Web Locks API the client uses (navigator.locks). */
export interface LockManagerLike {
  request(name: string, callback: (lock: unknown) => Promise<unknown>): Promise<unknown>;
}

/** The part of BroadcastChannel the client uses. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

/** VisibilitySource is where visibilitychange comes from (document). */
export interface VisibilitySource {
  readonly visibilityState?: string;
  addEventListener(type: 'visibilitychange', listener: () => void): void;
  removeEventListener(type: 'visibilitychange', listener: () => void): void;
}

export interface AuthClientOptions {
  /** Where Gatehouse is, e.g. `https://auth.example.com`; empty for this page's origin. */
  baseUrl?: string;
  /** Where tokens live; `cookie` by default. See {@link StorageStrategy}. */
  storage?: StorageStrategy;
  /** The fetch to use; the global one by default. */
  fetch?: typeof fetch;
  /** Refresh this long before `exp` (capped at a quarter of the token's lifetime); 30 s by default. */
  refreshMargin?: number;
  /** Refresh on a timer before expiry and when a hidden tab becomes visible; true by default. */
  proactive?: boolean;
  /** Backoff after a network error or 5xx during refresh, in ms: 1 s doubling up to 30 s, with jitter. */
  backoff?: { initial?: number; max?: number };
  /** Prefix of the storage keys, lock and channel names; `gatehouse` by default. */
  storageKey?: string;
  /** The Web Locks API; navigator.locks by default, null to turn cross-tab locking off. */
  locks?: LockManagerLike | null;
  /** Opens the cross-tab channel; BroadcastChannel by default, null to turn it off. */
  channel?: ((name: string) => ChannelLike) | null;
  /** Overrides of the Web Storage objects (tests, or non-browser hosts). */
  webStorage?: { local?: Storage | null; session?: Storage | null };
  /** Where visibilitychange comes from; document by default. */
  visibility?: VisibilitySource | null;
  /** Clock and randomness, for tests. */
  now?: () => number;
  random?: () => number;
  /** Give up on a request to the auth endpoints after this many ms; 15 s by default. */
  timeout?: number;
  /**
   * With the cookie storage, start-up only tries the HttpOnly cookie when
   * this browser's localStorage shows a sign of a session (the marker the
   * client writes on sign-in and removes on sign-out), so a signed-out page
   * load sends no refresh that can only fail with a 401. True by default;
   * false always asks the server (e.g. a session started by another app on
   * the same API).
   */
  sessionHint?: boolean;
}

/**
 * The token answer of login and refresh (CONTRACT §2, "Tokens"), every
 * field optional: the client checks an answer rather than trusting it.
 */
export type TokenResponse = Partial<TokenBody>;
