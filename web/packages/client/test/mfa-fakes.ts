// The second-factor routes of CONTRACT §8 on top of FakeGatehouse: enough
// of TOTP enrolment, recovery codes, the login's second step and step-up
// for the client's side of them. A TOTP "code" here is any of `validCodes`,
// each accepted once (as the server accepts a code once per step); the
// real RFC 6238 check is exercised by the e2e tests against the server.
import { FakeGatehouse, json, problem, type Session } from './fakes.js';

export const TOTP_CODE = '123456';

export class FakeMfaGatehouse extends FakeGatehouse {
  /** Whether the user has TOTP turned on (set directly to skip the enrolment). */
  totp = false;
  pendingSecret: string | null = null;
  recoveryCodes = new Set<string>();
  /** Codes the "authenticator app" shows now; each works once. */
  validCodes = new Set<string>([TOTP_CODE, '654321', '111111', '222222']);
  /** mfa_token -> wrong codes so far; deleted when used or dead. */
  mfaTokens = new Map<string, number>();
  newPassword: string | null = null;

  constructor() {
    super();
    const base = this.fetch;
    this.fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
      const req = new Request(input, init);
      const path = new URL(req.url).pathname;
      const route = `${req.method} ${path}`;
      const mine = route === 'POST /api/auth/login' || route === 'POST /api/auth/password' || path.startsWith('/api/auth/mfa');
      if (!mine || (route === 'POST /api/auth/login' && !this.hasFactor())) return base(input, init);
      this.requests.push({ method: req.method, path, auth: req.headers.get('Authorization'), credentials: req.credentials });
      const text = req.method === 'GET' ? '' : await req.text();
      const body = (text ? JSON.parse(text) : {}) as Record<string, string>;
      return this.route(route, req.headers, body, () => base(input, { ...init, body: text }));
    };
  }

  /** enable turns TOTP on with fresh recovery codes (as if enrolled elsewhere). */
  enable(): string[] {
    this.totp = true;
    return this.newRecoveryCodes();
  }

  private newRecoveryCodes(): string[] {
    const codes = Array.from({ length: 10 }, (_, i) => `rc${++this.n}-${i}`);
    this.recoveryCodes = new Set(codes);
    return codes;
  }

  /** hasFactor reports whether the user has a second factor (a subclass adds passkeys). */
  protected hasFactor(): boolean {
    return this.totp;
  }

  /** methods are the login's second-step methods. */
  protected methods(): string[] {
    return this.totp ? ['totp', 'recovery_code'] : [];
  }

  /** methodOf is the RFC 8176 name of the factor a body answers with. */
  protected methodOf(body: Record<string, string>): string {
    return body.recovery_code ? 'pwd' : 'otp';
  }

  protected passkeyCount(): number {
    return 0;
  }

  protected checkFactor(body: Record<string, string>): boolean {
    if (typeof body.recovery_code === 'string') return this.recoveryCodes.delete(body.recovery_code);
    return typeof body.code === 'string' && this.validCodes.delete(body.code);
  }

  protected raise(s: Session, method: string): void {
    s.acr = 'aal2';
    s.amr = [...new Set([...(s.amr ?? ['pwd']), method, 'mfa'])];
  }

  protected async route(route: string, headers: Headers, body: Record<string, string>, base: () => Promise<Response>): Promise<Response> {
    const cookieMode = headers.get('X-Refresh-Transport') === 'cookie';
    const auth = headers.get('Authorization');
    if (route === 'POST /api/auth/login') {
      if (body.email !== this.email || body.password !== this.password) {
        this.requests.pop(); // the base server logs it again
        return base();
      }
      const token = `mfa-${++this.n}`;
      this.mfaTokens.set(token, 0);
      return problem(401, 'mfa_required', { mfa_token: token, methods: this.methods() });
    }
    if (route === 'POST /api/auth/mfa/verify' && !auth) {
      const tries = this.mfaTokens.get(body.mfa_token ?? '');
      if (tries === undefined) return problem(401, 'mfa_token_invalid');
      if (!this.checkFactor(body)) {
        if (tries + 1 >= 5) this.mfaTokens.delete(body.mfa_token!);
        else this.mfaTokens.set(body.mfa_token!, tries + 1);
        return problem(401, 'mfa_code_invalid');
      }
      this.mfaTokens.delete(body.mfa_token!);
      const s: Session = { sid: `s${++this.n}`, refresh: '', revoked: false };
      this.raise(s, this.methodOf(body));
      this.sessions.set(s.sid, s);
      return this.grant(s, cookieMode, true);
    }
    // Bearer routes.
    const sid = auth?.startsWith('Bearer ') ? this.live.get(auth.slice(7)) : undefined;
    const s = sid ? this.sessions.get(sid) : undefined;
    if (!s || s.revoked) return problem(401, 'token_invalid');
    // RFC 9470: an aal1 session of a user with a factor may not make these changes.
    const stepUp = () =>
      new Response(JSON.stringify({ status: 403, code: 'insufficient_user_authentication', detail: 'a second factor is needed' }), {
        status: 403,
        headers: { 'Content-Type': 'application/problem+json', 'WWW-Authenticate': 'Bearer error="insufficient_user_authentication", acr_values="aal2"' },
      });
    const aal2 = s.acr === 'aal2' || !this.hasFactor();
    switch (route) {
      case 'POST /api/auth/mfa/verify': {
        if (!this.checkFactor(body)) return problem(401, 'mfa_code_invalid');
        this.raise(s, this.methodOf(body));
        return this.accessOnly(s);
      }
      case 'GET /api/auth/mfa':
        return json(200, { totp: this.totp, recovery_codes_left: this.recoveryCodes.size, passkeys: this.passkeyCount() });
      case 'POST /api/auth/mfa/totp':
        if (!aal2) return stepUp();
        if (body.current_password !== this.password) return problem(401, 'invalid_credentials');
        if (this.totp) return problem(409, 'already_enrolled');
        this.pendingSecret = 'JBSWY3DPEHPK3PXP';
        return json(200, { secret: this.pendingSecret, otpauth_uri: `otpauth://totp/Gatehouse:${this.email}?secret=${this.pendingSecret}&issuer=Gatehouse` });
      case 'POST /api/auth/mfa/totp/confirm': {
        if (!this.pendingSecret || !this.checkFactor({ code: body.code ?? '' })) return problem(400, 'mfa_code_invalid');
        this.pendingSecret = null;
        const codes = this.enable();
        this.raise(s, 'otp');
        const granted = (await this.accessOnly(s).json()) as Record<string, unknown>;
        return json(200, { recovery_codes: codes, ...granted });
      }
      case 'DELETE /api/auth/mfa/totp':
        if (!aal2) return stepUp();
        this.totp = false;
        this.recoveryCodes.clear();
        return new Response(null, { status: 204 });
      case 'POST /api/auth/mfa/recovery-codes':
        if (!aal2) return stepUp();
        return json(200, { recovery_codes: this.newRecoveryCodes() });
      case 'POST /api/auth/password':
        if (!aal2) return stepUp();
        if (body.current_password !== this.password) return problem(401, 'invalid_credentials');
        this.password = body.new_password!;
        this.newPassword = body.new_password!;
        return new Response(null, { status: 204 });
    }
    return problem(404, 'not_found');
  }

  /** accessOnly answers a new access token for the same session, as step-up does. */
  protected accessOnly(s: Session): Response {
    const access = this.mint(s.sid);
    this.live.set(access, s.sid);
    return json(200, { access_token: access, token_type: 'bearer', expires_in: this.expiresIn });
  }
}
