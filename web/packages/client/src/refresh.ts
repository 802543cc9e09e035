import { AuthError, asAuthError } from './errors.js';
import type { Schedule } from './schedule.js';
import type { Session } from './session.js';
import type { Tabs } from './tabs.js';
import type { TokenResponse, Tokens } from './types.js';
import type { Wire } from './wire.js';
import { errorFromResponse } from './wire.js';

// How long a tab that sees another tab's newer cookie marker waits for that
// tab's message with the access token.
const ADOPT_WAIT_MS = 1000;

/**
 * Refresher gets new tokens: one refresh in flight per tab, under the
 * origin's lock when tabs share the session, or from the session's leader
 * when this tab follows one. A 4xx ends the session (it will not change by
 * retrying: the refresh token expired, was revoked or reused); a network
 * error or 5xx keeps it and backs off.
 */
export class Refresher {
  private inflight: Promise<Tokens> | null = null;

  constructor(
    private readonly session: Session,
    private readonly wire: Wire,
    private readonly tabs: Tabs,
    private readonly schedule: Schedule,
    private readonly now: () => number,
  ) {}

  /**
   * refreshFrom replaces stale (single-flight). While backing off after a
   * network error or 5xx, callers fail fast until the scheduled retry,
   * unless force is set: requests do not each start a refresh of their own.
   */
  refreshFrom(stale: Tokens | null, force = false): Promise<Tokens> {
    if (this.inflight) return this.inflight;
    const backingOff = this.schedule.backingOff;
    if (!force && backingOff) return Promise.reject(backingOff);
    const p = this.run(stale);
    this.inflight = p;
    p.then(
      () => {
        if (this.inflight === p) this.inflight = null;
        this.schedule.succeeded();
      },
      (e: unknown) => {
        if (this.inflight === p) this.inflight = null;
        const err = asAuthError(e);
        if (err.transient && this.session.tokens) {
          this.session.setError(err);
          this.schedule.failed(err);
        }
      },
    );
    return p;
  }

  private async run(stale: Tokens | null): Promise<Tokens> {
    if (stale && !this.tabs.leads()) {
      const got = await this.tabs.askLeader(stale);
      if (got !== 'lead') return got;
      if (!this.session.tokens) throw new AuthError(401, 'signed_out', 'signed out in another tab');
    }
    return this.tabs.exclusive(() => this.refreshLocked(stale));
  }

  private async refreshLocked(stale: Tokens | null): Promise<Tokens> {
    // While this tab waited for the lock, another tab (or an earlier refresh
    // in this one) may have refreshed already: adopt its result instead of
    // rotating again.
    const cur = this.session.tokens;
    if (cur && cur.accessToken !== stale?.accessToken && !this.schedule.needsRefresh(cur)) return cur;
    const news = this.session.storage.newer(stale);
    switch (news.kind) {
      case 'signedOut':
        this.session.signOut('remote', false);
        throw new AuthError(401, 'signed_out', 'signed out in another tab');
      case 'tokens':
        if (!this.schedule.needsRefresh(news.tokens)) {
          this.session.setTokens(news.tokens);
          this.session.emit('refreshed', { expiresAt: news.tokens.expiresAt });
          return news.tokens;
        }
        break;
      case 'pending': {
        const adopted = stale ? await this.session.waitForNewerThan(stale, ADOPT_WAIT_MS) : null;
        if (adopted) return adopted;
        break;
      }
      case 'none':
        break;
    }
    return this.callRefresh(stale);
  }

  private async callRefresh(stale: Tokens | null): Promise<Tokens> {
    const storage = this.session.storage;
    const rt = storage.refreshToken(this.session.tokens);
    if (!storage.cookieTransport && !rt) {
      const err = new AuthError(401, 'refresh_token_missing', 'no refresh token is stored');
      this.session.endSession(err, stale !== null);
      throw err;
    }
    const res = await this.wire.refresh(rt);
    if (!res.ok) {
      const err = await errorFromResponse(res);
      // A login or another tab replaced the tokens while this refresh was
      // on its way: its failure is about tokens nobody uses any more.
      const cur = this.session.tokens;
      if (cur && cur.accessToken !== stale?.accessToken) return cur;
      // Clear and let the app send the user to /login (seed 000, "refresh
      // token expiry"). Network errors and 5xx keep the session.
      if (!err.transient) this.session.endSession(err, stale !== null);
      throw err;
    }
    const tokens = this.wire.tokensOf((await res.json()) as TokenResponse, this.now());
    this.session.setTokens(tokens, true);
    this.session.setError(null);
    this.tabs.shareRefresh(tokens);
    this.session.emit('refreshed', { expiresAt: tokens.expiresAt });
    return tokens;
  }
}
