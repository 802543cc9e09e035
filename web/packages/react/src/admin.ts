'use client';

import { useCallback, useEffect, useMemo, useState } from 'react';
import type { AdminUser, AdminUserPatch, AuditEvent, AuthClient, AuthError, EventPage, EventQuery, Role, UserSession } from '@gatehouse/client';
import { useAuthAction, type AuthAction } from './account.js';
import { useReloading } from './passkeys.js';

// The calls, at module level so that the hooks' run functions are stable.
const listUsers = (c: AuthClient, q: string, limit: number, cursor: string | null) => c.admin.listUsers({ q, limit, cursor });
const getUser = (c: AuthClient, id: string) => c.admin.getUser(id);
const sessionsOf = (c: AuthClient, id: string) => c.admin.listUserSessions(id);
const eventsOf = (c: AuthClient, q: EventQuery) => c.admin.listEvents(q);
const update = (c: AuthClient, id: string, patch: AdminUserPatch) => c.admin.updateUser(id, patch);
const disable = (c: AuthClient, id: string) => c.admin.disableUser(id);
const enable = (c: AuthClient, id: string) => c.admin.enableUser(id);
const setRole = (c: AuthClient, id: string, role: Role) => c.admin.setRole(id, role);
const logout = (c: AuthClient, id: string) => c.admin.logoutUser(id);
const resetMfa = (c: AuthClient, id: string) => c.admin.resetUserMfa(id);
const remove = (c: AuthClient, id: string) => c.admin.deleteUser(id);
const mine = (c: AuthClient, limit: number, cursor: string | null) => c.myEvents({ limit, cursor });

export interface AdminUsers {
  /** The users of the current page; undefined until the first page arrives. */
  users: AdminUser[] | undefined;
  pending: boolean;
  error: AuthError | null;
  /** The page shown, from 1. */
  page: number;
  hasNext: boolean;
  hasPrevious: boolean;
  next(): void;
  previous(): void;
  /** reload loads the current page again, e.g. after a change. */
  reload(): void;
}

/**
 * useAdminUsers finds users whose email or name contains `q` (all of them
 * when it is empty), a page of `limit` at a time, following the server's
 * cursors forwards and remembering them to go back. A new `q` starts again
 * at the first page. Admins only: `forbidden` for anyone else,
 * `insufficient_user_authentication` for an admin with a second factor on
 * an aal1 session.
 */
export function useAdminUsers(q = '', limit = 20): AdminUsers {
  const key = `${limit}\u0000${q}`;
  const [paging, setPaging] = useState<{ key: string; cursors: (string | null)[] }>({ key, cursors: [null] });
  const cursors = paging.key === key ? paging.cursors : [null];
  const cursor = cursors[cursors.length - 1] ?? null;
  const load = useAuthAction(listUsers);
  const { run } = load;
  const reload = useCallback(() => run(q, limit, cursor), [run, q, limit, cursor]);
  useEffect(() => reload(), [reload]);
  const nextCursor = load.data?.next_cursor ?? null;
  return {
    users: load.data?.items,
    pending: load.pending,
    error: load.error,
    page: cursors.length,
    hasNext: nextCursor !== null && !load.pending,
    hasPrevious: cursors.length > 1,
    next: () => nextCursor !== null && setPaging({ key, cursors: [...cursors, nextCursor] }),
    previous: () => cursors.length > 1 && setPaging({ key, cursors: cursors.slice(0, -1) }),
    reload,
  };
}

export interface UseAdminUser {
  /** The user (`data`), loaded on mount and after every change that succeeded (`not_found` once deleted). */
  user: AuthAction<[id: string], AdminUser>;
  /** Their live sessions, loaded with the user. */
  sessions: AuthAction<[id: string], UserSession[]>;
  /** Their latest audit events (a page, newest first), loaded with the user. */
  events: AuthAction<[query: EventQuery], EventPage>;
  update: AuthAction<[id: string, patch: AdminUserPatch], AdminUser>;
  /** disable locks the account and ends its sessions (`last_admin` for the last admin). */
  disable: AuthAction<[id: string], AdminUser>;
  enable: AuthAction<[id: string], AdminUser>;
  /** setRole makes them an admin or takes it back (`last_admin`). */
  setRole: AuthAction<[id: string, role: Role], AdminUser>;
  /** logoutEverywhere ends every session of theirs. */
  logoutEverywhere: AuthAction<[id: string], void>;
  /** resetFactors removes their authenticator app, recovery codes and passkeys. */
  resetFactors: AuthAction<[id: string], void>;
  /** remove deletes the user; the user is not loaded again. */
  remove: AuthAction<[id: string], void>;
  /** reload loads the user, sessions and events again. */
  reload(): void;
}

/**
 * useAdminUser loads one user with their sessions and recent events
 * (`eventLimit` of them) and gives the admin's actions on them; after each
 * change that succeeded, the three are loaded again.
 */
export function useAdminUser(id: string, eventLimit = 20): UseAdminUser {
  const user = useAuthAction(getUser);
  const sessions = useAuthAction(sessionsOf);
  const events = useAuthAction(eventsOf);
  const [loadUser, loadSessions, loadEvents] = [user.run, sessions.run, events.run];
  const reload = useCallback(() => {
    loadUser(id);
    loadSessions(id);
    loadEvents({ userId: id, limit: eventLimit });
  }, [loadUser, loadSessions, loadEvents, id, eventLimit]);
  useEffect(() => reload(), [reload]);
  return {
    user,
    sessions,
    events,
    update: useReloading(useAuthAction(update), reload),
    disable: useReloading(useAuthAction(disable), reload),
    enable: useReloading(useAuthAction(enable), reload),
    setRole: useReloading(useAuthAction(setRole), reload),
    logoutEverywhere: useReloading(useAuthAction(logout), reload),
    resetFactors: useReloading(useAuthAction(resetMfa), reload),
    remove: useAuthAction(remove),
    reload,
  };
}

export interface MyEvents {
  /** The events loaded so far, newest first; undefined until the first page arrives. */
  events: AuditEvent[] | undefined;
  pending: boolean;
  error: AuthError | null;
  /** Whether older events are left to load. */
  hasMore: boolean;
  /** more loads the next page of older events, after the ones shown. */
  more(): void;
  reload(): void;
}

/**
 * useMyEvents lists the signed-in user's own security events (GET
 * /api/auth/events: sign-ins, password and factor changes, …), `limit` at
 * a time, newest first; `more()` appends older ones.
 */
export function useMyEvents(limit = 10): MyEvents {
  const load = useAuthAction(mine);
  const { runAsync } = load;
  const [shown, setShown] = useState<{ events: AuditEvent[]; next: string | null } | undefined>(undefined);
  const fetchPage = useCallback(
    (cursor: string | null) => {
      runAsync(limit, cursor).then(
        (p) => setShown((s) => ({ events: cursor && s ? [...s.events, ...p.items] : p.items, next: p.next_cursor })),
        () => undefined,
      );
    },
    [runAsync, limit],
  );
  const reload = useCallback(() => fetchPage(null), [fetchPage]);
  useEffect(() => reload(), [reload]);
  return useMemo(
    () => ({
      events: shown?.events,
      pending: load.pending,
      error: load.error,
      hasMore: !!shown?.next,
      more: () => shown?.next && fetchPage(shown.next),
      reload,
    }),
    [shown, load.pending, load.error, fetchPage, reload],
  );
}
