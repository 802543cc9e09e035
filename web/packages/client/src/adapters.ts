import type { AuthClient } from './client.js';

// Adapters for the HTTP stacks the seeds use. They are typed structurally,
// so that this package depends on neither axios nor Redux Toolkit at run
// time (or for its types).

/** The parts of an axios request config the interceptor touches. */
export interface AxiosRequestConfigLike {
  url?: string;
  baseURL?: string;
  headers?: unknown;
  [key: string]: unknown;
}

/** The parts of an axios error the interceptor reads. */
export interface AxiosErrorLike {
  config?: AxiosRequestConfigLike;
  response?: { status: number; data?: unknown };
}

/** The parts of an axios instance the interceptor uses. */
export interface AxiosInstanceLike {
  interceptors: {
    request: { use(onFulfilled: (config: never) => unknown, onRejected?: (error: never) => unknown): number; eject(id: number): void };
    response: { use(onFulfilled: (response: never) => unknown, onRejected?: (error: never) => unknown): number; eject(id: number): void };
  };
  request(config: never): Promise<unknown>;
}

const RETRIED = '__gatehouseRetried';

function setHeader(headers: unknown, name: string, value: string): unknown {
  const h = headers as { set?: (n: string, v: string) => void } | Record<string, string> | undefined;
  if (h && typeof (h as { set?: unknown }).set === 'function') {
    (h as { set: (n: string, v: string) => void }).set(name, value);
    return h;
  }
  return { ...((h as Record<string, string>) ?? {}), [name]: value };
}

function getHeader(headers: unknown, name: string): string | null {
  const h = headers as { get?: (n: string) => unknown } | Record<string, unknown> | undefined;
  if (!h) return null;
  if (typeof (h as { get?: unknown }).get === 'function') {
    const v = (h as { get: (n: string) => unknown }).get(name);
    return typeof v === 'string' ? v : null;
  }
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() === name.toLowerCase() && typeof v === 'string') return v;
  return null;
}

function bearerOf(value: string | null): string | null {
  return value && value.startsWith('Bearer ') ? value.slice(7) : null;
}

function codeOf(data: unknown): string | null {
  if (data && typeof data === 'object' && typeof (data as { code?: unknown }).code === 'string') return (data as { code: string }).code;
  if (typeof data === 'string') {
    try {
      return codeOf(JSON.parse(data));
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * attachAxios installs a request interceptor that adds the bearer token
 * (refreshing first when it is about to expire) and a response interceptor
 * that, on a 401 with code `token_expired` for the current token, refreshes
 * (single-flight) and replays the request once. Use it on an axios instance
 * whose baseURL is Gatehouse (or your API trusting Gatehouse's tokens).
 * Returns a function that removes both interceptors.
 */
export function attachAxios(client: AuthClient, axios: AxiosInstanceLike): () => void {
  const req = axios.interceptors.request.use((async (config: AxiosRequestConfigLike) => {
    const token = await client.getAccessToken();
    if (token) config.headers = setHeader(config.headers, 'Authorization', `Bearer ${token}`);
    return config;
  }) as (c: never) => unknown);
  const res = axios.interceptors.response.use(
    ((r: unknown) => r) as (r: never) => unknown,
    (async (error: AxiosErrorLike) => {
      const config = error?.config;
      if (!config || error.response?.status !== 401 || config[RETRIED]) throw error;
      const sent = bearerOf(getHeader(config.headers, 'Authorization'));
      const next = await client.handleUnauthorized(sent, codeOf(error.response.data));
      if (!next) throw error;
      config[RETRIED] = true;
      config.headers = setHeader(config.headers, 'Authorization', `Bearer ${next}`);
      return axios.request(config as never);
    }) as (e: never) => unknown,
  );
  return () => {
    axios.interceptors.request.eject(req);
    axios.interceptors.response.eject(res);
  };
}

/** The result shape of an RTK Query base query. */
export interface BaseQueryResultLike {
  data?: unknown;
  error?: unknown;
  meta?: { request?: Request; response?: Response } | unknown;
}

/** An RTK Query base query (fetchBaseQuery's result, or your own). */
export type BaseQueryLike<Args, Api, Extra, R extends BaseQueryResultLike> = (args: Args, api: Api, extraOptions: Extra) => R | Promise<R>;

/**
 * prepareAuthHeaders is a fetchBaseQuery `prepareHeaders` that adds the
 * current access token:
 *
 *     const raw = fetchBaseQuery({ baseUrl: '/api', prepareHeaders: prepareAuthHeaders(client) });
 *     const baseQuery = baseQueryWithReauth(client, raw);
 */
export function prepareAuthHeaders(client: AuthClient): (headers: Headers) => Headers {
  return (headers) => {
    const token = client.accessToken;
    if (token) headers.set('Authorization', `Bearer ${token}`);
    return headers;
  };
}

function statusOf(error: unknown): number | null {
  const s = (error as { status?: unknown } | null)?.status;
  return typeof s === 'number' ? s : null;
}

/**
 * baseQueryWithReauth wraps an RTK Query base query (seed 000's "RTK Query
 * reauth wrapper"): before the request it refreshes a token about to
 * expire; on a 401 `token_expired` for the token it sent it refreshes once
 * (single-flight, across tabs) and replays the query once. Another 401
 * comes back as it is; a failed refresh signs the client out, and the app
 * navigates to /login on the client's `signedOut` event.
 */
export function baseQueryWithReauth<Args, Api, Extra, R extends BaseQueryResultLike>(
  client: AuthClient,
  baseQuery: BaseQueryLike<Args, Api, Extra, R>,
): (args: Args, api: Api, extraOptions: Extra) => Promise<R> {
  return async (args, api, extraOptions) => {
    const sent = await client.getAccessToken();
    let result = await baseQuery(args, api, extraOptions);
    if (statusOf(result.error) !== 401) return result;
    const meta = result.meta as { request?: Request } | undefined;
    const actuallySent = bearerOf(meta?.request?.headers.get('Authorization') ?? null) ?? sent;
    let next: string | null = null;
    try {
      next = await client.handleUnauthorized(actuallySent, codeOf((result.error as { data?: unknown }).data));
    } catch {
      return result;
    }
    if (next) result = await baseQuery(args, api, extraOptions);
    return result;
  };
}
