import { useState, type FormEvent } from 'react';
import { useAuth, useChangeEmail } from '@gatehouse/react';
import { describe, fieldErrors } from '../errors';
import { usePageTitle } from '../hooks';

/**
 * AccountPage shows the account's email and changes it. The change asks
 * for the current password (a stolen session alone must not take over the
 * account: OWASP ASVS V2.5.x) and takes effect only when the link sent to
 * the new address is opened.
 */
export function AccountPage() {
  const heading = usePageTitle('Account');
  const { user } = useAuth();
  const change = useChangeEmail();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [sentTo, setSentTo] = useState<string | null>(null);
  const fields = fieldErrors(change.error);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const to = email.trim();
    try {
      await change.runAsync(to, password);
      setSentTo(to);
      setEmail('');
    } catch {
      // Shown from change.error.
    } finally {
      setPassword('');
    }
  };

  const field = (id: string, key: string) => ({
    'aria-invalid': fields[key] ? true : undefined,
    'aria-describedby': fields[key] ? `${id}-error` : undefined,
  });

  return (
    <section className="card narrow" aria-labelledby="account-title">
      <h1 id="account-title" ref={heading} tabIndex={-1}>
        Account
      </h1>
      <dl className="facts">
        <dt>Email</dt>
        <dd>
          {user?.email} {user?.email_verified === true ? '(verified)' : user?.email_verified === false ? '(not verified)' : ''}
        </dd>
      </dl>
      <h2>Change email</h2>
      {sentTo && (
        <p className="notice" role="status">
          We sent a link to <strong>{sentTo}</strong>. Your email changes when you open it.
        </p>
      )}
      <form onSubmit={submit}>
        <label htmlFor="account-new-email">New email</label>
        <input
          id="account-new-email"
          type="email"
          name="new_email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          {...field('account-new-email', 'new_email')}
        />
        {fields.new_email && (
          <p id="account-new-email-error" className="field-error">
            {fields.new_email}
          </p>
        )}
        <label htmlFor="account-password">Current password</label>
        <input
          id="account-password"
          type="password"
          name="current_password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          {...field('account-password', 'current_password')}
        />
        {fields.current_password && (
          <p id="account-password-error" className="field-error">
            {fields.current_password}
          </p>
        )}
        {change.error && (
          <p className="error" role="alert">
            {change.error.code === 'invalid_credentials' ? 'The current password is not correct.' : describe(change.error)}
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={change.pending} aria-busy={change.pending}>
            Change email
          </button>
          {change.pending && (
            <span className="pending" role="status">
              Sending…
            </span>
          )}
        </div>
      </form>
    </section>
  );
}
