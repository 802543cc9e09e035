export { createVerifier } from './verifier.js';
export type { Claims, Verifier, VerifierOptions } from './verifier.js';
export type { FeedState, FeedStatus } from './feed.js';
export { VerifyError } from './errors.js';
export type { VerifyErrorCode } from './errors.js';
export { authenticate, bearerToken, writeError } from './http.js';
export type { Fetch } from './fetchjson.js';
