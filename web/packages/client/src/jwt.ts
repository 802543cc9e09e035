/**
 * Claims the client reads from an access token. The client never trusts
 * them for authorization (only the server's signature check does that); it
 * reads `sid` to tell sessions apart across tabs, `exp` as a fallback
 * when an answer lacks `expires_in`, and `acr`/`amr` to show the app how
 * the session was authenticated.
 */
export interface TokenClaims {
  sid?: string;
  sub?: string;
  exp?: number;
  /** The assurance level: `aal1` after a password alone, `aal2` after a second factor (NIST SP 800-63B). */
  acr?: string;
  /** How the user authenticated, RFC 8176 values (`pwd`, `otp`, `mfa`, `hwk`, …). */
  amr?: string[];
}

/** Acr is an authentication assurance level of NIST SP 800-63B as Gatehouse names it. */
export type Acr = 'aal1' | 'aal2' | (string & {});

/** authLevelOf reads `acr` and `amr` of an access token; null and [] when it has none. */
export function authLevelOf(jwt: string | null | undefined): { acr: Acr | null; amr: string[] } {
  const c = jwt ? decodeClaims(jwt) : null;
  const acr = typeof c?.acr === 'string' ? c.acr : null;
  const amr = Array.isArray(c?.amr) ? c.amr.filter((v): v is string => typeof v === 'string') : [];
  return { acr, amr };
}

/** decodeClaims reads a JWT's payload without verifying it; null if it is not a JWT. */
export function decodeClaims(jwt: string): TokenClaims | null {
  const part = jwt.split('.')[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? (claims as TokenClaims) : null;
  } catch {
    return null;
  }
}
