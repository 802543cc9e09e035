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
  User,
} from './client.js';
export { AuthError } from './errors.js';
export type { FieldError, Problem } from './errors.js';
export type { StorageStrategy, Tokens } from './storage.js';
export { decodeClaims } from './jwt.js';
export type { TokenClaims } from './jwt.js';
export { attachAxios, baseQueryWithReauth, prepareAuthHeaders } from './adapters.js';
export type { AxiosErrorLike, AxiosInstanceLike, AxiosRequestConfigLike, BaseQueryLike, BaseQueryResultLike } from './adapters.js';
