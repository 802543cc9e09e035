/** The refusal codes, as Gatehouse's own protected routes answer them. */
export type VerifyErrorCode = 'token_missing' | 'token_invalid' | 'token_expired' | 'session_revoked' | 'unavailable';

const statuses: Record<VerifyErrorCode, 401 | 503> = {
  token_missing: 401,
  token_invalid: 401,
  token_expired: 401,
  session_revoked: 401,
  unavailable: 503,
};

/**
 * A refused token. `code` and `status` are those of Gatehouse's RFC 9457
 * problem; `message` is a short reason for logs (never token content).
 */
export class VerifyError extends Error {
  override readonly name = 'VerifyError';
  readonly code: VerifyErrorCode;
  readonly status: 401 | 503;

  constructor(code: VerifyErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? code, options);
    this.code = code;
    this.status = statuses[code];
  }
}

/** The error_description of the WWW-Authenticate challenge (RFC 6750 §3). */
export function challengeDescription(code: VerifyErrorCode): string {
  switch (code) {
    case 'token_expired':
      return 'the access token expired';
    case 'session_revoked':
      return 'the session was ended';
    default:
      return 'the access token is invalid';
  }
}
