import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthClient, createAuthClient, type AuthClientOptions, type StorageStrategy } from '../src/index.js';
import { FakeGatehouse, FakeLocks, MemoryStorage } from './fakes.js';
import { until } from './helpers.js';

const PASSWORD = 'correct horse battery staple';
const clients: AuthClient[] = [];
let channelSeq = 0;

afterEach(() => {
  for (const c of clients.splice(0)) c.dispose();
  vi.useRealTimers();
});

interface Browser {
  server: FakeGatehouse;
  local: MemoryStorage;
  locks: FakeLocks;
  key: string;
}

function browser(): Browser {
  return { server: new FakeGatehouse(), local: new MemoryStorage(), locks: new FakeLocks(), key: `gh${++channelSeq}` };
}

/** tab opens one client in the browser b, as one tab would. */
function tab(b: Browser, storage: StorageStrategy, extra: AuthClientOptions = {}): AuthClient {
  const c = createAuthClient({
    baseUrl: b.server.origin,
    storage,
    fetch: b.server.fetch as typeof fetch,
    proactive: false,
    locks: b.locks,
    storageKey: b.key,
    webStorage: { local: b.local, session: new MemoryStorage() },
    visibility: null,
    ...extra,
  });
  clients.push(c);
  return c;
}

describe('within one tab', () => {
  it('makes one refresh call for many concurrent expired requests, and replays each once', async () => {
    const b = browser();
    // memory: no cross-tab lock, so only the in-tab single flight can keep it to one call.
    const c = tab(b, 'memory');
    await c.login('ada@example.com', PASSWORD);
    const before = c.accessToken;
    b.server.expireAll();
    b.server.refreshDelay = 20;
    const results = await Promise.all(Array.from({ length: 5 }, () => c.fetch('/api/posts')));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(b.server.refreshCalls).toBe(1);
    expect(c.accessToken).not.toBe(before);
    // Each request went out twice: once expired, once replayed.
    expect(b.server.requests.filter((r) => r.path === '/api/posts')).toHaveLength(10);
  });

  it('replays only once: a second token_expired is returned, not refreshed again', async () => {
    const b = browser();
    const c = tab(b, 'memory');
    await c.login('ada@example.com', PASSWORD);
    b.server.alwaysExpired = true;
    const res = await c.fetch('/api/posts');
    expect(res.status).toBe(401);
    expect(b.server.refreshCalls).toBe(1);
    expect(b.server.requests.filter((r) => r.path === '/api/posts')).toHaveLength(2);
    expect(c.getSnapshot().status).toBe('authenticated');
  });

  it.each(['token_invalid', 'token_missing', 'forbidden'])('never refreshes on a %s 401', async (code) => {
    const b = browser();
    const c = tab(b, 'localStorage');
    await c.login('ada@example.com', PASSWORD);
    b.server.reject401 = code;
    for (let i = 0; i < 3; i++) expect((await c.fetch('/api/posts')).status).toBe(401);
    expect(b.server.refreshCalls).toBe(0);
    expect(b.server.requests.filter((r) => r.path === '/api/posts')).toHaveLength(3);
  });

  it('ends the session on session_revoked without trying a refresh', async () => {
    const b = browser();
    const c = tab(b, 'localStorage');
    await c.login('ada@example.com', PASSWORD);
    const expired = vi.fn();
    c.on('sessionExpired', expired);
    b.server.reject401 = 'session_revoked';
    expect((await c.fetch('/api/posts')).status).toBe(401);
    expect(b.server.refreshCalls).toBe(0);
    expect(expired).toHaveBeenCalledOnce();
    expect(c.getSnapshot().status).toBe('unauthenticated');
  });

  it('replays with the current token, without refreshing, when the request carried an older one', async () => {
    const b = browser();
    const c = tab(b, 'memory');
    await c.login('ada@example.com', PASSWORD);
    const old = c.accessToken!;
    await c.refresh();
    expect(b.server.refreshCalls).toBe(1);
    b.server.expired.add(old);
    expect(await c.handleUnauthorized(old, 'token_expired')).toBe(c.accessToken);
    expect(b.server.refreshCalls).toBe(1);
  });

  it('clears everything and emits sessionExpired and signedOut when the refresh is refused with 401', async () => {
    const b = browser();
    const c = tab(b, 'localStorage');
    await c.login('ada@example.com', PASSWORD);
    const events: string[] = [];
    c.on('sessionExpired', () => events.push('sessionExpired'));
    c.on('signedOut', (d) => events.push(`signedOut:${d.reason}`));
    b.server.expireAll();
    b.server.refreshFaults = [401];
    const res = await c.fetch('/api/posts');
    expect(res.status).toBe(401);
    expect(events).toEqual(['sessionExpired', 'signedOut:expired']);
    expect(c.getSnapshot()).toMatchObject({ status: 'unauthenticated', user: null });
    expect(c.accessToken).toBeNull();
    expect(b.local.getItem(`${b.key}.tokens`)).toBeNull();
    // Nothing left to refresh with: no loop.
    expect((await c.fetch('/api/posts')).status).toBe(401);
    expect(b.server.refreshCalls).toBe(1);
  });

  it('keeps the session on a network error or 5xx and retries with exponential backoff', async () => {
    vi.useFakeTimers();
    const b = browser();
    const c = tab(b, 'localStorage', { random: () => 1, backoff: { initial: 1000, max: 30_000 } });
    await c.login('ada@example.com', PASSWORD);
    const token = c.accessToken;
    b.server.expireAll();
    b.server.refreshFaults = ['network', 503, 500];
    await expect(c.fetch('/api/posts')).rejects.toMatchObject({ code: 'network_error', transient: true });
    expect(b.server.refreshCalls).toBe(1);
    expect(c.getSnapshot().status).toBe('authenticated');
    expect(c.getSnapshot().error?.code).toBe('network_error');
    expect(c.accessToken).toBe(token);
    // Requests made while backing off fail fast; they do not each refresh.
    await expect(c.fetch('/api/posts')).rejects.toMatchObject({ code: 'network_error' });
    await expect(c.fetch('/api/users/me')).rejects.toMatchObject({ code: 'network_error' });
    expect(b.server.refreshCalls).toBe(1);
    // 1 s, then 2 s, then 4 s.
    await vi.advanceTimersByTimeAsync(999);
    expect(b.server.refreshCalls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(b.server.refreshCalls).toBe(2);
    await vi.advanceTimersByTimeAsync(1999);
    expect(b.server.refreshCalls).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(b.server.refreshCalls).toBe(3);
    await vi.advanceTimersByTimeAsync(3999);
    expect(b.server.refreshCalls).toBe(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(b.server.refreshCalls).toBe(4);
    // The fourth attempt succeeded: new token, no error, no more retries.
    expect(c.accessToken).not.toBe(token);
    expect(c.getSnapshot()).toMatchObject({ status: 'authenticated', error: null });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(b.server.refreshCalls).toBe(4);
  });

  it('refreshes proactively shortly before exp, without any 401', async () => {
    vi.useFakeTimers();
    const b = browser();
    b.server.expiresIn = 60;
    const c = tab(b, 'memory', { proactive: true, random: () => 0, refreshMargin: 10_000 });
    const refreshed = vi.fn();
    c.on('refreshed', refreshed);
    await c.login('ada@example.com', PASSWORD);
    await vi.advanceTimersByTimeAsync(49_999);
    expect(b.server.refreshCalls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(b.server.refreshCalls).toBe(1);
    expect(refreshed).toHaveBeenCalledOnce();
    expect(b.server.requests.some((r) => r.path !== '/api/auth/login' && r.path !== '/api/auth/refresh')).toBe(false);
  });

  it('refreshes when a hidden tab becomes visible after the token went stale', async () => {
    vi.useFakeTimers();
    const b = browser();
    const listeners: (() => void)[] = [];
    const doc = {
      visibilityState: 'hidden',
      addEventListener: (_: string, l: () => void) => listeners.push(l),
      removeEventListener: () => undefined,
    };
    const c = tab(b, 'memory', { proactive: true, visibility: doc, refreshMargin: 10_000 });
    await c.login('ada@example.com', PASSWORD);
    vi.setSystemTime(Date.now() + 55_000); // timers of a hidden tab may not have run
    doc.visibilityState = 'visible';
    for (const l of listeners) l();
    await vi.advanceTimersByTimeAsync(0);
    expect(b.server.refreshCalls).toBe(1);
  });

  it('sends the bearer token only to the API origin', async () => {
    const b = browser();
    const seen: (string | null)[] = [];
    const c = tab(b, 'memory', {
      fetch: ((input: RequestInfo | URL, init?: RequestInit) => {
        const url = input instanceof Request ? input.url : String(input);
        if (url.startsWith('https://elsewhere.example')) {
          seen.push(new Headers(init?.headers).get('Authorization'));
          return Promise.resolve(new Response('{}', { status: 200 }));
        }
        return b.server.fetch(input, init);
      }) as typeof fetch,
    });
    await c.login('ada@example.com', PASSWORD);
    await c.fetch('https://elsewhere.example/data');
    await c.fetch('//elsewhere.example/data').catch(() => undefined);
    expect(seen).toEqual([null]);
    await c.fetch(`${b.server.origin}/api/posts`);
    expect(b.server.requests.at(-1)?.auth).toMatch(/^Bearer /);
  });
});

describe('start-up validation', () => {
  it('validates stored tokens with GET /api/users/me before reporting authenticated', async () => {
    const b = browser();
    const first = tab(b, 'localStorage');
    await first.login('ada@example.com', PASSWORD);
    first.dispose();
    const c = tab(b, 'localStorage');
    expect(c.getSnapshot().status).toBe('loading');
    await c.start();
    expect(c.getSnapshot()).toMatchObject({ status: 'authenticated', user: { email: 'ada@example.com' } });
    expect(b.server.meCalls).toBe(1);
  });

  it('refreshes an expired stored token at start-up, and signs out when that fails', async () => {
    const b = browser();
    const first = tab(b, 'localStorage');
    await first.login('ada@example.com', PASSWORD);
    first.dispose();
    b.server.expireAll();
    const ok = tab(b, 'localStorage');
    await ok.start();
    expect(ok.getSnapshot().status).toBe('authenticated');
    expect(b.server.refreshCalls).toBe(1);
    ok.dispose();
    for (const s of b.server.sessions.values()) s.revoked = true; // e.g. logout everywhere elsewhere
    const gone = tab(b, 'localStorage');
    await gone.start();
    expect(gone.getSnapshot().status).toBe('unauthenticated');
    expect(b.local.getItem(`${b.key}.tokens`)).toBeNull();
  });

  it('is unauthenticated in cookie mode when the server has no session, without emitting sessionExpired', async () => {
    const b = browser();
    const c = tab(b, 'cookie');
    const expired = vi.fn();
    c.on('sessionExpired', expired);
    await c.start();
    expect(c.getSnapshot().status).toBe('unauthenticated');
    expect(expired).not.toHaveBeenCalled();
  });

  it('sends no start-up refresh in cookie mode while this browser has no sign of a session', async () => {
    const b = browser();
    const first = tab(b, 'cookie');
    await first.start();
    expect(first.getSnapshot().status).toBe('unauthenticated');
    expect(b.server.refreshCalls).toBe(0);

    // Signed in: the marker tells the next page load to try the cookie.
    await first.login('ada@example.com', PASSWORD);
    first.dispose();
    const second = tab(b, 'cookie');
    await second.start();
    expect(second.getSnapshot().status).toBe('authenticated');
    expect(b.server.refreshCalls).toBe(1);

    // Signed out: the marker is gone, and with it the start-up refresh.
    await second.logout();
    second.dispose();
    const third = tab(b, 'cookie');
    await third.start();
    expect(third.getSnapshot().status).toBe('unauthenticated');
    expect(b.server.refreshCalls).toBe(1);
  });

  it('asks the server at start-up in cookie mode without a marker when sessionHint is false', async () => {
    const b = browser();
    const c = tab(b, 'cookie', { sessionHint: false });
    await c.start();
    expect(c.getSnapshot().status).toBe('unauthenticated');
    expect(b.server.refreshCalls).toBe(1);
  });

  it('lets a login made while start-up is still checking win over start-up finding no session', async () => {
    const b = browser();
    const c = tab(b, 'cookie', { sessionHint: false });
    b.server.refreshDelay = 50; // start-up's refresh (no cookie yet) is slow
    const started = c.start();
    await until(() => b.server.refreshCalls === 1, 'start-up to send its refresh');
    await c.login('ada@example.com', PASSWORD);
    await started;
    expect(b.server.refreshCalls).toBe(1);
    expect(c.getSnapshot().status).toBe('authenticated');
    expect(c.accessToken).not.toBeNull();
    expect((await c.fetch('/api/users/me')).status).toBe(200);
  });

  it('keeps trying while the server is unreachable, showing the error', async () => {
    vi.useFakeTimers();
    const b = browser();
    const first = tab(b, 'localStorage');
    await first.login('ada@example.com', PASSWORD);
    first.dispose();
    b.server.expireAll();
    b.server.refreshFaults = ['network', 'network'];
    const c = tab(b, 'localStorage', { random: () => 1 });
    const done = c.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(c.getSnapshot()).toMatchObject({ status: 'loading', error: { code: 'network_error' } });
    await vi.advanceTimersByTimeAsync(5000);
    await done;
    expect(c.getSnapshot()).toMatchObject({ status: 'authenticated', error: null });
  });
});

describe.each(['cookie', 'localStorage'] as const)('across tabs (%s)', (storage) => {
  it('makes one refresh call for three tabs at expiry, and all adopt its result', async () => {
    const b = browser();
    const [a, bTab, c] = [tab(b, storage), tab(b, storage), tab(b, storage)];
    await a.login('ada@example.com', PASSWORD);
    await Promise.all([bTab.start(), c.start()]);
    for (const t of [bTab, c]) expect(t.getSnapshot().status).toBe('authenticated');
    expect(b.server.refreshCalls).toBe(0); // the new tabs got the token from the first one
    b.server.expireAll();
    b.server.refreshDelay = 30;
    const res = await Promise.all([a, bTab, c].map((t) => t.fetch('/api/posts')));
    expect(res.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(b.server.refreshCalls).toBe(1);
    expect(new Set([a.accessToken, bTab.accessToken, c.accessToken]).size).toBe(1);
    expect(b.locks.maxHeld).toBe(1);
  });

  it('signs every tab out when one logs out', async () => {
    const b = browser();
    const [a, other] = [tab(b, storage), tab(b, storage)];
    await a.login('ada@example.com', PASSWORD);
    await other.start();
    const signedOut = vi.fn();
    other.on('signedOut', signedOut);
    await a.logout();
    expect(b.server.logoutCalls).toBe(1);
    await until(() => other.getSnapshot().status === 'unauthenticated', 'the other tab to sign out');
    expect(signedOut).toHaveBeenCalledWith({ reason: 'remote' });
    expect(other.accessToken).toBeNull();
  });

  it('signs the other tabs in after a login in one', async () => {
    const b = browser();
    const other = tab(b, storage);
    await other.start();
    expect(other.getSnapshot().status).toBe('unauthenticated');
    const a = tab(b, storage);
    await a.login('ada@example.com', PASSWORD);
    await until(() => other.getSnapshot().status === 'authenticated', 'the other tab to sign in');
    expect(other.accessToken).toBe(a.accessToken);
  });

  it('tells every tab when the session expired', async () => {
    const b = browser();
    const [a, other] = [tab(b, storage), tab(b, storage)];
    await a.login('ada@example.com', PASSWORD);
    await other.start();
    const expired = vi.fn();
    other.on('sessionExpired', expired);
    b.server.refreshFaults = [401];
    await expect(a.refresh()).rejects.toMatchObject({ status: 401 });
    await until(() => expired.mock.calls.length === 1, 'sessionExpired in the other tab');
    expect(other.getSnapshot().status).toBe('unauthenticated');
  });
});

describe('cookie transport', () => {
  it('never sees the refresh token, and sends the CSRF guard with refresh and logout', async () => {
    const b = browser();
    const sent: { path: string; headers: Headers; body: string; credentials?: RequestCredentials }[] = [];
    const c = tab(b, 'cookie', {
      fetch: (async (input: RequestInfo | URL, init: RequestInit = {}) => {
        sent.push({ path: new URL(String(input)).pathname, headers: new Headers(init.headers), body: String(init.body ?? ''), credentials: init.credentials });
        return b.server.fetch(input, init);
      }) as typeof fetch,
    });
    await c.login('ada@example.com', PASSWORD);
    await c.refresh();
    await c.logout();
    const [login, refresh, logout] = sent;
    expect(login?.headers.get('X-Refresh-Transport')).toBe('cookie');
    for (const r of [refresh, logout]) {
      expect(r?.headers.get('X-CSRF-Guard')).toBe('1');
      expect(r?.body).not.toContain('refresh_token');
      expect(r?.credentials).toBe('include');
    }
    expect(JSON.stringify(b.local)).not.toContain('rt-');
    for (let i = 0; i < b.local.length; i++) expect(b.local.getItem(b.local.key(i)!)).not.toContain('rt-');
    expect(b.server.cookie).toBeNull();
  });
});
