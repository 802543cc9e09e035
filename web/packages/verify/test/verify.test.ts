import { type IncomingMessage, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Verifier, VerifyError, authenticate, createVerifier, writeError } from '../src/index.js';
import { FakeIssuer, newKey } from './fake.js';

let g: FakeIssuer;
let v: Verifier;

beforeAll(async () => {
  g = await FakeIssuer.start();
  v = await createVerifier({ issuer: g.url, audience: 'gatehouse' });
});
afterAll(async () => {
  await v.close();
  await g.stop();
});

/** verdict is the code verify answers for tok ("ok" when accepted). */
async function verdict(tok: string, verifier = v): Promise<string> {
  try {
    await verifier.verify(tok);
    return 'ok';
  } catch (err) {
    if (err instanceof VerifyError) return err.code;
    throw err;
  }
}

const now = () => Math.floor(Date.now() / 1000);

describe('verify', () => {
  it('accepts a valid token and returns its claims', async () => {
    const c = await v.verify(await g.mint({ amr: ['pwd'] }));
    expect(c).toMatchObject({ iss: g.url, sub: 'user-1', aud: ['gatehouse'], sid: 's1', acr: 'aal1', amr: ['pwd'] });
    expect(typeof c.jti).toBe('string');
    const c2 = await v.verify(await g.mint({ acr: 'aal2', amr: ['pwd', 'otp'] }));
    expect(c2.acr).toBe('aal2');
    expect(v.status()).toEqual({ state: 'off', lastSeq: 0, lagSeconds: 0, revokedSessions: 0, lastError: '' });
    expect(v.ready()).toBe(true);
  });

  it('accepts typ in any case, with or without application/', async () => {
    expect(await verdict(await g.mint({}, { typ: 'AT+JWT' }))).toBe('ok');
    expect(await verdict(await g.mint({}, { typ: 'application/at+jwt' }))).toBe('ok');
  });

  it('refuses wrong iss, aud and typ', async () => {
    expect(await verdict(await g.mint({ iss: g.url + '/' }))).toBe('token_invalid');
    expect(await verdict(await g.mint({ iss: 'https://evil.example' }))).toBe('token_invalid');
    expect(await verdict(await g.mint({ aud: ['other'] }))).toBe('token_invalid');
    expect(await verdict(await g.mint({ aud: 'gatehouse' }))).toBe('ok');
    expect(await verdict(await g.mint({}, { typ: 'JWT' }))).toBe('token_invalid');
    expect(await verdict(await g.mint({}, { typ: undefined }))).toBe('token_invalid');
  });

  it('refuses alg none and HS256', async () => {
    const h = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: 'k1' }));
    const valid = await g.mint();
    const payload = valid.split('.')[1];
    expect(await verdict(`${h}.${payload}.`)).toBe('token_invalid');
    const hs = await new SignJWT(JSON.parse(new TextDecoder().decode(base64url.decode(payload!))))
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'k1' })
      .sign(new TextEncoder().encode('a'.repeat(32)));
    expect(await verdict(hs)).toBe('token_invalid');
  });

  it('refuses an expired token as token_expired, within the 5 s leeway accepts it', async () => {
    expect(await verdict(await g.mint({ iat: now() - 120, nbf: now() - 120, exp: now() - 10 }))).toBe('token_expired');
    expect(await verdict(await g.mint({ iat: now() - 120, nbf: now() - 120, exp: now() - 2 }))).toBe('ok');
  });

  it('refuses nbf and iat in the future', async () => {
    expect(await verdict(await g.mint({ nbf: now() + 60 }))).toBe('token_invalid');
    expect(await verdict(await g.mint({ nbf: now() + 3 }))).toBe('ok');
    expect(await verdict(await g.mint({ iat: now() + 60 }))).toBe('token_invalid');
  });

  it('refuses missing claims: sid (a service client token), jti, nbf', async () => {
    expect(await verdict(await g.mint({ sid: undefined, client_id: 'gh_x', scope: 'revocations' }))).toBe('token_invalid');
    expect(await verdict(await g.mint({ jti: undefined }))).toBe('token_invalid');
    expect(await verdict(await g.mint({ nbf: undefined }))).toBe('token_invalid');
    expect(await verdict(await g.mint({ amr: 'pwd' }))).toBe('token_invalid');
  });

  it('refuses an unknown key, a forged signature and header members that name keys', async () => {
    const stranger = await newKey('k2');
    const before = g.jwksGets;
    expect(await verdict(await g.mint({}, {}, stranger))).toBe('token_invalid');
    expect(g.jwksGets).toBe(before + 1); // an unknown kid refetches the JWKS once
    expect(await verdict(await g.mint({}, {}, stranger))).toBe('token_invalid');
    expect(g.jwksGets).toBe(before + 1); // and not again within the interval
    const forger = await newKey('k1');
    expect(await verdict(await g.mint({}, {}, forger))).toBe('token_invalid');
    expect(await verdict(await g.mint({}, { jku: g.url + '/evil' }))).toBe('token_invalid');
    expect(await verdict(await g.mint({}, { kid: undefined }))).toBe('token_invalid');
  });

  it('refuses garbage and answers token_missing for nothing', async () => {
    expect(await verdict('')).toBe('token_missing');
    expect(await verdict('abc')).toBe('token_invalid');
    expect(await verdict('a'.repeat(9000))).toBe('token_invalid');
  });

  it('verifies tokens of a key published after startup', async () => {
    const g2 = await FakeIssuer.start();
    try {
      const v2 = await createVerifier({ issuer: g2.url, audience: 'gatehouse' });
      const rotated = await newKey('k-new');
      g2.keys.push(rotated);
      expect(await verdict(await g2.mint({}, {}, rotated), v2)).toBe('ok');
    } finally {
      await g2.stop();
    }
  });
});

describe('createVerifier', () => {
  it('refuses metadata that names another issuer', async () => {
    g.metadataIssuer = 'http://impostor.example';
    try {
      await expect(createVerifier({ issuer: g.url, audience: 'gatehouse' })).rejects.toThrow(/RFC 8414/);
    } finally {
      g.metadataIssuer = undefined;
    }
  });

  it('refuses bad options and an unreachable issuer', async () => {
    await expect(createVerifier({ issuer: g.url + '?x=1', audience: 'gatehouse' })).rejects.toThrow(/query/);
    await expect(createVerifier({ issuer: g.url, audience: '' })).rejects.toThrow(/audience/);
    await expect(createVerifier({ issuer: g.url, audience: 'gatehouse', clientId: 'x' })).rejects.toThrow(/together/);
    await expect(createVerifier({ issuer: 'http://127.0.0.1:1', audience: 'gatehouse' })).rejects.toThrow(/metadata/);
  });

  it('accepts the issuer with a trailing slash', async () => {
    const v2 = await createVerifier({ issuer: g.url + '/', audience: 'gatehouse' });
    expect(await verdict(await g.mint(), v2)).toBe('ok');
  });
});

describe('authenticate and writeError', () => {
  async function call(headers: Record<string, string | string[]>) {
    const srv = createServer(async (req: IncomingMessage, res: ServerResponse) => {
      try {
        const c = await authenticate(v, req);
        res.end(JSON.stringify({ sub: c.sub }));
      } catch (err) {
        writeError(res, err);
      }
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    try {
      return await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        });
        req.on('error', reject);
        req.end();
      });
    } finally {
      srv.closeAllConnections();
      srv.close();
    }
  }

  it('verifier.authenticate reads the header too', async () => {
    const tok = await g.mint();
    const req = { headers: { authorization: 'Bearer ' + tok }, headersDistinct: { authorization: ['Bearer ' + tok] } } as unknown as IncomingMessage;
    expect((await v.authenticate(req)).sub).toBe('user-1');
    const none = { headers: {}, headersDistinct: {} } as unknown as IncomingMessage;
    await expect(v.authenticate(none)).rejects.toMatchObject({ code: 'token_missing', status: 401 });
  });

  it('passes a valid bearer token, scheme in any case', async () => {
    const r = await call({ Authorization: 'bEaReR ' + (await g.mint()) });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ sub: 'user-1' });
  });

  it('writes the problem and challenge without a token', async () => {
    const r = await call({});
    expect(r.status).toBe(401);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(r.headers['www-authenticate']).toBe('Bearer realm="gatehouse"');
    expect(JSON.parse(r.body)).toEqual({ type: 'urn:gatehouse:problem:token_missing', title: 'Unauthorized', status: 401, detail: 'token_missing', code: 'token_missing' });
  });

  it('adds error="invalid_token" when a token was sent', async () => {
    const r = await call({ Authorization: 'Bearer ' + (await g.mint({ exp: now() - 60, iat: now() - 120, nbf: now() - 120 })) });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="gatehouse", error="invalid_token", error_description="the access token expired"');
    expect(JSON.parse(r.body).code).toBe('token_expired');
  });

  it('refuses another scheme and several Authorization headers', async () => {
    const tok = await g.mint();
    expect(JSON.parse((await call({ Authorization: 'Basic ' + tok })).body).code).toBe('token_invalid');
    expect(JSON.parse((await call({ Authorization: ['Bearer ' + tok, 'Bearer ' + tok] })).body).code).toBe('token_invalid');
  });

  it('writes 503 with Retry-After', async () => {
    const res = { headers: {} as Record<string, string>, statusCode: 0, body: '' };
    const fake = {
      setHeader: (k: string, v: string) => void (res.headers[k.toLowerCase()] = v),
      end: (b: string) => void (res.body = b),
      set statusCode(s: number) {
        res.statusCode = s;
      },
    } as unknown as ServerResponse;
    writeError(fake, new VerifyError('unavailable', 'revocation feed stale'));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(JSON.parse(res.body)).toMatchObject({ status: 503, code: 'unavailable', title: 'Service Unavailable' });
  });
});
