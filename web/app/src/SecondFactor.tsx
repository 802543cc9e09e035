import { useState, type FormEvent, type ReactNode } from 'react';
import type { SecondFactor } from '@gatehouse/client';

export interface SecondFactorFormProps {
  /** Tells the ids of this form's fields from another's on the page. */
  id: string;
  onSubmit(factor: SecondFactor): void | Promise<void>;
  busy: boolean;
  /** The failure of the last try, for people; shown under the field. */
  error: string | null;
  /** Whether recovery codes are offered (the login's `methods`); true by default. */
  recovery?: boolean;
  children?: ReactNode;
}

/**
 * SecondFactorForm asks for a code of the authenticator app, or, after "Use
 * a recovery code", for one of the recovery codes. The code field is a
 * one-time-code field (autocomplete="one-time-code", numeric keyboard), as
 * browsers and password managers expect for TOTP (RFC 6238).
 */
export function SecondFactorForm({ id, onSubmit, busy, error, recovery = true, children }: SecondFactorFormProps) {
  const [mode, setMode] = useState<'code' | 'recovery'>('code');
  const [value, setValue] = useState('');

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void onSubmit(mode === 'code' ? { code: value } : { recoveryCode: value });
    setValue('');
  };

  const switchTo = (next: 'code' | 'recovery') => {
    setMode(next);
    setValue('');
  };

  const field = `${id}-${mode}`;
  return (
    <form onSubmit={submit} aria-describedby={error ? `${id}-error` : undefined}>
      {children}
      {mode === 'code' ? (
        <>
          <label htmlFor={field}>Authentication code</label>
          <input
            id={field}
            name="code"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9 ]{6,7}"
            maxLength={7}
            required
            value={value}
            onChange={(e) => setValue(e.target.value)}
            aria-invalid={error ? true : undefined}
          />
          <p className="hint">The 6-digit code your authenticator app shows now.</p>
        </>
      ) : (
        <>
          <label htmlFor={field}>Recovery code</label>
          <input
            id={field}
            name="recovery_code"
            autoComplete="off"
            autoCapitalize="off"
            spellCheck={false}
            required
            value={value}
            onChange={(e) => setValue(e.target.value)}
            aria-invalid={error ? true : undefined}
          />
          <p className="hint">One of the codes you saved when you set up the app. Each works once.</p>
        </>
      )}
      {error && (
        <p id={`${id}-error`} className="error" role="alert">
          {error}
        </p>
      )}
      <div className="actions">
        <button type="submit" disabled={busy} aria-busy={busy}>
          Verify
        </button>
        {recovery &&
          (mode === 'code' ? (
            <button type="button" className="secondary" onClick={() => switchTo('recovery')}>
              Use a recovery code
            </button>
          ) : (
            <button type="button" className="secondary" onClick={() => switchTo('code')}>
              Use your authenticator app
            </button>
          ))}
        {busy && (
          <span className="pending" role="status">
            Checking…
          </span>
        )}
      </div>
    </form>
  );
}
