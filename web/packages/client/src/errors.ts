import type { FieldError, ProblemBody } from './schema.js';

export type { FieldError };

/**
 * An RFC 9457 problem document as Gatehouse sends it (the description's
 * Problem), read defensively: every member may be missing, `code` is one
 * of {@link AuthErrorCode}, and a newer server may add members.
 */
export type Problem = Partial<Omit<ProblemBody, 'code'>> & {
  code?: AuthErrorCode;
  [extension: string]: unknown;
};

/**
 * ServerErrorCode is a `code` Gatehouse puts in its problem+json answers
 * (httpapi/problem.go and CONTRACT §2, §4, §5, §7, §8, §9).
 */
export type ServerErrorCode =
  | 'validation_failed'
  | 'email_taken'
  | 'invalid_credentials'
  | 'rate_limited'
  | 'server_busy'
  | 'token_missing'
  | 'token_expired'
  | 'token_invalid'
  | 'session_revoked'
  | 'refresh_token_invalid'
  | 'refresh_token_expired'
  | 'refresh_token_reused'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'unavailable'
  | 'invalid_request'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'csrf_failed'
  | 'method_not_allowed'
  | 'internal_error'
  // Accounts by email (CONTRACT §7).
  | 'email_token_invalid'
  | 'email_token_expired'
  | 'already_verified'
  | 'email_not_verified'
  | 'signup_disabled'
  // Second factors (CONTRACT §8).
  | 'mfa_required'
  | 'mfa_code_invalid'
  | 'mfa_token_invalid'
  | 'already_enrolled'
  | 'insufficient_user_authentication'
  | 'passkey_invalid'
  // Operators (CONTRACT §9).
  | 'user_disabled'
  | 'last_admin';

/**
 * ClientErrorCode is a `code` the client makes up itself: no answer
 * (`network_error`), an answer it cannot use (`bad_response`), no refresh
 * token to send (`refresh_token_missing`), a logout while a call was on its
 * way (`signed_out`), a failed answer without a problem document
 * (`http_<status>`), or a passkey ceremony that ended in the browser
 * ({@link PasskeyErrorCode}).
 */
export type ClientErrorCode = 'network_error' | 'bad_response' | 'refresh_token_missing' | 'signed_out' | `http_${number}` | PasskeyErrorCode;

/**
 * PasskeyErrorCode is how a passkey ceremony ended in the browser, before
 * the server saw anything: the user closed the prompt or it timed out
 * (`passkey_cancelled`), the app's AbortSignal stopped it
 * (`passkey_aborted`), the authenticator already holds a passkey of this
 * account (`passkey_exists`), the browser or the page cannot use passkeys
 * (`passkey_unsupported`: no WebAuthn, not HTTPS, an IP address), or
 * anything else (`passkey_failed`).
 */
export type PasskeyErrorCode = 'passkey_cancelled' | 'passkey_aborted' | 'passkey_exists' | 'passkey_unsupported' | 'passkey_failed';

/**
 * AuthErrorCode is every code an {@link AuthError} may carry. The
 * `string & {}` member keeps codes that a newer server adds usable (and
 * still lets editors complete the known ones).
 */
export type AuthErrorCode = ServerErrorCode | ClientErrorCode | (string & {});

/**
 * AuthError is what the client throws: `status` and `code` come from the
 * server's problem+json answer (`code` is the stable one to switch on), or
 * `status` is 0 and `code` is `network_error` when no answer arrived.
 */
export class AuthError extends Error {
  readonly status: number;
  readonly code: AuthErrorCode;
  readonly problem: Problem | null;
  /** Seconds to wait before trying again, from `Retry-After` (429, 503). */
  readonly retryAfter: number | null;

  constructor(status: number, code: AuthErrorCode, message: string, problem: Problem | null = null, retryAfter: number | null = null) {
    super(message);
    this.name = 'AuthError';
    this.status = status;
    this.code = code;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** Field problems of a validation error, if any. */
  get fieldErrors(): FieldError[] {
    return Array.isArray(this.problem?.errors) ? this.problem.errors : [];
  }

  /**
   * transient reports whether trying again later may succeed: no answer at
   * all, a timeout, rate limiting or a server error. A refresh that fails
   * this way keeps the session.
   */
  get transient(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** MfaMethod is a second factor the server offers to finish a login with. */
export type MfaMethod = 'totp' | 'recovery_code' | 'passkey' | (string & {});

/**
 * MfaRequiredError is what login throws when the password was right but
 * the user has a second factor: no session exists yet. Pass `mfaToken`
 * (single-use, minutes-lived) with a code to `completeMfaLogin`.
 */
export class MfaRequiredError extends AuthError {
  declare readonly code: 'mfa_required';
  readonly mfaToken: string;
  readonly methods: MfaMethod[];

  constructor(status: number, message: string, problem: Problem, mfaToken: string, methods: MfaMethod[]) {
    super(status, 'mfa_required', message, problem);
    this.name = 'MfaRequiredError';
    this.mfaToken = mfaToken;
    this.methods = methods;
  }
}

/**
 * StepUpRequiredError is a 403 `insufficient_user_authentication` (RFC
 * 9470): the session is at `aal1` and the action needs `acrValues`
 * (`aal2`) because the user has a second factor. `stepUp` with a code, then
 * try the action again.
 */
export class StepUpRequiredError extends AuthError {
  declare readonly code: 'insufficient_user_authentication';
  /** The levels the server asks for, from `WWW-Authenticate` (`acr_values`), `["aal2"]` when it cannot be read. */
  readonly acrValues: string[];

  constructor(status: number, message: string, problem: Problem | null, acrValues: string[]) {
    super(status, 'insufficient_user_authentication', message, problem);
    this.name = 'StepUpRequiredError';
    this.acrValues = acrValues;
  }
}

/** networkError wraps a failure to get any answer. */
export function networkError(cause: unknown): AuthError {
  const msg = cause instanceof Error ? cause.message : String(cause);
  const err = new AuthError(0, 'network_error', `the server could not be reached: ${msg}`);
  (err as { cause?: unknown }).cause = cause;
  return err;
}

/** asAuthError returns e as an AuthError, wrapping anything else as a network error. */
export function asAuthError(e: unknown): AuthError {
  return e instanceof AuthError ? e : networkError(e);
}
