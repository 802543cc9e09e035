import { AuthError } from './errors.js';
import type { Session } from './session.js';
import type { User } from './types.js';
import { errorFromResponse, type Wire } from './wire.js';

/** AccountDeps is what {@link Account} needs from the client. */
export interface AccountDeps {
  session: Session;
  wire: Wire;
  /** The client's bearer fetch (refresh and one replay included). */
  fetch(input: string, init: RequestInit): Promise<Response>;
  /** Tells the other tabs of a changed user. */
  shareUser(user: User): void;
}

/**
 * Account makes the account calls: the "accounts by email" ones (CONTRACT
 * §7: email verification, the password reset and the email change) and
 * the profile update. The links in
 * Gatehouse's mails carry their token in the URL fragment
 * (`/verify-email#token=…`), which the browser never sends to a server or
 * in a Referer; {@link takeTokenFromFragment} reads it on arrival.
 *
 * Every method rejects with an {@link AuthError} whose `code` is the
 * server's (`email_token_invalid`, `email_token_expired`, `email_taken`, …).
 */
export class Account {
  constructor(private readonly d: AccountDeps) {}

  /** sendVerificationEmail asks for a new verification mail (bearer). Rejects with `already_verified` or `rate_limited`. */
  async sendVerificationEmail(): Promise<void> {
    await this.bearer('/api/auth/verify-email/send', {});
  }

  /** verifyEmail spends a verification token; the user it returns is also the signed-in user's new state when it is the same user. */
  async verifyEmail(token: string): Promise<User> {
    const user = await this.userOf(await this.d.wire.postAnonymous('/api/auth/verify-email', { token }));
    this.adopt(user);
    return user;
  }

  /** forgotPassword asks for a reset link. The server answers alike whether or not the address has an account. */
  async forgotPassword(email: string): Promise<void> {
    await this.expect(await this.d.wire.postAnonymous('/api/auth/password/forgot', { email }));
  }

  /**
   * resetPassword sets a new password with a reset token. The server ends
   * every session of that user; a tab signed in as them learns it on its
   * next request (`session_revoked`) and signs out.
   */
  async resetPassword(token: string, newPassword: string): Promise<void> {
    await this.expect(await this.d.wire.postAnonymous('/api/auth/password/reset', { token, new_password: newPassword }));
  }

  /**
   * changePassword sets a new password (bearer), given the current one:
   * `invalid_credentials` when that is wrong, `validation_failed` for a new
   * password the server refuses. The server ends the user's other sessions.
   */
  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    await this.bearer('/api/auth/password', { current_password: currentPassword, new_password: newPassword });
  }

  /** changeEmail asks for a confirmation mail to newEmail (bearer). The email changes only once {@link confirmEmail} spends its token. */
  async changeEmail(newEmail: string, currentPassword: string): Promise<void> {
    await this.bearer('/api/auth/email', { new_email: newEmail, current_password: currentPassword });
  }

  /** confirmEmail spends an email-change token and returns the user with the new email (adopted as the signed-in user when it is them). */
  async confirmEmail(token: string): Promise<User> {
    const user = await this.userOf(await this.d.wire.postAnonymous('/api/auth/email/confirm', { token }));
    this.adopt(user);
    return user;
  }

  /**
   * updateProfile sets the signed-in user's display name (PATCH
   * /api/users/me, bearer) and returns the changed user, which becomes the
   * user of this tab's state and of the other tabs signed in as them.
   * Rejects with `validation_failed` (field `name`) for a name the server
   * refuses.
   */
  async updateProfile(profile: { name: string }): Promise<User> {
    const user = await this.userOf(await this.send('PATCH', '/api/users/me', { name: profile.name }));
    this.adopt(user);
    return user;
  }

  private async bearer(path: string, body: object): Promise<void> {
    await this.expect(await this.send('POST', path, body));
  }

  private send(method: string, path: string, body: object): Promise<Response> {
    return this.d.fetch(path, {
      method,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
  }

  private async expect(res: Response): Promise<void> {
    if (!res.ok) throw await errorFromResponse(res);
    await res.body?.cancel();
  }

  private async userOf(res: Response): Promise<User> {
    if (!res.ok) throw await errorFromResponse(res);
    const user: unknown = await res.json().catch(() => null);
    if (!user || typeof user !== 'object' || typeof (user as User).id !== 'string') {
      throw new AuthError(502, 'bad_response', 'the server sent no user');
    }
    return user as User;
  }

  /** adopt shows the changed user when this tab (or another) is signed in as them. */
  private adopt(user: User): void {
    const s = this.d.session;
    const state = s.getSnapshot();
    if (state.status === 'authenticated' && state.user?.id === user.id) s.signedIn({ ...state.user, ...user });
    this.d.shareUser(user);
  }
}

/** Where {@link takeTokenFromFragment} reads the address: `window` by default. */
export interface AddressBar {
  location: { pathname: string; search: string; hash: string };
  history: { state: unknown; replaceState(data: unknown, unused: string, url?: string): void };
}

// The last token taken, for a second call on the same page (React's
// StrictMode runs state initialisers and effects twice in development).
let taken: { at: string; token: string } | null = null;

/**
 * takeTokenFromFragment returns the `token` of the address's fragment
 * (`/reset-password#token=…`), or null, and removes the fragment from the
 * address bar with history.replaceState, so the token stays neither in the
 * history nor in a bookmark or a copied link (it is a bearer secret:
 * OWASP Forgot Password cheat sheet). Called again on the same page it
 * returns the same token.
 */
export function takeTokenFromFragment(bar: AddressBar | undefined = globalThis as unknown as AddressBar): string | null {
  const loc = bar?.location;
  if (!loc) return null;
  const here = loc.pathname + loc.search;
  const hash = loc.hash.startsWith('#') ? loc.hash.slice(1) : loc.hash;
  const token = hash ? new URLSearchParams(hash).get('token') : null;
  if (!token) return taken?.at === here && !hash ? taken.token : null;
  bar.history.replaceState(bar.history.state, '', here);
  taken = { at: here, token };
  return token;
}
