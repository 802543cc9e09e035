import type { AuthError } from './errors.js';
import { authLevelOf } from './jwt.js';
import type { TokenStorage } from './storage.js';
import type { AuthEventName, AuthEvents, AuthState, AuthStateInput, SignOutReason, Tokens, User } from './types.js';

const NO_AMR: readonly string[] = Object.freeze([]);

/** SessionHooks is what the session tells the rest of the client. */
export interface SessionHooks {
  /** tokensChanged runs after every change of the tokens (null: signed out): timers follow it. */
  tokensChanged(tokens: Tokens | null): void;
  /** signedOut runs when this tab ends the session, to tell the other tabs that share it. */
  signedOut(reason: 'logout' | 'expired', sid: string | null): void;
}

/**
 * Session is one tab's view of the session: the tokens, the state that UI
 * libraries read (`subscribe` and `getSnapshot`), and the lifecycle
 * events. Everything that changes them goes through here.
 */
export class Session {
  tokens: Tokens | null = null;
  hooks: SessionHooks = { tokensChanged: () => undefined, signedOut: () => undefined };

  private state: AuthState = { status: 'loading', user: null, error: null, acr: null, amr: NO_AMR };
  private readonly listeners = new Set<() => void>();
  private readonly handlers: { [K in AuthEventName]: Set<(detail: AuthEvents[K]) => void> } = {
    signedIn: new Set(),
    refreshed: new Set(),
    signedOut: new Set(),
    sessionExpired: new Set(),
  };
  private readonly tokenWaiters = new Set<() => void>();

  constructor(readonly storage: TokenStorage) {}

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  getSnapshot(): AuthState {
    return this.state;
  }

  on<K extends AuthEventName>(event: K, handler: (detail: AuthEvents[K]) => void): () => void {
    this.handlers[event].add(handler);
    return () => this.handlers[event].delete(handler);
  }

  emit<K extends AuthEventName>(event: K, detail: AuthEvents[K]): void {
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

  /**
   * setState sets the state; `acr` and `amr` follow the access token while
   * authenticated (a step-up or a refresh changes them without a new
   * login), and `amr` keeps its identity while its values stay the same.
   */
  setState(next: AuthStateInput): void {
    const s = this.state;
    const level = next.status === 'authenticated' ? authLevelOf(this.tokens?.accessToken) : { acr: null, amr: [] };
    const amr = level.amr.length === s.amr.length && level.amr.every((v, i) => v === s.amr[i]) ? s.amr : Object.freeze(level.amr);
    if (s.status === next.status && s.user === next.user && s.error === next.error && s.acr === level.acr && s.amr === amr) return;
    this.state = { status: next.status, user: next.user, error: next.error, acr: level.acr, amr };
    for (const l of [...this.listeners]) l();
  }

  /** setError reports (or, with null, clears) a transient failure, keeping the session. */
  setError(error: AuthError | null): void {
    if (this.state.error !== error) this.setState({ ...this.state, error });
  }

  /** hasSession reports whether this tab holds or shows a session. */
  get hasSession(): boolean {
    return this.tokens !== null || this.state.status === 'authenticated';
  }

  /** setTokens makes tokens the current ones, saving them to storage when they came from the server. */
  setTokens(tokens: Tokens, persist = false): void {
    this.tokens = tokens;
    if (persist) this.storage.save(tokens);
    this.hooks.tokensChanged(tokens);
    this.setState(this.state); // acr and amr of the new token
    for (const w of [...this.tokenWaiters]) w();
  }

  /** signedIn shows the user as signed in (from a login here, another tab, or start-up). */
  signedIn(user: User): void {
    this.setState({ status: 'authenticated', user, error: null });
  }

  /** watch calls check after every change of the tokens, until the returned function is called. */
  watch(check: () => void): () => void {
    this.tokenWaiters.add(check);
    return () => this.tokenWaiters.delete(check);
  }

  /** waitForNewerThan resolves with the tokens that replace stale, or null after ms. */
  waitForNewerThan(stale: Tokens, ms: number): Promise<Tokens | null> {
    return new Promise((resolve) => {
      const check = () => {
        const c = this.tokens;
        if (c && c.accessToken !== stale.accessToken) done(c);
      };
      const done = (v: Tokens | null) => {
        clearTimeout(timer);
        unwatch();
        resolve(v);
      };
      const timer = setTimeout(() => done(null), ms);
      const unwatch = this.watch(check);
      check();
    });
  }

  /** clear forgets the tokens here and in storage, and shows the tab signed out. */
  clear(): void {
    this.tokens = null;
    this.storage.save(null);
    this.hooks.tokensChanged(null);
    for (const w of [...this.tokenWaiters]) w();
  }

  /** signOut ends the session in this tab and, with broadcast, in the tabs that share it. */
  signOut(reason: SignOutReason, broadcast: boolean): void {
    const had = this.hasSession;
    const sid = this.tokens?.sid ?? null;
    this.clear();
    this.setState({ status: 'unauthenticated', user: null, error: null });
    if (broadcast) this.hooks.signedOut(reason === 'expired' ? 'expired' : 'logout', sid);
    if (had || reason === 'logout') this.emit('signedOut', { reason });
  }

  /** endSession handles a session the server refused for good (a refresh's 4xx, `session_revoked`). */
  endSession(error: AuthError | null, hadSession: boolean, broadcast = true): void {
    const had = hadSession || this.state.status === 'authenticated';
    const sid = this.tokens?.sid ?? null;
    this.clear();
    this.setState({ status: 'unauthenticated', user: null, error: null });
    if (!had) return;
    if (broadcast) this.hooks.signedOut('expired', sid);
    this.emit('sessionExpired', { error });
    this.emit('signedOut', { reason: 'expired' });
  }
}
