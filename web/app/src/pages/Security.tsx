import { useEffect, useState, type FormEvent } from 'react';
import QRCode from 'qrcode';
import type { TotpEnrollment } from '@gatehouse/client';
import { useAuth, useConfirmTotp, useMyEvents, useDisableTotp, useEnrollTotp, useMfaStatus, useRegenerateRecoveryCodes } from '@gatehouse/react';
import { EventList } from '../activity';
import { describe } from '../errors';
import { usePageTitle } from '../hooks';
import { PasskeysSection } from '../Passkeys';
import { codeProblem, useStepUpGuard } from '../StepUp';

/**
 * SecurityPage shows how this session was authenticated (acr, amr) and the
 * account's second factors, and sets up, replaces and removes them: an
 * authenticator app (TOTP, RFC 6238) and its recovery codes, and passkeys
 * (WebAuthn). Removing the app, replacing the codes or removing a passkey
 * needs an aal2 session; from an aal1 one the step-up prompt asks for a
 * factor first (RFC 9470).
 */
export function SecurityPage() {
  const heading = usePageTitle('Security');
  const { acr, amr } = useAuth();
  const status = useMfaStatus();
  // Recovery codes just made: shown once, until the user says they saved them.
  const [codes, setCodes] = useState<string[] | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const changed = (message: string, fresh: string[] | null = null) => {
    setNotice(message);
    setCodes(fresh);
    status.run();
  };

  return (
    <section className="card narrow" aria-labelledby="security-title">
      <h1 id="security-title" ref={heading} tabIndex={-1}>
        Security
      </h1>
      <dl className="facts">
        <dt>This session</dt>
        <dd>
          <span data-testid="session-acr">{acr ?? 'unknown'}</span>{' '}
          {acr === 'aal2' ? '(signed in with a second factor)' : acr === 'aal1' ? '(signed in with a password only)' : ''}
        </dd>
        <dt>Signed in with</dt>
        <dd data-testid="session-amr">{amr.length ? amr.join(', ') : 'unknown'}</dd>
        <dt>Passkeys</dt>
        <dd data-testid="passkey-count">{status.data ? status.data.passkeys : status.error ? 'Unknown' : 'Loading…'}</dd>
        <dt>Authenticator app</dt>
        <dd data-testid="totp-status">{status.data ? (status.data.totp ? 'On' : 'Off') : status.error ? 'Unknown' : 'Loading…'}</dd>
        {status.data?.totp && (
          <>
            <dt>Recovery codes left</dt>
            <dd data-testid="recovery-codes-left">{status.data.recovery_codes_left}</dd>
          </>
        )}
      </dl>
      {status.error && (
        <p className="error" role="alert">
          {describe(status.error)}
        </p>
      )}
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {codes && <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />}
      {status.data && !status.data.totp && !codes && <SetUpTotp onDone={(fresh) => changed('Your authenticator app is set up.', fresh)} />}
      {status.data?.totp && (
        <ManageTotp
          onRegenerated={(fresh) => changed('New recovery codes made. The old ones no longer work.', fresh)}
          onDisabled={() => changed('Your authenticator app is turned off, and its recovery codes with it.')}
        />
      )}
      <PasskeysSection onChanged={(message) => changed(message, codes)} />
      <SecurityActivity />
    </section>
  );
}

/**
 * SecurityActivity lists the account's own security events (GET
 * /api/auth/events): sign-ins and failed attempts, password and factor
 * changes, with when, from which address and which device, so that a
 * person can spot what they did not do.
 */
function SecurityActivity() {
  const mine = useMyEvents(10);
  return (
    <>
      <h2 id="activity-title">Recent security activity</h2>
      {mine.error && (
        <p className="error" role="alert">
          {describe(mine.error)}
        </p>
      )}
      {!mine.events && !mine.error && (
        <p className="loading" role="status">
          Loading…
        </p>
      )}
      {mine.events && <EventList events={mine.events} label="Recent security activity" testId="security-activity" />}
      {mine.hasMore && (
        <div className="actions">
          <button type="button" className="secondary" disabled={mine.pending} onClick={mine.more}>
            Show older activity
          </button>
        </div>
      )}
    </>
  );
}

/**
 * SetUpTotp enrols an authenticator app: the current password (a session
 * alone must not add a factor: OWASP ASVS V2.5), then the QR code and the
 * secret as text for apps that cannot scan, then a code from the app, which
 * proves it holds the secret before TOTP is turned on.
 */
function SetUpTotp({ onDone }: { onDone(codes: string[]): void }) {
  const [open, setOpen] = useState(false);
  const enroll = useEnrollTotp();
  const confirm = useConfirmTotp();
  const { guard, prompting, prompt } = useStepUpGuard();
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');

  const start = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await guard(() => enroll.runAsync(password));
    } catch {
      // Shown from enroll.error.
    } finally {
      setPassword('');
    }
  };

  const finish = async (e: FormEvent) => {
    e.preventDefault();
    try {
      onDone(await confirm.runAsync(code));
    } catch {
      // Shown from confirm.error.
    } finally {
      setCode('');
    }
  };

  if (!open) {
    return (
      <div className="actions">
        <button type="button" onClick={() => setOpen(true)}>
          Set up authenticator app
        </button>
      </div>
    );
  }
  if (!enroll.data) {
    return (
      <>
        <h2 id="totp-setup-title">Set up an authenticator app</h2>
        <form onSubmit={start} aria-labelledby="totp-setup-title">
          <label htmlFor="totp-password">Current password</label>
          <input id="totp-password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          {enroll.error && !prompting && (
            <p className="error" role="alert">
              {enroll.error.code === 'invalid_credentials' ? 'The current password is not correct.' : describe(enroll.error)}
            </p>
          )}
          <div className="actions">
            <button type="submit" disabled={enroll.pending} aria-busy={enroll.pending}>
              Continue
            </button>
            <button type="button" className="secondary" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
        </form>
        {prompt}
      </>
    );
  }
  return (
    <>
      <h2 id="totp-scan-title">Scan the code with your app</h2>
      <QrCode enrollment={enroll.data} />
      <p className="hint">Can’t scan it? Enter this key in the app instead:</p>
      <p>
        <code className="secret" data-testid="totp-secret" aria-label="Secret key">
          {enroll.data.secret}
        </code>
      </p>
      <form onSubmit={finish} aria-labelledby="totp-scan-title">
        <label htmlFor="totp-confirm-code">Authentication code</label>
        <input
          id="totp-confirm-code"
          inputMode="numeric"
          autoComplete="one-time-code"
          required
          value={code}
          onChange={(e) => setCode(e.target.value)}
          aria-invalid={confirm.error ? true : undefined}
        />
        {confirm.error && (
          <p className="error" role="alert">
            {codeProblem(confirm.error)}
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={confirm.pending} aria-busy={confirm.pending}>
            Turn on
          </button>
        </div>
      </form>
    </>
  );
}

/** QrCode draws the otpauth:// URI as a QR code, in the browser: the secret goes to no other service. */
function QrCode({ enrollment }: { enrollment: TotpEnrollment }) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    QRCode.toDataURL(enrollment.otpauth_uri, { errorCorrectionLevel: 'M', margin: 2, width: 200 }).then(
      (url) => live && setSrc(url),
      () => live && setSrc(null),
    );
    return () => {
      live = false;
    };
  }, [enrollment.otpauth_uri]);
  return src ? <img className="qr" src={src} width={200} height={200} alt="QR code to scan with your authenticator app" data-testid="totp-qr" /> : null;
}

/** RecoveryCodes shows new recovery codes, once: they are stored only as hashes on the server. */
function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone(): void }) {
  return (
    <>
      <h2 id="recovery-title">Your recovery codes</h2>
      <p className="hint">
        Save these codes somewhere safe. Each one signs you in once if you lose your authenticator app. They are shown only now.
      </p>
      <ol className="codes" data-testid="recovery-codes" aria-labelledby="recovery-title">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div className="actions">
        <button type="button" onClick={onDone}>
          I saved them
        </button>
      </div>
    </>
  );
}

/** ManageTotp replaces the recovery codes or turns the app off, each behind the step-up prompt. */
function ManageTotp({ onRegenerated, onDisabled }: { onRegenerated(codes: string[]): void; onDisabled(): void }) {
  const regenerate = useRegenerateRecoveryCodes();
  const disable = useDisableTotp();
  const { guard, prompting, prompt } = useStepUpGuard();
  const error = regenerate.error ?? disable.error;

  const regenerateCodes = async () => {
    disable.reset();
    try {
      onRegenerated(await guard(() => regenerate.runAsync()));
    } catch {
      // Shown from regenerate.error.
    }
  };

  const turnOff = async () => {
    regenerate.reset();
    try {
      await guard(() => disable.runAsync());
      onDisabled();
    } catch {
      // Shown from disable.error.
    }
  };

  return (
    <>
      <div className="actions">
        <button type="button" className="secondary" disabled={regenerate.pending} onClick={regenerateCodes}>
          Regenerate recovery codes
        </button>
        <button type="button" className="danger" disabled={disable.pending} onClick={turnOff}>
          Turn off authenticator app
        </button>
      </div>
      {error && !prompting && (
        <p className="error" role="alert">
          {describe(error)}
        </p>
      )}
      {prompt}
    </>
  );
}
