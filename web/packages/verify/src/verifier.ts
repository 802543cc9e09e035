import { type JWTHeaderParameters, type JWTPayload, createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify } from 'jose';
import type { IncomingMessage } from 'node:http';
import { VerifyError } from './errors.js';
import { type FeedStatus, Follower } from './feed.js';
import { bearerToken } from './http.js';
import { type Fetch, fetchTimeout, isObject, message, readJSON } from './fetchjson.js';

export interface VerifierOptions {
  /** Gatehouse's issuer URL (its --issuer): the iss every token must carry, and the base of its metadata URL. */
  issuer: string;
  /** Must be one of every token's aud (Gatehouse's --audience, "gatehouse" by default). */
  audience: string;
  /**
   * The credentials of a Gatehouse service client with scope revocations
   * (gatehouse clients create --scope revocations). Given both, the
   * verifier follows the revocation feed until close().
   */
  clientId?: string;
  clientSecret?: string;
  /** Seconds a revoked session is remembered: at least Gatehouse's --access-ttl. Default 3600. */
  maxTokenLifetime?: number;
  /** Seconds the feed may go unanswered before every token is refused with 503. Default 10. */
  feedStaleAfter?: number;
  /** The fetch used for every request to Gatehouse; default the global one. */
  fetch?: Fetch;
}

/** The claims of a verified user access token. */
export interface Claims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  /** The Gatehouse session the token belongs to. */
  sid: string;
  /** The authentication level, "aal1" or "aal2" (a token without acr is aal1). */
  acr: string;
  /** The authentication methods (RFC 8176), empty when absent. */
  amr: string[];
  /** Every claim, as signed. */
  payload: JWTPayload;
}

export interface Verifier {
  /** verify checks a bearer access token and returns its claims, or throws a VerifyError. */
  verify(token: string): Promise<Claims>;
  /** authenticate verifies the request's "Authorization: Bearer" token (see bearerToken); hand its errors to writeError. */
  authenticate(req: IncomingMessage): Promise<Claims>;
  /** status reports the revocation-feed follower's state ('off' without credentials). */
  status(): FeedStatus;
  /** ready is true when verify can accept tokens: the follower is live, or there is none. */
  ready(): boolean;
  /** close stops the follower; with one, verify refuses every token afterwards. */
  close(): Promise<void>;
}

// The algorithms Gatehouse signs with. A JWKS never holds an HS256 key
// (a public document cannot hold a secret) and "none" is no signature
// (RFC 8725 §3.1–3.2).
const algorithms = ['EdDSA', 'ES256', 'RS256'];
// RFC 9068 §4 and CONTRACT §3: at most 5 s of clock skew.
const leeway = 5;
// Tokens are refused above 8 KiB, as Gatehouse does: a huge bearer must
// not cost parse time.
const maxTokenSize = 8 << 10;
// The least time between two JWK Set refetches triggered by an unknown kid (ms).
const refetchInterval = 10_000;
const maxDocument = 1 << 20;
// Header members Gatehouse writes; jku, jwk, x5u and x5c would name keys
// the token chooses (RFC 8725 §3.10) and are refused, never followed.
const headerMembers = new Set(['alg', 'typ', 'kid']);
const required = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti'];

/**
 * createVerifier reads the issuer's RFC 8414 metadata, insists that it
 * names exactly the configured issuer (RFC 8414 §3.3), and fetches the JWK
 * Set of its jwks_uri. It rejects when Gatehouse cannot be reached or the
 * JWK Set holds no usable key: a service should not start unable to
 * verify tokens.
 */
export async function createVerifier(opts: VerifierOptions): Promise<Verifier> {
  const issuer = checkIssuer(opts.issuer);
  if (!opts.audience) throw new Error('verify: audience is required');
  if (!opts.clientId !== !opts.clientSecret) throw new Error('verify: clientId and clientSecret go together');
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  const jwksURI = await fetchMetadata(fetchImpl, issuer);
  const jwks = createRemoteJWKSet(new URL(jwksURI), {
    // jose never refetches by itself: refetch (below) decides when.
    cooldownDuration: Infinity,
    cacheMaxAge: Infinity,
    timeoutDuration: fetchTimeout,
    [customFetch]: fetchImpl,
  });
  try {
    await jwks.reload();
  } catch (err) {
    throw new Error('verify: jwks: ' + message(err), { cause: err });
  }
  if (!jwks.jwks()?.keys.some((k) => typeof k.kid === 'string' && typeof k.alg === 'string' && algorithms.includes(k.alg))) {
    throw new Error('verify: jwks: no key of alg EdDSA, ES256 or RS256 with a kid');
  }

  // Keys are refetched only for an unknown kid, at most once per interval
  // (the first at once, even right after startup), one fetch at a time, as
  // the Go verifier does: a flood of forged kids costs Gatehouse one
  // request per interval, and an outage of Gatehouse does not stop tokens
  // of known keys from verifying (no cache expiry).
  let lastRefetch = 0;
  let refetching: Promise<void> | undefined;
  const keyOf = async (header: JWTHeaderParameters) => {
    try {
      return await jwks(header);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
      if (!refetching) {
        if (Date.now() - lastRefetch < refetchInterval) throw err;
        lastRefetch = Date.now();
        refetching = jwks.reload().finally(() => (refetching = undefined));
      }
      await refetching;
      return jwks(header);
    }
  };

  // Each key is bound to the one alg it is published with (RFC 8725 §3.1):
  // a key without alg, or a header naming another, is refused.
  const key = async (header: JWTHeaderParameters) => {
    for (const [name, value] of Object.entries(header)) {
      if (!headerMembers.has(name)) throw new VerifyError('token_invalid', 'unexpected header member');
      if (typeof value !== 'string') throw new VerifyError('token_invalid', 'header member not a string');
    }
    if (!header.kid) throw new VerifyError('token_invalid', 'header lacks kid');
    const k = await keyOf(header);
    const jwk = jwks.jwks()?.keys.find((j) => j.kid === header.kid);
    if (!jwk || jwk.alg !== header.alg) throw new VerifyError('token_invalid', "alg is not the key's alg");
    return k;
  };

  const feed = opts.clientId
    ? new Follower({
        issuer,
        clientId: opts.clientId,
        clientSecret: opts.clientSecret!,
        maxTokenLifetime: positive(opts.maxTokenLifetime, 3600),
        feedStaleAfter: positive(opts.feedStaleAfter, 10),
        fetch: fetchImpl,
      })
    : undefined;

  const verifier: Verifier = {
    authenticate: async (req) => verifier.verify(bearerToken(req)),
    async verify(token: string): Promise<Claims> {
      if (typeof token !== 'string' || token === '') throw new VerifyError('token_missing');
      if (token.length > maxTokenSize) throw new VerifyError('token_invalid', 'longer than 8 KiB');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          issuer,
          audience: opts.audience,
          algorithms,
          // RFC 9068 §2.1; jose compares it case-insensitively, with or
          // without the application/ prefix.
          typ: 'at+jwt',
          clockTolerance: leeway,
          requiredClaims: required,
        }));
      } catch (err) {
        throw refusal(err);
      }
      const c = claims(payload);
      feed?.check(c.iat, c.sid);
      return c;
    },
    status: () => feed?.status() ?? { state: 'off', lastSeq: 0, lagSeconds: 0, revokedSessions: 0, lastError: '' },
    ready() {
      const s = feed?.state() ?? 'off';
      return s === 'live' || s === 'off';
    },
    close: async () => feed?.close(),
  };
  return verifier;
}

/** refusal maps jose's errors: only a token valid but for exp is token_expired. */
function refusal(err: unknown): VerifyError {
  if (err instanceof VerifyError) return err;
  if (err instanceof joseErrors.JWTExpired) return new VerifyError('token_expired', 'exp passed');
  if (err instanceof joseErrors.JOSEError) return new VerifyError('token_invalid', err.code);
  // A failed JWKS refetch for an unknown kid: the kid is still unknown.
  return new VerifyError('token_invalid', 'unknown kid');
}

/** claims checks the claim types Gatehouse issues and builds Claims. */
function claims(p: JWTPayload): Claims {
  const str = (v: unknown) => typeof v === 'string' && v !== '';
  if (!str(p.sub) || !str(p.jti)) throw new VerifyError('token_invalid', 'sub or jti not a string');
  // A service client's own token (client credentials) has no sid: it is not
  // a user's token, and Gatehouse's user routes refuse it too.
  if (!str(p.sid)) throw new VerifyError('token_invalid', "not a user's token (no sid)");
  if (p.iat! > Date.now() / 1000 + leeway) throw new VerifyError('token_invalid', 'iat in the future');
  if (p.acr !== undefined && typeof p.acr !== 'string') throw new VerifyError('token_invalid', 'acr is not a string');
  const amr = p.amr ?? [];
  if (!Array.isArray(amr) || !amr.every((m) => typeof m === 'string')) {
    throw new VerifyError('token_invalid', 'amr is not an array of strings');
  }
  return {
    iss: p.iss!,
    sub: p.sub as string,
    aud: typeof p.aud === 'string' ? [p.aud] : p.aud!,
    exp: p.exp!,
    iat: p.iat!,
    nbf: p.nbf!,
    jti: p.jti as string,
    sid: p.sid as string,
    acr: (p.acr as string | undefined) ?? 'aal1',
    amr: amr as string[],
    payload: p,
  };
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : fallback;
}

/** checkIssuer returns the issuer as tokens carry it: an http(s) URL without query, fragment or trailing slash. */
function checkIssuer(s: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`verify: issuer "${s}" is not a URL`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash || u.username || u.password || s.includes('?') || s.includes('#')) {
    throw new Error(`verify: issuer "${s}" must be an http(s) URL without query or fragment`);
  }
  return s.replace(/\/$/, '');
}

/** fetchMetadata reads <issuer>/.well-known/oauth-authorization-server and returns its jwks_uri. */
async function fetchMetadata(fetchImpl: Fetch, issuer: string): Promise<string> {
  const uri = issuer + '/.well-known/oauth-authorization-server';
  let m: unknown;
  try {
    const res = await fetchImpl(uri, { headers: { Accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(fetchTimeout) });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`GET ${uri}: status ${res.status}`);
    }
    m = await readJSON(res, maxDocument);
  } catch (err) {
    throw new Error('verify: metadata: ' + message(err), { cause: err });
  }
  const named = isObject(m) ? m.issuer : undefined;
  // RFC 8414 §3.3: the metadata's issuer must be identical to the one its
  // URL was built from, or one server could impersonate another.
  if (named !== issuer) {
    throw new Error(`verify: metadata names issuer ${JSON.stringify(named)}, not the configured "${issuer}" (RFC 8414 §3.3)`);
  }
  const raw = isObject(m) ? m.jwks_uri : undefined;
  let u: URL;
  try {
    u = new URL(String(raw));
  } catch {
    throw new Error(`verify: metadata: jwks_uri ${JSON.stringify(raw)} is not an absolute URL`);
  }
  // Keys fetched over plain HTTP could be swapped in transit: only an
  // http:// issuer (development) may name an http:// jwks_uri (RFC 8725 §3.10).
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && issuer.startsWith('http://'))) {
    throw new Error(`verify: metadata: jwks_uri "${u.href}" must be https`);
  }
  return u.href;
}
