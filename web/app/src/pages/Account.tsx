import { useState, type FormEvent } from 'react';
import { useAuth, useChangeEmail, useChangePassword, useUpdateProfile } from '@gatehouse/react';
import { describe, fieldErrors } from '../errors';
import { Link } from '../router';
import { usePageTitle } from '../hooks';
import { useStepUpGuard } from '../StepUp';

/**
 * AccountPage changes the account's name (ProfileForm), shows its email
 * and changes it. The change asks
 * for the current password (a stolen session alone must not take over the
 * account: OWASP ASVS V2.5.x) and takes effect only when the link sent to
 * the new address is opened.
 */
export function AccountPage() {
  const heading = usePageTitle('Account');
  const { user } = useAuth();
  const change = useChangeEmail();
  const { guard, prompting, prompt } = useStepUpGuard();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [sentTo, setSentTo] = useState<string | null>(null);
  const fields = fieldErrors(change.error);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const to = email.trim();
    try {
      await guard(() => change.runAsync(to, password));
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
      <ProfileForm />
      <dl className="facts">
        <dt>Second factors</dt>
        <dd>
          <Link to="/security">Security settings</Link>
        </dd>
        <dt>Email</dt>
        <dd>
          {user?.email} {user?.email_verified === true ? '(verified)' : user?.email_verified === false ? '(not verified)' : ''}
        </dd>
      </dl>
      <h2 id="change-email-title">Change email</h2>
      {sentTo && (
        <p className="notice" role="status">
          We sent a link to <strong>{sentTo}</strong>. Your email changes when you open it.
        </p>
      )}
      <form onSubmit={submit} aria-labelledby="change-email-title">
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
        {change.error && !prompting && (
          <p className="error" role="alert">
            {change.error.code === 'invalid_credentials' ? 'The current password is not correct.' : describe(change.error)}
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={change.pending || prompting} aria-busy={change.pending}>
            Change email
          </button>
          {change.pending && (
            <span className="pending" role="status">
              Sending…
            </span>
          )}
        </div>
      </form>
      {prompt}
      <ChangePasswordForm />
    </section>
  );
}

/**
 * ChangePasswordForm sets a new password given the current one (OWASP ASVS
 * 4.0.3 V2.1.6: a session alone must not change it). The server ends the
 * user's other sessions and keeps this one.
 */
function ChangePasswordForm() {
  const change = useChangePassword();
  const { guard, prompting, prompt } = useStepUpGuard();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const fields = fieldErrors(change.error);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      // With a second factor, an aal1 session must step up first (CONTRACT §8).
      await guard(() => change.runAsync(current, next));
      setNext('');
    } catch {
      // Shown from change.error.
    } finally {
      setCurrent('');
    }
  };

  const field = (id: string, key: string) => ({
    'aria-invalid': fields[key] ? true : undefined,
    'aria-describedby': fields[key] ? `${id}-error` : undefined,
  });

  return (
    <>
      <h2 id="change-password-title">Change password</h2>
      {change.done && (
        <p className="notice" role="status">
          Your password has been changed. Your other sessions have been signed out.
        </p>
      )}
      <form onSubmit={submit} aria-labelledby="change-password-title">
        <label htmlFor="password-current">Current password</label>
        <input
          id="password-current"
          type="password"
          name="current_password"
          autoComplete="current-password"
          required
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
          {...field('password-current', 'current_password')}
        />
        {fields.current_password && (
          <p id="password-current-error" className="field-error">
            {fields.current_password}
          </p>
        )}
        <label htmlFor="password-new">New password</label>
        <input
          id="password-new"
          type="password"
          name="new_password"
          autoComplete="new-password"
          required
          value={next}
          onChange={(e) => setNext(e.target.value)}
          {...field('password-new', 'new_password')}
        />
        {fields.new_password && (
          <p id="password-new-error" className="field-error">
            {fields.new_password}
          </p>
        )}
        {change.error && !fields.new_password && !prompting && (
          <p className="error" role="alert">
            {change.error.code === 'invalid_credentials' ? 'The current password is not correct.' : describe(change.error)}
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={change.pending || prompting} aria-busy={change.pending}>
            Change password
          </button>
          {change.pending && (
            <span className="pending" role="status">
              Saving…
            </span>
          )}
        </div>
      </form>
      {prompt}
    </>
  );
}

/**
 * ProfileForm changes the display name. The server is the judge of a valid
 * name (at most 100 printable characters); its field message is shown under
 * the input. The new name shows at once wherever the app shows the user, as
 * the SDK adopts the user the server returns.
 */
function ProfileForm() {
  const { user } = useAuth();
  const update = useUpdateProfile();
  const [name, setName] = useState(() => user?.name ?? '');
  const fields = fieldErrors(update.error);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const saved = await update.runAsync({ name: name.trim() });
      setName(saved.name);
    } catch {
      // Shown from update.error.
    }
  };

  const edit = (value: string) => {
    setName(value);
    // "Saved." is about the value that was saved, not the one being typed.
    if (update.done) update.reset();
  };

  return (
    <>
      <h2 id="profile-title">Profile</h2>
      <form onSubmit={submit} aria-labelledby="profile-title">
        <label htmlFor="profile-name">Name</label>
        <input
          id="profile-name"
          name="name"
          autoComplete="name"
          value={name}
          onChange={(e) => edit(e.target.value)}
          aria-invalid={fields.name ? true : undefined}
          aria-describedby={fields.name ? 'profile-name-error' : undefined}
        />
        {fields.name && (
          <p id="profile-name-error" className="field-error">
            {fields.name}
          </p>
        )}
        {update.error && !fields.name && (
          <p className="error" role="alert">
            {describe(update.error)}
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={update.pending} aria-busy={update.pending}>
            Save
          </button>
          {update.pending && (
            <span className="pending" role="status">
              Saving…
            </span>
          )}
          {update.done && (
            <span className="notice" role="status">
              Saved.
            </span>
          )}
        </div>
      </form>
    </>
  );
}
