import { afterEach, describe, expect, it } from 'vitest';
import { StepUpRequiredError, createAuthClient, type AuthClient } from '../src/index.js';
import { FakeAdminGatehouse } from './admin-fakes.js';
import { json } from './fakes.js';
import { TOTP_CODE } from './mfa-fakes.js';
import { rejection } from './helpers.js';

const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';
const clients: AuthClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.dispose();
});

async function signedIn(server = new FakeAdminGatehouse()): Promise<{ c: AuthClient; server: FakeAdminGatehouse }> {
  const c = createAuthClient({ baseUrl: server.origin, storage: 'memory', fetch: server.fetch as typeof fetch, proactive: false, visibility: null });
  clients.push(c);
  await c.login(EMAIL, PASSWORD);
  return { c, server };
}

describe('the admin API', () => {
  it('the signed-in user carries their role in the auth state', async () => {
    const { c } = await signedIn();
    expect(c.getSnapshot().user?.role).toBe('admin');
    const server = new FakeAdminGatehouse();
    server.role = 'user';
    expect((await signedIn(server)).c.getSnapshot().user?.role).toBe('user');
  });

  it('listUsers searches and pages with the cursor, sending only the parameters given', async () => {
    const { c, server } = await signedIn();
    const first = await c.admin.listUsers({ limit: 4 });
    expect(first.items.map((u) => u.email)).toEqual([EMAIL, 'user1@example.com', 'user2@example.com', 'user3@example.com']);
    expect(first.next_cursor).toBe('4');
    const second = await c.admin.listUsers({ limit: 4, cursor: first.next_cursor });
    expect(second.items.map((u) => u.email)).toEqual(['user4@example.com', 'user5@example.com']);
    expect(second.next_cursor).toBeNull();
    const found = await c.admin.listUsers({ q: '  USER3 ' });
    expect(found.items).toEqual([expect.objectContaining({ id: 'u4', email: 'user3@example.com', role: 'user', disabled: false, mfa: { totp: false, passkeys: 0 } })]);
    expect(server.adminRequests).toEqual(['GET /api/admin/users?limit=4', 'GET /api/admin/users?limit=4&cursor=4', 'GET /api/admin/users?q=USER3']);
  });

  it('reads, disables, enables, promotes, logs out, resets and deletes a user', async () => {
    const { c, server } = await signedIn();
    expect(await c.admin.getUser('u2')).toMatchObject({ email: 'user1@example.com', sessions: 1 });
    expect(await c.admin.listUserSessions('u2')).toEqual([expect.objectContaining({ id: 'u2-s0', ip: '192.0.2.9', current: false })]);
    expect(await c.admin.disableUser('u2')).toMatchObject({ disabled: true, sessions: 0 });
    expect(await c.admin.enableUser('u2')).toMatchObject({ disabled: false });
    expect(await c.admin.setRole('u2', 'admin')).toMatchObject({ role: 'admin' });
    expect(await c.admin.updateUser('u2', { name: 'Grace', email_verified: false })).toMatchObject({ name: 'Grace', email_verified: false });
    server.others.get('u3')!.mfa = { totp: true, passkeys: 2 };
    await c.admin.resetUserMfa('u3');
    expect(server.others.get('u3')!.mfa).toEqual({ totp: false, passkeys: 0 });
    await c.admin.logoutUser('u3');
    expect(server.others.get('u3')!.sessions).toBe(0);
    await c.admin.deleteUser('u3');
    expect((await rejection(c.admin.getUser('u3'))).code).toBe('not_found');
    expect(server.adminRequests.slice(2, 6)).toEqual(['PATCH /api/admin/users/u2', 'PATCH /api/admin/users/u2', 'PATCH /api/admin/users/u2', 'PATCH /api/admin/users/u2']);
    expect(server.adminRequests.slice(-4)).toEqual(['DELETE /api/admin/users/u3/mfa', 'POST /api/admin/users/u3/logout', 'DELETE /api/admin/users/u3', 'GET /api/admin/users/u3']);
  });

  it('ids are escaped into the path', async () => {
    const { c, server } = await signedIn();
    expect((await rejection(c.admin.getUser('../users?q=x'))).code).toBe('not_found');
    expect(server.adminRequests).toEqual(['GET /api/admin/users/..%2Fusers%3Fq%3Dx']);
  });

  it('rejects with the server codes: email_taken, validation_failed with its fields, last_admin, forbidden', async () => {
    const { c } = await signedIn();
    expect(await rejection(c.admin.updateUser('u2', { email: 'user2@example.com' }))).toMatchObject({ status: 409, code: 'email_taken' });
    const invalid = await rejection(c.admin.updateUser('u2', { name: 42 as unknown as string }));
    expect(invalid).toMatchObject({ status: 422, code: 'validation_failed' });
    expect(invalid.fieldErrors).toEqual([{ field: 'name', message: 'must be a string' }]);
    expect(await rejection(c.admin.setRole('u1', 'user'))).toMatchObject({ status: 409, code: 'last_admin' });
    expect(await rejection(c.admin.disableUser('u1'))).toMatchObject({ status: 409, code: 'last_admin' });

    const server = new FakeAdminGatehouse();
    server.role = 'user';
    const user = (await signedIn(server)).c;
    for (const call of [user.admin.listUsers(), user.admin.getUser('u2'), user.admin.deleteUser('u2'), user.admin.listEvents()]) {
      expect(await rejection(call)).toMatchObject({ status: 403, code: 'forbidden' });
    }
  });

  it('an admin with a second factor on an aal1 session gets a StepUpRequiredError, and the call works after stepUp', async () => {
    const { c, server } = await signedIn();
    server.enable();
    const err = await rejection(c.admin.disableUser('u2'));
    expect(err).toBeInstanceOf(StepUpRequiredError);
    expect(server.others.get('u2')!.disabled).toBe(false);
    await c.stepUp({ code: TOTP_CODE });
    expect(await c.admin.disableUser('u2')).toMatchObject({ disabled: true });
  });

  it('listEvents filters by user and type and pages; myEvents lists the caller’s own', async () => {
    const { c, server } = await signedIn();
    server.event('user.disabled', 'u2', { by: 'admin' });
    const page = await c.admin.listEvents({ userId: 'u2', limit: 1 });
    expect(page.items).toEqual([expect.objectContaining({ type: 'user.disabled', user_id: 'u2', detail: { by: 'admin' } })]);
    expect(page.next_cursor).toBe('1');
    expect((await c.admin.listEvents({ userId: 'u2', cursor: page.next_cursor })).items.map((e) => e.type)).toEqual(['user.registered']);
    expect((await c.admin.listEvents({ type: 'login.succeeded' })).items).toHaveLength(3);
    const mine = await c.myEvents({ limit: 2 });
    expect(mine.items.map((e) => e.type)).toEqual(['login.succeeded', 'login.succeeded']);
    expect(mine.next_cursor).toBe('2');
    expect(server.adminRequests).toEqual([
      'GET /api/admin/events?user_id=u2&limit=1',
      'GET /api/admin/events?user_id=u2&cursor=1',
      'GET /api/admin/events?type=login.succeeded',
      'GET /api/auth/events?limit=2',
    ]);
  });

  it('an answer of the wrong shape is bad_response', async () => {
    const server = new FakeAdminGatehouse();
    const { c } = await signedIn(server);
    const real = server.fetch;
    server.fetch = async (input, init) => (new URL(String(input instanceof Request ? input.url : input)).pathname.startsWith('/api/admin') ? json(200, { users: [] }) : real(input, init));
    const c2 = createAuthClient({ baseUrl: server.origin, storage: 'memory', fetch: ((i: RequestInfo | URL, n?: RequestInit) => server.fetch(i, n)) as typeof fetch, proactive: false, visibility: null });
    clients.push(c2);
    await c2.login(EMAIL, PASSWORD);
    expect((await rejection(c2.admin.listUsers())).code).toBe('bad_response');
    expect((await rejection(c2.admin.getUser('u2'))).code).toBe('bad_response');
    expect(c.getSnapshot().status).toBe('authenticated');
  });
});
