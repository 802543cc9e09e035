import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { StepUpRequiredError, type AuthError } from '@gatehouse/client';
import { useMfaStatus, useStepUp } from '@gatehouse/react';
import { describe } from './errors';
import { SecondFactorForm } from './SecondFactor';

interface Waiting {
  retry(): Promise<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  err: StepUpRequiredError;
}

export interface StepUpGuard {
  /**
   * guard runs a sensitive action. When the server answers
   * insufficient_user_authentication (the session is aal1 and the user has
   * a second factor: RFC 9470), it asks for a code, steps the session up to
   * aal2, and runs the action again; the promise settles with that second
   * run, or rejects with the StepUpRequiredError if the user cancels.
   */
  guard<T>(action: () => Promise<T>): Promise<T>;
  /** Whether the prompt is open: forms hide their own error meanwhile. */
  prompting: boolean;
  /** The prompt, to render where the form is. */
  prompt: ReactNode;
}

/** useStepUpGuard gives a form the step-up prompt and its retry. */
export function useStepUpGuard(): StepUpGuard {
  const [waiting, setWaiting] = useState<Waiting | null>(null);

  const guard = useCallback(<T,>(action: () => Promise<T>): Promise<T> => {
    return action().catch((err: unknown) => {
      if (!(err instanceof StepUpRequiredError)) throw err;
      return new Promise<T>((resolve, reject) => setWaiting({ retry: action, resolve: resolve as (v: unknown) => void, reject, err }));
    });
  }, []);

  const verified = useCallback(async () => {
    if (!waiting) return;
    setWaiting(null);
    try {
      waiting.resolve(await waiting.retry());
    } catch (e) {
      waiting.reject(e);
    }
  }, [waiting]);

  const cancel = useCallback(() => {
    if (!waiting) return;
    setWaiting(null);
    waiting.reject(waiting.err);
  }, [waiting]);

  const prompt = waiting ? <StepUpPrompt onVerified={verified} onCancel={cancel} /> : null;
  return { guard, prompting: waiting !== null, prompt };
}

/** StepUpPrompt asks for a second factor (a code, or a passkey when the user has one) and calls stepUp with it. */
function StepUpPrompt({ onVerified, onCancel }: { onVerified(): void; onCancel(): void }) {
  const stepUp = useStepUp();
  const factors = useMfaStatus().data;
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);

  const submit = async (factor: Parameters<typeof stepUp.runAsync>[0]) => {
    try {
      await stepUp.runAsync(factor);
      onVerified();
    } catch {
      // Shown from stepUp.error.
    }
  };

  return (
    <section className="stepup" role="dialog" aria-modal="false" aria-labelledby="stepup-title">
      <h2 id="stepup-title" ref={heading} tabIndex={-1}>
        Confirm it’s you
      </h2>
      <p className="hint">
        This change needs your second factor.{' '}
        {factors && !factors.totp ? 'Use one of your passkeys to continue.' : 'Enter a code from your authenticator app to continue.'}
      </p>
      {(!factors || factors.totp) && (
        <SecondFactorForm id="stepup" onSubmit={submit} busy={stepUp.pending} error={stepUp.error ? codeProblem(stepUp.error) : null} />
      )}
      {factors && !factors.totp && stepUp.error && (
        <p className="error" role="alert">
          {codeProblem(stepUp.error)}
        </p>
      )}
      <div className="actions">
        {factors && factors.passkeys > 0 && (
          <button type="button" disabled={stepUp.pending} onClick={() => submit({ passkey: true })}>
            Use a passkey
          </button>
        )}
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </section>
  );
}

/** codeProblem says what went wrong with a code, for people. */
export function codeProblem(err: AuthError): string {
  if (err.code === 'mfa_code_invalid') return 'That code is not valid. Check your app and try again (each code works once).';
  return describe(err);
}
