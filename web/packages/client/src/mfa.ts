import { AuthError } from './errors.js';
import { adoptAccessToken, signInWith, type GrantDeps } from './grant.js';
import type { MfaStatus, TotpEnrollment } from './schema.js';
import type { TokenResponse, User } from './types.js';
import type { Passkeys } from './passkeys.js';
import { errorFromResponse, readJSON, sendJSON } from './wire.js';

/** MfaStatus is GET /api/auth/mfa: the signed-in user's second factors. TotpEnrollment is a started TOTP enrolment. */
export type { MfaStatus, TotpEnrollment } from './schema.js';

/**
 * SecondFactor is what proves the second factor: an authenticator app's
 * code, one recovery code, or `{passkey: true}`, which runs the browser's
 * passkey prompt (`signal` stops it).
 */
export type SecondFactor =
  | { code: string; recoveryCode?: never; passkey?: never }
  | { recoveryCode: string; code?: never; passkey?: never }
  | { passkey: true; signal?: AbortSignal; code?: never; recoveryCode?: never };

/** MfaLogin is the second step of a login: the `mfaToken` of its MfaRequiredError and a code or a passkey. */
export type MfaLogin = SecondFactor & { mfaToken: string };

/**
 * Mfa makes the calls of second factors (CONTRACT §8): the user's status,
 * the TOTP enrolment (RFC 6238) and its removal, the recovery codes, the
 * second step of a login and the step-up of a signed-in session.
 *
 * Every method rejects with an {@link AuthError}: `mfa_code_invalid`,
 * `mfa_token_invalid`, `already_enrolled`, `invalid_credentials`, or a
 * StepUpRequiredError (`insufficient_user_authentication`) when an `aal1`
 * session asks for a change that needs `aal2`: call {@link Mfa.stepUp},
 * then try again.
 */
export class Mfa {
  constructor(
    private readonly d: GrantDeps,
    private readonly passkeys: Passkeys,
  ) {}

  /** getMfaStatus tells which factors the signed-in user has. */
  async getMfaStatus(): Promise<MfaStatus> {
    return readJSON<MfaStatus>(await sendJSON(this.d.fetch, 'GET', '/api/auth/mfa'), (b) => typeof b.totp === 'boolean');
  }

  /**
   * enrollTotp starts a TOTP enrolment, given the current password (a
   * session alone must not add a factor: OWASP ASVS V2.5). The secret works
   * only once {@link Mfa.confirmTotp} has proved the app holds it.
   */
  async enrollTotp(currentPassword: string): Promise<TotpEnrollment> {
    const res = await sendJSON(this.d.fetch, 'POST', '/api/auth/mfa/totp', { current_password: currentPassword });
    return readJSON<TotpEnrollment>(res, (b) => typeof b.secret === 'string' && typeof b.otpauth_uri === 'string');
  }

  /**
   * confirmTotp turns the enrolment on with a code of the app and returns
   * the ten recovery codes, shown once. The session is `aal2` from then on:
   * the access token that comes with the answer replaces the held one.
   */
  async confirmTotp(code: string): Promise<string[]> {
    const res = await sendJSON(this.d.fetch, 'POST', '/api/auth/mfa/totp/confirm', { code });
    const body = await readJSON<TokenResponse & { recovery_codes: string[] }>(res, (b) => Array.isArray(b.recovery_codes));
    if (typeof body.access_token === 'string') adoptAccessToken(this.d, body);
    return body.recovery_codes;
  }

  /** disableTotp removes TOTP and the recovery codes (`aal2` needed). */
  async disableTotp(): Promise<void> {
    const res = await sendJSON(this.d.fetch, 'DELETE', '/api/auth/mfa/totp');
    if (!res.ok) throw await errorFromResponse(res);
    await res.body?.cancel();
  }

  /** regenerateRecoveryCodes replaces the recovery codes (`aal2` needed); the old ones stop working. */
  async regenerateRecoveryCodes(): Promise<string[]> {
    const res = await sendJSON(this.d.fetch, 'POST', '/api/auth/mfa/recovery-codes', {});
    return (await readJSON<{ recovery_codes: string[] }>(res, (b) => Array.isArray(b.recovery_codes))).recovery_codes;
  }

  /**
   * completeMfaLogin is the second step of a login that threw
   * MfaRequiredError. It signs in exactly as login does (tokens, state,
   * other tabs). `mfa_code_invalid` leaves the mfaToken usable for another
   * try (a few at most); `mfa_token_invalid` means logging in again.
   */
  async completeMfaLogin(input: MfaLogin): Promise<User> {
    return signInWith(this.d, await this.d.wire.mfaVerify({ mfa_token: input.mfaToken, ...(await this.factorBody(input)) }));
  }

  /**
   * stepUp raises the signed-in session to `aal2` with a code (RFC 9470's
   * step-up): the server answers a new access token for the same session,
   * which replaces the held one here and in the tabs that share it.
   */
  async stepUp(input: SecondFactor): Promise<void> {
    const res = await sendJSON(this.d.fetch, 'POST', '/api/auth/mfa/verify', await this.factorBody(input));
    adoptAccessToken(this.d, await readJSON<TokenResponse>(res, (b) => typeof b.access_token === 'string'));
  }

  /** factorBody is the factor as the server takes it; a passkey's prompt runs here, after the login's first step. */
  private async factorBody(f: SecondFactor): Promise<object> {
    if (f.passkey) return this.passkeys.answer(f.signal);
    return typeof f.recoveryCode === 'string' ? { recovery_code: f.recoveryCode.trim() } : { code: (f.code ?? '').replace(/\s+/g, '') };
  }
}
