import { Account } from './account.js';
import { Admin, myEvents, type EventPage, type EventQuery } from './admin.js';
import { AuthError, asAuthError, type AuthErrorCode } from './errors.js';
import { signInWith, type GrantDeps } from './grant.js';
import { validateSession } from './startup.js';
import { Mfa, type MfaLogin, type MfaStatus, type SecondFactor, type TotpEnrollment } from './mfa.js';
import { Passkeys, type Passkey } from './passkeys.js';
import { Refresher } from './refresh.js';
import { Schedule } from './schedule.js';
import { Session } from './session.js';
import { createTokenStorage, type TokenStorage } from './storage.js';
import { Tabs } from './tabs.js';
import type {
  AuthClientOptions,
  AuthEventName,
  AuthEvents,
  AuthState,
  ChannelLike,
  LockManagerLike,
  StorageStrategy,
  Tokens,
  User,
  VisibilitySource,
} from './types.js';
import { Wire, errorFromResponse, problemCode, replayable } from './wire.js';

export type {
  AuthClientOptions,
  AuthEventName,
  AuthEvents,
  AuthState,
  AuthStatus,
  ChannelLike,
  LockManagerLike,
  SignOutReason,
  User,
} from './types.js';

/**
 * AuthClient runs the client side of the token lifecycle against a
 * Gatehouse server: login and registration, bearer requests through
 * {@link AuthClient.fetch}, silent refresh (proactive before `exp`, and on a
 * `token_expired` 401 with one replay), start-up validation, and logout.
 *
 * Refreshes are single-flight: one in flight per tab, and one across the
 * tabs that share a session (see {@link StorageStrategy}): with the cookie
 * and localStorage a Web Lock serialises them and a BroadcastChannel hands
 * the result to the other tabs; with sessionStorage a duplicated tab
 * follows the tab it was copied from. Rotating refresh tokens punish racing
 * refreshes (RFC 9700 §4.14.2: a retired token presented again is treated
 * as theft).
 *
 * The work is split: {@link Session} holds the tokens and the state,
 * {@link Wire} makes the calls, {@link Refresher} refreshes, {@link Schedule}
 * keeps the timers and {@link Tabs} talks to the other tabs; the storage
 * strategy is a {@link TokenStorage}.
 */
export class AuthClient {
  readonly baseUrl: string;
  readonly storage: StorageStrategy;
  /** The admin API (CONTRACT §9), for a signed-in admin: see {@link Admin}. */
  readonly admin: Admin;

  private readonly session: Session;
  private readonly wire: Wire;
  private readonly schedule: Schedule;
  private readonly tabs: Tabs;
  private readonly refresher: Refresher;
  private readonly account: Account;
  private readonly mfa: Mfa;
  private readonly passkeys: Passkeys;
  private readonly grants: GrantDeps;
  private readonly now: () => number;
  private readonly backoff: (attempt: number, err: AuthError) => number;
  private readonly sessionHint: boolean;
  private startPromise: Promise<void> | null = null;
  private disposed = false;

  constructor(options: AuthClientOptions = {}) {
    this.storage = options.storage ?? 'cookie';
    this.sessionHint = options.sessionHint ?? true;
    const key = options.storageKey ?? 'gatehouse';
    const store: TokenStorage = createTokenStorage(this.storage, key, options.webStorage);
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('AuthClient needs fetch');
    this.now = options.now ?? (() => Date.now());
    const random = options.random ?? Math.random;
    const timeout = options.timeout ?? 15_000;
    this.wire = new Wire(options.baseUrl ?? '', (input, init) => f(input, init), store, timeout);
    this.baseUrl = this.wire.baseUrl;
    this.session = new Session(store);

    const doc = (globalThis as { document?: VisibilitySource }).document;
    this.schedule = new Schedule(
      {
        margin: options.refreshMargin ?? 30_000,
        proactive: options.proactive ?? true,
        backoffInitial: options.backoff?.initial ?? 1000,
        backoffMax: options.backoff?.max ?? 30_000,
        now: this.now,
        random,
        visibility: options.visibility !== undefined ? options.visibility : (doc ?? null),
      },
      (t) => void this.refresher.refreshFrom(t).catch(() => undefined),
      () => ({ tokens: this.session.tokens, proactive: this.tabs.leads() }),
    );
    this.backoff = (attempt, err) => this.schedule.backoffDelay(attempt, err);

    const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
    const open =
      options.channel !== undefined
        ? options.channel
        : typeof BroadcastChannel === 'function'
          ? (name: string) => new BroadcastChannel(name) as unknown as ChannelLike
          : null;
    this.tabs = new Tabs({
      session: this.session,
      storage: store,
      key,
      scope: this.wire.scope,
      locks: options.locks !== undefined ? options.locks : (nav?.locks ?? null),
      open,
      timeout: timeout + 1000,
      needsRefresh: (t) => this.schedule.needsRefresh(t),
      refresh: (t) => this.refresher.refreshFrom(t),
      becameLeader: () => this.schedule.arm(this.session.tokens),
      signedInElsewhere: () => {
        this.startPromise ??= Promise.resolve();
      },
    });
    this.refresher = new Refresher(this.session, this.wire, this.tabs, this.schedule, this.now);
    this.session.hooks = {
      tokensChanged: (t) => {
        this.tabs.follow(t);
        if (t) this.schedule.arm(t, this.tabs.leads());
        else this.schedule.clear();
      },
      signedOut: (reason, sid) => this.tabs.shareSignOut(reason, sid),
    };

    this.account = new Account({ session: this.session, wire: this.wire, fetch: (p, i) => this.fetch(p, i), shareUser: (u) => this.tabs.shareUser(u) });
    this.grants = {
      session: this.session,
      wire: this.wire,
      tabs: this.tabs,
      now: this.now,
      fetch: (p, i) => this.fetch(p, i),
      started: () => {
        this.startPromise ??= Promise.resolve();
      },
    };
    this.passkeys = new Passkeys(this.grants);
    this.mfa = new Mfa(this.grants, this.passkeys);
    this.admin = new Admin((p, i) => this.fetch(p, i));

    this.subscribe = this.subscribe.bind(this);
    this.getSnapshot = this.getSnapshot.bind(this);
    this.fetch = this.fetch.bind(this);
  }

  // ---- state and events ------------------------------------------------

  /** subscribe registers a listener for state changes (for useSyncExternalStore); returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    return this.session.subscribe(listener);
  }

  /** getSnapshot returns the current state; the same object until it changes. */
  getSnapshot(): AuthState {
    return this.session.getSnapshot();
  }

  /** on listens for a lifecycle event; returns the unsubscribe. */
  on<K extends AuthEventName>(event: K, handler: (detail: AuthEvents[K]) => void): () => void {
    return this.session.on(event, handler);
  }

  /** The current access token, without refreshing; null when signed out. */
  get accessToken(): string | null {
    return this.session.tokens?.accessToken ?? null;
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
    const s = this.session;
    for (let attempt = 0; !this.disposed; attempt++) {
      try {
        await validateSession({
          session: this.session,
          tabs: this.tabs,
          schedule: this.schedule,
          refresher: this.refresher,
          sessionHint: this.sessionHint,
          fetch: (p) => this.fetch(p),
        });
        return;
      } catch (e) {
        const err = asAuthError(e);
        // A login (here or in another tab) during start-up wins over what
        // start-up found.
        if (s.getSnapshot().status === 'authenticated') return;
        if (!err.transient) {
          s.clear();
          s.setState({ status: 'unauthenticated', user: null, error: null });
          return;
        }
        if (s.getSnapshot().status !== 'loading') return;
        s.setState({ status: 'loading', user: null, error: err });
        await new Promise((r) => setTimeout(r, this.backoff(attempt, err)));
      }
    }
  }

  // ---- login, registration, logout ---------------------------------------

  /**
   * login signs in with email and password. Throws AuthError
   * (`invalid_credentials`, `rate_limited`, …), or MfaRequiredError when the
   * user has a second factor: then {@link AuthClient.completeMfaLogin}.
   */
  async login(email: string, password: string): Promise<User> {
    return signInWith(this.grants, await this.wire.login(email, password));
  }

  /** register creates an account, then signs in with it (seed 000: auto-login). */
  async register(email: string, password: string, name?: string): Promise<User> {
    const res = await this.wire.register(email, password, name);
    if (!res.ok) throw await errorFromResponse(res);
    return this.login(email, password);
  }

  /**
   * logout ends this session on the server and clears it here and in every
   * other tab that shares it. The local state is cleared whatever the
   * server answers: logout is idempotent there, and a user who clicked "Log
   * out" must not stay signed in because of a network blip.
   */
  async logout(): Promise<void> {
    const store = this.session.storage;
    const refreshToken = store.refreshToken(this.session.tokens);
    if (store.cookieTransport || refreshToken) {
      try {
        const res = await this.wire.logout(refreshToken);
        await res.body?.cancel();
      } catch {
        // See above: signed out here regardless.
      }
    }
    this.session.signOut('logout', true);
  }

  /** logoutAll ends every session of the user (POST /api/auth/logout-all), then signs out every tab. */
  async logoutAll(): Promise<void> {
    const res = await this.fetch('/api/auth/logout-all', { method: 'POST' });
    if (!res.ok && res.status !== 401) throw await errorFromResponse(res);
    this.session.signOut('logout', true);
  }

  /** endLocalSession forgets the session without telling the server, e.g. after the app revoked it itself. */
  endLocalSession(): void {
    this.session.signOut('logout', true);
  }

  // ---- accounts by email (CONTRACT §7) and the profile (the calls are in account.ts) ----

  /** sendVerificationEmail: see {@link Account.sendVerificationEmail}. */
  sendVerificationEmail = (): Promise<void> => this.account.sendVerificationEmail();
  /** verifyEmail: see {@link Account.verifyEmail}. */
  verifyEmail = (token: string): Promise<User> => this.account.verifyEmail(token);
  /** forgotPassword: see {@link Account.forgotPassword}. */
  forgotPassword = (email: string): Promise<void> => this.account.forgotPassword(email);
  /** resetPassword: see {@link Account.resetPassword}. */
  resetPassword = (token: string, newPassword: string): Promise<void> => this.account.resetPassword(token, newPassword);
  /** changePassword: see {@link Account.changePassword}. */
  changePassword = (currentPassword: string, newPassword: string): Promise<void> => this.account.changePassword(currentPassword, newPassword);
  /** changeEmail: see {@link Account.changeEmail}. */
  changeEmail = (newEmail: string, currentPassword: string): Promise<void> => this.account.changeEmail(newEmail, currentPassword);
  /** confirmEmail: see {@link Account.confirmEmail}. */
  confirmEmail = (token: string): Promise<User> => this.account.confirmEmail(token);
  /** updateProfile: see {@link Account.updateProfile}. */
  updateProfile = (profile: { name: string }): Promise<User> => this.account.updateProfile(profile);

  // ---- second factors (CONTRACT §8; the calls are in mfa.ts) ----

  /** getMfaStatus: see {@link Mfa.getMfaStatus}. */
  getMfaStatus = (): Promise<MfaStatus> => this.mfa.getMfaStatus();
  /** enrollTotp: see {@link Mfa.enrollTotp}. */
  enrollTotp = (currentPassword: string): Promise<TotpEnrollment> => this.mfa.enrollTotp(currentPassword);
  /** confirmTotp: see {@link Mfa.confirmTotp}. */
  confirmTotp = (code: string): Promise<string[]> => this.mfa.confirmTotp(code);
  /** disableTotp: see {@link Mfa.disableTotp}. */
  disableTotp = (): Promise<void> => this.mfa.disableTotp();
  /** regenerateRecoveryCodes: see {@link Mfa.regenerateRecoveryCodes}. */
  regenerateRecoveryCodes = (): Promise<string[]> => this.mfa.regenerateRecoveryCodes();
  /** completeMfaLogin: see {@link Mfa.completeMfaLogin}. */
  completeMfaLogin = (input: MfaLogin): Promise<User> => this.mfa.completeMfaLogin(input);
  /** stepUp: see {@link Mfa.stepUp}. */
  stepUp = (input: SecondFactor): Promise<void> => this.mfa.stepUp(input);

  // ---- passkeys (CONTRACT §8, WebAuthn): each is the method of the same name of {@link Passkeys} (passkeys.ts) ----

  registerPasskey = (name?: string, signal?: AbortSignal): Promise<Passkey> => this.passkeys.registerPasskey(name, signal);
  listPasskeys = (): Promise<Passkey[]> => this.passkeys.listPasskeys();
  renamePasskey = (id: string, name: string): Promise<Passkey> => this.passkeys.renamePasskey(id, name);
  deletePasskey = (id: string): Promise<void> => this.passkeys.deletePasskey(id);
  loginWithPasskey = (signal?: AbortSignal): Promise<User> => this.passkeys.loginWithPasskey(signal);
  conditionalPasskeyLogin = (signal?: AbortSignal): Promise<User | null> => this.passkeys.conditionalPasskeyLogin(signal);

  /** myEvents returns a page of the signed-in user's own security events, newest first (login, password and factor changes, …). */
  myEvents = (q?: Omit<EventQuery, 'userId' | 'type'>): Promise<EventPage> => myEvents((p, i) => this.fetch(p, i), q);

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
    const target = this.wire.resolve(input);
    const token = this.wire.isApi(target) ? await this.getAccessToken() : null;
    const res = await this.wire.send(input, target, init, token);
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
    return this.wire.send(input, target, init, next);
  }

  /**
   * getAccessToken returns an access token to send: the current one, or a
   * fresh one when it is about to expire. If that refresh fails for a
   * transient reason it returns the current token (the server may still
   * accept it); null when signed out.
   */
  async getAccessToken(): Promise<string | null> {
    const t = this.session.tokens;
    if (!t) return null;
    if (!this.schedule.needsRefresh(t)) return t.accessToken;
    try {
      return (await this.refresher.refreshFrom(t)).accessToken;
    } catch (e) {
      return asAuthError(e).transient ? (this.session.tokens?.accessToken ?? null) : null;
    }
  }

  /**
   * handleUnauthorized decides what to do about a 401 for a request sent
   * with `sentToken`: it returns the token to replay the request with, or
   * null when the request must not be replayed. It refreshes only for
   * `token_expired` and only when `sentToken` is still the current token
   * (otherwise another request has refreshed already and its token is
   * returned). `session_revoked` (and `user_disabled`: an admin locked the
   * account, CONTRACT §9) ends the session here. For adapters
   * (axios, RTK Query); {@link AuthClient.fetch} uses it.
   */
  async handleUnauthorized(sentToken: string | null, code: AuthErrorCode | null): Promise<string | null> {
    const cur = this.session.tokens;
    if (!sentToken || !cur) return null;
    if (code === 'session_revoked' || code === 'user_disabled') {
      if (cur.accessToken === sentToken) this.session.endSession(new AuthError(401, code, 'the session was ended'), true);
      return null;
    }
    if (code !== 'token_expired') return null;
    if (cur.accessToken !== sentToken) return cur.accessToken;
    return (await this.refresher.refreshFrom(cur)).accessToken;
  }

  /** refresh gets new tokens now (single-flight), even while backing off. Rejects with AuthError. */
  refresh(): Promise<Tokens> {
    return this.refresher.refreshFrom(this.session.tokens, true);
  }

  /** dispose stops timers and cross-tab messages. */
  dispose(): void {
    this.disposed = true;
    this.schedule.stop();
    this.tabs.dispose();
  }
}

/** createAuthClient returns an {@link AuthClient}. */
export function createAuthClient(options: AuthClientOptions = {}): AuthClient {
  return new AuthClient(options);
}
