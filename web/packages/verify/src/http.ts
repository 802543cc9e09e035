import type { IncomingMessage, ServerResponse } from 'node:http';
import { VerifyError, challengeDescription } from './errors.js';
import type { Claims, Verifier } from './verifier.js';

/**
 * bearerToken reads the token of a request's Authorization header, as
 * Gatehouse does: exactly one header, scheme Bearer in any case (RFC 7235
 * §2.1), the token after one space. No header or an empty token is
 * token_missing; several headers or another scheme is token_invalid.
 */
export function bearerToken(req: Pick<IncomingMessage, 'headersDistinct' | 'headers'>): string {
  // headersDistinct keeps repeated headers apart; node:http would
  // otherwise join them with ", ", hiding a second Authorization.
  const values = req.headersDistinct?.authorization ?? headerValues(req.headers.authorization);
  if (values.length === 0) throw new VerifyError('token_missing');
  if (values.length > 1) throw new VerifyError('token_invalid', 'several Authorization headers');
  const value = (values[0] ?? '').trim();
  const space = value.indexOf(' ');
  if (space < 0 || value.slice(0, space).toLowerCase() !== 'bearer') {
    throw new VerifyError('token_invalid', 'not a Bearer authorization');
  }
  const token = value.slice(space + 1).trim();
  if (token === '') throw new VerifyError('token_missing');
  return token;
}

function headerValues(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/**
 * authenticate verifies the request's bearer token and returns its claims;
 * it throws a VerifyError to hand to writeError.
 */
export async function authenticate(verifier: Verifier, req: IncomingMessage): Promise<Claims> {
  return verifier.authenticate(req);
}

/**
 * writeError answers a refused request with Gatehouse's RFC 9457 problem,
 * member for member as its own routes write it, so clients switch on the
 * same code. A 401 carries WWW-Authenticate: Bearer, with
 * error="invalid_token" when a token was sent (RFC 6750 §3.1); a 503
 * carries Retry-After. An error that is not a VerifyError is a 500
 * without detail (its message may hold internals).
 */
export function writeError(res: ServerResponse, err: unknown): void {
  const known = err instanceof VerifyError;
  const status = known ? err.status : 500;
  const code = known ? err.code : 'internal';
  const problem: Record<string, unknown> = {
    type: 'urn:gatehouse:problem:' + code,
    title: status === 401 ? 'Unauthorized' : status === 503 ? 'Service Unavailable' : 'Internal Server Error',
    status,
  };
  if (known) problem.detail = err.message;
  problem.code = code;
  if (status === 401 && known) {
    let challenge = 'Bearer realm="gatehouse"';
    // res.req is the request (node:http, and so Express); without it, a
    // refusal other than token_missing means a token was sent.
    const req = (res as { req?: IncomingMessage }).req;
    const sent = req ? (req.headers.authorization ?? '') !== '' : err.code !== 'token_missing';
    if (sent) challenge += `, error="invalid_token", error_description="${challengeDescription(err.code)}"`;
    res.setHeader('WWW-Authenticate', challenge);
  } else if (status === 503) {
    res.setHeader('Retry-After', '1');
  }
  res.setHeader('Content-Type', 'application/problem+json');
  res.setHeader('Cache-Control', 'no-store');
  res.statusCode = status;
  res.end(JSON.stringify(problem) + '\n');
}
