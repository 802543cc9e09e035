'use client';

import { useEffect, useMemo, useSyncExternalStore, type ReactNode } from 'react';
import type { AuthClient, AuthState, AuthStatus, User } from '@gatehouse/client';
import { AuthContext, useAuthClient } from './context.js';

export { useAuthClient };
export {
  useAuthAction,
  useChangeEmail,
  useChangePassword,
  useConfirmEmail,
  useForgotPassword,
  useFragmentToken,
  useResetPassword,
  useSendVerificationEmail,
  useUpdateProfile,
  useVerifyEmail,
} from './account.js';
export type { AuthAction } from './account.js';
export {
  useCompleteMfaLogin,
  useConfirmTotp,
  useDisableTotp,
  useEnrollTotp,
  useMfaStatus,
  useRegenerateRecoveryCodes,
  useStepUp,
} from './mfa.js';
export { useAdminUser, useAdminUsers, useMyEvents } from './admin.js';
export type { AdminUsers, MyEvents, UseAdminUser } from './admin.js';
export { useConditionalPasskeyLogin, usePasskeyLogin, usePasskeys } from './passkeys.js';
export type { ConditionalPasskeyLogin, UsePasskeys } from './passkeys.js';

export interface AuthProviderProps {
  client: AuthClient;
  children?: ReactNode;
}

/**
 * AuthProvider makes an AuthClient available to useAuth and RequireAuth,
 * and starts its start-up validation (GET /api/users/me) when mounted.
 */
export function AuthProvider({ client, children }: AuthProviderProps) {
  useEffect(() => {
    void client.start();
  }, [client]);
  return <AuthContext.Provider value={client}>{children}</AuthContext.Provider>;
}

/** useSession is the client's state, re-rendering on every change. */
export function useSession(): AuthState {
  const client = useAuthClient();
  return useSyncExternalStore(client.subscribe, client.getSnapshot, client.getSnapshot);
}

export interface UseAuth {
  status: AuthStatus;
  user: User | null;
  /** Set while the server cannot be reached; the session is kept. */
  error: AuthState['error'];
  /** The session's assurance level, `aal1` or `aal2` (the access token's `acr`); null when signed out. */
  acr: AuthState['acr'];
  /** How the session was authenticated, RFC 8176 names (`pwd`, `otp`, `mfa`, …). */
  amr: AuthState['amr'];
  /** login signs in; it throws MfaRequiredError when a second factor is needed (then completeMfaLogin). */
  login(email: string, password: string): Promise<User>;
  completeMfaLogin: AuthClient['completeMfaLogin'];
  /** loginWithPasskey signs in with a passkey alone (the browser's prompt); the session is aal2. */
  loginWithPasskey: AuthClient['loginWithPasskey'];
  stepUp: AuthClient['stepUp'];
  register(email: string, password: string, name?: string): Promise<User>;
  logout(): Promise<void>;
  logoutAll(): Promise<void>;
  /** fetch with the bearer token, silent refresh and one replay. */
  fetch: AuthClient['fetch'];
  client: AuthClient;
}

/** useAuth is the session and its actions. */
export function useAuth(): UseAuth {
  const client = useAuthClient();
  const state = useSession();
  return useMemo(
    () => ({
      status: state.status,
      user: state.user,
      error: state.error,
      acr: state.acr,
      amr: state.amr,
      login: (email, password) => client.login(email, password),
      completeMfaLogin: client.completeMfaLogin,
      loginWithPasskey: client.loginWithPasskey,
      stepUp: client.stepUp,
      register: (email, password, name) => client.register(email, password, name),
      logout: () => client.logout(),
      logoutAll: () => client.logoutAll(),
      fetch: client.fetch,
      client,
    }),
    [client, state],
  );
}

export interface RequireAuthProps {
  children?: ReactNode;
  /** What to show while start-up validation runs; nothing by default. */
  loading?: ReactNode;
  /** Where signed-out visitors go; /login by default. */
  loginPath?: string;
  /**
   * redirect sends the visitor to the login page. `returnTo` is where they
   * were going (path, query and hash); the login page sends them back there
   * (see {@link returnPath}). By default: location.assign(loginPath?next=…).
   */
  redirect?: (loginPath: string, returnTo: string) => void;
}

function here(): string {
  const l = globalThis.location;
  return l ? l.pathname + l.search + l.hash : '/';
}

/**
 * RequireAuth renders its children only for an authenticated user. Until
 * start-up validation has finished it renders `loading` and nothing
 * protected (seed 000: the protected route decides only once isLoading is
 * false); a signed-out visitor is redirected to the login page.
 */
export function RequireAuth({ children, loading = null, loginPath = '/login', redirect }: RequireAuthProps) {
  const { status } = useSession();
  useEffect(() => {
    if (status !== 'unauthenticated') return;
    const to = here();
    if (redirect) redirect(loginPath, to);
    else globalThis.location?.assign(`${loginPath}?next=${encodeURIComponent(to)}`);
  }, [status, loginPath, redirect]);
  if (status === 'authenticated') return <>{children}</>;
  if (status === 'loading') return <>{loading}</>;
  return null;
}

/**
 * returnPath checks a return address taken from the URL (`?next=`) and
 * returns it when it is a path on this site, or `fallback`. Anything else
 * (`//evil.example`, `https://…`, `/\evil`) would make the login page an
 * open redirect (OWASP Unvalidated Redirects cheat sheet).
 */
export function returnPath(next: string | null | undefined, fallback = '/dashboard'): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return fallback;
  try {
    const u = new URL(next, 'http://x.invalid');
    if (u.origin !== 'http://x.invalid') return fallback;
    return u.pathname + u.search + u.hash;
  } catch {
    return fallback;
  }
}

export type { Acr, AdminUser, AuditEvent, AuthClient, AuthState, AuthStatus, MfaLogin, MfaStatus, AdminUserPage, EventPage, Passkey, Role, SecondFactor, TotpEnrollment, User, UserSession } from '@gatehouse/client';
