import { useAuth, useSendVerificationEmail } from '@gatehouse/react';
import { describe } from './errors';

/** VerifyBanner asks a signed-in user whose email is not verified to verify it, with a button to send the link again. */
export function VerifyBanner() {
  const { status, user } = useAuth();
  const send = useSendVerificationEmail();
  if (status !== 'authenticated' || user?.email_verified !== false) return null;
  return (
    // Not a labelled region: its name would make getByLabel('Email') (and a
    // screen reader's landmark list) find the banner as well as the field.
    <div className="banner verify">
      <h2>Verify your email</h2>
      <p>Open the link we sent to your email address to confirm that it is yours.</p>
      <div className="actions">
        <button type="button" className="secondary" onClick={() => send.run()} disabled={send.pending} aria-busy={send.pending}>
          Resend
        </button>
        {send.done && <span role="status">A new link is on its way.</span>}
        {send.error && <span role="alert">{describe(send.error)}</span>}
      </div>
    </div>
  );
}
