import { setTimeout as sleep } from 'node:timers/promises';
import { VerifyError } from './errors.js';
import { type Fetch, fetchTimeout, isObject, message, readJSON } from './fetchjson.js';

/** The follower's states, as status().state reports them. */
export type FeedState = 'off' | 'syncing' | 'live' | 'stale';

/** FeedStatus is the state of a verifier's revocation-feed follower. */
export interface FeedStatus {
  /** off (no client credentials), syncing, live or stale. verify accepts tokens only when live or off. */
  state: FeedState;
  /** The feed position read up to. */
  lastSeq: number;
  /** Seconds since the last successful feed answer (since the start before the first). */
  lagSeconds: number;
  /** The size of the revoked-session set. */
  revokedSessions: number;
  /** The error of the last failed exchange with Gatehouse, cleared by the next successful one. */
  lastError: string;
  /** The horizon of the last feed gap (410), if one came: tokens issued before it (plus 1 s) are refused. */
  since?: string;
}

export interface FollowerOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Seconds a revoked sid is kept after its revocation. */
  maxTokenLifetime: number;
  /** Seconds without a feed answer after which verify refuses every token. */
  feedStaleAfter: number;
  fetch: Fetch;
}

// maxPollWait (s) is the longest wait asked of the feed: under the 30 s
// idle timeout of many proxies and load balancers.
const maxPollWait = 25;
// The pause after a failed exchange doubles from backoffMin to backoffMax (ms).
const backoffMin = 100;
const backoffMax = 5_000;
// earlyPause (ms) spaces long polls answered empty well before their wait
// (a Gatehouse shutting down answers at once): no busy loop.
const earlyPause = 100;
const pruneEvery = 60_000;
// maxFeedAnswer bounds a feed answer (1000 entries are ~100 KB).
const maxFeedAnswer = 4 << 20;
// cutoffMargin widens the feed-gap horizon for clock skew between the
// instance that issued a token and the one that pruned the feed.
const cutoffMargin = 1_000;

/** A 401 from the feed: the client token is renewed. */
class FeedRefused extends Error {}

/**
 * Follower reads Gatehouse's revocation feed in a loop of its own and
 * answers, for verify, whether a token's session was revoked. Times are
 * milliseconds since the epoch.
 */
export class Follower {
  private readonly tokenURL: string;
  private readonly feedURL: string;
  private readonly wait: number; // seconds, whole
  private readonly stop = new AbortController();
  private readonly done: Promise<void>;
  private readonly started = Date.now();

  private live = false; // caught up; false again after a feed gap or close
  private lastOK = 0; // time of the last 200 from the feed; 0 before
  private after = 0; // the loop's position in the feed
  private cutoff = 0; // tokens issued before are refused; 0 none
  private since: string | undefined;
  private readonly revoked = new Map<string, number>(); // sid → when its tokens have all expired
  private lastError = '';
  private tok = '';
  private tokRenew = 0;
  private lastPrune = Date.now();

  constructor(private readonly o: FollowerOptions) {
    this.tokenURL = o.issuer + '/api/auth/token';
    this.feedURL = o.issuer + '/api/auth/revocations';
    // Half of feedStaleAfter, so that a healthy feed always answers in time.
    this.wait = Math.max(1, Math.floor(Math.min(maxPollWait, o.feedStaleAfter / 2)));
    this.done = this.run();
  }

  /** close stops the loop and waits for it; verify refuses every token afterwards. */
  async close(): Promise<void> {
    this.stop.abort();
    await this.done;
    this.live = false;
  }

  /**
   * check refuses a verified token the feed says must not pass. It fails
   * closed: a revocation the follower cannot see would otherwise go
   * unenforced for up to the access-token lifetime (RFC 9700 §4.14).
   */
  check(iat: number, sid: string): void {
    const now = Date.now();
    switch (this.state(now)) {
      case 'syncing':
        throw new VerifyError('unavailable', 'revocation feed not caught up yet');
      case 'stale':
        throw new VerifyError('unavailable', 'revocation feed stale');
    }
    // Issued before the feed's horizon: its session may have been revoked
    // in the part of the feed that was pruned unseen.
    if (this.cutoff !== 0 && iat * 1000 < this.cutoff) {
      throw new VerifyError('token_expired', "issued before the revocation feed's horizon");
    }
    const until = this.revoked.get(sid);
    if (until !== undefined && now < until) throw new VerifyError('session_revoked', 'the session was ended');
  }

  state(now = Date.now()): FeedState {
    if (!this.live) return 'syncing';
    return now - this.lastOK > this.o.feedStaleAfter * 1000 ? 'stale' : 'live';
  }

  status(): FeedStatus {
    const now = Date.now();
    const last = this.lastOK || this.started;
    const s: FeedStatus = {
      state: this.state(now),
      lastSeq: this.after,
      lagSeconds: Math.max(now - last, 0) / 1000,
      revokedSessions: this.revoked.size,
      lastError: this.lastError,
    };
    if (this.since !== undefined) s.since = this.since;
    return s;
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    let pause = 0;
    while (!signal.aborted) {
      try {
        await this.exchange();
        pause = 0;
        continue;
      } catch (err) {
        if (signal.aborted) return;
        this.lastError = message(err);
      }
      pause = Math.min(Math.max(2 * pause, backoffMin), backoffMax);
      // Jitter spreads many followers' retries.
      await sleep(pause + Math.random() * (pause / 4), undefined, { signal }).catch(() => {});
    }
  }

  /** exchange is one poll, renewing the client token once more after a 401. */
  private async exchange(): Promise<void> {
    try {
      await this.poll();
    } catch (err) {
      if (!(err instanceof FeedRefused)) throw err;
      this.tok = ''; // revoked, or the signing key rotated: get a new one
      try {
        await this.poll();
      } catch (err2) {
        if (err2 instanceof FeedRefused) this.tok = '';
        throw err2;
      }
    }
  }

  private async poll(): Promise<void> {
    const tok = await this.token();
    // While syncing, pages are asked for at once until an empty one shows
    // the follower has caught up; then it long-polls.
    const wait = this.live ? this.wait : 0;
    const signal = AbortSignal.any([this.stop.signal, AbortSignal.timeout(wait * 1000 + fetchTimeout)]);
    const q = new URLSearchParams({ after: String(this.after), wait: String(wait) });
    const sent = Date.now();
    let res: Response;
    try {
      res = await this.o.fetch(`${this.feedURL}?${q}`, {
        headers: { Authorization: 'Bearer ' + tok, Accept: 'application/json' },
        signal,
      });
    } catch (err) {
      throw new Error('revocation feed: ' + message(err));
    }
    if (res.status === 401) {
      await res.body?.cancel().catch(() => {});
      throw new FeedRefused('revocation feed: 401, client token refused');
    }
    if (res.status === 410) {
      this.gap(await readJSON(res, maxFeedAnswer));
      return;
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      const hint = res.status === 403 ? ' (does the client have scope revocations?)' : '';
      throw new Error(`revocation feed: status ${res.status}${hint}`);
    }
    const a = await readJSON(res, maxFeedAnswer);
    const lastSeq = isObject(a) ? a.last_seq : undefined;
    const entries = isObject(a) ? a.entries : undefined;
    if (typeof lastSeq !== 'number' || !Number.isSafeInteger(lastSeq) || lastSeq < this.after || !Array.isArray(entries)) {
      throw new Error('revocation feed: answer without entries and a last_seq at or after the one asked for');
    }
    // Checked whole before any is applied, so a bad answer changes nothing.
    const parsed: { sid: string; at: number }[] = [];
    for (const e of entries as unknown[]) {
      const seq = isObject(e) ? e.seq : undefined;
      const sid = isObject(e) ? e.sid : undefined;
      const at = isObject(e) && typeof e.at === 'string' ? Date.parse(e.at) : NaN;
      if (typeof seq !== 'number' || seq <= this.after || seq > lastSeq || typeof sid !== 'string' || sid === '' || Number.isNaN(at)) {
        throw new Error(`revocation feed: entry outside (${this.after}, ${lastSeq}], or without sid or at`);
      }
      parsed.push({ sid, at });
    }
    const now = Date.now();
    for (const { sid, at } of parsed) {
      // Its tokens were issued before it was revoked, so they have all
      // expired maxTokenLifetime after: then the sid can go.
      const until = at + this.o.maxTokenLifetime * 1000;
      if (until > now && until > (this.revoked.get(sid) ?? 0)) this.revoked.set(sid, until);
    }
    if (now - this.lastPrune >= pruneEvery) {
      this.lastPrune = now;
      for (const [sid, until] of this.revoked) if (now >= until) this.revoked.delete(sid);
    }
    this.lastError = '';
    this.after = lastSeq;
    this.lastOK = now;
    if (!this.live && parsed.length === 0) this.live = true;
    if (wait > 0 && parsed.length === 0 && Date.now() - sent < (wait * 1000) / 2) {
      await sleep(earlyPause, undefined, { signal: this.stop.signal }).catch(() => {});
    }
  }

  /**
   * gap handles a 410 feed_gap: entries after this.after were pruned (or
   * the feed restarted below it). Every revocation at or after since is
   * still held, from first_seq on, so the follower re-reads from there and
   * refuses every token issued before since: a session revoked before
   * then can only have tokens issued before then.
   */
  private gap(body: unknown): void {
    const g = isObject(body) ? body : {};
    const first = g.first_seq;
    const since = typeof g.since === 'string' ? Date.parse(g.since) : NaN;
    if (g.code !== 'feed_gap' || typeof first !== 'number' || !Number.isSafeInteger(first) || first < 1 || Number.isNaN(since)) {
      throw new Error('revocation feed: 410 without a valid feed_gap');
    }
    if (first - 1 === this.after) {
      // Resuming where it says would loop on the same answer.
      throw new Error(`revocation feed: 410 for after=${this.after}, which it named itself`);
    }
    this.cutoff = Math.max(this.cutoff, since + cutoffMargin);
    this.since = g.since as string;
    this.after = first - 1;
    this.live = false; // catch up before trusting the set again
  }

  /** token returns the client-credentials token, fetching a new one when due. */
  private async token(): Promise<string> {
    if (this.tok !== '' && Date.now() < this.tokRenew) return this.tok;
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic
    // encodes them (RFC 7617); URLSearchParams encodes exactly so.
    const form = (s: string) => new URLSearchParams({ s }).toString().slice(2);
    const basic = Buffer.from(`${form(this.o.clientId)}:${form(this.o.clientSecret)}`).toString('base64');
    let res: Response;
    try {
      res = await this.o.fetch(this.tokenURL, {
        method: 'POST',
        headers: {
          Authorization: 'Basic ' + basic,
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'revocations' }).toString(),
        signal: AbortSignal.any([this.stop.signal, AbortSignal.timeout(fetchTimeout)]),
      });
    } catch (err) {
      throw new Error('client token: ' + message(err));
    }
    const body = await readJSON(res, 1 << 20).catch(() => undefined);
    if (res.status !== 200) {
      const e = isObject(body) && typeof body.error === 'string' ? ' ' + body.error : '';
      throw new Error(`client token: status ${res.status}${e}`);
    }
    const t = isObject(body) ? body : {};
    // RFC 6749 §7.1: the token type is case-insensitive.
    if (typeof t.access_token !== 'string' || t.access_token === '' || typeof t.token_type !== 'string' || t.token_type.toLowerCase() !== 'bearer') {
      throw new Error('client token: answer without a bearer access_token');
    }
    // Renewed at three quarters of its life; without expires_in, a minute.
    const life = typeof t.expires_in === 'number' && t.expires_in > 0 ? t.expires_in * 1000 : 60_000;
    this.tok = t.access_token;
    this.tokRenew = Date.now() + (life * 3) / 4;
    return this.tok;
  }
}
