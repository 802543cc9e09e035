export { AuthClient, createAuthClient } from './client.js';
export type {
  AuthClientOptions,
  AuthEventName,
  AuthEvents,
  AuthState,
  AuthStatus,
  ChannelLike,
  LockManagerLike,
  SignOutReason,
  StorageStrategy,
  Role,
  Tokens,
  User,
} from './types.js';
export { Admin } from './admin.js';
export type { AdminUser, AdminUserPage, AdminUserPatch, AuditEvent, EventPage, EventQuery, UserSearch, UserSession } from './admin.js';
export { takeTokenFromFragment } from './account.js';
export type { AddressBar } from './account.js';
export { AuthError, MfaRequiredError, StepUpRequiredError } from './errors.js';
export type { AuthErrorCode, ClientErrorCode, FieldError, MfaMethod, PasskeyErrorCode, Problem, ServerErrorCode } from './errors.js';
export { authLevelOf, decodeClaims } from './jwt.js';
export type { Acr, TokenClaims } from './jwt.js';
export type { MfaLogin, MfaStatus, SecondFactor, TotpEnrollment } from './mfa.js';
export type { Passkey, PasskeyAnswer } from './passkeys.js';
export { conditionalMediationAvailable, passkeySupport } from './webauthn.js';
export type { PasskeySupport, WebAuthnJSON } from './webauthn.js';
export { attachAxios, baseQueryWithReauth, prepareAuthHeaders } from './adapters.js';
export type { AxiosErrorLike, AxiosInstanceLike, AxiosRequestConfigLike, BaseQueryLike, BaseQueryResultLike } from './adapters.js';
