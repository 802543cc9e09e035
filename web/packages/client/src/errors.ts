/** A field problem of a 422 `validation_failed` answer. */
export interface FieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem document as Gatehouse sends it. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/**
 * AuthError is what the client throws: `status` and `code` come from the
 * server's problem+json answer (`code` is the stable one to switch on), or
 * `status` is 0 and `code` is `network_error` when no answer arrived.
 */
export class AuthError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem | null;
  /** Seconds to wait before trying again, from `Retry-After` (429, 503). */
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, problem: Problem | null = null, retryAfter: number | null = null) {
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

/** networkError wraps a failure to get any answer. */
export function networkError(cause: unknown): AuthError {
  const msg = cause instanceof Error ? cause.message : String(cause);
  const err = new AuthError(0, 'network_error', `the server could not be reached: ${msg}`);
  (err as { cause?: unknown }).cause = cause;
  return err;
}

/** readProblem reads a failed response into an AuthError (it consumes the body). */
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
  const code = typeof problem?.code === 'string' ? problem.code : `http_${res.status}`;
  const message = (typeof problem?.detail === 'string' && problem.detail) || (typeof problem?.title === 'string' && problem.title) || `HTTP ${res.status}`;
  const ra = Number(res.headers.get('Retry-After'));
  return new AuthError(res.status, code, message, problem, Number.isFinite(ra) && ra > 0 ? ra : null);
}

/** problemCode returns the `code` of a problem+json response without consuming it. */
export async function problemCode(res: Response): Promise<string | null> {
  const type = res.headers.get('Content-Type') ?? '';
  if (!type.includes('json')) return null;
  try {
    const body: unknown = await res.clone().json();
    if (body && typeof body === 'object' && typeof (body as Problem).code === 'string') return (body as Problem).code as string;
  } catch {
    return null;
  }
  return null;
}
