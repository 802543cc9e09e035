// A duplicated tab with the sessionStorage strategy (issue 16): the copy
// starts with the original's sessionStorage, refresh token included. It must
// share the original's session, not refresh with its copy of a token that
// the original rotates, and take over when the original closes.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAuthClient, type AuthClient, type AuthClientOptions } from '../src/index.js';
import { FakeGatehouse, FakeLocks, MemoryStorage } from './fakes.js';
import { until } from './helpers.js';

const PASSWORD = 'correct horse battery staple';
const clients: AuthClient[] = [];
let seq = 0;

afterEach(() => {
  for (const c of clients.splice(0)) c.dispose();
  vi.useRealTimers();
});

interface Browser {
  server: FakeGatehouse;
  locks: FakeLocks;
  key: string;
}

function browser(): Browser {
  return { server: new FakeGatehouse(), locks: new FakeLocks(), key: `dup${++seq}` };
}

function tab(b: Browser, session: MemoryStorage, extra: AuthClientOptions = {}): AuthClient {
  const c = createAuthClient({
    baseUrl: b.server.origin,
    storage: 'sessionStorage',
    fetch: b.server.fetch as typeof fetch,
    proactive: false,
    locks: b.locks,
    storageKey: b.key,
    webStorage: { local: new MemoryStorage(), session },
    visibility: null,
    ...extra,
  });
  clients.push(c);
  return c;
}

/** duplicate copies a tab's sessionStorage, as the browser does when a tab is duplicated. */
function duplicate(s: MemoryStorage): MemoryStorage {
  const copy = new MemoryStorage();
  for (let i = 0; i < s.length; i++) copy.setItem(s.key(i)!, s.getItem(s.key(i)!)!);
  return copy;
}

const tabKey = (b: Browser) => `${b.key}.tab`;

describe('a duplicated sessionStorage tab', () => {
  it('joins the original’s session at start-up, without a refresh call, and takes an id of its own', async () => {
    const b = browser();
    const s1 = new MemoryStorage();
    const original = tab(b, s1);
    await original.start();
    await original.login('ada@example.com', PASSWORD);
    const s2 = duplicate(s1);
    expect(s2.getItem(tabKey(b))).toBe(s1.getItem(tabKey(b)));
    const copy = tab(b, s2);
    await copy.start();
    expect(copy.getSnapshot()).toMatchObject({ status: 'authenticated', user: { email: 'ada@example.com' } });
    expect(copy.accessToken).toBe(original.accessToken);
    expect(b.server.refreshCalls).toBe(0);
    expect(s2.getItem(tabKey(b))).not.toBe(s1.getItem(tabKey(b)));
  });

  it('lets only one tab rotate the refresh token, however often both need a new one', async () => {
    const b = browser();
    const s1 = new MemoryStorage();
    const original = tab(b, s1);
    await original.login('ada@example.com', PASSWORD);
    const s2 = duplicate(s1);
    const copy = tab(b, s2);
    await copy.start();
    for (let round = 1; round <= 3; round++) {
      b.server.expireAll();
      const res = await Promise.all([original.fetch('/api/posts'), copy.fetch('/api/posts'), copy.fetch('/api/posts')]);
      expect(res.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(b.server.refreshCalls).toBe(round);
      expect(copy.accessToken).toBe(original.accessToken);
    }
    // The copy holds (and keeps in its storage) the refresh token the server now expects.
    const current = [...b.server.sessions.values()][0]!.refresh;
    expect(JSON.parse(s2.getItem(`${b.key}.tokens`)!).refreshToken).toBe(current);
    expect(original.getSnapshot().status).toBe('authenticated');
    expect(copy.getSnapshot().status).toBe('authenticated');
  });

  it('takes over when the original is gone, with the newest refresh token', async () => {
    const b = browser();
    const s1 = new MemoryStorage();
    const original = tab(b, s1);
    await original.login('ada@example.com', PASSWORD);
    const copy = tab(b, duplicate(s1));
    await copy.start();
    await original.refresh(); // rotated after the copy was made
    await until(() => copy.accessToken === original.accessToken, 'the copy to adopt the rotation');
    original.dispose(); // the tab closes: its Web Lock is released
    const refreshed = vi.fn();
    copy.on('refreshed', refreshed);
    b.server.expireAll();
    const res = await copy.fetch('/api/posts');
    expect(res.status).toBe(200);
    expect(b.server.refreshCalls).toBe(2);
    expect(refreshed).toHaveBeenCalledOnce();
    expect(copy.getSnapshot().status).toBe('authenticated');
  });

  it('runs the proactive timer in one tab only', async () => {
    vi.useFakeTimers();
    const b = browser();
    b.server.expiresIn = 60;
    const s1 = new MemoryStorage();
    const opts = { proactive: true, random: () => 0, refreshMargin: 10_000 };
    const original = tab(b, s1, opts);
    await original.login('ada@example.com', PASSWORD);
    const copy = tab(b, duplicate(s1), opts);
    const started = copy.start();
    await vi.advanceTimersByTimeAsync(300);
    await started;
    for (let i = 1; i <= 3; i++) {
      await vi.advanceTimersByTimeAsync(50_000);
      expect(b.server.refreshCalls).toBe(i);
      expect(copy.accessToken).toBe(original.accessToken);
    }
  });

  it('signs out with the original, and only the tabs of that session', async () => {
    const b = browser();
    const s1 = new MemoryStorage();
    const original = tab(b, s1);
    await original.login('ada@example.com', PASSWORD);
    const copy = tab(b, duplicate(s1));
    await copy.start();
    const stranger = tab(b, new MemoryStorage());
    await stranger.login('ada@example.com', PASSWORD); // a session of its own
    const out = vi.fn();
    copy.on('signedOut', out);
    await original.logout();
    await until(() => copy.getSnapshot().status === 'unauthenticated', 'the copy to sign out');
    expect(out).toHaveBeenCalledWith({ reason: 'remote' });
    expect(stranger.getSnapshot().status).toBe('authenticated');
  });

  it('tells the copy why a refresh failed, and both end the session', async () => {
    const b = browser();
    const s1 = new MemoryStorage();
    const original = tab(b, s1);
    await original.login('ada@example.com', PASSWORD);
    const copy = tab(b, duplicate(s1));
    await copy.start();
    const expired = vi.fn();
    copy.on('sessionExpired', expired);
    b.server.refreshFaults = [401];
    await expect(copy.refresh()).rejects.toMatchObject({ status: 401 });
    expect(b.server.refreshCalls).toBe(1);
    await until(() => original.getSnapshot().status === 'unauthenticated', 'the original to sign out');
    expect(copy.getSnapshot().status).toBe('unauthenticated');
    expect(expired).toHaveBeenCalledOnce();
  });

  it('without coordination (no channel, no locks) the copies would race: the second presents a retired token', async () => {
    // The failure this guards against, shown with coordination turned off.
    const b = browser();
    const s1 = new MemoryStorage();
    const original = tab(b, s1, { channel: null, locks: null });
    await original.login('ada@example.com', PASSWORD);
    const copy = tab(b, duplicate(s1), { channel: null, locks: null });
    await copy.start();
    await original.refresh();
    await expect(copy.refresh()).rejects.toMatchObject({ code: 'refresh_token_invalid' });
  });
});
