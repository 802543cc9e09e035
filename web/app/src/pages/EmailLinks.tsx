import { useEffect, useRef, type ReactNode } from 'react';
import type { User } from '@gatehouse/client';
import { useAuth, useConfirmEmail, useFragmentToken, useVerifyEmail, type AuthAction } from '@gatehouse/react';
import { Link } from '../router';
import { describe } from '../errors';
import { usePageTitle } from '../hooks';

/**
 * useSpendOnce spends the page's fragment token once, on arrival. The ref
 * keeps StrictMode's second effect run (development only) from spending a
 * single-use token twice and showing the second, refused, attempt.
 */
function useSpendOnce(action: AuthAction<[token: string], User>): string | null {
  const token = useFragmentToken();
  const started = useRef(false);
  const { run } = action;
  useEffect(() => {
    if (!token || started.current) return;
    started.current = true;
    run(token);
  }, [token, run]);
  return token;
}

function LinkResult({ id, title, token, action, success }: { id: string; title: string; token: string | null; action: AuthAction<[string], User>; success: (u: User) => ReactNode }) {
  const heading = usePageTitle(title);
  const { status } = useAuth();
  const next = status === 'authenticated' ? <Link to="/dashboard">Go to your dashboard</Link> : <Link to="/login">Log in</Link>;
  let body: ReactNode;
  if (!token) {
    body = (
      <p className="error" role="alert">
        This link has no token. Open the link from the mail again.
      </p>
    );
  } else if (action.data) {
    body = (
      <>
        <p className="notice" role="status">
          {success(action.data)}
        </p>
        <p className="aside">{next}</p>
      </>
    );
  } else if (action.error) {
    body = (
      <>
        <p className="error" role="alert">
          {describe(action.error)}
        </p>
        <p className="aside">{next}</p>
      </>
    );
  } else {
    body = (
      <p className="pending" role="status">
        Checking the link…
      </p>
    );
  }
  return (
    <section className="card narrow" aria-labelledby={`${id}-title`}>
      <h1 id={`${id}-title`} ref={heading} tabIndex={-1}>
        {title}
      </h1>
      {body}
    </section>
  );
}

/** VerifyEmailPage is where the verification mail's link leads: it spends the token and says whether the address is verified. */
export function VerifyEmailPage() {
  const verify = useVerifyEmail();
  const token = useSpendOnce(verify);
  return (
    <LinkResult
      id="verify"
      title="Email verification"
      token={token}
      action={verify}
      success={(u) => (
        <>
          Your email address <strong>{u.email}</strong> is verified.
        </>
      )}
    />
  );
}

/** ConfirmEmailPage is where the email-change mail's link leads: the account's email becomes the new address. */
export function ConfirmEmailPage() {
  const confirm = useConfirmEmail();
  const token = useSpendOnce(confirm);
  return (
    <LinkResult
      id="confirm"
      title="Email change"
      token={token}
      action={confirm}
      success={(u) => (
        <>
          Your email address is now <strong>{u.email}</strong>.
        </>
      )}
    />
  );
}
