import type { AuthError } from './errors.js';
import type { Tokens, VisibilitySource } from './types.js';

/** ScheduleOptions are the timing settings of {@link Schedule}, from the client's options. */
export interface ScheduleOptions {
  margin: number;
  proactive: boolean;
  backoffInitial: number;
  backoffMax: number;
  now: () => number;
  random: () => number;
  visibility: VisibilitySource | null;
}

/**
 * Schedule owns the timers: the proactive refresh before `exp`, the retry
 * after a transient failure (exponential backoff with jitter), and the
 * catch-up when a hidden tab becomes visible. It decides when; the
 * `refresh` callback does the work.
 */
export class Schedule {
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryAttempt = 0;
  /** The transient failure being backed off from, while a retry is scheduled. */
  private failure: AuthError | null = null;
  private stopped = false;
  private readonly onVisible = () => this.handleVisible();

  constructor(
    private readonly o: ScheduleOptions,
    /** refresh refreshes from t; its errors are the caller's to report. */
    private readonly refresh: (t: Tokens) => void,
    /** current returns the tokens held now, and whether this tab refreshes them on its own timer. */
    private readonly current: () => { tokens: Tokens | null; proactive: boolean },
  ) {
    o.visibility?.addEventListener('visibilitychange', this.onVisible);
  }

  needsRefresh(t: Tokens): boolean {
    return this.o.now() >= this.refreshAt(t);
  }

  private refreshAt(t: Tokens): number {
    const life = Math.max(0, t.expiresAt - t.issuedAt);
    return t.expiresAt - Math.min(this.o.margin, life / 4);
  }

  /** arm sets the proactive timer for tokens (or clears it, for null or a tab that does not refresh on its own). */
  arm(tokens: Tokens | null, own = true): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    if (!tokens || !own || !this.o.proactive || this.stopped) return;
    // A little jitter spreads the tabs' timers, so that usually the first
    // tab's result reaches the others before their own timers fire.
    const spread = Math.min(this.o.margin, (tokens.expiresAt - tokens.issuedAt) / 4) * 0.5 * this.o.random();
    const delay = Math.max(0, this.refreshAt(tokens) - spread - this.o.now());
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      if (this.current().tokens === tokens) this.refresh(tokens);
    }, delay);
  }

  /** backingOff returns the failure being backed off from, while a retry is pending. */
  get backingOff(): AuthError | null {
    return this.retryTimer ? this.failure : null;
  }

  /** failed records a transient failure and schedules the next retry, if none is. */
  failed(err: AuthError): void {
    this.failure = err;
    if (this.retryTimer || this.stopped) return;
    const delay = this.backoffDelay(this.retryAttempt++, err);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      const t = this.current().tokens;
      if (t) this.refresh(t);
    }, delay);
  }

  /** succeeded ends any backoff. */
  succeeded(): void {
    this.retryAttempt = 0;
    this.failure = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** backoffDelay is the wait before attempt (0-based): doubling, capped, jittered, and at least Retry-After. */
  backoffDelay(attempt: number, err: AuthError | null): number {
    const base = Math.min(this.o.backoffMax, this.o.backoffInitial * 2 ** Math.min(attempt, 20));
    const jittered = base * (0.5 + this.o.random() * 0.5);
    return Math.max(jittered, (err?.retryAfter ?? 0) * 1000);
  }

  /** clear stops every timer and forgets the backoff. */
  clear(): void {
    this.arm(null);
    this.succeeded();
  }

  stop(): void {
    this.stopped = true;
    this.clear();
    this.o.visibility?.removeEventListener('visibilitychange', this.onVisible);
  }

  private handleVisible(): void {
    if (this.o.visibility?.visibilityState !== 'visible' || !this.o.proactive) return;
    // Timers of hidden tabs are throttled: catch up now.
    const { tokens, proactive } = this.current();
    if (!tokens) return;
    if (this.needsRefresh(tokens)) this.refresh(tokens);
    else this.arm(tokens, proactive);
  }
}
