'use client';

import { useEffect } from 'react';
import type { AuthClient, MfaLogin, MfaStatus, SecondFactor, TotpEnrollment, User } from '@gatehouse/client';
import { useAuthAction, type AuthAction } from './account.js';

// The calls, at module level so that the hooks' run functions are stable.
const status = (c: AuthClient) => c.getMfaStatus();
const enroll = (c: AuthClient, currentPassword: string) => c.enrollTotp(currentPassword);
const confirm = (c: AuthClient, code: string) => c.confirmTotp(code);
const disable = (c: AuthClient) => c.disableTotp();
const regenerate = (c: AuthClient) => c.regenerateRecoveryCodes();
const complete = (c: AuthClient, input: MfaLogin) => c.completeMfaLogin(input);
const stepUp = (c: AuthClient, input: SecondFactor) => c.stepUp(input);

/**
 * useMfaStatus loads the signed-in user's second factors when the
 * component mounts (`data`: `{totp, recovery_codes_left, passkeys}`);
 * `run()` loads them again, e.g. after a change.
 */
export function useMfaStatus(): AuthAction<[], MfaStatus> {
  const action = useAuthAction(status);
  const { run } = action;
  useEffect(() => run(), [run]);
  return action;
}

/** useEnrollTotp starts a TOTP enrolment given the current password: `data` is `{secret, otpauth_uri}` (`invalid_credentials`, `already_enrolled`). */
export function useEnrollTotp(): AuthAction<[currentPassword: string], TotpEnrollment> {
  return useAuthAction(enroll);
}

/** useConfirmTotp turns TOTP on with a code of the app: `data` is the ten recovery codes, to show once (`mfa_code_invalid`). The session becomes aal2. */
export function useConfirmTotp(): AuthAction<[code: string], string[]> {
  return useAuthAction(confirm);
}

/** useDisableTotp removes TOTP and the recovery codes (`insufficient_user_authentication` from an aal1 session). */
export function useDisableTotp(): AuthAction<[], void> {
  return useAuthAction(disable);
}

/** useRegenerateRecoveryCodes replaces the recovery codes: `data` is the new ones (`insufficient_user_authentication` from an aal1 session). */
export function useRegenerateRecoveryCodes(): AuthAction<[], string[]> {
  return useAuthAction(regenerate);
}

/**
 * useCompleteMfaLogin is the second step of a login that threw
 * MfaRequiredError: `run({mfaToken, code})` or `run({mfaToken,
 * recoveryCode})` signs in as login does (`mfa_code_invalid`: try another
 * code; `mfa_token_invalid`: log in again).
 */
export function useCompleteMfaLogin(): AuthAction<[input: MfaLogin], User> {
  return useAuthAction(complete);
}

/** useStepUp raises the session to aal2 with `{code}` or `{recoveryCode}`; useAuth's `acr` shows it afterwards. */
export function useStepUp(): AuthAction<[input: SecondFactor], void> {
  return useAuthAction(stepUp);
}
