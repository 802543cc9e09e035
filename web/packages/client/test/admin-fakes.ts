// The operators' routes of CONTRACT §9 on top of FakeMfaGatehouse: the
// admin API over a handful of users, the audit log and the caller's own
// events. The signed-in user (u1, ada) is an admin unless `role` says
// otherwise; with a second factor on, an aal1 session gets the step-up
// answer, as on the server. The real rules (the last-admin guard across
// stores, revocation within a second) are the Go tests' and the e2e's.
import { json, problem } from './fakes.js';
import { FakeMfaGatehouse } from './mfa-fakes.js';

export interface FakeUser {
  id: string;
  email: string;
  name: string;
  created_at: string;
  email_verified: boolean;
  role: 'user' | 'admin';
  disabled: boolean;
  last_login_at: string | null;
  mfa: { totp: boolean; passkeys: number };
  sessions: number;
}

export interface FakeEvent {
  id: string;
  type: string;
  at: string;
  user_id: string | null;
  session_id: string | null;
  actor_id: string | null;
  ip: string;
  user_agent: string;
  detail: Record<string, string>;
}

export class FakeAdminGatehouse extends FakeMfaGatehouse {
  role: 'user' | 'admin' = 'admin';
  /** The other users, by id, in the order they list. */
  others = new Map<string, FakeUser>();
  events: FakeEvent[] = [];
  /** The paths of the admin and events requests, with their query strings. */
  adminRequests: string[] = [];

  constructor() {
    super();
    for (let i = 1; i <= 5; i++) this.addUser(`user${i}@example.com`, `User ${i}`);
    for (let i = 0; i < 3; i++) this.event('login.succeeded', 'u1');
    this.event('user.registered', 'u2');
    const base = this.fetch;
    this.fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
      const req = new Request(input, init);
      const url = new URL(req.url);
      if (!url.pathname.startsWith('/api/admin/') && url.pathname !== '/api/auth/events') return base(input, init);
      this.adminRequests.push(`${req.method} ${url.pathname}${url.search}`);
      const auth = req.headers.get('Authorization');
      const sid = auth?.startsWith('Bearer ') ? this.live.get(auth.slice(7)) : undefined;
      const s = sid ? this.sessions.get(sid) : undefined;
      if (!s || s.revoked) return problem(401, 'token_invalid');
      const body = req.method === 'PATCH' ? ((await req.json()) as Record<string, unknown>) : {};
      if (url.pathname === '/api/auth/events') return this.page(this.events.filter((e) => e.user_id === 'u1'), url);
      if (this.role !== 'admin') return problem(403, 'forbidden');
      if (this.hasFactor() && s.acr !== 'aal2') {
        return new Response(JSON.stringify({ status: 403, code: 'insufficient_user_authentication', detail: 'a second factor is needed' }), {
          status: 403,
          headers: { 'Content-Type': 'application/problem+json', 'WWW-Authenticate': 'Bearer error="insufficient_user_authentication", acr_values="aal2"' },
        });
      }
      return this.admin(req.method, url, body);
    };
  }

  addUser(email: string, name: string): FakeUser {
    const u: FakeUser = {
      id: `u${this.others.size + 2}`,
      email,
      name,
      created_at: '2026-01-02T00:00:00Z',
      email_verified: true,
      role: 'user',
      disabled: false,
      last_login_at: null,
      mfa: { totp: false, passkeys: 0 },
      sessions: 1,
    };
    this.others.set(u.id, u);
    return u;
  }

  event(type: string, userId: string, detail: Record<string, string> = {}): void {
    const at = new Date(Date.UTC(2026, 0, 1, 0, 0, this.events.length)).toISOString();
    this.events.unshift({ id: `e${this.events.length + 1}`, type, at, user_id: userId, session_id: null, actor_id: null, ip: '192.0.2.1', user_agent: 'Test', detail });
  }

  override user(): Record<string, unknown> {
    return { ...super.user(), role: this.role };
  }

  /** me is the signed-in user as the admin API shows it. */
  private me(): FakeUser {
    return { ...(this.user() as unknown as FakeUser), role: this.role, disabled: false, last_login_at: null, mfa: { totp: this.totp, passkeys: 0 }, sessions: 1 };
  }

  private all(): FakeUser[] {
    return [this.me(), ...this.others.values()];
  }

  private page<T>(items: T[], url: URL): Response {
    const limit = Number(url.searchParams.get('limit') ?? 50);
    const from = Number(url.searchParams.get('cursor') ?? 0);
    const slice = items.slice(from, from + limit);
    return json(200, { items: slice, next_cursor: from + limit < items.length ? String(from + limit) : null });
  }

  private admin(method: string, url: URL, body: Record<string, unknown>): Response {
    const parts = url.pathname.split('/').slice(3); // users, {id}, sessions…
    if (parts[0] === 'events' && method === 'GET') {
      const uid = url.searchParams.get('user_id');
      const type = url.searchParams.get('type');
      return this.page(
        this.events.filter((e) => (!uid || e.user_id === uid) && (!type || e.type === type)),
        url,
      );
    }
    if (parts[0] !== 'users') return problem(404, 'not_found');
    if (parts.length === 1 && method === 'GET') {
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      return this.page(
        this.all().filter((u) => u.email.toLowerCase().includes(q) || u.name.toLowerCase().includes(q)),
        url,
      );
    }
    const id = decodeURIComponent(parts[1] ?? '');
    if (id === 'u1') return method === 'GET' && parts.length === 2 ? json(200, this.me()) : this.selfChange(method, parts, body);
    const u = this.others.get(id);
    if (!u) return problem(404, 'not_found');
    switch (`${method} ${parts.slice(2).join('/')}`) {
      case 'GET ':
        return json(200, u);
      case 'PATCH ':
        if (typeof body.email === 'string' && [...this.others.values()].some((o) => o !== u && o.email === body.email)) return problem(409, 'email_taken');
        if (body.name !== undefined && typeof body.name !== 'string') {
          return problem(422, 'validation_failed', { errors: [{ field: 'name', message: 'must be a string' }] });
        }
        Object.assign(u, body);
        if (body.disabled === true) u.sessions = 0;
        return json(200, u);
      case 'DELETE ':
        this.others.delete(id);
        return new Response(null, { status: 204 });
      case 'GET sessions':
        return json(
          200,
          Array.from({ length: u.sessions }, (_, i) => ({
            id: `${id}-s${i}`,
            created_at: u.created_at,
            last_used_at: u.created_at,
            expires_at: '2026-02-01T00:00:00Z',
            user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0',
            ip: '192.0.2.9',
            current: false,
          })),
        );
      case 'POST logout':
        u.sessions = 0;
        return new Response(null, { status: 204 });
      case 'DELETE mfa':
        u.mfa = { totp: false, passkeys: 0 };
        return new Response(null, { status: 204 });
    }
    return problem(404, 'not_found');
  }

  /** selfChange is the one admin changing their own account: the last admin cannot stop being one. */
  private selfChange(method: string, parts: string[], body: Record<string, unknown>): Response {
    const lastAdmin = ![...this.others.values()].some((o) => o.role === 'admin' && !o.disabled);
    if (method === 'PATCH' && parts.length === 2) {
      if (lastAdmin && (body.role === 'user' || body.disabled === true)) return problem(409, 'last_admin');
      if (body.role === 'user') this.role = 'user';
      return json(200, this.me());
    }
    return problem(404, 'not_found');
  }
}
