import { describe, expect, it } from 'vitest';
import { AuthClient, createAuthClient, type StorageStrategy } from '../src/index.js';
import { cookieStorage, createTokenStorage, localTokenStorage, memoryStorage, sessionTokenStorage, type TokenStorage } from '../src/storage.js';
import type { Tokens } from '../src/types.js';
import { FakeGatehouse, FakeLocks, MemoryStorage } from './fakes.js';

const PASSWORD = 'correct horse battery staple';

function tokens(over: Partial<Tokens> = {}): Tokens {
  return { accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: 2_000_000, issuedAt: 1_000_000, sid: 's1', ...over };
}

/** dump returns every value of a Storage, to look for tokens in it. */
function dump(s: Storage): string {
  const out: string[] = [];
  for (let i = 0; i < s.length; i++) out.push(`${s.key(i)}=${s.getItem(s.key(i)!)}`);
  return out.join('\n');
}

describe('TokenStorage strategies', () => {
  it('cookie: keeps no token in web storage, only a marker of the newest expiry', () => {
    const local = new MemoryStorage();
    const s = cookieStorage(local, 'k');
    expect(s).toMatchObject({ strategy: 'cookie', sharing: 'origin', cookieTransport: true });
    s.save(tokens({ refreshToken: null }));
    expect(dump(local)).not.toContain('at-1');
    expect(s.load()).toBeNull();
    expect(s.refreshToken(tokens())).toBeNull();
    expect(s.shareable(tokens()).refreshToken).toBeNull();
    expect(s.adopt(tokens()).refreshToken).toBeNull();
    // A tab holding older tokens of the same session learns that a newer pair exists.
    expect(s.newer(tokens({ expiresAt: 1_500_000 }))).toEqual({ kind: 'pending' });
    expect(s.newer(tokens())).toEqual({ kind: 'none' });
    expect(s.newer(tokens({ sid: 'other', expiresAt: 1 }))).toEqual({ kind: 'none' });
    s.save(null);
    expect(local.length).toBe(0);
  });

  it('localStorage: is the truth every tab reads, and never puts the refresh token on the channel', () => {
    const local = new MemoryStorage();
    const s = localTokenStorage(local, 'k');
    expect(s).toMatchObject({ strategy: 'localStorage', sharing: 'origin', cookieTransport: false });
    expect(s.load()).toBeNull();
    s.save(tokens());
    expect(s.load()).toEqual(tokens());
    // Another tab rotated the pair: the stored refresh token wins over the one held.
    local.setItem('k.tokens', JSON.stringify(tokens({ accessToken: 'at-2', refreshToken: 'rt-2' })));
    expect(s.refreshToken(tokens())).toBe('rt-2');
    expect(s.shareable(tokens()).refreshToken).toBeNull();
    expect(s.adopt(tokens({ accessToken: 'at-2', refreshToken: null })).refreshToken).toBe('rt-2');
    expect(s.newer(tokens())).toEqual({ kind: 'tokens', tokens: tokens({ accessToken: 'at-2', refreshToken: 'rt-2' }) });
    expect(s.newer(tokens({ accessToken: 'at-2' }))).toEqual({ kind: 'none' });
    s.save(null);
    expect(s.newer(tokens())).toEqual({ kind: 'signedOut' });
    expect(s.newer(null)).toEqual({ kind: 'none' });
  });

  it('sessionStorage: per tab, shares the refresh token with its duplicates, and keeps a tab id', () => {
    const session = new MemoryStorage();
    const s = sessionTokenStorage(session, 'k');
    expect(s).toMatchObject({ strategy: 'sessionStorage', sharing: 'session', cookieTransport: false });
    s.save(tokens());
    expect(s.load()).toEqual(tokens());
    expect(s.refreshToken(tokens({ refreshToken: 'rt-held' }))).toBe('rt-held');
    expect(s.shareable(tokens()).refreshToken).toBe('rt-1');
    // What a duplicate adopts is also saved, so that a reload of it starts from the newest pair.
    s.adopt(tokens({ accessToken: 'at-3', refreshToken: 'rt-3' }));
    expect(s.load()?.refreshToken).toBe('rt-3');
    expect(s.newer(tokens())).toEqual({ kind: 'none' });
    expect(s.tabId?.read()).toBeNull();
    s.tabId?.write('tab-1');
    expect(session.getItem('k.tab')).toBe('tab-1');
    s.save(null);
    expect(s.load()).toBeNull();
  });

  it('memory: keeps nothing', () => {
    const s = memoryStorage();
    expect(s).toMatchObject({ strategy: 'memory', sharing: 'none', cookieTransport: false });
    s.save(tokens());
    expect(s.load()).toBeNull();
    expect(s.refreshToken(tokens())).toBe('rt-1');
    expect(s.newer(tokens())).toEqual({ kind: 'none' });
  });

  it('survives a Web Storage that throws (disabled, quota, privacy mode)', () => {
    const broken = new MemoryStorage();
    broken.setItem = () => {
      throw new DOMException('quota', 'QuotaExceededError');
    };
    broken.getItem = () => {
      throw new DOMException('denied', 'SecurityError');
    };
    for (const s of [cookieStorage(broken, 'k'), localTokenStorage(broken, 'k'), sessionTokenStorage(broken, 'k')] as TokenStorage[]) {
      expect(() => s.save(tokens())).not.toThrow();
      expect(s.load()).toBeNull();
    }
  });

  it('refuses an unknown strategy', () => {
    expect(() => createTokenStorage('indexedDB' as StorageStrategy, 'k')).toThrow(TypeError);
  });
});

describe.each(['cookie', 'localStorage', 'sessionStorage', 'memory'] as const)('the client with %s', (storage) => {
  function open(server: FakeGatehouse, local: Storage, session: Storage): AuthClient {
    return createAuthClient({
      baseUrl: server.origin,
      storage,
      fetch: server.fetch as typeof fetch,
      proactive: false,
      locks: new FakeLocks(),
      channel: null,
      storageKey: 'st',
      webStorage: { local, session },
      visibility: null,
    });
  }

  it('keeps the tokens where the strategy says, and finds them again after a reload', async () => {
    const server = new FakeGatehouse();
    const [local, session] = [new MemoryStorage(), new MemoryStorage()];
    const c = open(server, local, session);
    await c.login('ada@example.com', PASSWORD);
    const refresh = [...server.sessions.values()][0]!.refresh;
    const where = { local: dump(local).includes(refresh), session: dump(session).includes(refresh) };
    expect(where).toEqual({ local: storage === 'localStorage', session: storage === 'sessionStorage' });
    // The cookie transport: the refresh token is only in the (fake) cookie jar.
    expect(server.cookie !== null).toBe(storage === 'cookie');
    c.dispose();

    const reloaded = open(server, local, session);
    await reloaded.start();
    // Memory forgets; the cookie survives in the browser; the web storages keep the pair.
    expect(reloaded.getSnapshot().status).toBe(storage === 'memory' ? 'unauthenticated' : 'authenticated');
    await reloaded.logout();
    expect(dump(local) + dump(session)).not.toMatch(/rt-|at\+jwt|accessToken/);
    reloaded.dispose();
  });
});
