// Passkeys on both sides of the client, for its tests: the passkey routes
// of CONTRACT §8 on top of FakeMfaGatehouse, and a browser's WebAuthn
// (PublicKeyCredential and navigator.credentials) with an authenticator
// that keeps discoverable credentials. No signatures are made or checked:
// what the fakes check is what the client is responsible for, the JSON
// both ways (the challenge and the user handle reach the authenticator as
// bytes, and come back base64url in clientDataJSON and userHandle). The
// real cryptography runs in the e2e tests (Chromium's virtual
// authenticator against the server).
import { json, problem, type Session } from './fakes.js';
import { FakeMfaGatehouse } from './mfa-fakes.js';

export const b64url = (b: Uint8Array | ArrayBuffer | string): string =>
  Buffer.from(typeof b === 'string' ? Buffer.from(b) : b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString('base64url');
export const unb64url = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64url'));

type Body = Record<string, unknown>;
interface StoredPasskey {
  id: string;
  credentialId: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export const USER_HANDLE = b64url('user-handle-u1');

export class FakePasskeyGatehouse extends FakeMfaGatehouse {
  passkeys: StoredPasskey[] = [];
  /** challenge_id -> [challenge, ceremony]; each used once. */
  challenges = new Map<string, [string, 'create' | 'get']>();
  /** The credential bodies the server was sent, for the tests to look at. */
  received: Body[] = [];

  constructor() {
    super();
    const mfa = this.fetch;
    this.fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
      const req = new Request(input, init);
      const path = new URL(req.url).pathname;
      if (!path.startsWith('/api/auth/passkeys')) return mfa(input, init);
      this.requests.push({ method: req.method, path, auth: req.headers.get('Authorization'), credentials: req.credentials });
      const text = req.method === 'GET' || req.method === 'DELETE' ? '' : await req.text();
      return this.passkeyRoute(req.method, path, req.headers, text ? (JSON.parse(text) as Body) : {});
    };
  }

  protected override hasFactor(): boolean {
    return this.totp || this.passkeys.length > 0;
  }
  protected override methods(): string[] {
    return [...super.methods(), ...(this.passkeys.length ? ['passkey'] : [])];
  }
  protected override methodOf(body: Record<string, string>): string {
    return body.challenge_id ? 'hwk' : super.methodOf(body);
  }
  protected override passkeyCount(): number {
    return this.passkeys.length;
  }
  protected override checkFactor(body: Record<string, string>): boolean {
    if (!body.challenge_id) return super.checkFactor(body);
    return this.verifyAssertion(body as unknown as Body) !== null;
  }

  private challenge(kind: 'create' | 'get'): [string, string] {
    const id = `ch${++this.n}`;
    const challenge = b64url(`challenge-${this.n}-${Math.random()}`);
    this.challenges.set(id, [challenge, kind]);
    return [id, challenge];
  }

  /** clientData checks what the browser reported against the challenge, as a relying party would. */
  private clientData(body: Body, kind: 'create' | 'get'): Body | null {
    this.received.push(body);
    const ch = this.challenges.get(String(body.challenge_id));
    this.challenges.delete(String(body.challenge_id));
    const cred = body.credential as Body | undefined;
    const res = cred?.response as Body | undefined;
    if (!ch || ch[1] !== kind || !cred || !res || cred.type !== 'public-key' || cred.id !== cred.rawId) return null;
    const data = JSON.parse(Buffer.from(String(res.clientDataJSON), 'base64url').toString()) as Body;
    if (data.type !== `webauthn.${kind}` || data.challenge !== ch[0]) return null;
    return res;
  }

  private verifyAssertion(body: Body): StoredPasskey | null {
    const res = this.clientData(body, 'get');
    const id = (body.credential as Body | undefined)?.id;
    const pk = this.passkeys.find((p) => p.credentialId === id);
    if (!res || !pk || res.userHandle !== USER_HANDLE || typeof res.signature !== 'string') return null;
    pk.last_used_at = '2026-02-01T00:00:00Z';
    return pk;
  }

  private async passkeyRoute(method: string, path: string, headers: Headers, body: Body): Promise<Response> {
    const route = `${method} ${path}`;
    if (route === 'POST /api/auth/passkeys/login/options') {
      const [challenge_id, challenge] = this.challenge('get');
      return json(200, { challenge_id, publicKey: { challenge, rpId: 'localhost', userVerification: 'required', timeout: 300000 } });
    }
    if (route === 'POST /api/auth/passkeys/login') {
      if (!this.verifyAssertion(body)) return problem(401, 'passkey_invalid');
      const s: Session = { sid: `s${++this.n}`, refresh: '', revoked: false, acr: 'aal2', amr: ['hwk', 'mfa'] };
      this.sessions.set(s.sid, s);
      return this.grant(s, headers.get('X-Refresh-Transport') === 'cookie', true);
    }
    const auth = headers.get('Authorization');
    const sid = auth?.startsWith('Bearer ') ? this.live.get(auth.slice(7)) : undefined;
    const s = sid ? this.sessions.get(sid) : undefined;
    if (!s || s.revoked) return problem(401, 'token_invalid');
    const aal2 = s.acr === 'aal2' || !this.hasFactor();
    const stepUp = () => problem(403, 'insufficient_user_authentication');
    const view = (p: StoredPasskey) => ({ id: p.id, name: p.name, created_at: p.created_at, last_used_at: p.last_used_at, synced: false });
    if (route === 'POST /api/auth/passkeys/register/options') {
      if (!aal2) return stepUp();
      const [challenge_id, challenge] = this.challenge('create');
      return json(200, {
        challenge_id,
        publicKey: {
          challenge,
          rp: { id: 'localhost', name: 'Gatehouse' },
          user: { id: USER_HANDLE, name: this.email, displayName: this.name },
          pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
          excludeCredentials: this.passkeys.map((p) => ({ type: 'public-key', id: p.credentialId })),
          authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
          attestation: 'none',
        },
      });
    }
    if (route === 'POST /api/auth/passkeys/register') {
      const res = this.clientData(body, 'create');
      if (!res || typeof res.attestationObject !== 'string') return problem(400, 'passkey_invalid');
      const p = { id: `pk${++this.n}`, credentialId: String((body.credential as Body).id), name: String(body.name ?? 'Passkey'), created_at: '2026-01-15T00:00:00Z', last_used_at: null };
      this.passkeys.push(p);
      return json(201, view(p));
    }
    if (route === 'GET /api/auth/passkeys') return json(200, this.passkeys.map(view));
    const p = this.passkeys.find((x) => path === `/api/auth/passkeys/${x.id}`);
    if (!p) return problem(404, 'not_found');
    if (method === 'PATCH') {
      p.name = String(body.name);
      return json(200, view(p));
    }
    if (method === 'DELETE') {
      if (!aal2) return stepUp();
      this.passkeys = this.passkeys.filter((x) => x !== p);
      return new Response(null, { status: 204 });
    }
    return problem(405, 'method_not_allowed');
  }
}

/** What the fake authenticator does with the next request. */
export type Behaviour = 'ok' | 'cancel' | 'exists';

interface Held {
  id: Uint8Array;
  userHandle: Uint8Array;
}

/**
 * FakeWebAuthn is a browser's WebAuthn: `native` browsers have the Level 3
 * JSON methods (parse…OptionsFromJSON, toJSON), others have only the
 * binary API. install() puts it on globalThis for a test.
 */
export class FakeWebAuthn {
  held: Held[] = [];
  behaviour: Behaviour = 'ok';
  conditional = true;
  /** The options each call got, as the authenticator saw them (binary). */
  calls: { kind: 'create' | 'get'; options: CredentialCreationOptions & CredentialRequestOptions }[] = [];
  parsed = 0;
  /** Set while a conditional request waits for the user to pick a passkey. */
  pick: (() => void) | null = null;

  constructor(readonly native: boolean) {}

  globals(): { PublicKeyCredential: unknown; navigator: { credentials: unknown } } {
    const self = this;
    class PublicKeyCredential {}
    const statics = PublicKeyCredential as unknown as Record<string, unknown>;
    statics.isConditionalMediationAvailable = async () => self.conditional;
    if (this.native) {
      statics.parseCreationOptionsFromJSON = (j: Body) => {
        self.parsed++;
        const user = j.user as Body;
        return { ...j, challenge: unb64url(String(j.challenge)), user: { ...user, id: unb64url(String(user.id)) } };
      };
      statics.parseRequestOptionsFromJSON = (j: Body) => {
        self.parsed++;
        return { ...j, challenge: unb64url(String(j.challenge)) };
      };
      (PublicKeyCredential.prototype as unknown as Body).toJSON = function (this: Body) {
        const r = this.response as Record<string, ArrayBuffer | null>;
        const response: Body = {};
        for (const [k, v] of Object.entries(r)) if (v instanceof ArrayBuffer) response[k] = b64url(v);
        return { id: this.id, rawId: b64url(this.rawId as ArrayBuffer), type: 'public-key', response, clientExtensionResults: {}, authenticatorAttachment: 'platform' };
      };
    }
    const credentials = {
      create: (o: CredentialCreationOptions) => this.create(o, PublicKeyCredential),
      get: (o: CredentialRequestOptions) => this.get(o, PublicKeyCredential),
    };
    return { PublicKeyCredential, navigator: { credentials } };
  }

  private fail(): void {
    if (this.behaviour === 'cancel') throw new DOMException('The operation either timed out or was not allowed.', 'NotAllowedError');
    if (this.behaviour === 'exists') throw new DOMException('The authenticator was previously registered.', 'InvalidStateError');
  }

  private credential(proto: { prototype: object }, id: Uint8Array, response: Record<string, ArrayBuffer | null>): object {
    const cred = Object.create(proto.prototype) as Body;
    Object.assign(cred, {
      id: b64url(id),
      rawId: id.slice().buffer,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      response,
      getClientExtensionResults: () => ({}),
    });
    return cred;
  }

  private async create(o: CredentialCreationOptions, proto: { prototype: object }): Promise<object> {
    this.calls.push({ kind: 'create', options: o });
    this.fail();
    const pk = o.publicKey!;
    const id = new Uint8Array(Buffer.from(`cred-${this.held.length + 1}-${Math.random()}`));
    this.held.push({ id, userHandle: new Uint8Array(pk.user.id as Uint8Array) });
    const clientData = JSON.stringify({ type: 'webauthn.create', challenge: b64url(pk.challenge as Uint8Array), origin: 'http://localhost' });
    return this.credential(proto, id, { clientDataJSON: buf(clientData), attestationObject: buf('attestation') });
  }

  private async get(o: CredentialRequestOptions, proto: { prototype: object }): Promise<object> {
    this.calls.push({ kind: 'get', options: o });
    if (o.mediation === 'conditional') {
      // The autofill waits for the user, or for the page to abort it.
      await new Promise<void>((resolve, reject) => {
        this.pick = resolve;
        const abort = () => reject(new DOMException('aborted', 'AbortError'));
        if (o.signal?.aborted) abort();
        o.signal?.addEventListener('abort', abort);
      });
      this.pick = null;
    }
    this.fail();
    const held = this.held[0];
    if (!held) throw new DOMException('no passkey', 'NotAllowedError');
    const clientData = JSON.stringify({ type: 'webauthn.get', challenge: b64url(o.publicKey!.challenge as Uint8Array), origin: 'http://localhost' });
    return this.credential(proto, held.id, {
      clientDataJSON: buf(clientData),
      authenticatorData: buf('authdata'),
      signature: buf('signature'),
      userHandle: held.userHandle.slice().buffer,
    });
  }
}

function buf(s: string): ArrayBuffer {
  return new Uint8Array(Buffer.from(s)).buffer;
}
