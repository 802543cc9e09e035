import { useAuth, useSendVerificationEmail } from '@gatehouse/react';
import { describe } from './errors';

/** VerifyBanner asks a signed-in user whose email is not verified to verify it, with a button to send the link again. */
export function VerifyBanner() {
  const { status, user } = useAuth();
  const send = useSendVerificationEmail();
  if (status !== 'authenticated' || user?.email_verified !== false) return null;
  return (
    <section className="banner verify" aria-labelledby="verify-banner-title">
      <h2 id="verify-banner-title">Verify your email</h2>
      <p>
        We sent a link to <strong>{user.email}</strong>. Open it to confirm the address is yours.
      </p>
      <div className="actions">
        <button type="button" className="secondary" onClick={() => send.run()} disabled={send.pending} aria-busy={send.pending}>
          Resend
        </button>
        {send.done && <span role="status">A new link is on its way.</span>}
        {send.error && <span role="alert">{describe(send.error)}</span>}
      </div>
    </section>
  );
}
