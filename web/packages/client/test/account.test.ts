import { afterEach, describe, expect, it } from 'vitest';
import { createAuthClient, takeTokenFromFragment, type AddressBar, type AuthClient, type AuthClientOptions } from '../src/index.js';
import { FakeGatehouse, FakeLocks, MemoryStorage } from './fakes.js';
import { rejection, until } from './helpers.js';

const PASSWORD = 'correct horse battery staple';
const clients: AuthClient[] = [];
let keySeq = 0;
afterEach(() => {
  for (const c of clients.splice(0)) c.dispose();
});

/** client opens a tab on server; tabs with the same key share a BroadcastChannel. */
function client(server: FakeGatehouse, key = `acct${++keySeq}`, extra: Partial<AuthClientOptions> = {}): AuthClient {
  const c = createAuthClient({
    baseUrl: server.origin,
    storage: 'memory',
    fetch: server.fetch as typeof fetch,
    proactive: false,
    visibility: null,
    locks: null,
    storageKey: key,
    ...extra,
  });
  clients.push(c);
  return c;
}

describe('email verification', () => {
  it('sends a verification mail with the bearer token, and verifying updates the signed-in user', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    expect(c.getSnapshot().user?.email_verified).toBe(false);

    await c.sendVerificationEmail();
    const sent = server.requests.find((r) => r.path === '/api/auth/verify-email/send');
    expect(sent?.auth).toBe(`Bearer ${c.accessToken}`);
    const mail = server.mails.at(-1)!;
    expect(mail).toMatchObject({ purpose: 'verify', to: 'ada@example.com' });

    const user = await c.verifyEmail(mail.token);
    expect(user.email_verified).toBe(true);
    expect(c.getSnapshot()).toMatchObject({ status: 'authenticated', user: { email_verified: true } });
    // The token call carries neither the bearer token nor cookies: the token is the credential.
    const verify = server.requests.find((r) => r.path === '/api/auth/verify-email')!;
    expect(verify.auth).toBeNull();
    expect(verify.credentials).toBe('omit');

    // Once verified, a resend is refused with a stable code.
    expect((await rejection(c.sendVerificationEmail())).code).toBe('already_verified');
  });

  it('shows the verification in another signed-in tab', async () => {
    const server = new FakeGatehouse();
    // Two tabs of one browser: localStorage and the channel are shared.
    const browser = { storage: 'localStorage' as const, locks: new FakeLocks(), webStorage: { local: new MemoryStorage() } };
    const a = client(server, 'shared-tabs', browser);
    const b = client(server, 'shared-tabs', browser);
    await a.login('ada@example.com', PASSWORD);
    await until(() => b.getSnapshot().status === 'authenticated', 'the other tab to follow the login');
    expect(b.getSnapshot().user?.email_verified).toBe(false);
    await a.sendVerificationEmail();
    await a.verifyEmail(server.mails.at(-1)!.token);
    await until(() => b.getSnapshot().user?.email_verified === true, 'the other tab to show the verified user');
  });

  it('verifies while signed out, leaving the state alone', async () => {
    const server = new FakeGatehouse();
    const signedIn = client(server);
    await signedIn.login('ada@example.com', PASSWORD);
    await signedIn.sendVerificationEmail();
    const c = client(server);
    await c.start();
    const user = await c.verifyEmail(server.mails.at(-1)!.token);
    expect(user).toMatchObject({ email: 'ada@example.com', email_verified: true });
    expect(c.getSnapshot()).toMatchObject({ status: 'unauthenticated', user: null });
  });

  it.each([
    ['an unknown token', 'nonsense', 'email_token_invalid'],
    ['an expired token', 'expired', 'email_token_expired'],
  ])('refuses %s with status 400 and code %s', async (_name, kind, code) => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    await c.sendVerificationEmail();
    let token = server.mails.at(-1)!.token;
    if (kind === 'expired') server.expiredMailTokens.add(token);
    else token = 'nonsense';
    const err = await rejection(c.verifyEmail(token));
    expect(err).toMatchObject({ status: 400, code });
    expect(err.message).toBe(code); // the problem's detail
    expect(c.getSnapshot().user?.email_verified).toBe(false);
  });

  it('a token is single-use', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    await c.sendVerificationEmail();
    const token = server.mails.at(-1)!.token;
    await c.verifyEmail(token);
    expect((await rejection(c.verifyEmail(token))).code).toBe('email_token_invalid');
  });

  it('sendVerificationEmail while signed out is refused (no bearer token)', async () => {
    const c = client(new FakeGatehouse());
    await c.start();
    expect((await rejection(c.sendVerificationEmail())).code).toBe('token_missing');
  });
});

describe('password reset', () => {
  it('forgot, then reset: the new password logs in, the old one is refused, and the old sessions end', async () => {
    const server = new FakeGatehouse();
    const old = client(server);
    await old.login('ada@example.com', PASSWORD);

    const c = client(server);
    await c.start();
    await c.forgotPassword('ada@example.com');
    const mail = server.mails.at(-1)!;
    expect(mail).toMatchObject({ purpose: 'reset', to: 'ada@example.com' });
    await c.resetPassword(mail.token, 'a brand new passphrase');
    expect(server.requests.filter((r) => r.path.startsWith('/api/auth/password/')).map((r) => r.credentials)).toEqual(['omit', 'omit']);

    expect((await rejection(c.login('ada@example.com', PASSWORD))).code).toBe('invalid_credentials');
    await c.login('ada@example.com', 'a brand new passphrase');
    expect(c.getSnapshot().status).toBe('authenticated');

    // The session from before the reset learns it on its next request.
    const res = await old.fetch('/api/posts');
    expect(res.status).toBe(401);
    expect(old.getSnapshot().status).toBe('unauthenticated');
  });

  it('forgotPassword answers alike for an unknown address, and refuses a non-address with 422', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    await expect(c.forgotPassword('nobody@example.com')).resolves.toBeUndefined();
    expect(server.mails).toHaveLength(0);
    expect(await rejection(c.forgotPassword('not an email'))).toMatchObject({ status: 422, code: 'validation_failed' });
  });

  it('resetPassword refuses a spent or expired token, and a weak password with 422', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.forgotPassword('ada@example.com');
    const first = server.mails.at(-1)!.token;
    expect((await rejection(c.resetPassword(first, 'short'))).code).toBe('validation_failed');
    await c.forgotPassword('ada@example.com');
    const second = server.mails.at(-1)!.token;
    server.expiredMailTokens.add(second);
    expect((await rejection(c.resetPassword(second, 'a brand new passphrase'))).code).toBe('email_token_expired');
    expect((await rejection(c.resetPassword(second, 'a brand new passphrase'))).code).toBe('email_token_invalid');
    expect(server.password).toBe(PASSWORD);
  });
});

describe('email change', () => {
  it('asks with the current password, then confirming shows the new email', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    await c.changeEmail('ada@new.example', PASSWORD);
    const req = server.requests.find((r) => r.path === '/api/auth/email')!;
    expect(req.auth).toBe(`Bearer ${c.accessToken}`);
    // Nothing changes until the new address confirms.
    expect(c.getSnapshot().user?.email).toBe('ada@example.com');
    const mail = server.mails.at(-1)!;
    expect(mail).toMatchObject({ purpose: 'change', to: 'ada@new.example' });
    const user = await c.confirmEmail(mail.token);
    expect(user.email).toBe('ada@new.example');
    expect(c.getSnapshot().user).toMatchObject({ email: 'ada@new.example', email_verified: true });
  });

  it.each([
    ['a wrong current password', 'ada@new.example', 'wrong', 401, 'invalid_credentials'],
    ['a taken address', 'taken@example.com', PASSWORD, 409, 'email_taken'],
    ['a non-address', 'nope', PASSWORD, 422, 'validation_failed'],
  ])('refuses %s', async (_name, newEmail, password, status, code) => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    expect(await rejection(c.changeEmail(newEmail, password))).toMatchObject({ status, code });
    expect(server.mails).toHaveLength(0);
    // A refused change is not a reason to end the session.
    expect(c.getSnapshot().status).toBe('authenticated');
  });

  it('confirmEmail refuses a verification token (tokens are bound to one purpose)', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    await c.sendVerificationEmail();
    expect((await rejection(c.confirmEmail(server.mails.at(-1)!.token))).code).toBe('email_token_invalid');
  });
});

describe('profile update', () => {
  it('sends PATCH /api/users/me with the bearer token and shows the new name', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    expect(c.getSnapshot().user?.name).toBe('Ada');
    const user = await c.updateProfile({ name: 'Ada Lovelace' });
    expect(user).toMatchObject({ id: 'u1', email: 'ada@example.com', name: 'Ada Lovelace' });
    const req = server.requests.find((r) => r.path === '/api/users/me' && r.method === 'PATCH')!;
    expect(req.auth).toBe(`Bearer ${c.accessToken}`);
    expect(server.name).toBe('Ada Lovelace');
    expect(c.getSnapshot()).toMatchObject({ status: 'authenticated', user: { name: 'Ada Lovelace', email: 'ada@example.com' } });
  });

  it('shows the new name in another signed-in tab', async () => {
    const server = new FakeGatehouse();
    const browser = { storage: 'localStorage' as const, locks: new FakeLocks(), webStorage: { local: new MemoryStorage() } };
    const a = client(server, 'profile-tabs', browser);
    const b = client(server, 'profile-tabs', browser);
    await a.login('ada@example.com', PASSWORD);
    await until(() => b.getSnapshot().status === 'authenticated', 'the other tab to follow the login');
    await a.updateProfile({ name: 'Countess' });
    await until(() => b.getSnapshot().user?.name === 'Countess', 'the other tab to show the new name');
  });

  it('refuses a 101-character name with validation_failed on the field name, keeping the old name and the session', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    const err = await rejection(c.updateProfile({ name: 'x'.repeat(101) }));
    expect(err).toMatchObject({ status: 422, code: 'validation_failed' });
    expect(err.fieldErrors).toEqual([{ field: 'name', message: 'must be at most 100 printable characters' }]);
    expect(c.getSnapshot()).toMatchObject({ status: 'authenticated', user: { name: 'Ada' } });
    // 100 characters are accepted.
    expect((await c.updateProfile({ name: 'x'.repeat(100) })).name).toHaveLength(100);
  });

  it('refreshes an expired access token and replays the PATCH once', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    server.expireAll();
    expect((await c.updateProfile({ name: 'Ada B.' })).name).toBe('Ada B.');
    expect(server.refreshCalls).toBe(1);
    expect(server.requests.filter((r) => r.method === 'PATCH')).toHaveLength(2);
  });

  it('is refused while signed out (no bearer token)', async () => {
    const c = client(new FakeGatehouse());
    await c.start();
    expect((await rejection(c.updateProfile({ name: 'Eve' }))).code).toBe('token_missing');
  });
});

describe('takeTokenFromFragment', () => {
  function bar(pathname: string, search: string, hash: string) {
    const calls: (string | undefined)[] = [];
    const b: AddressBar = {
      location: { pathname, search, hash },
      history: {
        state: { keep: 1 },
        replaceState(_data, _unused, url) {
          calls.push(url);
          b.location.hash = '';
        },
      },
    };
    return { b, calls };
  }

  it('returns the token and drops the fragment from the address, keeping path and query', () => {
    const { b, calls } = bar('/reset-password', '?x=1', '#token=abc_DEF-123');
    expect(takeTokenFromFragment(b)).toBe('abc_DEF-123');
    expect(calls).toEqual(['/reset-password?x=1']);
    // Called again on the same page (StrictMode): the same token, no new history entry.
    expect(takeTokenFromFragment(b)).toBe('abc_DEF-123');
    expect(calls).toHaveLength(1);
  });

  it('returns null and leaves the address alone without a token', () => {
    for (const hash of ['', '#', '#section', '#other=1']) {
      const { b, calls } = bar('/verify-email-elsewhere', '', hash);
      expect(takeTokenFromFragment(b)).toBeNull();
      expect(calls).toEqual([]);
    }
  });

  it('does not hand an old token to another page', () => {
    const { b } = bar('/confirm-email', '', '#token=first');
    expect(takeTokenFromFragment(b)).toBe('first');
    expect(takeTokenFromFragment(bar('/verify-email', '', '').b)).toBeNull();
  });

  it('is null where there is no address bar (server rendering, Node)', () => {
    expect(takeTokenFromFragment()).toBeNull();
  });
});
