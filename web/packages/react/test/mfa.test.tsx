// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { act } from 'react';
import { MfaRequiredError } from '@gatehouse/client';
import { useAuth, useCompleteMfaLogin, useMfaStatus, useStepUp } from '../src/index.js';
import { FakeMfaGatehouse, TOTP_CODE } from '../../client/test/mfa-fakes.js';
import { PASSWORD, cleanUp, click, client, render, text } from './harness.js';

afterEach(cleanUp);

// The code the step-up button sends, as a user would type it.
let typed = '';

/** A security panel as an app would write it: the level, the factors, a step-up button. */
function Level() {
  const { acr, amr, status } = useAuth();
  const mfa = useMfaStatus();
  const stepUp = useStepUp();
  return (
    <>
      <p id="acr">{status === 'authenticated' ? `${acr}:${amr.join(',')}` : status}</p>
      <p id="totp">{mfa.data ? String(mfa.data.totp) : mfa.error ? mfa.error.code : 'loading'}</p>
      <p id="step">{stepUp.error ? stepUp.error.code : stepUp.done ? 'done' : 'idle'}</p>
      <button id="up" onClick={() => stepUp.run({ code: typed })}>
        Verify
      </button>
    </>
  );
}

describe('second factors in React', () => {
  it('useAuth shows acr and amr, useMfaStatus loads on mount, and useStepUp raises the level', async () => {
    const server = new FakeMfaGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    server.enable();
    typed = '000000';
    const el = await render(c, <Level />);
    await act(async () => undefined);
    expect(text(el, 'acr')).toBe('aal1:pwd');
    expect(text(el, 'totp')).toBe('true');
    await click(el, 'up');
    expect(text(el, 'step')).toBe('mfa_code_invalid');
    expect(text(el, 'acr')).toBe('aal1:pwd');
    typed = TOTP_CODE;
    await click(el, 'up');
    expect(text(el, 'step')).toBe('done');
    expect(text(el, 'acr')).toBe('aal2:pwd,otp,mfa');
  });

  it('useCompleteMfaLogin signs in with the token of the MfaRequiredError', async () => {
    const server = new FakeMfaGatehouse();
    server.enable();
    const c = client(server);
    let token = '';
    function Second() {
      const { status, acr } = useAuth();
      const complete = useCompleteMfaLogin();
      return (
        <>
          <p id="who">{status === 'authenticated' ? `${complete.data?.email}:${acr}` : status}</p>
          <button id="go" onClick={() => complete.run({ mfaToken: token, code: TOTP_CODE })}>
            Verify
          </button>
        </>
      );
    }
    const el = await render(c, <Second />);
    const err = await c.login('ada@example.com', PASSWORD).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MfaRequiredError);
    token = (err as MfaRequiredError).mfaToken;
    await click(el, 'go');
    expect(text(el, 'who')).toBe('ada@example.com:aal2');
  });
});
