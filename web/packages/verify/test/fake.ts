// An in-memory Gatehouse as a remote verifier sees it (like the Go fake in
// verify/feedfake_test.go): RFC 8414 metadata, the JWK Set, the
// client-credentials grant and the revocation feed, with switches to
// misbehave.
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, type JWK, type JWTPayload, SignJWT, exportJWK, generateKeyPair } from 'jose';

export interface Entry {
  seq: number;
  sid: string;
  at: string;
}

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function newKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' } };
}

export class FakeIssuer {
  url = '';
  metadataIssuer: string | undefined; // overrides the metadata's issuer
  clientId = 'client 1';
  secret = 's3cret:+/=';
  expiresIn = 300; // of client tokens, seconds
  maxWait = 200; // ms: the fake answers long polls sooner than asked
  drop = false; // feed requests: connection destroyed, no answer

  tokenPosts = 0;
  feedGets = 0;
  feed401s = 0;
  jwksGets = 0;
  afters: number[] = [];

  keys: SigningKey[] = [];
  private entries: Entry[] = [];
  head = 0;
  private firstSeq = 1;
  private since = new Date(Date.now() - 24 * 3600_000).toISOString();
  private clients = new Set<string>();
  private waiters = new Set<() => void>();
  private server!: Server;

  static async start(): Promise<FakeIssuer> {
    const g = new FakeIssuer();
    g.keys.push(await newKey('k1'));
    g.server = createServer((req, res) => void g.serve(req, res));
    await new Promise<void>((resolve) => g.server.listen(0, '127.0.0.1', resolve));
    g.url = `http://127.0.0.1:${(g.server.address() as AddressInfo).port}`;
    return g;
  }

  async stop(): Promise<void> {
    for (const w of this.waiters) w();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', this.url);
    switch (u.pathname) {
      case '/.well-known/oauth-authorization-server':
        return json(res, 200, { issuer: this.metadataIssuer ?? this.url, jwks_uri: this.url + '/.well-known/jwks.json' });
      case '/.well-known/jwks.json':
        this.jwksGets++;
        return json(res, 200, { keys: this.keys.map((k) => k.jwk) }, 'application/jwk-set+json');
      case '/api/auth/token':
        return this.token(req, res);
      case '/api/auth/revocations':
        return this.feed(req, res, u);
      default:
        return json(res, 404, { code: 'not_found' });
    }
  }

  private async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.tokenPosts++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString());
    if (req.method !== 'POST' || form.get('grant_type') !== 'client_credentials') {
      return json(res, 400, { error: 'invalid_request' });
    }
    // RFC 6749 §2.3.1: both halves are form-urlencoded inside Basic.
    const auth = req.headers.authorization ?? '';
    const decoded = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
    const colon = decoded.indexOf(':');
    const unform = (s: string) => new URLSearchParams('x=' + s).get('x');
    if (colon < 0 || unform(decoded.slice(0, colon)) !== this.clientId || unform(decoded.slice(colon + 1)) !== this.secret) {
      return json(res, 401, { error: 'invalid_client' });
    }
    const tok = randomBytes(16).toString('hex');
    this.clients.add(tok);
    json(res, 200, { access_token: tok, token_type: 'bearer', expires_in: this.expiresIn, scope: 'revocations' });
  }

  private async feed(req: IncomingMessage, res: ServerResponse, u: URL): Promise<void> {
    this.feedGets++;
    if (this.drop) {
      req.socket.destroy();
      return;
    }
    const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!this.clients.has(bearer)) {
      this.feed401s++;
      return json(res, 401, { code: 'token_invalid' }, 'application/problem+json');
    }
    const after = Number(u.searchParams.get('after'));
    let wait = Number(u.searchParams.get('wait'));
    if (!Number.isInteger(after) || !Number.isInteger(wait) || after < 0 || wait < 0 || wait > 60) {
      return json(res, 400, { code: 'invalid_request' });
    }
    const deadline = Date.now() + Math.min(wait * 1000, this.maxWait);
    for (;;) {
      this.afters.push(after);
      if (after < this.firstSeq - 1 || after > this.head) {
        return json(res, 410, { type: 'urn:gatehouse:problem:feed_gap', status: 410, code: 'feed_gap', first_seq: this.firstSeq, since: this.since }, 'application/problem+json');
      }
      const out = this.entries.filter((e) => e.seq > after).slice(0, 1000);
      const last = out.length > 0 ? out[out.length - 1]!.seq : this.head;
      const left = deadline - Date.now();
      if (out.length > 0 || wait === 0 || left <= 0) return json(res, 200, { entries: out, last_seq: last });
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.waiters.add(done);
      });
      if (res.destroyed) return;
      wait = 0; // answer what came, or nothing, at once now
    }
  }

  /** revoke appends sessions to the feed, revoked at at (default now). */
  revoke(sids: string[], at = new Date()): void {
    for (const sid of sids) {
      this.head++;
      this.entries.push({ seq: this.head, sid, at: at.toISOString() });
    }
    // Waiters run in a later tick: a prune in the same tick comes first.
    for (const w of [...this.waiters]) w();
  }

  /** prune drops the entries below first and sets the horizon a 410 announces. */
  prune(first: number, since: Date): void {
    this.entries = this.entries.filter((e) => e.seq >= first);
    this.firstSeq = first;
    this.since = since.toISOString();
  }

  forgetClientTokens(): void {
    this.clients.clear();
  }

  /** mint signs a user's access token; claims and header override the defaults. */
  async mint(claims: JWTPayload = {}, header: Record<string, unknown> = {}, key = this.keys[0]!): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = {
      iss: this.url,
      sub: 'user-1',
      aud: ['gatehouse'],
      exp: now + 900,
      iat: now,
      nbf: now,
      jti: randomBytes(8).toString('hex'),
      sid: 's1',
      ...claims,
    };
    for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
    return new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid, ...header }).sign(key.privateKey);
  }
}

function json(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'Content-Type': type });
  res.end(JSON.stringify(body));
}

/** eventually polls cond every 10 ms until it holds or limit (ms) passes, and returns the time taken. */
export async function eventually(what: string, cond: () => boolean | Promise<boolean>, limit = 5_000): Promise<number> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > limit) throw new Error(`${what}: not within ${limit} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}
