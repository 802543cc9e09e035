// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { act, useState } from 'react';
import { useAdminUser, useAdminUsers, useMyEvents } from '../src/index.js';
import { FakeAdminGatehouse } from '../../client/test/admin-fakes.js';
import { PASSWORD, cleanUp, click, client, render, text } from './harness.js';

afterEach(cleanUp);

async function admin(server = new FakeAdminGatehouse()) {
  const c = client(server);
  await c.login('ada@example.com', PASSWORD);
  return { c, server };
}

/** A user list as an app would write it: a search, the emails, the pages. */
function Users() {
  const [q, setQ] = useState('');
  const list = useAdminUsers(q, 2);
  return (
    <>
      <p id="emails">{list.users ? list.users.map((u) => u.email).join(',') : 'loading'}</p>
      <p id="page">{list.page}</p>
      <p id="error">{list.error?.code ?? ''}</p>
      <button id="next" disabled={!list.hasNext} onClick={list.next}>
        Next
      </button>
      <button id="previous" disabled={!list.hasPrevious} onClick={list.previous}>
        Previous
      </button>
      <button id="search" onClick={() => setQ('user4')}>
        Search
      </button>
    </>
  );
}

/** One user's detail with the actions. */
function Detail({ id }: { id: string }) {
  const u = useAdminUser(id, 5);
  const error = u.disable.error ?? u.setRole.error ?? u.remove.error;
  return (
    <>
      <p id="user">{u.user.data ? `${u.user.data.email} ${u.user.data.role} ${u.user.data.disabled ? 'disabled' : 'enabled'}` : (u.user.error?.code ?? 'loading')}</p>
      <p id="sessions">{u.sessions.data ? u.sessions.data.length : ''}</p>
      <p id="events">{u.events.data ? u.events.data.items.map((e) => e.type).join(',') : ''}</p>
      <p id="error">{error?.code ?? ''}</p>
      <button id="disable" onClick={() => u.disable.run(id)}>
        Disable
      </button>
      <button id="enable" onClick={() => u.enable.run(id)}>
        Enable
      </button>
      <button id="promote" onClick={() => u.setRole.run(id, 'admin')}>
        Make admin
      </button>
      <button id="demote" onClick={() => u.setRole.run(id, 'user')}>
        Remove admin
      </button>
      <button id="delete" onClick={() => u.remove.run(id)}>
        Delete
      </button>
    </>
  );
}

function Mine() {
  const mine = useMyEvents(2);
  return (
    <>
      <p id="mine">{mine.events ? mine.events.map((e) => e.id).join(',') : 'loading'}</p>
      <button id="more" disabled={!mine.hasMore} onClick={mine.more}>
        More
      </button>
    </>
  );
}

async function settle() {
  await act(async () => undefined);
}

describe('the admin hooks', () => {
  it('useAdminUsers pages forwards and back, and a new search starts at page one', async () => {
    const { c, server } = await admin();
    const el = await render(c, <Users />);
    await settle();
    expect(text(el, 'emails')).toBe('ada@example.com,user1@example.com');
    expect(text(el, 'page')).toBe('1');
    expect((el.querySelector('#previous') as HTMLButtonElement).disabled).toBe(true);
    await click(el, 'next');
    expect(text(el, 'emails')).toBe('user2@example.com,user3@example.com');
    expect(text(el, 'page')).toBe('2');
    await click(el, 'next');
    expect(text(el, 'emails')).toBe('user4@example.com,user5@example.com');
    expect((el.querySelector('#next') as HTMLButtonElement).disabled).toBe(true);
    await click(el, 'previous');
    expect(text(el, 'emails')).toBe('user2@example.com,user3@example.com');
    await click(el, 'search');
    expect(text(el, 'emails')).toBe('user4@example.com');
    expect(text(el, 'page')).toBe('1');
    // Each page was asked for once: no request for a stale cursor when the search changed.
    expect(server.adminRequests).toEqual([
      'GET /api/admin/users?limit=2',
      'GET /api/admin/users?limit=2&cursor=2',
      'GET /api/admin/users?limit=2&cursor=4',
      'GET /api/admin/users?limit=2&cursor=2',
      'GET /api/admin/users?q=user4&limit=2',
    ]);
  });

  it('useAdminUsers reports forbidden to a non-admin', async () => {
    const server = new FakeAdminGatehouse();
    server.role = 'user';
    const { c } = await admin(server);
    const el = await render(c, <Users />);
    await settle();
    expect(text(el, 'error')).toBe('forbidden');
    expect(text(el, 'emails')).toBe('loading');
  });

  it('useAdminUser loads the user, sessions and events, and loads them again after each action', async () => {
    const { c, server } = await admin();
    server.event('login.succeeded', 'u2');
    const el = await render(c, <Detail id="u2" />);
    await settle();
    expect(text(el, 'user')).toBe('user1@example.com user enabled');
    expect(text(el, 'sessions')).toBe('1');
    expect(text(el, 'events')).toBe('login.succeeded,user.registered');
    expect(server.adminRequests).toContain('GET /api/admin/events?user_id=u2&limit=5');
    server.event('user.disabled', 'u2'); // as the server records it
    await click(el, 'disable');
    await settle();
    expect(text(el, 'user')).toBe('user1@example.com user disabled');
    expect(text(el, 'sessions')).toBe('0');
    expect(text(el, 'events')).toBe('user.disabled,login.succeeded,user.registered');
    await click(el, 'enable');
    await click(el, 'promote');
    await settle();
    expect(text(el, 'user')).toBe('user1@example.com admin enabled');
    await click(el, 'delete');
    expect(server.others.has('u2')).toBe(false);
  });

  it('shows last_admin when the only admin would remove their own role', async () => {
    const { c } = await admin();
    const el = await render(c, <Detail id="u1" />);
    await settle();
    expect(text(el, 'user')).toBe('ada@example.com admin enabled');
    await click(el, 'demote');
    expect(text(el, 'error')).toBe('last_admin');
    expect(text(el, 'user')).toBe('ada@example.com admin enabled');
  });

  it('useMyEvents lists the caller’s own events and appends older pages', async () => {
    const { c } = await admin();
    const el = await render(c, <Mine />);
    await settle();
    expect(text(el, 'mine')).toBe('e3,e2');
    await click(el, 'more');
    expect(text(el, 'mine')).toBe('e3,e2,e1');
    expect((el.querySelector('#more') as HTMLButtonElement).disabled).toBe(true);
  });
});
