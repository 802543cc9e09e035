import { AuthError } from './errors.js';
import type { Session } from './session.js';
import { validTokens, type TokenStorage } from './storage.js';
import type { ChannelLike, LockManagerLike, Tokens, User } from './types.js';

type Message =
  | { type: 'refreshed'; from: string; tokens: Tokens }
  | { type: 'signedIn'; from: string; tokens: Tokens; user: User }
  | { type: 'signedOut'; from: string; reason: 'logout' | 'expired'; sid: string | null }
  // The user changed (email verified or changed): tabs signed in as them show it.
  | { type: 'user'; from: string; user: User }
  // Start-up with origin sharing: "who is signed in?"
  | { type: 'sync'; from: string }
  | { type: 'state'; from: string; to: string; tokens: Tokens; user: User }
  // Start-up with session sharing: "who else holds this session?"
  | { type: 'hello'; from: string; tab: string; sid: string }
  | { type: 'welcome'; from: string; to: string; tab: string; tokens: Tokens; user: User | null }
  // A follower asks the leader of its session for a refresh.
  | { type: 'refreshRequest'; from: string; sid: string; stale: string }
  | { type: 'refreshFailed'; from: string; to: string; status: number; code: string; message: string };

type StateMessage = Extract<Message, { type: 'state' }>;

const SYNC_WAIT_MS = 250;
const HANDOFF_MS = 100;

/** TabsOptions is what {@link Tabs} needs from the client. */
export interface TabsOptions {
  session: Session;
  storage: TokenStorage;
  /** The prefix of lock and channel names, and the API's scope. */
  key: string;
  scope: string;
  locks: LockManagerLike | null;
  open: ((name: string) => ChannelLike) | null;
  /** How long a follower waits for the leader's answer to a refresh request. */
  timeout: number;
  needsRefresh(t: Tokens): boolean;
  /** refresh is this tab's own single-flight refresh, which the leader runs for its followers. */
  refresh(t: Tokens): Promise<Tokens>;
  /** becameLeader runs when this tab takes over the refreshes of its session. */
  becameLeader(): void;
  /** signedInElsewhere runs when another tab's login signed this one in. */
  signedInElsewhere(): void;
}

/**
 * Tabs coordinates the tabs that share a session, over a BroadcastChannel
 * and Web Locks, because rotating refresh tokens punish racing refreshes
 * (RFC 9700 §4.14.2: a retired token presented again is treated as theft).
 *
 * With origin sharing (cookie, localStorage) a lock serialises the
 * refreshes of every tab and the channel hands each result to the others.
 *
 * With session sharing (sessionStorage) the tabs that hold one session —
 * a tab and its duplicates, which start with a copy of its storage — follow
 * a leader: the tab that holds the session's Web Lock refreshes, and posts
 * every new token pair to the others; a follower asks the leader rather
 * than presenting its copy of a refresh token that may have been rotated
 * already. Web Locks are released when a tab closes, so a follower takes
 * over when the leader is gone. A duplicate is recognised at start-up by
 * the tab id it copied: a live tab that answers with the same id is the
 * original, and the copy takes an id of its own.
 */
export class Tabs {
  /** This client instance, on the channel. */
  readonly id: string;
  private readonly channel: ChannelLike | null;
  private readonly locks: LockManagerLike | null;
  private readonly lockName: string;
  private tabId: string | null = null;
  private lead: { sid: string; held: boolean; release: (() => void) | null } | null = null;
  private readonly leadWaiters = new Set<() => void>();
  private readonly replies = new Set<(m: Message) => void>();
  private disposed = false;

  constructor(private readonly o: TabsOptions) {
    this.id = randomId();
    const sharing = o.storage.sharing;
    this.locks = sharing === 'none' ? null : o.locks;
    this.lockName = `${o.key}:refresh:${o.scope}`;
    // Strategies do not share a channel: a login with the cookie is not one
    // in a tab that keeps its tokens in sessionStorage.
    this.channel = sharing !== 'none' && o.open ? o.open(`${o.key}:${o.storage.strategy}:${o.scope}`) : null;
    if (this.channel) this.channel.onmessage = (ev) => this.onMessage(ev.data);
    if (o.storage.tabId) {
      this.tabId = o.storage.tabId.read();
      if (!this.tabId) this.newTabId();
    }
  }

  private get session(): Session {
    return this.o.session;
  }

  /** leads reports whether this tab refreshes on its own (false for a follower of another tab's session). */
  leads(): boolean {
    return !this.lead || this.lead.held;
  }

  post(message: Message): void {
    try {
      this.channel?.postMessage(message);
    } catch {
      // A closed channel only loses cross-tab convenience.
    }
  }

  /** shareRefresh tells the other tabs of new tokens from the server. */
  shareRefresh(tokens: Tokens): void {
    this.post({ type: 'refreshed', from: this.id, tokens: this.o.storage.shareable(tokens) });
  }

  shareSignIn(tokens: Tokens, user: User): void {
    // A login in a sessionStorage tab is that tab's own session.
    if (this.o.storage.sharing === 'origin') this.post({ type: 'signedIn', from: this.id, tokens: this.o.storage.shareable(tokens), user });
  }

  shareUser(user: User): void {
    this.post({ type: 'user', from: this.id, user });
  }

  shareSignOut(reason: 'logout' | 'expired', sid: string | null): void {
    this.post({ type: 'signedOut', from: this.id, reason, sid });
  }

  /**
   * exclusive runs fn under the origin's refresh lock. The lock is kept a
   * moment after fn so that the result's broadcast, and Chromium's
   * cross-process localStorage, reach the other tabs before the next one in
   * line checks whether a refresh is still needed (seen in the e2e tests:
   * without it, a tab whose timer fired just as another tab's refresh ended
   * would refresh again).
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const locks = this.o.storage.sharing === 'origin' ? this.locks : null;
    if (!locks) return fn();
    return new Promise<T>((resolve, reject) => {
      locks
        .request(this.lockName, async () => {
          try {
            resolve(await fn());
          } catch (e) {
            reject(e);
          }
          await sleep(HANDOFF_MS);
        })
        .catch(reject);
    });
  }

  /** askOtherTabs asks, at start-up with origin sharing, whether another tab is signed in. */
  askOtherTabs(): Promise<StateMessage | null> {
    if (!this.channel || this.o.storage.sharing !== 'origin') return Promise.resolve(null);
    return this.waitFor<StateMessage>(
      (m) => (m.type === 'state' && m.to === this.id && validTokens(m.tokens) ? { ...m, tokens: this.o.storage.adopt(m.tokens) } : null),
      SYNC_WAIT_MS,
      () => this.post({ type: 'sync', from: this.id }),
    );
  }

  /**
   * greet joins, at start-up with session sharing, the other tabs that hold
   * the session of tokens (a duplicated tab's original, or the tabs of a
   * session this tab was reloaded in). It resolves with the user of a tab
   * that answered, once one has (its tokens are adopted when newer), or
   * null once this tab leads the session: nobody else holds it.
   */
  async greet(tokens: Tokens): Promise<User | null> {
    if (!this.channel || !tokens.sid || !this.tabId) return null;
    this.follow(tokens);
    const sid = tokens.sid;
    const hello = () => this.post({ type: 'hello', from: this.id, tab: this.tabId!, sid });
    const welcome = this.waitFor((m) => (m.type === 'welcome' && m.to === this.id ? m : null), SYNC_WAIT_MS, hello);
    const led = new Promise<null>((resolve) => this.whenLeading(() => resolve(null)));
    const m = await Promise.race([welcome, led]);
    return m?.user ?? null;
  }

  /**
   * follow makes this tab a member of the session of tokens: with session
   * sharing it queues for the session's leader lock, and follows until it
   * gets it. Called after every change of the tokens.
   */
  follow(tokens: Tokens | null): void {
    if (this.o.storage.sharing !== 'session' || !this.locks || !this.channel) return;
    const sid = tokens?.sid ?? null;
    if (this.lead?.sid === sid) return;
    // The lock is let go a moment later, so that the message that says why
    // (a logout, an expiry) reaches the followers before one of them takes
    // the lead and refreshes a session that has ended.
    const release = this.lead?.release;
    if (release) setTimeout(release, HANDOFF_MS);
    this.lead = null;
    if (!sid || this.disposed) return;
    const lead: { sid: string; held: boolean; release: (() => void) | null } = { sid, held: false, release: null };
    this.lead = lead;
    this.locks
      .request(`${this.o.key}:lead:${this.o.scope}:${sid}`, () => {
        // Granted after this tab moved on (a new login, a logout): let go.
        if (this.lead !== lead || this.disposed) return Promise.resolve();
        lead.held = true;
        this.o.becameLeader();
        for (const w of [...this.leadWaiters]) w();
        return new Promise<void>((release) => (lead.release = release));
      })
      .catch(() => undefined);
  }

  /**
   * askLeader gets tokens newer than stale from the leader of this tab's
   * session. It resolves with them, or with 'lead' when this tab has become
   * the leader (and must refresh itself); it rejects with the leader's
   * error, or with a transient one when the leader does not answer.
   */
  askLeader(stale: Tokens): Promise<Tokens | 'lead'> {
    return new Promise((resolve, reject) => {
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        unwatch();
        this.leadWaiters.delete(onLead);
        this.replies.delete(onReply);
        fn();
      };
      const onTokens = () => {
        const c = this.session.tokens;
        if (!c) finish(() => reject(new AuthError(401, 'signed_out', 'signed out while waiting for the session’s other tab')));
        else if (c.accessToken !== stale.accessToken) finish(() => resolve(c));
      };
      const onLead = () => finish(() => resolve('lead'));
      const onReply = (m: Message) => {
        if (m.type === 'refreshFailed' && m.to === this.id) finish(() => reject(new AuthError(m.status, m.code, m.message)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new AuthError(0, 'network_error', 'the tab that refreshes this session did not answer'))),
        this.o.timeout,
      );
      const unwatch = this.session.watch(onTokens);
      this.leadWaiters.add(onLead);
      this.replies.add(onReply);
      onTokens();
      if (this.lead?.held) onLead();
      else if (stale.sid) this.post({ type: 'refreshRequest', from: this.id, sid: stale.sid, stale: stale.accessToken });
    });
  }

  private whenLeading(fn: () => void): void {
    if (!this.lead || this.lead.held) return fn();
    const once = () => {
      this.leadWaiters.delete(once);
      fn();
    };
    this.leadWaiters.add(once);
  }

  private waitFor<T>(match: (m: Message) => T | null, ms: number, ask: () => void): Promise<T | null> {
    return new Promise((resolve) => {
      const done = (v: T | null) => {
        clearTimeout(timer);
        this.replies.delete(onReply);
        resolve(v);
      };
      const onReply = (m: Message) => {
        const v = match(m);
        if (v) done(v);
      };
      const timer = setTimeout(() => done(null), ms);
      this.replies.add(onReply);
      ask();
    });
  }

  private newTabId(): void {
    this.tabId = randomId();
    this.o.storage.tabId?.write(this.tabId);
  }

  private onMessage(data: unknown): void {
    if (!data || typeof data !== 'object') return;
    const m = data as Message;
    if (m.from === this.id || this.disposed) return;
    const s = this.session;
    const cur = s.tokens;
    const state = s.getSnapshot();
    switch (m.type) {
      case 'refreshed': {
        if (!cur || !validTokens(m.tokens) || m.tokens.sid !== cur.sid || m.tokens.expiresAt <= cur.expiresAt) break;
        s.setTokens(this.o.storage.adopt(m.tokens));
        s.setError(null);
        s.emit('refreshed', { expiresAt: m.tokens.expiresAt });
        break;
      }
      case 'signedIn': {
        // Every tab shares the cookie (or localStorage): a login anywhere is
        // a login here.
        if (this.o.storage.sharing !== 'origin' || !validTokens(m.tokens)) break;
        s.setTokens(this.o.storage.adopt(m.tokens));
        this.o.signedInElsewhere();
        s.signedIn(m.user);
        s.emit('signedIn', { user: m.user });
        break;
      }
      case 'signedOut': {
        if (!s.hasSession) break;
        // With session sharing only the tabs of that session are concerned.
        if (this.o.storage.sharing === 'session' && (!m.sid || m.sid !== cur?.sid)) break;
        if (m.reason === 'expired') s.endSession(null, true, false);
        else s.signOut('remote', false);
        break;
      }
      case 'user': {
        if (state.status === 'authenticated' && state.user && m.user && state.user.id === m.user.id) s.signedIn({ ...state.user, ...m.user });
        break;
      }
      case 'sync': {
        if (this.o.storage.sharing === 'origin' && cur && state.status === 'authenticated' && state.user) {
          this.post({ type: 'state', from: this.id, to: m.from, tokens: this.o.storage.shareable(cur), user: state.user });
        }
        break;
      }
      case 'hello': {
        if (!cur || cur.sid !== m.sid || !this.tabId) break;
        this.post({ type: 'welcome', from: this.id, to: m.from, tab: this.tabId, tokens: this.o.storage.shareable(cur), user: state.user });
        break;
      }
      case 'welcome': {
        if (m.to !== this.id) break;
        // A live tab with this tab's id: this one is its duplicate.
        if (m.tab === this.tabId) this.newTabId();
        if (cur && validTokens(m.tokens) && m.tokens.sid === cur.sid && m.tokens.expiresAt > cur.expiresAt) s.setTokens(this.o.storage.adopt(m.tokens));
        break;
      }
      case 'refreshRequest': {
        if (!this.lead?.held || !cur || cur.sid !== m.sid) break;
        if (cur.accessToken !== m.stale && !this.o.needsRefresh(cur)) {
          // The follower missed a message: send the current tokens again.
          this.shareRefresh(cur);
          break;
        }
        this.o.refresh(cur).then(
          (t) => this.shareRefresh(t),
          (e: unknown) => {
            const err = e instanceof AuthError ? e : new AuthError(0, 'network_error', String(e));
            this.post({ type: 'refreshFailed', from: this.id, to: m.from, status: err.status, code: err.code, message: err.message });
          },
        );
        break;
      }
      case 'state':
      case 'refreshFailed':
        break;
    }
    for (const r of [...this.replies]) r(m);
  }

  dispose(): void {
    this.disposed = true;
    this.lead?.release?.();
    this.lead = null;
    try {
      this.channel?.close();
    } catch {
      // already closed
    }
  }
}

// Ids only tell tabs apart; they guard nothing, but two tabs must not pick
// the same one, so they do not use the injectable (and in tests constant)
// `random`.
function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return c?.randomUUID ? c.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
