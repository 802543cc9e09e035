import { useState } from 'react';
import type { AdminUser } from '@gatehouse/client';
import { useAdminUser, useAuth } from '@gatehouse/react';
import { EventList } from './activity';
import { describe } from './errors';
import { formatTime } from './hooks';
import { Link } from './router';
import { device } from './pages/Sessions';
import { AdminsOnly, factorWords, roleWords, useStepUpRetry } from './pages/Admin';
import { useStepUpGuard } from './StepUp';

/**
 * UserDetail is one user for an admin: their facts, live sessions and
 * recent events, and the actions: disable or enable, log out everywhere,
 * reset second factors, make or stop being an admin, delete (after a
 * confirmation). Each runs behind the step-up prompt, as the server wants
 * an aal2 session from an admin who has a second factor (RFC 9470).
 */
export function UserDetail({ id }: { id: string }) {
  const u = useAdminUser(id, 20);
  const me = useAuth().user;
  const { guard, prompting, prompt } = useStepUpGuard();
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [confirming, setConfirming] = useState(false);
  const [deleted, setDeleted] = useState<string | null>(null);
  useStepUpRetry(u.user.error, u.reload, guard);

  const user = u.user.data;
  const busy = [u.disable, u.enable, u.setRole, u.logoutEverywhere, u.resetFactors, u.remove].some((a) => a.pending);

  const act = async (run: () => Promise<unknown>, done: string) => {
    setError(null);
    setNotice(null);
    try {
      await guard(run);
      setNotice(done);
    } catch (e) {
      setError(e);
    }
  };

  const remove = async (who: AdminUser) => {
    setError(null);
    try {
      await guard(() => u.remove.runAsync(who.id));
      setDeleted(who.email);
    } catch (e) {
      setConfirming(false);
      setError(e);
    }
  };

  const back = (
    <p>
      <Link to="/admin">← All users</Link>
    </p>
  );
  if (deleted) {
    return (
      <section className="card" aria-labelledby="deleted-title">
        <h2 id="deleted-title">User deleted</h2>
        <p className="notice" role="status">
          {deleted} and their sessions, second factors and posts are gone.
        </p>
        {back}
      </section>
    );
  }
  if (u.user.error?.code === 'forbidden') return <AdminsOnly />;
  if (!user) {
    return (
      <section className="card">
        {back}
        {u.user.error && !prompting ? (
          <p className="error" role="alert">
            {u.user.error.code === 'not_found' ? 'There is no such user: they may have been deleted.' : describe(u.user.error)}
          </p>
        ) : (
          <p className="loading" role="status">
            Loading the user…
          </p>
        )}
        {prompt}
      </section>
    );
  }

  const self = me?.id === user.id;
  return (
    <>
      <section className="card" aria-labelledby="user-title">
        {back}
        <h2 id="user-title">{user.email}</h2>
        <dl className="facts">
          <dt>Name</dt>
          <dd>{user.name || '—'}</dd>
          <dt>Email</dt>
          <dd>
            {user.email} {user.email_verified ? '(verified)' : '(not verified)'}
          </dd>
          <dt>Role</dt>
          <dd data-testid="user-role">{roleWords(user.role)}</dd>
          <dt>Status</dt>
          <dd data-testid="user-status">{user.disabled ? 'Disabled' : 'Active'}</dd>
          <dt>Last sign-in</dt>
          <dd>{user.last_login_at ? <time dateTime={user.last_login_at}>{formatTime(user.last_login_at)}</time> : 'Never'}</dd>
          <dt>Second factors</dt>
          <dd>{factorWords(user.mfa)}</dd>
          <dt>Live sessions</dt>
          <dd data-testid="user-sessions">{user.sessions}</dd>
          <dt>Created</dt>
          <dd>
            <time dateTime={user.created_at}>{formatTime(user.created_at)}</time>
          </dd>
        </dl>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        {error !== null && !prompting && (
          <p className="error" role="alert">
            {describe(error)}
          </p>
        )}
        <div className="actions admin-actions">
          {user.disabled ? (
            <button type="button" disabled={busy} onClick={() => act(() => u.enable.runAsync(user.id), `${user.email} can sign in again.`)}>
              Enable
            </button>
          ) : (
            <button
              type="button"
              className="danger"
              disabled={busy}
              onClick={() => act(() => u.disable.runAsync(user.id), `${user.email} is disabled: their sessions have ended and they cannot sign in.`)}
            >
              Disable
            </button>
          )}
          <button type="button" className="secondary" disabled={busy} onClick={() => act(() => u.logoutEverywhere.runAsync(user.id), `Every session of ${user.email} has ended.`)}>
            Log out everywhere
          </button>
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() => act(() => u.resetFactors.runAsync(user.id), `The authenticator app, recovery codes and passkeys of ${user.email} are removed.`)}
          >
            Reset second factors
          </button>
          {user.role === 'admin' ? (
            <button type="button" className="secondary" disabled={busy} onClick={() => act(() => u.setRole.runAsync(user.id, 'user'), `${user.email} is no longer an administrator.`)}>
              Remove admin
            </button>
          ) : (
            <button type="button" className="secondary" disabled={busy} onClick={() => act(() => u.setRole.runAsync(user.id, 'admin'), `${user.email} is now an administrator.`)}>
              Make admin
            </button>
          )}
          {!confirming && (
            <button type="button" className="danger" disabled={busy} onClick={() => setConfirming(true)}>
              Delete user
            </button>
          )}
        </div>
        {confirming && (
          <div className="stepup" role="group" aria-labelledby="confirm-delete-title">
            <h3 id="confirm-delete-title">Delete {user.email}?</h3>
            <p>
              Their account, sessions, second factors and posts are removed for good.{self ? ' This is your own account: you will be signed out.' : ''}
            </p>
            <div className="actions">
              <button type="button" className="danger" disabled={busy} onClick={() => remove(user)}>
                Yes, delete this user
              </button>
              <button type="button" className="secondary" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </div>
          </div>
        )}
        {prompt}
      </section>
      <section className="card" aria-labelledby="user-sessions-title">
        <h2 id="user-sessions-title">Sessions</h2>
        {u.sessions.error && <p className="error">{describe(u.sessions.error)}</p>}
        {u.sessions.data && u.sessions.data.length === 0 && <p className="empty">No live sessions.</p>}
        {u.sessions.data && u.sessions.data.length > 0 && (
          <table className="sessions">
            <caption className="visually-hidden">Live sessions of {user.email}</caption>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Address</th>
                <th scope="col">Last used</th>
                <th scope="col">Signed in</th>
              </tr>
            </thead>
            <tbody>
              {u.sessions.data.map((s) => (
                <tr key={s.id}>
                  <th scope="row">{device(s.user_agent)}</th>
                  <td data-label="Address">{s.ip || '—'}</td>
                  <td data-label="Last used">
                    <time dateTime={s.last_used_at}>{formatTime(s.last_used_at)}</time>
                  </td>
                  <td data-label="Signed in">
                    <time dateTime={s.created_at}>{formatTime(s.created_at)}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section className="card" aria-labelledby="user-events-title">
        <h2 id="user-events-title">Recent events</h2>
        {u.events.error && <p className="error">{describe(u.events.error)}</p>}
        {u.events.data && <EventList events={u.events.data.items} label={`Recent events of ${user.email}`} testId="user-events" />}
      </section>
    </>
  );
}
