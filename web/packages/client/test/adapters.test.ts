import { afterEach, describe, expect, it } from 'vitest';
import { attachAxios, baseQueryWithReauth, createAuthClient, prepareAuthHeaders, type AuthClient } from '../src/index.js';
import { FakeGatehouse } from './fakes.js';

const clients: AuthClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.dispose();
});

async function signedIn(): Promise<{ server: FakeGatehouse; client: AuthClient }> {
  const server = new FakeGatehouse();
  const client = createAuthClient({ baseUrl: server.origin, storage: 'memory', fetch: server.fetch as typeof fetch, proactive: false, visibility: null });
  clients.push(client);
  await client.login('ada@example.com', 'correct horse battery staple');
  return { server, client };
}

/** A minimal axios look-alike: interceptors and request(), over fetch. */
function miniAxios(baseURL: string, fetchFn: typeof fetch) {
  type Fn = (v: never) => unknown;
  const req: [Fn, Fn?][] = [];
  const res: [Fn, Fn?][] = [];
  const inst = {
    interceptors: {
      request: { use: (f: Fn, r?: Fn) => req.push([f, r]) - 1, eject: (i: number) => void req.splice(i, 1) },
      response: { use: (f: Fn, r?: Fn) => res.push([f, r]) - 1, eject: (i: number) => void res.splice(i, 1) },
    },
    async request(config: { url: string; headers?: Record<string, string> }): Promise<unknown> {
      let c: unknown = { ...config, headers: { ...(config.headers ?? {}) } };
      for (const [f] of req) c = await (f as (x: unknown) => unknown)(c);
      const cfg = c as { url: string; headers: Record<string, string> };
      const r = await fetchFn(baseURL + cfg.url, { headers: cfg.headers });
      const data = await r.json().catch(() => null);
      let out: Promise<unknown> =
        r.status >= 400 ? Promise.reject({ config: cfg, response: { status: r.status, data } }) : Promise.resolve({ status: r.status, data, config: cfg });
      for (const [f, rej] of res) out = out.then(f as (x: unknown) => unknown, rej as ((e: unknown) => unknown) | undefined);
      return out;
    },
  };
  return inst;
}

describe('axios interceptor', () => {
  it('adds the token, refreshes on token_expired and replays once', async () => {
    const { server, client } = await signedIn();
    const ax = miniAxios(server.origin, server.fetch as typeof fetch);
    attachAxios(client, ax as never);
    server.expireAll();
    const r = (await ax.request({ url: '/api/posts' })) as { status: number };
    expect(r.status).toBe(200);
    expect(server.refreshCalls).toBe(1);
  });

  it('does not refresh on another 401, and does not loop when the replay is refused', async () => {
    const { server, client } = await signedIn();
    const ax = miniAxios(server.origin, server.fetch as typeof fetch);
    attachAxios(client, ax as never);
    server.reject401 = 'token_invalid';
    await expect(ax.request({ url: '/api/posts' })).rejects.toMatchObject({ response: { status: 401 } });
    expect(server.refreshCalls).toBe(0);
    server.reject401 = null;
    server.alwaysExpired = true;
    await expect(ax.request({ url: '/api/posts' })).rejects.toMatchObject({ response: { status: 401 } });
    expect(server.refreshCalls).toBe(1);
  });
});

describe('RTK Query baseQueryWithReauth', () => {
  /** fetchBaseQuery's contract, in miniature. */
  function rawBaseQuery(server: FakeGatehouse, prepare: (h: Headers) => Headers) {
    return async (url: string) => {
      const request = new Request(server.origin + url, { headers: prepare(new Headers()) });
      const response = await server.fetch(request);
      const data: unknown = await response.json().catch(() => null);
      return response.ok ? { data, meta: { request, response } } : { error: { status: response.status, data }, meta: { request, response } };
    };
  }

  it('refreshes on token_expired and replays the query once', async () => {
    const { server, client } = await signedIn();
    const q = baseQueryWithReauth(client, rawBaseQuery(server, prepareAuthHeaders(client)));
    server.expireAll();
    const r = await q('/api/posts', {}, {});
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual({ items: [], next_cursor: null });
    expect(server.refreshCalls).toBe(1);
  });

  it('returns another 401 as it is', async () => {
    const { server, client } = await signedIn();
    const q = baseQueryWithReauth(client, rawBaseQuery(server, prepareAuthHeaders(client)));
    server.reject401 = 'token_invalid';
    const r = await q('/api/posts', {}, {});
    expect(r.error).toMatchObject({ status: 401 });
    expect(server.refreshCalls).toBe(0);
  });
});
