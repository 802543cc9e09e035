// Test doubles: a small in-process Gatehouse (enough of CONTRACT §2 and §5
// for the client's lifecycle), a Web Storage, and a Web Locks manager (Node
// has no navigator.locks; Chromium's real one is exercised by the e2e
// tests). Tabs are simulated by several clients sharing one server (one
// cookie jar), one Storage and one lock manager; their BroadcastChannel is
// Node's real one.

export interface Session {
  sid: string;
  refresh: string;
  revoked: boolean;
  /** The session's level and methods (CONTRACT §8); aal1 and ["pwd"] when unset. */
  acr?: string;
  amr?: string[];
}

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}

export type RefreshFault = null | 'network' | 500 | 401 | 503;

export class FakeGatehouse {
  readonly origin = 'http://gatehouse.test';
  expiresIn = 60; // seconds
  sessions = new Map<string, Session>();
  /** Access tokens the server now answers token_expired for. */
  expired = new Set<string>();
  /** The browser's cookie jar, for the cookie transport. */
  cookie: string | null = null;
  refreshCalls = 0;
  logoutCalls = 0;
  meCalls = 0;
  refreshFaults: RefreshFault[] = [];
  refreshDelay = 0;
  /** Answer 401 token_expired to every protected request, even with a fresh token. */
  alwaysExpired = false;
  /** Code of a non-expiry 401 to answer on protected routes. */
  reject401: string | null = null;
  requests: { method: string; path: string; auth: string | null; credentials: RequestCredentials }[] = [];
  protected n = 0;

  // The one user, for the accounts-by-email routes (CONTRACT §7).
  password = 'correct horse battery staple';
  email = 'ada@example.com';
  name = 'Ada';
  emailVerified = false;
  /** Mails "sent": the token each carries, as the link's fragment would. */
  mails: { purpose: 'verify' | 'reset' | 'change'; to: string; token: string }[] = [];
  /** Tokens the server now answers email_token_expired for. */
  expiredMailTokens = new Set<string>();
  private mailTokens = new Map<string, { purpose: 'verify' | 'reset' | 'change'; email: string }>();

  user(): Record<string, unknown> {
    return { id: 'u1', email: this.email, name: this.name, created_at: '2026-01-01T00:00:00Z', email_verified: this.emailVerified };
  }

  private mail(purpose: 'verify' | 'reset' | 'change', to: string): void {
    const token = `mt-${purpose}-${++this.n}`;
    this.mailTokens.set(token, { purpose, email: to });
    this.mails.push({ purpose, to, token });
  }

  /** spend returns the token's record and kills it, or the problem to answer. */
  private spend(token: string | undefined, purpose: 'verify' | 'reset' | 'change'): { email: string } | Response {
    const t = token ? this.mailTokens.get(token) : undefined;
    if (!token || !t || t.purpose !== purpose) return problem(400, 'email_token_invalid');
    this.mailTokens.delete(token);
    if (this.expiredMailTokens.has(token)) return problem(400, 'email_token_expired');
    return t;
  }

  protected mint(sid: string): string {
    const header = b64url(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid: 'k1' }));
    const s = this.sessions.get(sid);
    const level = { acr: s?.acr ?? 'aal1', amr: s?.amr ?? ['pwd'] };
    const payload = b64url(JSON.stringify({ sub: 'u1', sid, jti: `j${++this.n}`, exp: Math.floor(Date.now() / 1000) + this.expiresIn, ...level }));
    return `${header}.${payload}.sig${this.n}`;
  }

  protected live = new Map<string, string>(); // access token -> sid

  expireAll(): void {
    for (const t of this.live.keys()) this.expired.add(t);
  }

  protected grant(s: Session, cookieMode: boolean, user: boolean): Response {
    s.refresh = `rt-${s.sid}-${++this.n}`;
    const access = this.mint(s.sid);
    this.live.set(access, s.sid);
    const body: Record<string, unknown> = { access_token: access, token_type: 'bearer', expires_in: this.expiresIn };
    if (cookieMode) this.cookie = s.refresh;
    else body.refresh_token = s.refresh;
    if (user) body.user = this.user();
    return json(200, body);
  }

  fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    const headers = req.headers;
    const path = url.pathname;
    this.requests.push({ method: req.method, path, auth: headers.get('Authorization'), credentials: req.credentials });
    const bodyText = req.method === 'GET' ? '' : await req.text();
    const body = bodyText ? (JSON.parse(bodyText) as Record<string, string>) : {};
    const cookieMode = headers.get('X-Refresh-Transport') === 'cookie';
    switch (`${req.method} ${path}`) {
      case 'POST /api/auth/register':
        return json(201, { id: 'u1', email: body.email, name: body.name ?? '', created_at: '2026-01-01T00:00:00Z' });
      case 'POST /api/auth/login': {
        if (body.email !== this.email || body.password !== this.password) return problem(401, 'invalid_credentials');
        const s: Session = { sid: `s${++this.n}`, refresh: '', revoked: false };
        this.sessions.set(s.sid, s);
        return this.grant(s, cookieMode, true);
      }
      case 'POST /api/auth/refresh': {
        this.refreshCalls++;
        // The browser attaches the cookie when it sends the request.
        const jar = this.cookie;
        if (this.refreshDelay) await new Promise((r) => setTimeout(r, this.refreshDelay));
        const fault = this.refreshFaults.shift() ?? null;
        if (fault === 'network') throw new TypeError('fetch failed');
        if (fault === 500 || fault === 503) return problem(fault, 'internal_error');
        let token = body.refresh_token;
        if (!token && jar) {
          if (headers.get('X-CSRF-Guard') !== '1') return problem(403, 'csrf_failed');
          token = jar;
        }
        if (fault === 401) return problem(401, 'refresh_token_expired');
        const s = [...this.sessions.values()].find((x) => x.refresh === token);
        if (!token || !s) return problem(401, 'refresh_token_invalid');
        if (s.revoked) return problem(401, 'session_revoked');
        return this.grant(s, cookieMode || !body.refresh_token, false);
      }
      case 'POST /api/auth/verify-email': {
        const t = this.spend(body.token, 'verify');
        if (t instanceof Response) return t;
        if (t.email === this.email) this.emailVerified = true;
        return json(200, this.user());
      }
      case 'POST /api/auth/password/forgot':
        if (!body.email?.includes('@')) return problem(422, 'validation_failed');
        if (body.email === this.email) this.mail('reset', this.email);
        return new Response(null, { status: 202 });
      case 'POST /api/auth/password/reset': {
        const t = this.spend(body.token, 'reset');
        if (t instanceof Response) return t;
        if ((body.new_password ?? '').length < 8) return problem(422, 'validation_failed');
        this.password = body.new_password!;
        for (const s of this.sessions.values()) s.revoked = true;
        return new Response(null, { status: 204 });
      }
      case 'POST /api/auth/email/confirm': {
        const t = this.spend(body.token, 'change');
        if (t instanceof Response) return t;
        this.email = t.email;
        this.emailVerified = true;
        return json(200, this.user());
      }
      case 'POST /api/auth/logout': {
        this.logoutCalls++;
        const token = body.refresh_token ?? (headers.get('X-CSRF-Guard') === '1' ? this.cookie : null);
        for (const s of this.sessions.values()) if (s.refresh === token) s.revoked = true;
        if (!body.refresh_token) this.cookie = null;
        return new Response(null, { status: 204 });
      }
    }
    // Protected routes.
    const auth = headers.get('Authorization');
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : null;
    if (!token) return problem(401, 'token_missing');
    if (this.reject401) return problem(401, this.reject401);
    const sid = this.live.get(token);
    if (!sid) return problem(401, 'token_invalid');
    if (this.alwaysExpired || this.expired.has(token)) return problem(401, 'token_expired');
    if (this.sessions.get(sid)?.revoked) return problem(401, 'session_revoked');
    switch (`${req.method} ${path}`) {
      case 'GET /api/users/me':
        this.meCalls++;
        return json(200, this.user());
      case 'PATCH /api/users/me': {
        // As the server: at most 100 characters, none of them a control character.
        const name = body.name;
        if (typeof name !== 'string' || [...name].length > 100 || /\p{Cc}/u.test(name)) {
          return problem(422, 'validation_failed', { errors: [{ field: 'name', message: 'must be at most 100 printable characters' }] });
        }
        this.name = name;
        return json(200, this.user());
      }
      case 'POST /api/auth/verify-email/send':
        if (this.emailVerified) return problem(409, 'already_verified');
        this.mail('verify', this.email);
        return new Response(null, { status: 202 });
      case 'POST /api/auth/email':
        if (body.current_password !== this.password) return problem(401, 'invalid_credentials');
        if (body.new_email === 'taken@example.com') return problem(409, 'email_taken');
        if (!body.new_email?.includes('@')) return problem(422, 'validation_failed');
        this.mail('change', body.new_email);
        return new Response(null, { status: 202 });
      case 'GET /api/posts':
        return json(200, { items: [], next_cursor: null });
      case 'POST /api/posts':
        return json(201, { id: 'p1', ...body });
      case 'POST /api/auth/logout-all':
        for (const s of this.sessions.values()) s.revoked = true;
        this.cookie = null;
        return new Response(null, { status: 204 });
    }
    return problem(404, 'not_found');
  };
}

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

export function problem(status: number, code: string, extra: Record<string, unknown> = {}): Response {
  return new Response(JSON.stringify({ type: `urn:gatehouse:problem:${code}`, title: 'x', status, detail: code, code, ...extra }), {
    status,
    headers: { 'Content-Type': 'application/problem+json' },
  });
}

export class MemoryStorage implements Storage {
  private m = new Map<string, string>();
  get length(): number {
    return this.m.size;
  }
  clear(): void {
    this.m.clear();
  }
  getItem(key: string): string | null {
    return this.m.get(key) ?? null;
  }
  key(i: number): string | null {
    return [...this.m.keys()][i] ?? null;
  }
  removeItem(key: string): void {
    this.m.delete(key);
  }
  setItem(key: string, value: string): void {
    this.m.set(key, String(value));
  }
}

/** FakeLocks grants one exclusive lock per name at a time, in request order, like navigator.locks. */
export class FakeLocks {
  private tails = new Map<string, Promise<unknown>>();
  held = 0;
  maxHeld = 0;
  request(name: string, callback: (lock: unknown) => Promise<unknown>): Promise<unknown> {
    const prev = this.tails.get(name) ?? Promise.resolve();
    const run = prev.then(async () => {
      this.held++;
      this.maxHeld = Math.max(this.maxHeld, this.held);
      try {
        return await callback({ name, mode: 'exclusive' });
      } finally {
        this.held--;
      }
    });
    this.tails.set(
      name,
      run.catch(() => undefined),
    );
    return run;
  }
}
