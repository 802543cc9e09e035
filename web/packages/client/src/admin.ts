import type { AdminUser, AdminUserPage, AdminUserPatch, AuditEvent, EventPage, Role, UserSession } from './schema.js';
import { badResponse, errorFromResponse, readJSON, sendJSON } from './wire.js';

export type { AdminUser, AdminUserPage, AdminUserPatch, AuditEvent, EventPage, UserSession } from './schema.js';

/** UserSearch selects users: `q` matches email or name, case-insensitively. */
export interface UserSearch {
  q?: string;
  limit?: number;
  cursor?: string | null;
}

/** EventQuery selects audit events, newest first. */
export interface EventQuery {
  userId?: string;
  type?: string;
  limit?: number;
  cursor?: string | null;
}

type BearerFetch = (path: string, init?: RequestInit) => Promise<Response>;

/**
 * Admin makes the calls of the admin API (CONTRACT §9): finding users,
 * reading and changing one, ending their sessions, removing their second
 * factors, deleting them, and reading the audit log.
 *
 * Every method rejects with an {@link AuthError}: `forbidden` for a user
 * who is not an admin, `not_found`, `email_taken`, `last_admin` (the last
 * admin cannot stop being one, nor be disabled), `validation_failed`, or a
 * StepUpRequiredError (`insufficient_user_authentication`) when the admin
 * has a second factor and the session is `aal1`: step up, then try again.
 */
export class Admin {
  constructor(private readonly fetch: BearerFetch) {}

  /** listUsers returns a page of users matching `q` (all of them without it). */
  async listUsers(search: UserSearch = {}): Promise<AdminUserPage> {
    const path = `/api/admin/users${query({ q: search.q?.trim(), limit: search.limit, cursor: search.cursor })}`;
    return page(await sendJSON(this.fetch, 'GET', path), isAdminUser);
  }

  /** getUser reads one user (`not_found`). */
  async getUser(id: string): Promise<AdminUser> {
    return readJSON<AdminUser>(await sendJSON(this.fetch, 'GET', userPath(id)), isAdminUser);
  }

  /**
   * updateUser changes a user's name, email, verification, role or
   * disabled flag. Disabling a user ends every session of theirs (their
   * access tokens are refused within a second) and refuses their logins
   * (`user_disabled`).
   */
  async updateUser(id: string, patch: AdminUserPatch): Promise<AdminUser> {
    return readJSON<AdminUser>(await sendJSON(this.fetch, 'PATCH', userPath(id), patch), isAdminUser);
  }

  /** disableUser locks the account: see {@link Admin.updateUser}. */
  disableUser(id: string): Promise<AdminUser> {
    return this.updateUser(id, { disabled: true });
  }

  /** enableUser lets a disabled user sign in again. */
  enableUser(id: string): Promise<AdminUser> {
    return this.updateUser(id, { disabled: false });
  }

  /** setRole makes the user an admin or takes it back (`last_admin`). */
  setRole(id: string, role: Role): Promise<AdminUser> {
    return this.updateUser(id, { role });
  }

  /** deleteUser removes the user with their sessions, factors and posts. */
  async deleteUser(id: string): Promise<void> {
    await noContent(await sendJSON(this.fetch, 'DELETE', userPath(id)));
  }

  /** listUserSessions lists the user's live sessions. */
  async listUserSessions(id: string): Promise<UserSession[]> {
    const list = await readJSON<unknown>(await sendJSON(this.fetch, 'GET', `${userPath(id)}/sessions`), () => true);
    if (!Array.isArray(list) || !list.every(isSession)) throw badResponse();
    return list as UserSession[];
  }

  /** logoutUser ends every session of the user. */
  async logoutUser(id: string): Promise<void> {
    await noContent(await sendJSON(this.fetch, 'POST', `${userPath(id)}/logout`));
  }

  /** resetUserMfa removes the user's authenticator app, recovery codes and passkeys. */
  async resetUserMfa(id: string): Promise<void> {
    await noContent(await sendJSON(this.fetch, 'DELETE', `${userPath(id)}/mfa`));
  }

  /** listEvents returns a page of the audit log, newest first, of one user and/or one type. */
  async listEvents(q: EventQuery = {}): Promise<EventPage> {
    const path = `/api/admin/events${query({ user_id: q.userId, type: q.type, limit: q.limit, cursor: q.cursor })}`;
    return page(await sendJSON(this.fetch, 'GET', path), isEvent);
  }
}

/** myEvents returns a page of the signed-in user's own security events, newest first (GET /api/auth/events). */
export async function myEvents(fetch: BearerFetch, q: Omit<EventQuery, 'userId' | 'type'> = {}): Promise<EventPage> {
  return page(await sendJSON(fetch, 'GET', `/api/auth/events${query({ limit: q.limit, cursor: q.cursor })}`), isEvent);
}

function userPath(id: string): string {
  return `/api/admin/users/${encodeURIComponent(id)}`;
}

/** query makes a query string of the set parameters ("" when none is). */
function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function page<P extends { items: unknown[]; next_cursor: string | null }>(res: Response, ok: (b: unknown) => boolean): Promise<P> {
  return readJSON<P>(res, (b) => Array.isArray(b.items) && b.items.every(ok) && (b.next_cursor === null || typeof b.next_cursor === 'string'));
}

async function noContent(res: Response): Promise<void> {
  if (!res.ok) throw await errorFromResponse(res);
  await res.body?.cancel();
}

function isAdminUser(b: unknown): boolean {
  const u = b as Record<string, unknown> | null;
  return !!u && typeof u.id === 'string' && typeof u.email === 'string' && typeof u.disabled === 'boolean' && typeof u.role === 'string';
}

function isSession(b: unknown): boolean {
  const s = b as Record<string, unknown> | null;
  return !!s && typeof s.id === 'string' && typeof s.created_at === 'string';
}

function isEvent(b: unknown): boolean {
  const e = b as Record<string, unknown> | null;
  return !!e && typeof e.id === 'string' && typeof e.type === 'string' && typeof e.at === 'string';
}
