/**
 * Claims the client reads from an access token. The client never trusts
 * them for authorization (only the server's signature check does that); it
 * reads `sid` to tell sessions apart across tabs and `exp` as a fallback
 * when an answer lacks `expires_in`.
 */
export interface TokenClaims {
  sid?: string;
  sub?: string;
  exp?: number;
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
