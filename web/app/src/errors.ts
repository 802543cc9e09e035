import { AuthError, passkeySupport } from '@gatehouse/client';

/** describe turns an error into a sentence for people. */
export function describe(err: unknown): string {
  if (!(err instanceof AuthError)) return 'Something went wrong. Please try again.';
  switch (err.code) {
    case 'invalid_credentials':
      return 'Wrong email or password.';
    case 'rate_limited':
      return `Too many attempts. Please wait${err.retryAfter ? ` ${err.retryAfter} seconds` : ' a moment'} and try again.`;
    case 'email_taken':
      return 'An account with this email already exists. Log in instead?';
    case 'validation_failed':
      return 'Please correct the fields marked below.';
    case 'network_error':
      return "Can't reach the server. Check your connection and try again.";
    case 'server_busy':
    case 'unavailable':
      return 'The server is busy. Please try again in a moment.';
    case 'forbidden':
      return 'You are not allowed to do that.';
    case 'user_disabled':
      return 'This account has been disabled by an administrator. Contact them to have it enabled again.';
    case 'last_admin':
      return 'This is the last administrator: make someone else an administrator first.';
    case 'not_found':
      return 'It no longer exists: it may have been deleted meanwhile.';
    case 'mfa_code_invalid':
      return 'That code is not valid. Please try again.';
    case 'mfa_token_invalid':
      return 'This sign-in attempt has expired. Please log in again.';
    case 'insufficient_user_authentication':
      return 'Confirm it’s you with your second factor to do that.';
    case 'already_enrolled':
      return 'An authenticator app is already set up.';
    case 'passkey_invalid':
      return 'That passkey was not accepted. It may have been removed from your account: sign in another way.';
    case 'passkey_cancelled':
      return 'The passkey prompt was closed before it finished. Try again when you’re ready.';
    case 'passkey_exists':
      return 'This device already holds a passkey for your account.';
    case 'passkey_unsupported':
      return passkeyProblem() ?? err.message;
    default:
      return err.message || 'Something went wrong. Please try again.';
  }
}

/**
 * passkeyProblem says why passkeys cannot work on this page, or null. The
 * usual one in development: the app opened at http://127.0.0.1:8080, where
 * browsers refuse WebAuthn (an RP ID is a domain name, WebAuthn §5.1.2).
 */
export function passkeyProblem(): string | null {
  const support = passkeySupport();
  if (support === 'ip_address') {
    const u = new URL(globalThis.location.href);
    u.hostname = 'localhost';
    return `Passkeys don’t work on an IP address like ${globalThis.location.hostname}. Open ${u.origin} instead.`;
  }
  if (support === 'unsupported') return 'This browser can’t use passkeys on this page: they need a recent browser and an HTTPS address (or localhost).';
  return null;
}

/** fieldErrors maps a validation error's fields to their messages. */
export function fieldErrors(err: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (err instanceof AuthError) for (const f of err.fieldErrors) out[f.field] = f.message;
  return out;
}

/** failure reads a failed API response into an AuthError. */
export async function failure(res: Response): Promise<AuthError> {
  let body: { code?: string; detail?: string; title?: string; errors?: { field: string; message: string }[] } | null = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  return new AuthError(res.status, body?.code ?? `http_${res.status}`, body?.detail ?? body?.title ?? `HTTP ${res.status}`, body);
}
