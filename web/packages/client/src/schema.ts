// The wire types: aliases of the schemas of the server's OpenAPI
// description (generated/openapi.ts, made from httpapi/openapi.json by
// `npm run gen:api`), so that a change of the description that the SDK
// does not follow fails `tsc` here rather than in production.
import type { components } from './generated/openapi.js';

type Schemas = components['schemas'];

/** A Gatehouse user as its owner sees it (GET /api/users/me; CONTRACT §2, §7, §9). */
export type User = Schemas['User'];
/** Role is what a user may do: `admin` runs the admin API (CONTRACT §9). */
export type Role = User['role'];
/** The token answer of login, refresh and step-up (CONTRACT §2, "Tokens"). */
export type TokenBody = Schemas['Tokens'];
/** A problem document as the description has it; errors.ts widens `code` to the codes the SDK knows. */
export type ProblemBody = Schemas['Problem'];
/** A field problem of a 422 `validation_failed` answer. */
export type FieldError = Schemas['FieldError'];
/** GET /api/auth/mfa: the signed-in user's second factors. */
export type MfaStatus = Schemas['MFAStatus'];
/** A started TOTP enrolment: the shared secret (base32) and its otpauth:// URI for a QR code. */
export type TotpEnrollment = Schemas['TOTPEnrollment'];
/** A passkey of the signed-in user, as GET /api/auth/passkeys lists it. */
export type Passkey = Schemas['Passkey'];
/** A user as the admin API shows it (CONTRACT §9). */
export type AdminUser = Schemas['AdminUser'];
/** What PATCH /api/admin/users/{id} changes; absent fields stay. */
export type AdminUserPatch = Schemas['AdminUserUpdate'];
/** A page of users; pass `next_cursor` as `cursor` for the next one (null: the last page). */
export type AdminUserPage = Schemas['AdminUserPage'];
/** A live session, as /api/auth/sessions and /api/admin/users/{id}/sessions list them. */
export type UserSession = Schemas['Session'];
/** An entry of the audit log: who did what to which account, from where; never a secret. */
export type AuditEvent = Schemas['Event'];
/** A page of audit events, newest first. */
export type EventPage = Schemas['EventPage'];
