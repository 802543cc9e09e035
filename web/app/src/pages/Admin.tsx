import { useEffect, useState, type FormEvent } from 'react';
import { StepUpRequiredError, type AdminUser, type AuthError } from '@gatehouse/client';
import { useAdminUsers, useAuth } from '@gatehouse/react';
import { UserDetail } from '../AdminUser';
import { describe } from '../errors';
import { usePageTitle } from '../hooks';
import { Link, navigate, useLocation } from '../router';
import { useStepUpGuard, type StepUpGuard } from '../StepUp';

const PAGE_SIZE = 20;

/**
 * AdminPage is the operators' page (CONTRACT §9): find users and page
 * through them (/admin?q=…), and one user's detail with the admin's
 * actions (/admin?user=ID). The navigation shows it to admins only, and
 * anyone else who opens it is told so; the server decides either way (403
 * `forbidden` to a non-admin, which this page shows the same way).
 */
export function AdminPage() {
  const heading = usePageTitle('Admin');
  const { user } = useAuth();
  const { search } = useLocation();
  const id = search.get('user');

  if (user?.role !== 'admin') return <AdminsOnly />;
  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        Admin
      </h1>
      {id ? <UserDetail key={id} id={id} /> : <UserList q={search.get('q') ?? ''} />}
    </>
  );
}

/** AdminsOnly is what a signed-in user who is not an admin sees at /admin. */
export function AdminsOnly() {
  return (
    <section className="card narrow" aria-labelledby="admins-only-title">
      <h1 id="admins-only-title">Administrators only</h1>
      <p>This page is for the administrators of this Gatehouse. Your account is not one of them.</p>
      <p>
        <Link to="/dashboard">Back to the dashboard</Link>
      </p>
    </section>
  );
}

/**
 * useStepUpRetry asks for the admin's second factor when a load answered
 * insufficient_user_authentication (an admin with a factor on an aal1
 * session, RFC 9470), then loads again.
 */
export function useStepUpRetry(error: AuthError | null, reload: () => void, guard: StepUpGuard['guard']): void {
  useEffect(() => {
    if (!(error instanceof StepUpRequiredError)) return;
    let first = true;
    const once = () => {
      if (!first) return Promise.resolve();
      first = false;
      return Promise.reject(error);
    };
    guard(once).then(reload, () => undefined);
  }, [error, reload, guard]);
}

/** UserList is the search form, a page of users and the paging buttons. */
function UserList({ q }: { q: string }) {
  const [input, setInput] = useState(q);
  const list = useAdminUsers(q, PAGE_SIZE);
  const { guard, prompting, prompt } = useStepUpGuard();
  useStepUpRetry(list.error, list.reload, guard);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const next = input.trim();
    navigate(next ? `/admin?q=${encodeURIComponent(next)}` : '/admin');
  };

  if (list.error?.code === 'forbidden') return <AdminsOnly />;
  return (
    <section className="card" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <form role="search" className="search" onSubmit={submit}>
        <label htmlFor="user-search">Search users</label>
        <input id="user-search" type="search" value={input} onChange={(e) => setInput(e.target.value)} placeholder="Part of an email or a name" />
        <button type="submit">Search</button>
      </form>
      {list.error && !prompting && (
        <p className="error" role="alert">
          {describe(list.error)}
        </p>
      )}
      {prompt}
      {!list.users && list.pending && (
        <p className="loading" role="status">
          Loading users…
        </p>
      )}
      {list.users && list.users.length === 0 && <p className="empty">{q ? `No user matches “${q}”.` : 'No users yet.'}</p>}
      {list.users && list.users.length > 0 && <UserTable users={list.users} q={q} />}
      <nav className="actions paging" aria-label="Pages of users">
        <button type="button" className="secondary" disabled={!list.hasPrevious} onClick={list.previous}>
          Previous page
        </button>
        <span className="hint" aria-live="polite">
          Page {list.page}
        </span>
        <button type="button" className="secondary" disabled={!list.hasNext} onClick={list.next}>
          Next page
        </button>
      </nav>
    </section>
  );
}

function UserTable({ users, q }: { users: AdminUser[]; q: string }) {
  return (
    <table className="sessions users" data-testid="user-table">
      <caption className="visually-hidden">{q ? `Users matching “${q}”` : 'All users'}</caption>
      <thead>
        <tr>
          <th scope="col">Email</th>
          <th scope="col">Name</th>
          <th scope="col">Role</th>
          <th scope="col">Status</th>
          <th scope="col">Sessions</th>
          <th scope="col">Second factors</th>
        </tr>
      </thead>
      <tbody>
        {users.map((u) => (
          <tr key={u.id}>
            <th scope="row">
              <Link to={`/admin?user=${encodeURIComponent(u.id)}`}>{u.email}</Link>
            </th>
            <td data-label="Name">{u.name || '—'}</td>
            <td data-label="Role">{roleWords(u.role)}</td>
            <td data-label="Status">{u.disabled ? 'Disabled' : 'Active'}</td>
            <td data-label="Sessions">{u.sessions}</td>
            <td data-label="Second factors">{factorWords(u.mfa)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function roleWords(role: string): string {
  return role === 'admin' ? 'Administrator' : 'User';
}

/** factorWords says which second factors a user has. */
export function factorWords(mfa: AdminUser['mfa']): string {
  const parts: string[] = [];
  if (mfa.totp) parts.push('authenticator app');
  if (mfa.passkeys > 0) parts.push(mfa.passkeys === 1 ? '1 passkey' : `${mfa.passkeys} passkeys`);
  return parts.length ? parts.join(', ') : 'None';
}
