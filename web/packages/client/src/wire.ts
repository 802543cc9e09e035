import { AuthError, MfaRequiredError, StepUpRequiredError, networkError, type AuthErrorCode, type Problem } from './errors.js';
import { tokensFrom, type TokenStorage } from './storage.js';
import type { TokenResponse, Tokens } from './types.js';

/**
 * Wire makes the HTTP calls: the auth endpoints (login, register, refresh,
 * logout) with the storage strategy's transport, and bearer requests. It
 * holds no state beyond its configuration.
 */
export class Wire {
  readonly baseUrl: string;
  private readonly apiOrigin: string | null;

  constructor(
    baseUrl: string,
    private readonly rawFetch: typeof fetch,
    private readonly storage: TokenStorage,
    private readonly timeout: number,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.apiOrigin = originOf(this.baseUrl);
  }

  /** scope names the API for lock and channel names: its origin, or this page's. */
  get scope(): string {
    return this.apiOrigin ?? 'same-origin';
  }

  login(email: string, password: string): Promise<Response> {
    return this.post('/api/auth/login', { email, password }, this.grantHeaders());
  }

  /**
   * mfaVerify finishes a login that answered `mfa_required`: the mfa_token
   * and a code are the credentials (no bearer), and the answer is a login's,
   * so it asks for the refresh token the way login does.
   */
  mfaVerify(body: object): Promise<Response> {
    return this.post('/api/auth/mfa/verify', body, this.grantHeaders());
  }

  /** passkeyLogin signs in with a passkey's assertion; the answer is a login's, with the refresh token sent the same way. */
  passkeyLogin(body: object): Promise<Response> {
    return this.post('/api/auth/passkeys/login', body, this.grantHeaders());
  }

  /** grantHeaders asks for the refresh token in the HttpOnly cookie when the strategy keeps it there (CONTRACT §5). */
  private grantHeaders(): Record<string, string> {
    return this.storage.cookieTransport ? { 'X-Refresh-Transport': 'cookie' } : {};
  }

  register(email: string, password: string, name?: string): Promise<Response> {
    return this.post('/api/auth/register', name ? { email, password, name } : { email, password });
  }

  /** refresh presents refreshToken, or with the cookie transport the cookie. */
  refresh(refreshToken: string | null): Promise<Response> {
    if (this.storage.cookieTransport) return this.post('/api/auth/refresh', {}, { ...csrfHeaders(), 'X-Refresh-Transport': 'cookie' });
    return this.post('/api/auth/refresh', { refresh_token: refreshToken });
  }

  logout(refreshToken: string | null): Promise<Response> {
    if (this.storage.cookieTransport) return this.post('/api/auth/logout', {}, csrfHeaders());
    return this.post('/api/auth/logout', { refresh_token: refreshToken });
  }

  /**
   * postAnonymous posts JSON without credentials: the calls of the mailed
   * links (verify, reset, confirm) carry their own token in the body and
   * need neither the bearer token nor the refresh cookie.
   */
  postAnonymous(path: string, body: object): Promise<Response> {
    return this.post(path, body, {}, 'omit');
  }

  /** tokensOf reads a token answer; it throws `bad_response` when a token the strategy needs is missing. */
  tokensOf(body: TokenResponse, now: number): Tokens {
    if (typeof body.access_token !== 'string') throw new AuthError(502, 'bad_response', 'the server sent no access token');
    if (this.storage.cookieTransport) return tokensFrom(body.access_token, null, body.expires_in, now);
    if (typeof body.refresh_token !== 'string' || !body.refresh_token) throw new AuthError(502, 'bad_response', 'the server sent no refresh token');
    return tokensFrom(body.access_token, body.refresh_token, body.expires_in, now);
  }

  private async post(path: string, body: object, headers: Record<string, string> = {}, credentials?: RequestCredentials): Promise<Response> {
    try {
      return await this.rawFetch(this.baseUrl + path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
        body: JSON.stringify(body),
        // The refresh cookie must be sent and stored even when Gatehouse is
        // on another origin (allowed by --cors-origins).
        credentials: credentials ?? (this.storage.cookieTransport ? 'include' : 'same-origin'),
        cache: 'no-store',
        signal: timeoutSignal(this.timeout),
      });
    } catch (e) {
      throw networkError(e);
    }
  }

  /** send makes a request with the bearer token, if any. Rejects with AuthError when no answer arrives (an abort stays an AbortError). */
  async send(input: RequestInfo | URL, target: string, init: RequestInit, token: string | null): Promise<Response> {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    if (token) headers.set('Authorization', `Bearer ${token}`);
    const req = input instanceof Request ? input.clone() : target;
    try {
      return await this.rawFetch(req, { ...init, headers });
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e;
      throw networkError(e);
    }
  }

  /** resolve turns a path ("/api/posts") into a URL on baseUrl. */
  resolve(input: RequestInfo | URL): string {
    if (input instanceof Request) return input.url;
    const s = input instanceof URL ? input.href : input;
    return s.startsWith('/') && !s.startsWith('//') ? this.baseUrl + s : s;
  }

  /** isApi reports whether a URL is on Gatehouse's origin: the bearer token goes nowhere else. */
  isApi(url: string): boolean {
    if (url.startsWith('/') && !url.startsWith('//')) return true;
    const origin = originOf(url);
    if (!origin) return false;
    if (this.apiOrigin) return origin === this.apiOrigin;
    const here = (globalThis as { location?: { origin?: string } }).location?.origin;
    return origin === here;
  }
}

// The cookie transport's CSRF defence: a custom header a cross-site form
// cannot send, which also forces a CORS preflight (CONTRACT §5; OWASP CSRF
// cheat sheet, "Employing Custom Request Headers").
function csrfHeaders(): Record<string, string> {
  return { 'X-CSRF-Guard': '1' };
}

function originOf(url: string): string | null {
  try {
    return url ? new URL(url).origin : null;
  } catch {
    return null;
  }
}

function timeoutSignal(ms: number): AbortSignal | undefined {
  return typeof AbortSignal !== 'undefined' && 'timeout' in AbortSignal ? AbortSignal.timeout(ms) : undefined;
}

/** sendJSON sends a request with a JSON body (when one is given) through a client's fetch. */
export function sendJSON(fetchFn: (path: string, init?: RequestInit) => Promise<Response>, method: string, path: string, body?: object): Promise<Response> {
  const init: RequestInit = { method, headers: { Accept: 'application/json' } };
  if (body) init.headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (body) init.body = JSON.stringify(body);
  return fetchFn(path, init);
}

/** readJSON reads a successful JSON answer that ok accepts; a failure is the server's AuthError, anything else `bad_response`. */
export async function readJSON<T>(res: Response, ok: (body: Record<string, unknown>) => boolean): Promise<T> {
  if (!res.ok) throw await errorFromResponse(res);
  const body: unknown = await res.json().catch(() => null);
  if (!body || typeof body !== 'object' || !ok(body as Record<string, unknown>)) throw badResponse();
  return body as T;
}

/** badResponse is the error of an answer the client cannot use. */
export function badResponse(): AuthError {
  return new AuthError(502, 'bad_response', 'the server sent an unexpected answer');
}

/** replayable reports whether a request can be sent again (its body was not a consumed stream). */
export function replayable(input: RequestInfo | URL, init: RequestInit): boolean {
  if (input instanceof Request) return !input.bodyUsed;
  const b = init.body;
  return !(typeof ReadableStream !== 'undefined' && b instanceof ReadableStream);
}

/** errorFromResponse reads a failed response into an AuthError (it consumes the body). */
export async function errorFromResponse(res: Response): Promise<AuthError> {
  let problem: Problem | null = null;
  try {
    const text = await res.text();
    if (text) {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) problem = parsed as Problem;
    }
  } catch {
    problem = null;
  }
  const code = typeof problem?.code === 'string' ? problem.code : (`http_${res.status}` as const);
  const message = (typeof problem?.detail === 'string' && problem.detail) || (typeof problem?.title === 'string' && problem.title) || `HTTP ${res.status}`;
  if (code === 'mfa_required' && problem && typeof problem.mfa_token === 'string') {
    const methods = Array.isArray(problem.methods) ? (problem.methods as unknown[]).filter((m): m is string => typeof m === 'string') : [];
    return new MfaRequiredError(res.status, message, problem, problem.mfa_token, methods);
  }
  if (code === 'insufficient_user_authentication') {
    return new StepUpRequiredError(res.status, message, problem, acrValues(res.headers.get('WWW-Authenticate')));
  }
  const ra = Number(res.headers.get('Retry-After'));
  return new AuthError(res.status, code, message, problem, Number.isFinite(ra) && ra > 0 ? ra : null);
}

/**
 * acrValues reads `acr_values` from an RFC 9470 challenge
 * (`Bearer error="insufficient_user_authentication", acr_values="aal2"`);
 * a cross-origin page may not see the header, so the default is aal2.
 */
function acrValues(header: string | null): string[] {
  const m = header ? /acr_values="([^"]*)"/.exec(header) : null;
  const values = m?.[1]?.split(' ').filter(Boolean) ?? [];
  return values.length ? values : ['aal2'];
}

/** problemCode returns the `code` of a problem+json response without consuming it. */
export async function problemCode(res: Response): Promise<AuthErrorCode | null> {
  const type = res.headers.get('Content-Type') ?? '';
  if (!type.includes('json')) return null;
  try {
    const body: unknown = await res.clone().json();
    if (body && typeof body === 'object' && typeof (body as Problem).code === 'string') return (body as Problem).code as AuthErrorCode;
  } catch {
    return null;
  }
  return null;
}
