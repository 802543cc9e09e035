import { useEffect, useState, type FormEvent } from 'react';
import { AuthError, MfaRequiredError, type SecondFactor } from '@gatehouse/client';
import { returnPath, useAuth, useConditionalPasskeyLogin } from '@gatehouse/react';
import { Link, navigate, useLocation } from '../router';
import { describe, passkeyProblem } from '../errors';
import { usePageTitle } from '../hooks';
import { SecondFactorForm } from '../SecondFactor';
import { codeProblem } from '../StepUp';

export function LoginPage({ notice }: { notice: string | null }) {
  const heading = usePageTitle('Log in');
  const { login, completeMfaLogin, loginWithPasskey, status } = useAuth();
  const { search } = useLocation();
  const next = returnPath(search.get('next'));
  // Sent here from a page that needs a session (RequireAuth adds ?next=):
  // say so, rather than showing a login form with no reason given.
  const why = notice ?? (search.get('next') ? 'Log in to see that page.' : null);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // The second step (CONTRACT §8): the password was right and the user has
  // a second factor; the mfa token stands for the first step.
  const [mfa, setMfa] = useState<{ token: string; methods: string[] } | null>(null);
  const [codeError, setCodeError] = useState<string | null>(null);

  // Passkeys in the email field's autofill (conditional UI), while nothing
  // else is signing in: a browser runs one WebAuthn request at a time, so
  // the button and the password form stop it first.
  const noPasskeys = passkeyProblem();
  const autofill = useConditionalPasskeyLogin(!busy && !mfa && !noPasskeys && status === 'unauthenticated', () => navigate(next, { replace: true }));

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
      if (err instanceof MfaRequiredError) {
        setPassword('');
        setCodeError(null);
        setMfa({ token: err.mfaToken, methods: err.methods });
      } else {
        setError(describe(err));
      }
    } finally {
      setBusy(false);
    }
  };

  const withPasskey = async () => {
    setBusy(true);
    setError(null);
    try {
      await loginWithPasskey();
      navigate(next, { replace: true });
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };

  const verify = async (factor: SecondFactor) => {
    if (!mfa) return;
    setBusy(true);
    setCodeError(null);
    try {
      await completeMfaLogin({ mfaToken: mfa.token, ...factor });
      navigate(next, { replace: true });
    } catch (err) {
      if (err instanceof AuthError && err.code === 'mfa_token_invalid') {
        // Used, expired or killed by too many wrong codes: the password
        // step has to be done again.
        setMfa(null);
        setError(describe(err));
      } else {
        setCodeError(err instanceof AuthError ? codeProblem(err) : describe(err));
      }
    } finally {
      setBusy(false);
    }
  };

  const back = () => {
    setMfa(null);
    setCodeError(null);
  };

  if (mfa) {
    const codes = mfa.methods.includes('totp') || mfa.methods.includes('recovery_code');
    const passkey = mfa.methods.includes('passkey');
    return (
      <section className="card narrow" aria-labelledby="login-title">
        <h1 id="login-title" ref={heading} tabIndex={-1}>
          Two-step verification
        </h1>
        <p className="hint">
          Signing in as <strong>{email.trim()}</strong>.{' '}
          {codes ? 'Open your authenticator app and enter the code it shows' : 'Confirm it’s you with one of your passkeys'}
          {codes && passkey ? ', or use a passkey.' : '.'}
        </p>
        {passkey && (
          <div className="actions">
            <button type="button" className={codes ? 'secondary' : undefined} disabled={busy} onClick={() => verify({ passkey: true })}>
              Use a passkey
            </button>
          </div>
        )}
        {codes ? (
          <SecondFactorForm id="login-mfa" onSubmit={verify} busy={busy} error={codeError} recovery={mfa.methods.includes('recovery_code')} />
        ) : (
          codeError && (
            <p className="error" role="alert">
              {codeError}
            </p>
          )
        )}
        <p className="aside">
          <button type="button" className="secondary small" onClick={back}>
            Back to the password
          </button>
        </p>
      </section>
    );
  }

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
        <input id="login-email" type="email" name="email" autoComplete="username webauthn" required value={email} onChange={(e) => setEmail(e.target.value)} />
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
      <div className="actions passkey-login">
        <button type="button" className="secondary" disabled={busy || noPasskeys !== null} onClick={withPasskey}>
          Log in with a passkey
        </button>
      </div>
      {noPasskeys && (
        <p className="hint" data-testid="passkey-problem">
          {noPasskeys}
        </p>
      )}
      {/* Only a passkey the user picked and the server refused is news to
          them; the autofill's other troubles (rate limited, no server) are
          for the button or the form to report when used. */}
      {autofill.error?.code === 'passkey_invalid' && !error && (
        <p className="error" role="alert">
          {describe(autofill.error)}
        </p>
      )}
      <p className="aside">
        <Link to="/forgot-password">Forgot password?</Link>
      </p>
      <p className="aside">
        No account yet? <Link to="/register">Create one</Link>
      </p>
    </section>
  );
}
