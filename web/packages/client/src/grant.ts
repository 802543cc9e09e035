import { AuthError } from './errors.js';
import type { Session } from './session.js';
import { tokensFrom } from './storage.js';
import type { Tabs } from './tabs.js';
import type { TokenResponse, User } from './types.js';
import { errorFromResponse, type Wire } from './wire.js';

/** GrantDeps is what taking the server's tokens needs from the client. */
export interface GrantDeps {
  session: Session;
  wire: Wire;
  tabs: Tabs;
  now: () => number;
  /** The client's bearer fetch. */
  fetch(input: string, init?: RequestInit): Promise<Response>;
  /** Marks start-up as done: a sign-in wins over what start-up would find. */
  started(): void;
}

/**
 * signInWith reads the answer of a login (or of the second step of one,
 * POST /api/auth/mfa/verify) and signs in with it: the tokens are stored,
 * the state becomes authenticated, and the other tabs are told, the same
 * way whichever step gave the tokens. A failed answer rejects with its
 * AuthError (MfaRequiredError for `mfa_required`).
 */
export async function signInWith(d: GrantDeps, res: Response): Promise<User> {
  if (!res.ok) throw await errorFromResponse(res);
  const body = (await res.json()) as TokenResponse & { user?: User };
  const tokens = d.wire.tokensOf(body, d.now());
  d.session.setTokens(tokens, true);
  let user = body.user;
  if (!user) {
    const me = await d.fetch('/api/users/me');
    if (!me.ok) throw await errorFromResponse(me);
    user = (await me.json()) as User;
  }
  d.started();
  d.session.signedIn(user);
  d.tabs.shareSignIn(tokens, user);
  d.session.emit('signedIn', { user });
  return user;
}

/**
 * adoptAccessToken takes a new access token for the current session (a
 * step-up, or the aal2 token that confirming a TOTP enrolment returns):
 * the refresh token stays, and the other tabs get it as they get a
 * refresh's result. A token of another session (this tab signed in anew
 * meanwhile) is dropped.
 */
export function adoptAccessToken(d: GrantDeps, body: TokenResponse): void {
  const cur = d.session.tokens;
  if (!cur) throw new AuthError(401, 'signed_out', 'signed out while the request was on its way');
  if (typeof body.access_token !== 'string' || !body.access_token) throw new AuthError(502, 'bad_response', 'the server sent no access token');
  const tokens = tokensFrom(body.access_token, cur.refreshToken, body.expires_in, d.now());
  if (cur.sid && tokens.sid && cur.sid !== tokens.sid) return;
  d.session.setTokens(tokens, true);
  d.session.setError(null);
  d.tabs.shareRefresh(tokens);
  d.session.emit('refreshed', { expiresAt: tokens.expiresAt });
}
