import { useEffect, useState, type FormEvent } from 'react';
import { returnPath, useAuth } from '@gatehouse/react';
import { Link, navigate, useLocation } from '../router';
import { describe } from '../errors';
import { usePageTitle } from '../hooks';

export function LoginPage({ notice }: { notice: string | null }) {
  const heading = usePageTitle('Log in');
  const { login, status } = useAuth();
  const { search } = useLocation();
  const next = returnPath(search.get('next'));
  // Sent here from a page that needs a session (RequireAuth adds ?next=):
  // say so, rather than showing a login form with no reason given.
  const why = notice ?? (search.get('next') ? 'Log in to see that page.' : null);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // Already signed in (start-up found a session, or another tab logged in).
  useEffect(() => {
    if (status === 'authenticated' && !busy) navigate(next, { replace: true });
  }, [status, busy, next]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email.trim(), password);
      setPassword('');
      navigate(next, { replace: true });
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card narrow" aria-labelledby="login-title">
      <h1 id="login-title" ref={heading} tabIndex={-1}>
        Log in
      </h1>
      {why && (
        <p className="notice" role="status">
          {why}
        </p>
      )}
      <form onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <label htmlFor="login-email">Email</label>
        <input id="login-email" type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="login-password">Password</label>
        <input
          id="login-password"
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {error && (
          <p id="login-error" className="error" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={busy} aria-busy={busy}>
            Log in
          </button>
          {busy && (
            <span className="pending" role="status">
              Logging in…
            </span>
          )}
        </div>
      </form>
      <p className="aside">
        <Link to="/forgot-password">Forgot password?</Link>
      </p>
      <p className="aside">
        No account yet? <Link to="/register">Create one</Link>
      </p>
    </section>
  );
}
