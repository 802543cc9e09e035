import { AuthError } from './errors.js';
import type { Refresher } from './refresh.js';
import type { Schedule } from './schedule.js';
import type { Session } from './session.js';
import type { Tabs } from './tabs.js';
import type { User } from './types.js';
import { errorFromResponse } from './wire.js';

/** StartupDeps is what start-up validation needs from the client. */
export interface StartupDeps {
  session: Session;
  tabs: Tabs;
  schedule: Schedule;
  refresher: Refresher;
  sessionHint: boolean;
  /** The client's bearer fetch. */
  fetch(input: string): Promise<Response>;
}

/**
 * validateSession decides, once per page load, whether a session is there
 * and alive: the tokens of storage or of other tabs, checked with the
 * server (GET /api/users/me, after a refresh when they are about to
 * expire). It signs in, or sets the state to unauthenticated, or rejects
 * (start-up retries transient failures).
 */
export async function validateSession(d: StartupDeps): Promise<void> {
  const s = d.session;
  const store = s.storage;
  if (s.getSnapshot().status === 'authenticated') return; // a login or another tab got there first
  if (!s.tokens) {
    const loaded = store.load();
    if (loaded) s.setTokens(loaded);
  }
  if (s.tokens && store.sharing === 'session') {
    // A duplicated tab, or a reload of a tab whose session other tabs
    // share: take the newest tokens from them rather than refreshing a
    // copy of a refresh token that may be retired already.
    const user = await d.tabs.greet(s.tokens);
    if (user && s.tokens) {
      s.signedIn(user);
      return;
    }
  }
  if (!s.tokens && store.sharing === 'origin') {
    const other = await d.tabs.askOtherTabs();
    if (other) {
      s.setTokens(other.tokens);
      s.signedIn(other.user);
      return;
    }
  }
  // No refresh token anywhere: nobody is signed in. With the cookie only
  // the server can tell, by trying the HttpOnly cookie; the marker says
  // when that cannot succeed, so a signed-out load sends no refresh that
  // is bound to fail with a 401.
  const noCookie = store.cookieTransport && d.sessionHint && store.maySignIn?.() === false;
  if (!s.tokens && (!store.cookieTransport || noCookie)) {
    s.setState({ status: 'unauthenticated', user: null, error: null });
    return;
  }
  if (!s.tokens || d.schedule.needsRefresh(s.tokens)) await d.refresher.refreshFrom(s.tokens);
  let res = await d.fetch('/api/users/me');
  if (res.status === 401 && s.tokens) {
    // Not an expiry (fetch handled that): a token the server no longer
    // accepts. One refresh decides whether the session is still alive.
    await d.refresher.refreshFrom(s.tokens);
    res = await d.fetch('/api/users/me');
  }
  if (!res.ok) throw await errorFromResponse(res);
  const user = (await res.json()) as User;
  if (!s.tokens) throw new AuthError(401, 'signed_out', 'signed out during start-up');
  s.signedIn(user);
}
