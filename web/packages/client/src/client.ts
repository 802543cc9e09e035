import { AuthError, errorFromResponse, networkError, problemCode } from './errors.js';
import { createTokenStore, tokensFrom, type StorageStrategy, type Tokens, type TokenStore } from './storage.js';

/** A Gatehouse user (CONTRACT §2). */
export interface User {
  id: string;
  email: string;
  name: string;
  created_at: string;
}

export type AuthStatus = 'loading' | 'authenticated' | 'unauthenticated';

/**
 * AuthState is the client's snapshot. `status` is `loading` until start-up
 * validation has finished; `error` is set while the server cannot be
 * reached (the session is kept and the client keeps trying).
 */
export interface AuthState {
  readonly status: AuthStatus;
  readonly user: User | null;
  readonly error: AuthError | null;
}

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

interface VisibilitySource {
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
}

type Message =
  | { type: 'refreshed'; from: string; tokens: Tokens }
  | { type: 'signedIn'; from: string; tokens: Tokens; user: User }
  | { type: 'signedOut'; from: string; reason: 'logout' | 'expired' }
  | { type: 'sync'; from: string }
  | { type: 'state'; from: string; to: string; tokens: Tokens; user: User };

const SYNC_WAIT_MS = 250;
const ADOPT_WAIT_MS = 1000;
const HANDOFF_MS = 100;

/**
 * AuthClient runs the client side of the token lifecycle against a
 * Gatehouse server: login and registration, bearer requests through
 * {@link AuthClient.fetch}, silent refresh (proactive before `exp`, and on a
 * `token_expired` 401 with one replay), start-up validation, and logout.
 *
 * Refreshes are single-flight: one in flight per tab, and with the cookie
 * and localStorage strategies one across all tabs of the origin (a Web Lock
 * serialises them, and a BroadcastChannel hands the result to the other
 * tabs), because rotating refresh tokens punish racing refreshes (RFC 9700
 * §4.14.2: a retired token presented again is treated as theft).
 */
export class AuthClient {
  readonly baseUrl: string;
  readonly storage: StorageStrategy;

  private readonly store: TokenStore;
  private readonly rawFetch: typeof fetch;
  private readonly margin: number;
  private readonly proactive: boolean;
  private readonly backoffInitial: number;
  private readonly backoffMax: number;
  private readonly locks: LockManagerLike | null;
  private readonly lockName: string;
  private readonly channel: ChannelLike | null;
  private readonly visibility: VisibilitySource | null;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly timeout: number;
  private readonly tabId: string;
  private readonly apiOrigin: string | null;

  private tokens: Tokens | null = null;
  private state: AuthState = { status: 'loading', user: null, error: null };
  private readonly listeners = new Set<() => void>();
  private readonly handlers: { [K in AuthEventName]: Set<(detail: AuthEvents[K]) => void> } = {
    signedIn: new Set(),
    refreshed: new Set(),
    signedOut: new Set(),
    sessionExpired: new Set(),
  };
  private inflight: Promise<Tokens> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryAttempt = 0;
  /** The transient failure being backed off from, while a retry is scheduled. */
  private backoffError: AuthError | null = null;
  private startPromise: Promise<void> | null = null;
  private readonly tokenWaiters = new Set<() => void>();
  private syncWaiter: ((m: Extract<Message, { type: 'state' }>) => void) | null = null;
  private disposed = false;
  private readonly onVisible = () => this.handleVisible();

  constructor(options: AuthClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.storage = options.storage ?? 'cookie';
    const key = options.storageKey ?? 'gatehouse';
    this.store = createTokenStore(this.storage, key, options.webStorage);
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('AuthClient needs fetch');
    this.rawFetch = (input, init) => f(input, init);
    this.margin = options.refreshMargin ?? 30_000;
    this.proactive = options.proactive ?? true;
    this.backoffInitial = options.backoff?.initial ?? 1000;
    this.backoffMax = options.backoff?.max ?? 30_000;
    this.now = options.now ?? (() => Date.now());
    this.random = options.random ?? Math.random;
    this.timeout = options.timeout ?? 15_000;
    this.tabId = `${this.now().toString(36)}-${Math.floor(this.random() * 2 ** 48).toString(36)}`;
    this.apiOrigin = originOf(this.baseUrl);

    const scope = this.apiOrigin ?? 'same-origin';
    this.lockName = `${key}:refresh:${scope}`;
    // Only strategies whose session every tab shares coordinate across tabs:
    // with sessionStorage or memory each tab is a session of its own.
    const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
    this.locks = this.store.shared ? (options.locks !== undefined ? options.locks : (nav?.locks ?? null)) : null;
    const open =
      options.channel !== undefined
        ? options.channel
        : typeof BroadcastChannel === 'function'
          ? (name: string) => new BroadcastChannel(name) as unknown as ChannelLike
          : null;
    this.channel = this.store.shared && open ? open(`${key}:auth:${scope}`) : null;
    if (this.channel) this.channel.onmessage = (ev) => this.onMessage(ev.data);
    const doc = (globalThis as { document?: VisibilitySource }).document;
    this.visibility = options.visibility !== undefined ? options.visibility : (doc ?? null);
    this.visibility?.addEventListener('visibilitychange', this.onVisible);

    this.subscribe = this.subscribe.bind(this);
    this.getSnapshot = this.getSnapshot.bind(this);
    this.fetch = this.fetch.bind(this);
  }

  // ---- state and events ------------------------------------------------

  /** subscribe registers a listener for state changes (for useSyncExternalStore); returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** getSnapshot returns the current state; the same object until it changes. */
  getSnapshot(): AuthState {
    return this.state;
  }

  /** on listens for a lifecycle event; returns the unsubscribe. */
  on<K extends AuthEventName>(event: K, handler: (detail: AuthEvents[K]) => void): () => void {
    this.handlers[event].add(handler);
    return () => this.handlers[event].delete(handler);
  }

  /** The current access token, without refreshing; null when signed out. */
  get accessToken(): string | null {
    return this.tokens?.accessToken ?? null;
  }

  private setState(next: AuthState): void {
    const s = this.state;
    if (s.status === next.status && s.user === next.user && s.error === next.error) return;
    this.state = next;
    for (const l of [...this.listeners]) l();
  }

  private emit<K extends AuthEventName>(event: K, detail: AuthEvents[K]): void {
    for (const h of [...this.handlers[event]]) {
      try {
        h(detail);
      } catch (err) {
        // A listener's bug must not break the lifecycle.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  private post(message: Message): void {
    try {
      this.channel?.postMessage(message);
    } catch {
      // A closed channel only loses cross-tab convenience.
    }
  }

  // ---- start-up ----------------------------------------------------------

  /**
   * start validates the stored session with the server (GET /api/users/me,
   * refreshing first when the access token is missing or about to expire)
   * before the status leaves `loading`, as seed 000's app start-up asks: a
   * token in storage may be expired, revoked or tampered with. While the
   * server cannot be reached it keeps trying with backoff and reports the
   * error in the state. Calling it again returns the same promise.
   */
  start(): Promise<void> {
    this.startPromise ??= this.runStart();
    return this.startPromise;
  }

  private async runStart(): Promise<void> {
    for (let attempt = 0; !this.disposed; attempt++) {
      try {
        await this.validate();
        return;
      } catch (e) {
        const err = asAuthError(e);
        // A login (here or in another tab) during start-up wins over what
        // start-up found.
        if (this.state.status === 'authenticated') return;
        if (!err.transient) {
          this.clear();
          this.setState({ status: 'unauthenticated', user: null, error: null });
          return;
        }
        if (this.state.status !== 'loading') return;
        this.setState({ status: 'loading', user: null, error: err });
        await sleep(this.backoffDelay(attempt, err));
      }
    }
  }

  private async validate(): Promise<void> {
    if (this.state.status === 'authenticated') return; // a login or another tab got there first
    this.tokens ??= this.store.load();
    if (!this.tokens && this.store.shared) {
      const other = await this.askOtherTabs();
      if (other) {
        this.setTokens(other.tokens);
        this.setState({ status: 'authenticated', user: other.user, error: null });
        return;
      }
    }
    if (!this.tokens && this.storage !== 'cookie') {
      // No refresh token anywhere: nobody is signed in. (In cookie mode
      // only the server can tell, by trying the HttpOnly cookie.)
      this.setState({ status: 'unauthenticated', user: null, error: null });
      return;
    }
    if (!this.tokens || this.needsRefresh(this.tokens)) await this.refreshFrom(this.tokens);
    let res = await this.fetch('/api/users/me');
    if (res.status === 401 && this.tokens) {
      // Not an expiry (fetch handled that): a token the server no longer
      // accepts. One refresh decides whether the session is still alive.
      await this.refreshFrom(this.tokens);
      res = await this.fetch('/api/users/me');
    }
    if (!res.ok) throw await errorFromResponse(res);
    const user = (await res.json()) as User;
    if (!this.tokens) throw new AuthError(401, 'signed_out', 'signed out during start-up');
    this.setState({ status: 'authenticated', user, error: null });
  }

  private askOtherTabs(): Promise<Extract<Message, { type: 'state' }> | null> {
    if (!this.channel) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.syncWaiter = null;
        resolve(null);
      }, SYNC_WAIT_MS);
      this.syncWaiter = (m) => {
        clearTimeout(timer);
        this.syncWaiter = null;
        resolve(m);
      };
      this.post({ type: 'sync', from: this.tabId });
    });
  }

  // ---- login, registration, logout ---------------------------------------

  /** login signs in with email and password. Throws AuthError (`invalid_credentials`, `rate_limited`, …). */
  async login(email: string, password: string): Promise<User> {
    const headers: Record<string, string> = {};
    if (this.storage === 'cookie') headers['X-Refresh-Transport'] = 'cookie';
    const res = await this.authRequest('/api/auth/login', { email, password }, headers);
    if (!res.ok) throw await errorFromResponse(res);
    const body = (await res.json()) as TokenResponse & { user?: User };
    const tokens = this.tokensOf(body);
    this.setTokens(tokens, true);
    let user = body.user;
    if (!user) {
      const me = await this.fetch('/api/users/me');
      if (!me.ok) throw await errorFromResponse(me);
      user = (await me.json()) as User;
    }
    this.startPromise ??= Promise.resolve();
    this.setState({ status: 'authenticated', user, error: null });
    this.post({ type: 'signedIn', from: this.tabId, tokens: shareable(tokens), user });
    this.emit('signedIn', { user });
    return user;
  }

  /** register creates an account, then signs in with it (seed 000: auto-login). */
  async register(email: string, password: string, name?: string): Promise<User> {
    const res = await this.authRequest('/api/auth/register', name ? { email, password, name } : { email, password });
    if (!res.ok) throw await errorFromResponse(res);
    return this.login(email, password);
  }

  /**
   * logout ends this session on the server and clears it here and in every
   * other tab. The local state is cleared whatever the server answers:
   * logout is idempotent there, and a user who clicked "Log out" must not
   * stay signed in because of a network blip.
   */
  async logout(): Promise<void> {
    const cookie = this.storage === 'cookie';
    const refreshToken = cookie ? null : this.currentRefreshToken();
    if (cookie || refreshToken) {
      try {
        const res = await this.authRequest('/api/auth/logout', refreshToken ? { refresh_token: refreshToken } : {}, cookie ? csrfHeaders() : {});
        await res.body?.cancel();
      } catch {
        // See above: signed out here regardless.
      }
    }
    this.signOut('logout', true);
  }

  /** logoutAll ends every session of the user (POST /api/auth/logout-all), then signs out every tab. */
  async logoutAll(): Promise<void> {
    const res = await this.fetch('/api/auth/logout-all', { method: 'POST' });
    if (!res.ok && res.status !== 401) throw await errorFromResponse(res);
    this.signOut('logout', true);
  }

  /** endLocalSession forgets the session without telling the server, e.g. after the app revoked it itself. */
  endLocalSession(): void {
    this.signOut('logout', true);
  }

  private signOut(reason: SignOutReason, broadcast: boolean): void {
    const had = this.tokens !== null || this.state.status === 'authenticated';
    this.clear();
    this.setState({ status: 'unauthenticated', user: null, error: null });
    if (broadcast) this.post({ type: 'signedOut', from: this.tabId, reason: reason === 'expired' ? 'expired' : 'logout' });
    if (had || reason === 'logout') this.emit('signedOut', { reason });
  }

  /** endSession handles a refresh the server refused for good. */
  private endSession(error: AuthError | null, hadSession: boolean): void {
    const had = hadSession || this.state.status === 'authenticated';
    this.clear();
    this.setState({ status: 'unauthenticated', user: null, error: null });
    if (!had) return;
    this.post({ type: 'signedOut', from: this.tabId, reason: 'expired' });
    this.emit('sessionExpired', { error });
    this.emit('signedOut', { reason: 'expired' });
  }

  private clear(): void {
    this.tokens = null;
    this.store.save(null);
    this.clearTimers();
  }

  private clearTimers(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.refreshTimer = this.retryTimer = null;
    this.retryAttempt = 0;
    this.backoffError = null;
  }

  // ---- bearer requests ---------------------------------------------------

  /**
   * fetch is `fetch` with the bearer token added. A path ("/api/posts") is
   * resolved against baseUrl; the token is only ever sent to the API's own
   * origin. Shortly before the token expires it refreshes first. On a 401
   * it refreshes only when the code is `token_expired` and the request
   * carried the current token, then replays the request once; any other 401
   * is returned as it is, so no refresh loop can start. It rejects only when
   * the server cannot be reached.
   */
  async fetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
    const target = this.resolve(input);
    const authorized = this.isApi(target);
    const token = authorized ? await this.getAccessToken() : null;
    const res = await this.send(input, target, init, token);
    if (res.status !== 401 || !token) return res;
    const code = await problemCode(res);
    let next: string | null;
    try {
      next = await this.handleUnauthorized(token, code);
    } catch (e) {
      const err = asAuthError(e);
      if (err.transient) throw err;
      return res;
    }
    if (!next || !replayable(input, init)) return res;
    await res.body?.cancel();
    return this.send(input, target, init, next);
  }

  private async send(input: RequestInfo | URL, target: string, init: RequestInit, token: string | null): Promise<Response> {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    if (token) headers.set('Authorization', `Bearer ${token}`);
    const req = input instanceof Request ? input.clone() : target;
    try {
      return await this.rawFetch(req, { ...init, headers });
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e;
      throw networkError(e);
    }
  }

  /**
   * getAccessToken returns an access token to send: the current one, or a
   * fresh one when it is about to expire. If that refresh fails for a
   * transient reason it returns the current token (the server may still
   * accept it); null when signed out.
   */
  async getAccessToken(): Promise<string | null> {
    const t = this.tokens;
    if (!t) return null;
    if (!this.needsRefresh(t)) return t.accessToken;
    try {
      return (await this.refreshFrom(t)).accessToken;
    } catch (e) {
      return asAuthError(e).transient ? (this.tokens?.accessToken ?? null) : null;
    }
  }

  /**
   * handleUnauthorized decides what to do about a 401 for a request sent
   * with `sentToken`: it returns the token to replay the request with, or
   * null when the request must not be replayed. It refreshes only for
   * `token_expired` and only when `sentToken` is still the current token
   * (otherwise another request has refreshed already and its token is
   * returned). `session_revoked` ends the session here. For adapters
   * (axios, RTK Query); {@link AuthClient.fetch} uses it.
   */
  async handleUnauthorized(sentToken: string | null, code: string | null): Promise<string | null> {
    const cur = this.tokens;
    if (!sentToken || !cur) return null;
    if (code === 'session_revoked') {
      if (cur.accessToken === sentToken) this.endSession(new AuthError(401, code, 'the session was ended'), true);
      return null;
    }
    if (code !== 'token_expired') return null;
    if (cur.accessToken !== sentToken) return cur.accessToken;
    return (await this.refreshFrom(cur)).accessToken;
  }

  /** refresh gets new tokens now (single-flight), even while backing off. Rejects with AuthError. */
  refresh(): Promise<Tokens> {
    return this.refreshFrom(this.tokens, true);
  }

  // ---- refresh -------------------------------------------------------------

  private needsRefresh(t: Tokens): boolean {
    return this.now() >= this.refreshAt(t);
  }

  private refreshAt(t: Tokens): number {
    const life = Math.max(0, t.expiresAt - t.issuedAt);
    return t.expiresAt - Math.min(this.margin, life / 4);
  }

  private refreshFrom(stale: Tokens | null, force = false): Promise<Tokens> {
    if (this.inflight) return this.inflight;
    // While backing off after a network error or 5xx, requests do not each
    // start a refresh of their own: they fail fast until the scheduled retry.
    if (!force && this.retryTimer && this.backoffError) return Promise.reject(this.backoffError);
    const p = this.withLock(() => this.refreshLocked(stale));
    this.inflight = p;
    p.then(
      () => {
        if (this.inflight === p) this.inflight = null;
        this.retryAttempt = 0;
        this.backoffError = null;
        if (this.retryTimer) clearTimeout(this.retryTimer);
        this.retryTimer = null;
      },
      (e: unknown) => {
        if (this.inflight === p) this.inflight = null;
        const err = asAuthError(e);
        if (err.transient && this.tokens) {
          this.backoffError = err;
          this.setState({ ...this.state, error: err });
          this.scheduleRetry(err);
        }
      },
    );
    return p;
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const locks = this.locks;
    if (!locks) return fn();
    return new Promise<T>((resolve, reject) => {
      locks
        .request(this.lockName, async () => {
          try {
            resolve(await fn());
          } catch (e) {
            reject(e);
          }
          // The caller has its answer; the lock is kept a moment longer so
          // that the result's broadcast, and Chromium's cross-process
          // localStorage, reach the other tabs before the next one in line
          // checks whether a refresh is still needed (seen in the e2e
          // tests: without it, a tab whose timer fired just as another
          // tab's refresh ended would refresh again).
          await sleep(HANDOFF_MS);
        })
        .catch(reject);
    });
  }

  private async refreshLocked(stale: Tokens | null): Promise<Tokens> {
    // While this tab waited for the lock, another tab (or an earlier refresh
    // in this one) may have refreshed already: adopt its result instead of
    // rotating again.
    const cur = this.tokens;
    if (cur && cur.accessToken !== stale?.accessToken && !this.needsRefresh(cur)) return cur;
    if (this.storage === 'localStorage') {
      const stored = this.store.load();
      if (!stored) {
        if (stale) {
          this.signOut('remote', false);
          throw new AuthError(401, 'signed_out', 'signed out in another tab');
        }
      } else if (stored.accessToken !== stale?.accessToken && !this.needsRefresh(stored)) {
        this.setTokens(stored);
        this.emit('refreshed', { expiresAt: stored.expiresAt });
        return stored;
      }
    } else if (this.storage === 'cookie' && stale) {
      // The newest-token marker says another tab refreshed; its message with
      // the access token may still be on its way.
      const m = this.store.newest();
      if (m && m.sid === stale.sid && m.expiresAt > stale.expiresAt) {
        const adopted = await this.waitForNewerThan(stale, ADOPT_WAIT_MS);
        if (adopted) return adopted;
      }
    }
    return this.callRefresh(stale);
  }

  private async callRefresh(stale: Tokens | null): Promise<Tokens> {
    const cookie = this.storage === 'cookie';
    let body: object = {};
    if (!cookie) {
      const rt = this.currentRefreshToken();
      if (!rt) {
        const err = new AuthError(401, 'refresh_token_missing', 'no refresh token is stored');
        this.endSession(err, stale !== null);
        throw err;
      }
      body = { refresh_token: rt };
    }
    const res = await this.authRequest('/api/auth/refresh', body, cookie ? { ...csrfHeaders(), 'X-Refresh-Transport': 'cookie' } : {});
    if (!res.ok) {
      const err = await errorFromResponse(res);
      // A login or another tab replaced the tokens while this refresh was
      // on its way: its failure is about tokens nobody uses any more.
      const cur = this.tokens;
      if (cur && cur.accessToken !== stale?.accessToken) return cur;
      // A 4xx will not change by retrying: the refresh token expired, was
      // revoked or reused, or none was sent. Clear and let the app send the
      // user to /login (seed 000, "refresh token expiry"). Network errors
      // and 5xx keep the session (AuthError.transient).
      if (!err.transient) this.endSession(err, stale !== null);
      throw err;
    }
    const tokens = this.tokensOf((await res.json()) as TokenResponse);
    this.setTokens(tokens, true);
    if (this.state.error) this.setState({ ...this.state, error: null });
    this.post({ type: 'refreshed', from: this.tabId, tokens: shareable(tokens) });
    this.emit('refreshed', { expiresAt: tokens.expiresAt });
    return tokens;
  }

  private currentRefreshToken(): string | null {
    // Another tab may have rotated it: localStorage is the truth there.
    if (this.storage === 'localStorage') return this.store.load()?.refreshToken ?? null;
    return this.tokens?.refreshToken ?? null;
  }

  private tokensOf(body: TokenResponse): Tokens {
    if (typeof body.access_token !== 'string') throw new AuthError(502, 'bad_response', 'the server sent no access token');
    const refresh = this.storage === 'cookie' ? null : typeof body.refresh_token === 'string' ? body.refresh_token : null;
    if (this.storage !== 'cookie' && !refresh) throw new AuthError(502, 'bad_response', 'the server sent no refresh token');
    return tokensFrom(body.access_token, refresh, body.expires_in, this.now());
  }

  private setTokens(tokens: Tokens, persist = false): void {
    this.tokens = tokens;
    if (persist) this.store.save(tokens);
    this.schedule(tokens);
    for (const w of [...this.tokenWaiters]) w();
  }

  private waitForNewerThan(stale: Tokens, ms: number): Promise<Tokens | null> {
    return new Promise((resolve) => {
      const check = () => {
        const c = this.tokens;
        if (c && c.accessToken !== stale.accessToken) done(c);
      };
      const done = (v: Tokens | null) => {
        clearTimeout(timer);
        this.tokenWaiters.delete(check);
        resolve(v);
      };
      const timer = setTimeout(() => done(null), ms);
      this.tokenWaiters.add(check);
      check();
    });
  }

  private schedule(tokens: Tokens): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    if (!this.proactive || this.disposed) return;
    // A little jitter spreads the tabs' timers, so that usually the first
    // tab's result reaches the others before their own timers fire.
    const spread = Math.min(this.margin, (tokens.expiresAt - tokens.issuedAt) / 4) * 0.5 * this.random();
    const delay = Math.max(0, this.refreshAt(tokens) - spread - this.now());
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      if (this.tokens === tokens) this.refreshFrom(tokens).catch(() => undefined);
    }, delay);
  }

  private scheduleRetry(err: AuthError): void {
    if (this.retryTimer || this.disposed) return;
    const delay = this.backoffDelay(this.retryAttempt++, err);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      const t = this.tokens;
      if (t) this.refreshFrom(t).catch(() => undefined);
    }, delay);
  }

  private backoffDelay(attempt: number, err: AuthError | null): number {
    const base = Math.min(this.backoffMax, this.backoffInitial * 2 ** Math.min(attempt, 20));
    const jittered = base * (0.5 + this.random() * 0.5);
    return Math.max(jittered, (err?.retryAfter ?? 0) * 1000);
  }

  private handleVisible(): void {
    if (this.visibility?.visibilityState !== 'visible' || !this.proactive) return;
    // Timers of hidden tabs are throttled: catch up now.
    const t = this.tokens;
    if (!t) return;
    if (this.needsRefresh(t)) this.refreshFrom(t).catch(() => undefined);
    else this.schedule(t);
  }

  // ---- cross-tab messages --------------------------------------------------

  private onMessage(data: unknown): void {
    if (!data || typeof data !== 'object') return;
    const m = data as Message;
    if (m.from === this.tabId || this.disposed) return;
    switch (m.type) {
      case 'refreshed': {
        const cur = this.tokens;
        if (!cur || !validTokens(m.tokens) || m.tokens.sid !== cur.sid || m.tokens.expiresAt <= cur.expiresAt) return;
        this.setTokens(this.withOwnRefreshToken(m.tokens));
        if (this.state.error) this.setState({ ...this.state, error: null });
        this.emit('refreshed', { expiresAt: m.tokens.expiresAt });
        return;
      }
      case 'signedIn': {
        // Every tab shares the cookie (or localStorage): a login anywhere is
        // a login here.
        if (!validTokens(m.tokens)) return;
        this.setTokens(this.withOwnRefreshToken(m.tokens));
        this.startPromise ??= Promise.resolve();
        this.setState({ status: 'authenticated', user: m.user, error: null });
        this.emit('signedIn', { user: m.user });
        return;
      }
      case 'signedOut': {
        const had = this.tokens !== null || this.state.status === 'authenticated';
        if (!had) return;
        if (m.reason === 'expired') {
          this.clear();
          this.setState({ status: 'unauthenticated', user: null, error: null });
          this.emit('sessionExpired', { error: null });
          this.emit('signedOut', { reason: 'expired' });
        } else {
          this.signOut('remote', false);
        }
        return;
      }
      case 'sync': {
        if (this.tokens && this.state.status === 'authenticated' && this.state.user) {
          this.post({ type: 'state', from: this.tabId, to: m.from, tokens: shareable(this.tokens), user: this.state.user });
        }
        return;
      }
      case 'state': {
        if (m.to === this.tabId && validTokens(m.tokens) && this.syncWaiter) this.syncWaiter({ ...m, tokens: this.withOwnRefreshToken(m.tokens) });
        return;
      }
    }
  }

  private withOwnRefreshToken(t: Tokens): Tokens {
    return { ...t, refreshToken: this.storage === 'localStorage' ? (this.store.load()?.refreshToken ?? null) : null };
  }

  // ---- plumbing --------------------------------------------------------------

  private resolve(input: RequestInfo | URL): string {
    if (input instanceof Request) return input.url;
    const s = input instanceof URL ? input.href : input;
    return s.startsWith('/') && !s.startsWith('//') ? this.baseUrl + s : s;
  }

  /** isApi reports whether a URL is on Gatehouse's origin: the bearer token goes nowhere else. */
  private isApi(url: string): boolean {
    if (url.startsWith('/') && !url.startsWith('//')) return true;
    const origin = originOf(url);
    if (!origin) return false;
    if (this.apiOrigin) return origin === this.apiOrigin;
    const here = (globalThis as { location?: { origin?: string } }).location?.origin;
    return origin === here;
  }

  private async authRequest(path: string, body: object, headers: Record<string, string> = {}): Promise<Response> {
    try {
      return await this.rawFetch(this.baseUrl + path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
        body: JSON.stringify(body),
        // The refresh cookie must be sent and stored even when Gatehouse is
        // on another origin (allowed by --cors-origins).
        credentials: this.storage === 'cookie' ? 'include' : 'same-origin',
        cache: 'no-store',
        signal: timeoutSignal(this.timeout),
      });
    } catch (e) {
      throw networkError(e);
    }
  }

  /** dispose stops timers and cross-tab messages. */
  dispose(): void {
    this.disposed = true;
    this.clearTimers();
    this.visibility?.removeEventListener('visibilitychange', this.onVisible);
    try {
      this.channel?.close();
    } catch {
      // already closed
    }
  }
}

interface TokenResponse {
  access_token?: string;
  token_type?: string;
  expires_in?: number;
  refresh_token?: string;
}

/** createAuthClient returns an {@link AuthClient}. */
export function createAuthClient(options: AuthClientOptions = {}): AuthClient {
  return new AuthClient(options);
}

// The cookie transport's CSRF defence: a custom header a cross-site form
// cannot send, which also forces a CORS preflight (CONTRACT §5; OWASP CSRF
// cheat sheet, "Employing Custom Request Headers").
function csrfHeaders(): Record<string, string> {
  return { 'X-CSRF-Guard': '1' };
}

/** shareable strips the refresh token from what goes over the channel. */
function shareable(t: Tokens): Tokens {
  return { ...t, refreshToken: null };
}

function validTokens(t: unknown): t is Tokens {
  const v = t as Tokens | null;
  return !!v && typeof v.accessToken === 'string' && typeof v.expiresAt === 'number' && typeof v.issuedAt === 'number';
}

function originOf(url: string): string | null {
  try {
    return url ? new URL(url).origin : null;
  } catch {
    return null;
  }
}

function replayable(input: RequestInfo | URL, init: RequestInit): boolean {
  if (input instanceof Request) return !input.bodyUsed;
  const b = init.body;
  return !(typeof ReadableStream !== 'undefined' && b instanceof ReadableStream);
}

function asAuthError(e: unknown): AuthError {
  return e instanceof AuthError ? e : networkError(e);
}

function timeoutSignal(ms: number): AbortSignal | undefined {
  return typeof AbortSignal !== 'undefined' && 'timeout' in AbortSignal ? AbortSignal.timeout(ms) : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
