import { AuthError } from './errors.js';

/**
 * The WebAuthn ceremonies in the browser, from the server's JSON options
 * (WebAuthn Level 3 JSON: base64url challenge and ids) to the JSON of the
 * credential the server checks. Browsers that have the Level 3 JSON
 * methods (PublicKeyCredential.parseCreationOptionsFromJSON,
 * parseRequestOptionsFromJSON and credential.toJSON(): Chromium, Firefox,
 * Safari 18) use them; older ones go through @simplewebauthn/browser, which
 * does the same base64url conversions by hand. It is imported when first
 * needed: browsers that convert the JSON themselves never load it, and a
 * page that loads the SDK's modules as they are (no bundler) needs no
 * import map for it until then.
 */

const simple = () => import('@simplewebauthn/browser');

/** A WebAuthn option or credential object as JSON; its fields are the server's business. */
export type WebAuthnJSON = Record<string, unknown>;

/** PasskeySupport says whether this page can use passkeys, and if not, why. */
export type PasskeySupport =
  /** WebAuthn is there; whether the user has a passkey is another matter. */
  | 'available'
  /** The browser has no WebAuthn, or the page is not a secure context (HTTPS or localhost). */
  | 'unsupported'
  /** The page is on an IP address (http://127.0.0.1:8080): an RP ID is a domain (WebAuthn §5.1.2), so open it on localhost. */
  | 'ip_address';

interface PublicKeyCredentialStatic {
  parseCreationOptionsFromJSON?(json: WebAuthnJSON): PublicKeyCredentialCreationOptions;
  parseRequestOptionsFromJSON?(json: WebAuthnJSON): PublicKeyCredentialRequestOptions;
  isConditionalMediationAvailable?(): Promise<boolean>;
  prototype: { toJSON?: unknown };
}

function pkc(): PublicKeyCredentialStatic | null {
  const c = (globalThis as { PublicKeyCredential?: unknown }).PublicKeyCredential;
  return typeof c === 'function' ? (c as unknown as PublicKeyCredentialStatic) : null;
}

function credentials(): CredentialsContainer | null {
  return (globalThis as { navigator?: { credentials?: CredentialsContainer } }).navigator?.credentials ?? null;
}

/** passkeySupport tells whether this page can run a passkey ceremony (see {@link PasskeySupport}). */
export function passkeySupport(): PasskeySupport {
  const host = (globalThis as { location?: { hostname?: string } }).location?.hostname ?? '';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[')) return 'ip_address';
  return pkc() && credentials() ? 'available' : 'unsupported';
}

/** conditionalMediationAvailable reports whether the browser offers passkeys in the autofill of a username field. */
export async function conditionalMediationAvailable(): Promise<boolean> {
  const c = pkc();
  if (!c || typeof c.isConditionalMediationAvailable !== 'function' || passkeySupport() !== 'available') return false;
  try {
    return await c.isConditionalMediationAvailable();
  } catch {
    return false;
  }
}

/** nativeJSON reports whether the browser converts the JSON itself (WebAuthn Level 3). */
function nativeJSON(kind: 'create' | 'get'): boolean {
  const c = pkc();
  if (!c || typeof c.prototype?.toJSON !== 'function') return false;
  return typeof (kind === 'create' ? c.parseCreationOptionsFromJSON : c.parseRequestOptionsFromJSON) === 'function';
}

/** requireWebAuthn throws `passkey_unsupported` where no ceremony can run, before the server is asked for a challenge. */
export function requireWebAuthn(): void {
  if (passkeySupport() !== 'available') throw unsupported();
}

function unsupported(): AuthError {
  return passkeySupport() === 'ip_address'
    ? new AuthError(0, 'passkey_unsupported', 'Passkeys do not work on an IP address: open this page on localhost or its domain name.')
    : new AuthError(0, 'passkey_unsupported', 'This browser cannot use passkeys here (they need a recent browser and an HTTPS page).');
}

/** createCredential runs navigator.credentials.create with creation options as JSON and returns the new credential as JSON. */
export async function createCredential(optionsJSON: WebAuthnJSON, signal?: AbortSignal): Promise<WebAuthnJSON> {
  const creds = credentials();
  if (!pkc() || !creds) throw unsupported();
  try {
    if (nativeJSON('create')) {
      const publicKey = pkc()!.parseCreationOptionsFromJSON!(optionsJSON);
      return toJSON(await creds.create({ publicKey, ...(signal ? { signal } : {}) }));
    }
    const { startRegistration } = await simple();
    return (await fallback(signal, () => startRegistration({ optionsJSON: optionsJSON as never }))) as unknown as WebAuthnJSON;
  } catch (e) {
    throw ceremonyError(e, signal);
  }
}

/**
 * getCredential runs navigator.credentials.get with request options as
 * JSON and returns the assertion as JSON. `conditional` asks for the
 * autofill of a field with autocomplete="username webauthn" instead of a
 * modal prompt: the promise then waits until the user picks a passkey
 * there, or the signal aborts it.
 */
export async function getCredential(optionsJSON: WebAuthnJSON, signal?: AbortSignal, conditional = false): Promise<WebAuthnJSON> {
  const creds = credentials();
  if (!pkc() || !creds) throw unsupported();
  try {
    if (nativeJSON('get')) {
      const publicKey = pkc()!.parseRequestOptionsFromJSON!(optionsJSON);
      const init: CredentialRequestOptions = { publicKey, ...(signal ? { signal } : {}) };
      if (conditional) init.mediation = 'conditional' as CredentialMediationRequirement;
      return toJSON(await creds.get(init));
    }
    const { startAuthentication } = await simple();
    return (await fallback(signal, () =>
      startAuthentication({ optionsJSON: optionsJSON as never, useBrowserAutofill: conditional, verifyBrowserAutofillInput: false }),
    )) as unknown as WebAuthnJSON;
  } catch (e) {
    throw ceremonyError(e, signal);
  }
}

function toJSON(cred: Credential | null): WebAuthnJSON {
  const json = (cred as { toJSON?: () => unknown } | null)?.toJSON?.();
  if (!json || typeof json !== 'object') throw new AuthError(0, 'passkey_cancelled', 'No passkey was chosen.');
  return json as WebAuthnJSON;
}

/**
 * fallback runs a @simplewebauthn/browser ceremony. It takes no signal of
 * ours (it keeps one ceremony at a time with its own), so an abort of ours
 * cancels its ceremony.
 */
async function fallback<T>(signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
  const { WebAuthnAbortService } = await simple();
  if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
  const cancel = () => WebAuthnAbortService.cancelCeremony();
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    return await run();
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}

/**
 * ceremonyError turns what a ceremony threw into an AuthError the app can
 * switch on: `passkey_cancelled` (the user closed the prompt, or it timed
 * out: browsers report both as NotAllowedError so that a page cannot tell
 * which passkeys exist, WebAuthn §13.4.7), `passkey_aborted` (the app's
 * signal), `passkey_exists` (this authenticator holds a passkey of the
 * account already), `passkey_unsupported` (the page's origin cannot use
 * the RP ID, or no WebAuthn).
 */
function ceremonyError(e: unknown, signal?: AbortSignal): AuthError {
  if (e instanceof AuthError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  const inner = (e as { cause?: unknown } | null)?.cause;
  const name = (inner instanceof Error ? inner.name : null) ?? (e instanceof Error ? e.name : '');
  let err: AuthError;
  if (signal?.aborted || name === 'AbortError' || code === 'ERROR_CEREMONY_ABORTED') {
    err = new AuthError(0, 'passkey_aborted', 'The passkey request was stopped.');
  } else if (name === 'NotAllowedError') {
    err = new AuthError(0, 'passkey_cancelled', 'The passkey prompt was closed or timed out.');
  } else if (name === 'InvalidStateError' || code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED') {
    err = new AuthError(0, 'passkey_exists', 'This device already holds a passkey for your account.');
  } else if (name === 'SecurityError' || code === 'ERROR_INVALID_DOMAIN' || code === 'ERROR_INVALID_RP_ID') {
    err = unsupported();
  } else if (/not supported/i.test(e instanceof Error ? e.message : '')) {
    err = unsupported();
  } else {
    err = new AuthError(0, 'passkey_failed', `The passkey did not work: ${e instanceof Error ? e.message : String(e)}`);
  }
  (err as { cause?: unknown }).cause = e;
  return err;
}
