import { useState, type FormEvent } from 'react';
import { useForgotPassword, useFragmentToken, useResetPassword } from '@gatehouse/react';
import { Link } from '../router';
import { describe, fieldErrors } from '../errors';
import { usePageTitle } from '../hooks';

/**
 * ForgotPasswordPage asks for a reset link. Its answer is the same whether
 * or not the address has an account, as the server's is, so the page does
 * not tell who is registered (OWASP Forgot Password cheat sheet).
 */
export function ForgotPasswordPage() {
  const heading = usePageTitle('Forgot password');
  const forgot = useForgotPassword();
  const [email, setEmail] = useState('');
  const fields = fieldErrors(forgot.error);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    forgot.run(email.trim());
  };

  return (
    <section className="card narrow" aria-labelledby="forgot-title">
      <h1 id="forgot-title" ref={heading} tabIndex={-1}>
        Forgot password
      </h1>
      {forgot.done ? (
        <p className="notice" role="status">
          If an account exists for <strong>{email.trim()}</strong>, a link to set a new password is on its way. It works once and
          expires soon.
        </p>
      ) : (
        <form onSubmit={submit}>
          <p className="hint">Enter the email address of your account and we will send you a link to set a new password.</p>
          <label htmlFor="forgot-email">Email</label>
          <input
            id="forgot-email"
            type="email"
            name="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            aria-invalid={fields.email ? true : undefined}
            aria-describedby={fields.email ? 'forgot-email-error' : undefined}
          />
          {fields.email && (
            <p id="forgot-email-error" className="field-error">
              {fields.email}
            </p>
          )}
          {forgot.error && (
            <p className="error" role="alert">
              {describe(forgot.error)}
            </p>
          )}
          <div className="actions">
            <button type="submit" disabled={forgot.pending} aria-busy={forgot.pending}>
              Send reset link
            </button>
            {forgot.pending && (
              <span className="pending" role="status">
                Sending…
              </span>
            )}
          </div>
        </form>
      )}
      <p className="aside">
        Remembered it? <Link to="/login">Log in</Link>
      </p>
    </section>
  );
}

/**
 * ResetPasswordPage is where the reset mail's link leads. The token is in
 * the fragment (never sent to a server); it is taken once and the fragment
 * dropped from the address bar, so it stays out of the history.
 */
export function ResetPasswordPage() {
  const heading = usePageTitle('Reset your password');
  const token = useFragmentToken();
  const reset = useResetPassword();
  const [password, setPassword] = useState('');
  const fields = fieldErrors(reset.error);
  const badLink = reset.error?.code === 'email_token_invalid' || reset.error?.code === 'email_token_expired';

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token) reset.run(token, password);
  };

  let body;
  if (reset.done) {
    body = (
      <p className="notice" role="status">
        Your password has been changed, and every session that was signed in has ended. <Link to="/login">Log in</Link> with the new
        password.
      </p>
    );
  } else if (!token) {
    body = (
      <p className="error" role="alert">
        This link has no reset token. Open the link from the mail again, or <Link to="/forgot-password">ask for a new one</Link>.
      </p>
    );
  } else {
    body = (
      <form onSubmit={submit}>
        <label htmlFor="reset-password">New password</label>
        <input
          id="reset-password"
          type="password"
          name="new_password"
          autoComplete="new-password"
          required
          minLength={8}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-invalid={fields.new_password ? true : undefined}
          aria-describedby={fields.new_password ? 'reset-password-error' : 'reset-password-hint'}
        />
        <p id="reset-password-hint" className="hint">
          At least 8 characters. Long passphrases are best; common passwords are refused.
        </p>
        {fields.new_password && (
          <p id="reset-password-error" className="field-error">
            {fields.new_password}
          </p>
        )}
        {reset.error && (
          <div className="error" role="alert">
            <p>{describe(reset.error)}</p>
            {badLink && (
              <p>
                <Link to="/forgot-password">Ask for a new link</Link>
              </p>
            )}
          </div>
        )}
        <div className="actions">
          <button type="submit" disabled={reset.pending || badLink} aria-busy={reset.pending}>
            Set new password
          </button>
          {reset.pending && (
            <span className="pending" role="status">
              Saving…
            </span>
          )}
        </div>
      </form>
    );
  }

  return (
    <section className="card narrow" aria-labelledby="reset-title">
      <h1 id="reset-title" ref={heading} tabIndex={-1}>
        Reset your password
      </h1>
      {body}
    </section>
  );
}
