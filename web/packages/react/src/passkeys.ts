'use client';

import { useEffect, useMemo, useRef, useState } from 'react';
import { AuthError, type AuthClient, type Passkey, type User } from '@gatehouse/client';
import { useAuthAction, type AuthAction } from './account.js';
import { useAuthClient } from './context.js';

// The calls, at module level so that the hooks' run functions are stable.
const list = (c: AuthClient) => c.listPasskeys();
const register = (c: AuthClient, name?: string) => c.registerPasskey(name);
const rename = (c: AuthClient, id: string, name: string) => c.renamePasskey(id, name);
const remove = (c: AuthClient, id: string) => c.deletePasskey(id);
const login = (c: AuthClient) => c.loginWithPasskey();

export interface UsePasskeys {
  /** The signed-in user's passkeys (`data`), loaded on mount; `list.run()` loads them again. */
  list: AuthAction<[], Passkey[]>;
  /** add runs the browser's passkey prompt and adds the passkey (`passkey_cancelled`, `passkey_invalid`, `insufficient_user_authentication`). */
  add: AuthAction<[name?: string], Passkey>;
  rename: AuthAction<[id: string, name: string], Passkey>;
  /** remove needs an aal2 session (`insufficient_user_authentication` from an aal1 one). */
  remove: AuthAction<[id: string], void>;
}

/**
 * usePasskeys lists the signed-in user's passkeys and adds, renames and
 * removes them; the list loads again after each change that succeeded.
 */
export function usePasskeys(): UsePasskeys {
  const listed = useAuthAction(list);
  const reload = listed.run;
  useEffect(() => reload(), [reload]);
  const add = useReloading(useAuthAction(register), reload);
  const renamed = useReloading(useAuthAction(rename), reload);
  const removed = useReloading(useAuthAction(remove), reload);
  return { list: listed, add, rename: renamed, remove: removed };
}

/** useReloading is the action, with the list (or whatever reload loads) loaded again once it succeeded. */
export function useReloading<A extends unknown[], T>(action: AuthAction<A, T>, reload: () => void): AuthAction<A, T> {
  return useMemo(() => {
    const runAsync = async (...args: A): Promise<T> => {
      const out = await action.runAsync(...args);
      reload();
      return out;
    };
    return { ...action, runAsync, run: (...args: A) => void runAsync(...args).catch(() => undefined) };
  }, [action, reload]);
}

/**
 * usePasskeyLogin signs in with a passkey alone (no email, no password):
 * `run()` opens the browser's passkey prompt; `data` is the user, and
 * useAuth shows the session (`aal2`). `passkey_cancelled` when the user
 * closed the prompt, `passkey_invalid` when the server refused the passkey
 * (e.g. it was removed from the account).
 */
export function usePasskeyLogin(): AuthAction<[], User> {
  return useAuthAction(login);
}

export interface ConditionalPasskeyLogin {
  /** Whether the browser is offering passkeys in the field's autofill now. */
  active: boolean;
  /** Why the last passkey picked from the autofill did not sign in (`passkey_invalid`, …); the autofill is offered again. */
  error: AuthError | null;
}

/**
 * useConditionalPasskeyLogin offers the user's passkeys in the autofill of
 * the page's username field (conditional mediation: give the field
 * autocomplete="username webauthn"), while `enabled` is true and the
 * component is mounted: it stops when either ends, as it must before any
 * other sign-in (a browser runs one WebAuthn request at a time), and starts
 * again when `enabled` comes back. Picking a passkey signs in as
 * loginWithPasskey does; `onSignedIn` is then called. Browsers without such
 * autofill are left alone (`active` stays false).
 */
export function useConditionalPasskeyLogin(enabled = true, onSignedIn?: (user: User) => void): ConditionalPasskeyLogin {
  const client = useAuthClient();
  const [state, setState] = useState<ConditionalPasskeyLogin>({ active: false, error: null });
  const [round, setRound] = useState(0);
  const done = useRef(onSignedIn);
  done.current = onSignedIn;

  useEffect(() => {
    if (!enabled) return;
    const ctl = new AbortController();
    setState((s) => ({ ...s, active: true }));
    client.conditionalPasskeyLogin(ctl.signal).then(
      (user) => {
        if (ctl.signal.aborted) return;
        setState({ active: false, error: null });
        if (user) done.current?.(user);
      },
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        const error = e instanceof AuthError ? e : new AuthError(0, 'passkey_failed', String(e));
        // A refused passkey: say why and offer the autofill again, a few
        // times at most. A request that ended without a pick (a timeout:
        // browsers report it as NotAllowedError) is no news for the user.
        // Anything else (no server, rate limited, an unsupported page):
        // say why and stop, rather than ask the server for options in a
        // loop.
        if (error.code === 'passkey_cancelled') return setState({ active: false, error: null });
        setState({ active: false, error });
        if (error.code === 'passkey_invalid') setRound((r) => (r < 5 ? r + 1 : r));
      },
    );
    return () => ctl.abort();
  }, [client, enabled, round]);

  return enabled ? state : { active: false, error: state.error };
}
