import { afterEach, describe, expect, it, vi } from 'vitest';
import { MfaRequiredError, StepUpRequiredError, createAuthClient, passkeySupport, type AuthClient, type StorageStrategy } from '../src/index.js';
import { FakeLocks, MemoryStorage } from './fakes.js';
import { FakePasskeyGatehouse, FakeWebAuthn, USER_HANDLE, b64url } from './passkey-fakes.js';
import { rejection, until } from './helpers.js';

const PASSWORD = 'correct horse battery staple';
const EMAIL = 'ada@example.com';
const clients: AuthClient[] = [];
let keySeq = 0;
afterEach(() => {
  for (const c of clients.splice(0)) c.dispose();
  vi.unstubAllGlobals();
});

interface Browser {
  server: FakePasskeyGatehouse;
  webauthn: FakeWebAuthn;
  local: MemoryStorage;
  locks: FakeLocks;
  key: string;
  sent: { path: string; method: string; auth: string | null; body: string }[];
}

/** browser makes a browser with WebAuthn (native JSON methods or not) and puts its globals in place. */
function browser(native: boolean, hostname = 'localhost'): Browser {
  const webauthn = new FakeWebAuthn(native);
  const g = webauthn.globals();
  vi.stubGlobal('PublicKeyCredential', g.PublicKeyCredential);
  vi.stubGlobal('navigator', g.navigator);
  vi.stubGlobal('location', { hostname, origin: `http://${hostname}` });
  // @simplewebauthn/browser looks for the autofill field itself.
  vi.stubGlobal('document', { querySelectorAll: () => [{}] });
  return { server: new FakePasskeyGatehouse(), webauthn, local: new MemoryStorage(), locks: new FakeLocks(), key: `pk${++keySeq}`, sent: [] };
}

function tab(b: Browser, storage: StorageStrategy = 'memory'): AuthClient {
  const c = createAuthClient({
    baseUrl: b.server.origin,
    storage,
    fetch: (async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const url = String(input instanceof Request ? input.url : input);
      const h = new Headers(init.headers);
      b.sent.push({ path: new URL(url).pathname, method: init.method ?? 'GET', auth: h.get('Authorization'), body: String(init.body ?? '') });
      return b.server.fetch(input, init);
    }) as typeof fetch,
    proactive: false,
    visibility: null,
    locks: b.locks,
    storageKey: b.key,
    webStorage: { local: b.local, session: new MemoryStorage() },
  });
  clients.push(c);
  return c;
}

const isBytes = (x: unknown) => x instanceof ArrayBuffer || ArrayBuffer.isView(x);
const bytes = (x: BufferSource) => (x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength));

/** enrolled signs in with the password (aal1, no factor yet) and adds a passkey. */
async function enrolled(b: Browser, storage: StorageStrategy = 'memory'): Promise<AuthClient> {
  const c = tab(b, storage);
  await c.login(EMAIL, PASSWORD);
  await c.registerPasskey('Laptop');
  return c;
}

describe.each([
  ['native JSON methods (WebAuthn Level 3)', true],
  ['@simplewebauthn/browser as the fallback', false],
])('passkeys with %s', (_, native) => {
  it('registers: the options reach the authenticator as bytes, the credential reaches the server as base64url JSON', async () => {
    const b = browser(native);
    const c = tab(b);
    await c.login(EMAIL, PASSWORD);
    const p = await c.registerPasskey('  Laptop  ');
    expect(p).toMatchObject({ name: 'Laptop', last_used_at: null, synced: false });
    expect(b.webauthn.parsed).toBe(native ? 1 : 0);

    const [call] = b.webauthn.calls;
    const pk = call!.options.publicKey!;
    const optionsRoute = b.server.requests.findIndex((r) => r.path === '/api/auth/passkeys/register/options');
    expect(optionsRoute).toBeGreaterThanOrEqual(0);
    expect(isBytes(pk.challenge)).toBe(true);
    expect(b64url(bytes(pk.user.id))).toBe(USER_HANDLE);
    expect(pk.authenticatorSelection).toEqual({ residentKey: 'required', userVerification: 'required' });

    const sent = b.server.received[0]!;
    expect(sent.name).toBe('Laptop');
    const cred = sent.credential as Record<string, unknown>;
    expect(cred.type).toBe('public-key');
    expect(cred.rawId).toBe(cred.id);
    const res = cred.response as Record<string, unknown>;
    expect(res.clientDataJSON).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(res.attestationObject).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await c.listPasskeys()).toEqual([p]);
    expect(await c.renamePasskey(p.id, 'Work laptop')).toMatchObject({ id: p.id, name: 'Work laptop' });
  });

  it('signs in with a passkey alone: authenticated at aal2 (hwk, mfa), and the other tabs too', async () => {
    const b = browser(native);
    await (await enrolled(b, 'cookie')).logout();
    const c = tab(b, 'cookie');
    const other = tab(b, 'cookie');
    const signedIn = vi.fn();
    c.on('signedIn', signedIn);
    const user = await c.loginWithPasskey();
    expect(user.email).toBe(EMAIL);
    const state = c.getSnapshot();
    expect(state).toMatchObject({ status: 'authenticated', acr: 'aal2', amr: ['hwk', 'mfa'] });
    expect(signedIn).toHaveBeenCalledOnce();
    const get = b.webauthn.calls.at(-1)!;
    expect(get.kind).toBe('get');
    expect(get.options.mediation).toBeUndefined();
    expect(isBytes(get.options.publicKey!.challenge)).toBe(true);
    const res = (b.server.received.at(-1)!.credential as { response: Record<string, unknown> }).response;
    expect(res.userHandle).toBe(USER_HANDLE);
    // The sign-in asks for the refresh cookie as login does, without a bearer token.
    const login = b.sent.filter((s) => s.path === '/api/auth/passkeys/login');
    expect(login).toHaveLength(1);
    expect(login[0]!.auth).toBeNull();
    expect(b.server.cookie).not.toBeNull();
    await until(() => other.getSnapshot().status === 'authenticated', 'the other tab to sign in');
    expect(other.getSnapshot().acr).toBe('aal2');
  });

  it('turns a closed prompt into passkey_cancelled and sends nothing on', async () => {
    const b = browser(native);
    const c = tab(b);
    await c.login(EMAIL, PASSWORD);
    b.webauthn.behaviour = 'cancel';
    const err = await rejection(c.registerPasskey());
    expect(err.code).toBe('passkey_cancelled');
    expect(err.status).toBe(0);
    expect(b.sent.some((s) => s.path === '/api/auth/passkeys/register')).toBe(false);
    await c.logout();
    const err2 = await rejection(c.loginWithPasskey());
    expect(err2.code).toBe('passkey_cancelled');
    expect(c.getSnapshot().status).toBe('unauthenticated');
    expect(b.sent.some((s) => s.path === '/api/auth/passkeys/login')).toBe(false);
  });

  it('turns an authenticator that already holds a passkey of the account into passkey_exists', async () => {
    const b = browser(native);
    const c = await enrolled(b);
    await c.stepUp({ passkey: true }); // a second passkey needs aal2 once the account has one
    b.webauthn.behaviour = 'exists';
    expect((await rejection(c.registerPasskey())).code).toBe('passkey_exists');
  });
});

describe('passkeys: the server says no', () => {
  it('rejects a removed passkey with passkey_invalid and stays signed out', async () => {
    const b = browser(true);
    await (await enrolled(b)).logout();
    const c = tab(b);
    await c.loginWithPasskey();
    const [p] = await c.listPasskeys();
    await c.deletePasskey(p!.id); // an aal2 session: no step-up
    await c.logout();
    const err = await rejection(c.loginWithPasskey());
    expect(err.code).toBe('passkey_invalid');
    expect(err.status).toBe(401);
    expect(c.getSnapshot().status).toBe('unauthenticated');
  });
});

describe('a passkey as the second factor', () => {
  it('finishes a password login that answered mfa_required, with no bearer token, at aal2', async () => {
    const b = browser(false);
    await (await enrolled(b)).logout();
    const c = tab(b);
    const first = await c.login(EMAIL, PASSWORD).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(MfaRequiredError);
    const mfa = first as MfaRequiredError;
    expect(mfa.methods).toContain('passkey');
    await c.completeMfaLogin({ mfaToken: mfa.mfaToken, passkey: true });
    expect(c.getSnapshot()).toMatchObject({ status: 'authenticated', acr: 'aal2' });
    expect(c.getSnapshot().amr).toContain('hwk');
    const verify = b.sent.filter((s) => s.path === '/api/auth/mfa/verify');
    expect(verify).toHaveLength(1);
    expect(verify[0]!.auth).toBeNull();
    expect(Object.keys(JSON.parse(verify[0]!.body) as object).sort()).toEqual(['challenge_id', 'credential', 'mfa_token']);
  });

  it('steps an aal1 session up before a passkey is removed', async () => {
    const b = browser(true);
    const c = await enrolled(b); // signed in with the password before the passkey existed: aal1
    expect(c.getSnapshot().acr).toBe('aal1');
    const [p] = await c.listPasskeys();
    const refused = await rejection(c.deletePasskey(p!.id));
    expect(refused).toBeInstanceOf(StepUpRequiredError);
    const before = c.accessToken;
    await c.stepUp({ passkey: true });
    expect(c.accessToken).not.toBe(before);
    expect(c.getSnapshot().acr).toBe('aal2');
    const stepUp = b.sent.filter((s) => s.path === '/api/auth/mfa/verify');
    expect(stepUp[0]!.auth).toMatch(/^Bearer /);
    await c.deletePasskey(p!.id);
    expect(await c.listPasskeys()).toEqual([]);
  });
});

describe('passkeys in the autofill (conditional mediation)', () => {
  it('waits for the user to pick a passkey, then signs in', async () => {
    const b = browser(true);
    await (await enrolled(b)).logout();
    const c = tab(b);
    const pending = c.conditionalPasskeyLogin(new AbortController().signal);
    await until(() => b.webauthn.pick !== null, 'the conditional request');
    expect(b.webauthn.calls.at(-1)!.options.mediation).toBe('conditional');
    expect(c.getSnapshot().status).not.toBe('authenticated');
    b.webauthn.pick!();
    const user = await pending;
    expect(user?.email).toBe(EMAIL);
    expect(c.getSnapshot()).toMatchObject({ status: 'authenticated', acr: 'aal2' });
  });

  it('resolves null when aborted (the user signed in another way), and the password still works', async () => {
    for (const native of [true, false]) {
      const b = browser(native);
      await (await enrolled(b)).logout();
      const c = tab(b);
      const ctl = new AbortController();
      const pending = c.conditionalPasskeyLogin(ctl.signal);
      await until(() => b.webauthn.pick !== null, 'the conditional request');
      ctl.abort();
      expect(await pending).toBeNull();
      expect(b.sent.some((s) => s.path === '/api/auth/passkeys/login')).toBe(false);
      await expect(c.login(EMAIL, PASSWORD)).rejects.toBeInstanceOf(MfaRequiredError);
      vi.unstubAllGlobals();
    }
  });

  it('resolves null at once, asking the server nothing, where the browser has no such autofill', async () => {
    const b = browser(true);
    b.webauthn.conditional = false;
    const c = tab(b);
    expect(await c.conditionalPasskeyLogin()).toBeNull();
    expect(b.sent).toEqual([]);
  });
});

describe('pages that cannot use passkeys', () => {
  it('reports an IP address, and no WebAuthn, with passkey_unsupported', async () => {
    browser(true, '127.0.0.1');
    expect(passkeySupport()).toBe('ip_address');
    vi.unstubAllGlobals();
    const b = browser(true);
    expect(passkeySupport()).toBe('available');
    vi.stubGlobal('PublicKeyCredential', undefined);
    expect(passkeySupport()).toBe('unsupported');
    const c = tab(b);
    const err = await rejection(c.loginWithPasskey());
    expect(err.code).toBe('passkey_unsupported');
    expect(err.message).toMatch(/HTTPS/);
    expect(b.sent).toEqual([]);
  });
});
