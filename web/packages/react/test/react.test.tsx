import { afterEach, describe, expect, it } from 'vitest';
import { renderToString } from 'react-dom/server';
import { createAuthClient, type AuthClient } from '@gatehouse/client';
import { AuthProvider, RequireAuth, returnPath, useAuth } from '../src/index.js';
import { FakeGatehouse } from '../../client/test/fakes.js';

const clients: AuthClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.dispose();
});

function client(server: FakeGatehouse): AuthClient {
  const c = createAuthClient({ baseUrl: server.origin, storage: 'memory', fetch: server.fetch as typeof fetch, proactive: false, visibility: null });
  clients.push(c);
  return c;
}

function Status() {
  const { status, user } = useAuth();
  return (
    <p>{`${status}:${user?.email ?? 'nobody'}`}</p>
  );
}

describe('RequireAuth', () => {
  it('renders nothing protected until start-up validation has finished', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    const page = () =>
      renderToString(
        <AuthProvider client={c}>
          <Status />
          <RequireAuth loading={<span>checking</span>} redirect={() => undefined}>
            <span>secret dashboard</span>
          </RequireAuth>
        </AuthProvider>,
      );
    expect(page()).toContain('checking');
    expect(page()).not.toContain('secret');
    expect(page()).toContain('loading:nobody');
    await c.start(); // memory storage, no session: unauthenticated
    expect(page()).not.toContain('secret');
    expect(page()).not.toContain('checking');
    await c.login('ada@example.com', 'correct horse battery staple');
    expect(page()).toContain('secret dashboard');
    expect(page()).toContain('authenticated:ada@example.com');
  });

  it('useAuth outside the provider is an error', () => {
    expect(() => renderToString(<Status />)).toThrow(/AuthProvider/);
  });
});

describe('returnPath', () => {
  it.each([
    ['/sessions', '/sessions'],
    ['/dashboard?tab=2#x', '/dashboard?tab=2#x'],
    [null, '/dashboard'],
    ['', '/dashboard'],
    ['//evil.example/', '/dashboard'],
    ['https://evil.example/', '/dashboard'],
    ['/\\evil.example', '/dashboard'],
    ['javascript:alert(1)', '/dashboard'],
    ['dashboard', '/dashboard'],
  ])('%s → %s', (next, want) => {
    expect(returnPath(next)).toBe(want);
  });
});
