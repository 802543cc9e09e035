'use client';

import { useCallback, useMemo, useRef, useState } from 'react';
import { AuthError, takeTokenFromFragment, type AuthClient, type User } from '@gatehouse/client';
import { useAuthClient } from './context.js';

/**
 * AuthAction is the state of one call that a form makes, like TanStack
 * Query's mutations: `pending` while it runs, then `done` with its `data`,
 * or `error` (an {@link AuthError}: switch on `code`, show `message`, the
 * problem's `detail`). Only the latest run counts: the answer of an earlier
 * one that is still on its way is dropped.
 */
export interface AuthAction<A extends unknown[], T> {
  /** run starts the call; a failure goes to `error`, so it never rejects (for event handlers). */
  run(...args: A): void;
  /** runAsync starts the call and returns its result, rejecting with the AuthError (for code that awaits). */
  runAsync(...args: A): Promise<T>;
  pending: boolean;
  /** done is true once the latest run succeeded. */
  done: boolean;
  data: T | undefined;
  error: AuthError | null;
  /** reset forgets the result, e.g. to show the form again. */
  reset(): void;
}

interface ActionState<T> {
  pending: boolean;
  done: boolean;
  data: T | undefined;
  error: AuthError | null;
}

const idle = { pending: false, done: false, data: undefined, error: null };

function asAuthError(e: unknown): AuthError {
  return e instanceof AuthError ? e : new AuthError(0, 'network_error', e instanceof Error ? e.message : String(e));
}

/**
 * useAuthAction wraps a call of the provider's client in an
 * {@link AuthAction}. Pass a function defined outside the component (or
 * memoised): `run` and `runAsync` keep their identity as long as it does.
 */
export function useAuthAction<A extends unknown[], T>(call: (client: AuthClient, ...args: A) => Promise<T>): AuthAction<A, T> {
  const client = useAuthClient();
  const [state, setState] = useState<ActionState<T>>(idle);
  const seq = useRef(0);

  const runAsync = useCallback(
    async (...args: A): Promise<T> => {
      const mine = ++seq.current;
      setState((s) => ({ ...s, pending: true, error: null }));
      try {
        const data = await call(client, ...args);
        if (mine === seq.current) setState({ pending: false, done: true, data, error: null });
        return data;
      } catch (e) {
        const error = asAuthError(e);
        if (mine === seq.current) setState({ pending: false, done: false, data: undefined, error });
        throw error;
      }
    },
    [client, call],
  );
  const run = useCallback((...args: A) => void runAsync(...args).catch(() => undefined), [runAsync]);
  const reset = useCallback(() => {
    seq.current++;
    setState(idle);
  }, []);
  return useMemo(() => ({ ...state, run, runAsync, reset }), [state, run, runAsync, reset]);
}

// The calls, at module level so that the hooks' run functions are stable.
const sendVerification = (c: AuthClient) => c.sendVerificationEmail();
const verify = (c: AuthClient, token: string) => c.verifyEmail(token);
const forgot = (c: AuthClient, email: string) => c.forgotPassword(email);
const resetPassword = (c: AuthClient, token: string, newPassword: string) => c.resetPassword(token, newPassword);
const changePassword = (c: AuthClient, currentPassword: string, newPassword: string) => c.changePassword(currentPassword, newPassword);
const changeEmail = (c: AuthClient, newEmail: string, currentPassword: string) => c.changeEmail(newEmail, currentPassword);
const confirm = (c: AuthClient, token: string) => c.confirmEmail(token);
const updateProfile = (c: AuthClient, profile: { name: string }) => c.updateProfile(profile);

/** useSendVerificationEmail sends a new verification mail to the signed-in user (`already_verified`, `rate_limited`). */
export function useSendVerificationEmail(): AuthAction<[], void> {
  return useAuthAction(sendVerification);
}

/** useVerifyEmail spends the token of a verification link; the session's user shows `email_verified` afterwards. */
export function useVerifyEmail(): AuthAction<[token: string], User> {
  return useAuthAction(verify);
}

/** useForgotPassword asks for a reset link; it succeeds alike whether or not the address has an account. */
export function useForgotPassword(): AuthAction<[email: string], void> {
  return useAuthAction(forgot);
}

/** useResetPassword sets a new password with the token of a reset link; every session of the user ends. */
export function useResetPassword(): AuthAction<[token: string, newPassword: string], void> {
  return useAuthAction(resetPassword);
}

/** useChangePassword sets a new password given the current one (`invalid_credentials` when that is wrong); the user's other sessions end. */
export function useChangePassword(): AuthAction<[currentPassword: string, newPassword: string], void> {
  return useAuthAction(changePassword);
}

/** useChangeEmail asks for a confirmation mail to a new address (needs the current password). */
export function useChangeEmail(): AuthAction<[newEmail: string, currentPassword: string], void> {
  return useAuthAction(changeEmail);
}

/** useConfirmEmail spends the token of an email-change link; the session's user shows the new email afterwards. */
export function useConfirmEmail(): AuthAction<[token: string], User> {
  return useAuthAction(confirm);
}

/**
 * useUpdateProfile changes the signed-in user's name (`validation_failed`
 * with a field error on `name` when the server refuses it); useAuth's user,
 * here and in the other tabs, shows the new name afterwards.
 */
export function useUpdateProfile(): AuthAction<[profile: { name: string }], User> {
  return useAuthAction(updateProfile);
}

/**
 * useFragmentToken takes the `token` of the page's fragment once, when the
 * component mounts, and drops the fragment from the address bar (see
 * takeTokenFromFragment in @gatehouse/client). Null when there is none.
 */
export function useFragmentToken(): string | null {
  const [token] = useState(() => takeTokenFromFragment());
  return token;
}
