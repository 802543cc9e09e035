import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  MfaRequiredError,
  StepUpRequiredError,
  authLevelOf,
  createAuthClient,
  decodeClaims,
  type AuthClient,
  type AuthClientOptions,
  type StorageStrategy,
} from '../src/index.js';
import { FakeLocks, MemoryStorage } from './fakes.js';
import { FakeMfaGatehouse, TOTP_CODE } from './mfa-fakes.js';
import { rejection, until } from './helpers.js';

const PASSWORD = 'correct horse battery staple';
const EMAIL = 'ada@example.com';
const clients: AuthClient[] = [];
let keySeq = 0;
afterEach(() => {
  for (const c of clients.splice(0)) c.dispose();
});

interface Browser {
  server: FakeMfaGatehouse;
  local: MemoryStorage;
  locks: FakeLocks;
  key: string;
  sent: { path: string; headers: Headers; body: string }[];
}

function browser(): Browser {
  return { server: new FakeMfaGatehouse(), local: new MemoryStorage(), locks: new FakeLocks(), key: `mfa${++keySeq}`, sent: [] };
}

/** tab opens one client in the browser b; tabs of one browser share storage, locks and channel. */
function tab(b: Browser, storage: StorageStrategy = 'memory', extra: AuthClientOptions = {}): AuthClient {
  const c = createAuthClient({
    baseUrl: b.server.origin,
    storage,
    fetch: (async (input: RequestInfo | URL, init: RequestInit = {}) => {
      b.sent.push({ path: new URL(String(input instanceof Request ? input.url : input)).pathname, headers: new Headers(init.headers), body: String(init.body ?? '') });
      return b.server.fetch(input, init);
    }) as typeof fetch,
    proactive: false,
    visibility: null,
    locks: b.locks,
    storageKey: b.key,
    webStorage: { local: b.local, session: new MemoryStorage() },
    ...extra,
  });
  clients.push(c);
  return c;
}

describe('acr and amr in the auth state', () => {
  it('reads them from the access token: aal1 and pwd after a password alone, nothing when signed out', async () => {
    const b = browser();
    const c = tab(b);
    await c.start();
    expect(c.getSnapshot()).toMatchObject({ status: 'unauthenticated', acr: null, amr: [] });
    await c.login(EMAIL, PASSWORD);
    expect(c.getSnapshot()).toMatchObject({ status: 'authenticated', acr: 'aal1', amr: ['pwd'] });
    await c.logout();
    expect(c.getSnapshot()).toMatchObject({ status: 'unauthenticated', acr: null, amr: [] });
  });

  it('keeps the snapshot and its amr array while nothing changes, so React does not re-render for nothing', async () => {
    const b = browser();
    const c = tab(b);
    await c.login(EMAIL, PASSWORD);
    const first = c.getSnapshot();
    await c.refresh(); // a new token with the same level
    expect(c.getSnapshot()).toBe(first);
    expect(c.getSnapshot().amr).toBe(first.amr);
  });

  it('authLevelOf reads acr and amr, and is null and [] for a token without them or no JWT at all', () => {
    const jwt = (claims: object) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;
    expect(authLevelOf(jwt({ acr: 'aal2', amr: ['pwd', 'otp', 'mfa'] }))).toEqual({ acr: 'aal2', amr: ['pwd', 'otp', 'mfa'] });
    expect(authLevelOf(jwt({ sid: 's1' }))).toEqual({ acr: null, amr: [] });
    expect(authLevelOf(jwt({ acr: 2, amr: 'pwd' }))).toEqual({ acr: null, amr: [] });
    expect(authLevelOf('not a jwt')).toEqual({ acr: null, amr: [] });
    expect(decodeClaims(jwt({ acr: 'aal1', amr: ['pwd'] }))).toMatchObject({ acr: 'aal1', amr: ['pwd'] });
  });
});

describe('login with a second factor', () => {
  it('throws MfaRequiredError with the mfa token and methods, and signs nobody in', async () => {
    const b = browser();
    b.server.enable();
    const c = tab(b);
    await c.start();
    const err = await rejection(c.login(EMAIL, PASSWORD));
    expect(err).toBeInstanceOf(MfaRequiredError);
    expect(err).toMatchObject({ status: 401, code: 'mfa_required', methods: ['totp', 'recovery_code'] });
    const mfa = err as MfaRequiredError;
    expect(mfa.mfaToken).toMatch(/^mfa-/);
    expect(b.server.mfaTokens.has(mfa.mfaToken)).toBe(true);
    expect(c.getSnapshot()).toMatchObject({ status: 'unauthenticated', user: null });
    expect(c.accessToken).toBeNull();
  });

  it('a wrong password is still invalid_credentials, not mfa_required', async () => {
    const b = browser();
    b.server.enable();
    const err = await rejection(tab(b).login(EMAIL, 'wrong password'));
    expect(err).not.toBeInstanceOf(MfaRequiredError);
    expect(err.code).toBe('invalid_credentials');
  });

  it('completeMfaLogin with a code signs in at aal2, sent without a bearer token', async () => {
    const b = browser();
    b.server.enable();
    const c = tab(b);
    const signedIn = vi.fn();
    c.on('signedIn', signedIn);
    const { mfaToken } = (await rejection(c.login(EMAIL, PASSWORD))) as MfaRequiredError;
    const user = await c.completeMfaLogin({ mfaToken, code: ' 123 456 ' });
    expect(user.email).toBe(EMAIL);
    expect(c.getSnapshot()).toMatchObject({ status: 'authenticated', user: { email: EMAIL }, acr: 'aal2', amr: ['pwd', 'otp', 'mfa'] });
    expect(signedIn).toHaveBeenCalledWith({ user: expect.objectContaining({ email: EMAIL }) });
    const verify = b.sent.find((r) => r.path === '/api/auth/mfa/verify')!;
    expect(verify.headers.get('Authorization')).toBeNull();
    expect(JSON.parse(verify.body)).toEqual({ mfa_token: mfaToken, code: TOTP_CODE });
    // The session works: a bearer request goes out with the new token.
    expect((await c.fetch('/api/posts')).status).toBe(200);
  });

  it('completeMfaLogin with a recovery code works once', async () => {
    const b = browser();
    const [rc] = b.server.enable();
    const c = tab(b);
    const first = (await rejection(c.login(EMAIL, PASSWORD))) as MfaRequiredError;
    await c.completeMfaLogin({ mfaToken: first.mfaToken, recoveryCode: ` ${rc} ` });
    expect(JSON.parse(b.sent.find((r) => r.path === '/api/auth/mfa/verify')!.body)).toEqual({ mfa_token: first.mfaToken, recovery_code: rc });
    expect(c.getSnapshot().acr).toBe('aal2');
    await c.logout();
    const again = (await rejection(c.login(EMAIL, PASSWORD))) as MfaRequiredError;
    expect((await rejection(c.completeMfaLogin({ mfaToken: again.mfaToken, recoveryCode: rc! }))).code).toBe('mfa_code_invalid');
  });

  it('a wrong code is mfa_code_invalid and the token stays usable; a used or unknown token is mfa_token_invalid', async () => {
    const b = browser();
    b.server.enable();
    const c = tab(b);
    await c.start();
    const { mfaToken } = (await rejection(c.login(EMAIL, PASSWORD))) as MfaRequiredError;
    const wrong = await rejection(c.completeMfaLogin({ mfaToken, code: '000000' }));
    expect(wrong).toMatchObject({ status: 401, code: 'mfa_code_invalid' });
    expect(c.getSnapshot().status).toBe('unauthenticated');
    await c.completeMfaLogin({ mfaToken, code: TOTP_CODE });
    expect(c.getSnapshot().status).toBe('authenticated');
    await c.logout();
    expect((await rejection(c.completeMfaLogin({ mfaToken, code: '654321' }))).code).toBe('mfa_token_invalid');
    expect((await rejection(c.completeMfaLogin({ mfaToken: 'nonsense', code: '654321' }))).code).toBe('mfa_token_invalid');
  });

  it('asks for the refresh cookie as login does, and the other tabs sign in too', async () => {
    const b = browser();
    b.server.enable();
    const [a, other] = [tab(b, 'cookie'), tab(b, 'cookie')];
    await other.start();
    const { mfaToken } = (await rejection(a.login(EMAIL, PASSWORD))) as MfaRequiredError;
    await a.completeMfaLogin({ mfaToken, code: TOTP_CODE });
    const verify = b.sent.find((r) => r.path === '/api/auth/mfa/verify')!;
    expect(verify.headers.get('X-Refresh-Transport')).toBe('cookie');
    expect(b.server.cookie).toMatch(/^rt-/);
    expect(a.getSnapshot().acr).toBe('aal2');
    await until(() => other.getSnapshot().status === 'authenticated', 'the other tab to sign in');
    expect(other.accessToken).toBe(a.accessToken);
    expect(other.getSnapshot().acr).toBe('aal2');
    // The cookie refreshes the aal2 session (CONTRACT §8: a refresh keeps acr).
    await a.refresh();
    expect(a.getSnapshot().acr).toBe('aal2');
  });
});

describe('step-up', () => {
  it('a sensitive change from an aal1 session is a StepUpRequiredError; stepUp replaces the token and the retry succeeds', async () => {
    const b = browser();
    const c = tab(b, 'localStorage');
    const other = tab(b, 'localStorage');
    await c.login(EMAIL, PASSWORD); // before the factor: aal1
    await other.start();
    b.server.enable();
    const err = await rejection(c.changePassword(PASSWORD, 'a new passphrase'));
    expect(err).toBeInstanceOf(StepUpRequiredError);
    expect(err).toMatchObject({ status: 403, code: 'insufficient_user_authentication', acrValues: ['aal2'] });
    const before = c.accessToken!;
    const sid = decodeClaims(before)?.sid;

    const refreshed = vi.fn();
    c.on('refreshed', refreshed);
    await c.stepUp({ code: TOTP_CODE });
    const stepUp = b.sent.find((r) => r.path === '/api/auth/mfa/verify')!;
    expect(stepUp.headers.get('Authorization')).toBe(`Bearer ${before}`);
    expect(JSON.parse(stepUp.body)).toEqual({ code: TOTP_CODE });
    expect(c.accessToken).not.toBe(before);
    expect(decodeClaims(c.accessToken!)?.sid).toBe(sid);
    expect(c.getSnapshot()).toMatchObject({ status: 'authenticated', acr: 'aal2', amr: ['pwd', 'otp', 'mfa'] });
    expect(refreshed).toHaveBeenCalledOnce();
    // Stored and shared like a refresh's result.
    expect(JSON.stringify(Object.fromEntries(Array.from({ length: b.local.length }, (_, i) => [i, b.local.getItem(b.local.key(i)!)])))).toContain(c.accessToken!);
    await until(() => other.accessToken === c.accessToken, 'the other tab to take the stepped-up token');
    expect(other.getSnapshot().acr).toBe('aal2');

    await c.changePassword(PASSWORD, 'a new passphrase');
    expect(b.server.newPassword).toBe('a new passphrase');
  });

  it('a wrong code is mfa_code_invalid and keeps the token', async () => {
    const b = browser();
    const c = tab(b);
    await c.login(EMAIL, PASSWORD);
    b.server.enable();
    const before = c.accessToken;
    expect(await rejection(c.stepUp({ code: '000000' }))).toMatchObject({ status: 401, code: 'mfa_code_invalid' });
    expect(c.accessToken).toBe(before);
    expect(c.getSnapshot()).toMatchObject({ status: 'authenticated', acr: 'aal1' });
  });

  it('with a recovery code', async () => {
    const b = browser();
    const c = tab(b);
    await c.login(EMAIL, PASSWORD);
    const [rc] = b.server.enable();
    await c.stepUp({ recoveryCode: rc! });
    expect(c.getSnapshot().acr).toBe('aal2');
    expect(b.server.recoveryCodes.has(rc!)).toBe(false);
  });
});

describe('TOTP enrolment and recovery codes', () => {
  it('enrols with the current password, confirms with a code and adopts the aal2 token, then manages the codes', async () => {
    const b = browser();
    const c = tab(b);
    await c.login(EMAIL, PASSWORD);
    expect(await c.getMfaStatus()).toEqual({ totp: false, recovery_codes_left: 0, passkeys: 0 });

    expect((await rejection(c.enrollTotp('wrong password'))).code).toBe('invalid_credentials');
    const enrolment = await c.enrollTotp(PASSWORD);
    expect(enrolment.secret).toBe('JBSWY3DPEHPK3PXP');
    expect(enrolment.otpauth_uri).toMatch(/^otpauth:\/\/totp\//);

    expect(await rejection(c.confirmTotp('000000'))).toMatchObject({ status: 400, code: 'mfa_code_invalid' });
    const aal1Token = c.accessToken;
    const codes = await c.confirmTotp(TOTP_CODE);
    expect(codes).toHaveLength(10);
    expect(c.accessToken).not.toBe(aal1Token);
    expect(c.getSnapshot().acr).toBe('aal2');
    expect(await c.getMfaStatus()).toEqual({ totp: true, recovery_codes_left: 10, passkeys: 0 });
    expect((await rejection(c.enrollTotp(PASSWORD))).code).toBe('already_enrolled');

    const fresh = await c.regenerateRecoveryCodes();
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(codes[0]);

    await c.disableTotp();
    expect(await c.getMfaStatus()).toEqual({ totp: false, recovery_codes_left: 0, passkeys: 0 });
  });

  it('removing TOTP or regenerating codes from an aal1 session asks for a step-up', async () => {
    const b = browser();
    const c = tab(b);
    await c.login(EMAIL, PASSWORD);
    b.server.enable();
    expect(await rejection(c.disableTotp())).toBeInstanceOf(StepUpRequiredError);
    expect(await rejection(c.regenerateRecoveryCodes())).toBeInstanceOf(StepUpRequiredError);
    await c.stepUp({ code: TOTP_CODE });
    await c.disableTotp();
    expect(b.server.totp).toBe(false);
  });
});
