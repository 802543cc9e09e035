import { useState, type FormEvent } from 'react';
import { AuthError } from '@gatehouse/client';
import { useAuth } from '@gatehouse/react';
import { Link, navigate } from '../router';
import { describe, fieldErrors } from '../errors';
import { usePageTitle } from '../hooks';

export function RegisterPage() {
  const heading = usePageTitle('Create an account');
  const { register } = useAuth();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [created, setCreated] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setFields({});
    try {
      // Seed 000: registration returns the user, then the app logs in.
      await register(email.trim(), password, name.trim() || undefined);
      setPassword('');
      navigate('/dashboard', { replace: true });
    } catch (err) {
      if (err instanceof AuthError && err.code === 'email_not_verified') {
        // The account exists; this server lets it log in only once the
        // address is verified (--require-verified-email).
        setPassword('');
        setCreated(email.trim());
        return;
      }
      setError(describe(err));
      if (err instanceof AuthError) setFields(fieldErrors(err));
    } finally {
      setBusy(false);
    }
  };

  const field = (id: string, key: string) => ({
    'aria-invalid': fields[key] ? true : undefined,
    'aria-describedby': fields[key] ? `${id}-error` : key === 'password' ? 'register-password-hint' : undefined,
  });

  return (
    <section className="card narrow" aria-labelledby="register-title">
      <h1 id="register-title" ref={heading} tabIndex={-1}>
        Create an account
      </h1>
      {created && (
        <p className="notice" role="status">
          Your account is created. Open the link we sent to <strong>{created}</strong> to verify your email, then{' '}
          <Link to="/login">log in</Link>.
        </p>
      )}
      <form onSubmit={submit} noValidate={false} hidden={created !== null}>
        <label htmlFor="register-name">Name</label>
        <input id="register-name" name="name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} {...field('register-name', 'name')} />
        {fields.name && (
          <p id="register-name-error" className="field-error">
            {fields.name}
          </p>
        )}
        <label htmlFor="register-email">Email</label>
        <input
          id="register-email"
          type="email"
          name="email"
          autoComplete="username"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          {...field('register-email', 'email')}
        />
        {fields.email && (
          <p id="register-email-error" className="field-error">
            {fields.email}
          </p>
        )}
        <label htmlFor="register-password">Password</label>
        <input
          id="register-password"
          type="password"
          name="password"
          autoComplete="new-password"
          required
          minLength={8}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          {...field('register-password', 'password')}
        />
        <p id="register-password-hint" className="hint">
          At least 8 characters. Long passphrases are best; common passwords are refused.
        </p>
        {fields.password && (
          <p id="register-password-error" className="field-error">
            {fields.password}
          </p>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={busy} aria-busy={busy}>
            Register
          </button>
          {busy && (
            <span className="pending" role="status">
              Creating your account…
            </span>
          )}
        </div>
      </form>
      <p className="aside">
        Already registered? <Link to="/login">Sign in instead</Link>
      </p>
    </section>
  );
}
