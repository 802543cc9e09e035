import { AuthError } from './errors.js';
import { signInWith, type GrantDeps } from './grant.js';
import type { Passkey } from './schema.js';
import type { User } from './types.js';
import { conditionalMediationAvailable, createCredential, getCredential, requireWebAuthn, type WebAuthnJSON } from './webauthn.js';
import { badResponse, errorFromResponse, readJSON, sendJSON } from './wire.js';

/** Passkey is a passkey of the signed-in user, as GET /api/auth/passkeys lists it (the description's schema). */
export type { Passkey } from './schema.js';

/** PasskeyAnswer is what proves a passkey to POST /api/auth/mfa/verify: the challenge and the signed assertion. */
export interface PasskeyAnswer {
  challenge_id: string;
  credential: WebAuthnJSON;
}

interface Ceremony {
  challenge_id: string;
  publicKey: WebAuthnJSON;
}

/**
 * Passkeys makes the passkey calls (CONTRACT §8, WebAuthn): adding one
 * (the options, the browser's ceremony, the credential back to the
 * server), listing, renaming and removing them, and signing in with one,
 * from a button or from the autofill of the email field (conditional UI).
 *
 * Besides the server's codes (`passkey_invalid`, `not_found`,
 * `insufficient_user_authentication` …) the methods reject with the
 * ceremony's: `passkey_cancelled`, `passkey_aborted`, `passkey_exists`,
 * `passkey_unsupported`, `passkey_failed`.
 */
export class Passkeys {
  constructor(private readonly d: GrantDeps) {}

  /**
   * registerPasskey adds a passkey to the signed-in account: the browser
   * asks the user to create one (a resident key with user verification).
   * Once the account has a second factor the server wants an `aal2`
   * session for it (StepUpRequiredError otherwise): a stolen aal1 session
   * must not add a way in.
   */
  async registerPasskey(name?: string, signal?: AbortSignal): Promise<Passkey> {
    requireWebAuthn();
    const c = await this.ceremony(await sendJSON(this.d.fetch, 'POST', '/api/auth/passkeys/register/options', {}));
    const credential = await createCredential(c.publicKey, signal);
    const body: Record<string, unknown> = { challenge_id: c.challenge_id, credential };
    if (name?.trim()) body.name = name.trim();
    return readJSON<Passkey>(await sendJSON(this.d.fetch, 'POST', '/api/auth/passkeys/register', body), isPasskey);
  }

  /** listPasskeys returns the signed-in user's passkeys. */
  async listPasskeys(): Promise<Passkey[]> {
    const list = await readJSON<unknown>(await sendJSON(this.d.fetch, 'GET', '/api/auth/passkeys'), () => true);
    if (!Array.isArray(list) || !list.every(isPasskey)) throw badResponse();
    return list as Passkey[];
  }

  /** renamePasskey gives a passkey another name. */
  async renamePasskey(id: string, name: string): Promise<Passkey> {
    return readJSON<Passkey>(await sendJSON(this.d.fetch, 'PATCH', `/api/auth/passkeys/${encodeURIComponent(id)}`, { name }), isPasskey);
  }

  /** deletePasskey removes a passkey (`aal2` needed: StepUpRequiredError from an aal1 session). */
  async deletePasskey(id: string): Promise<void> {
    const res = await sendJSON(this.d.fetch, 'DELETE', `/api/auth/passkeys/${encodeURIComponent(id)}`);
    if (!res.ok) throw await errorFromResponse(res);
    await res.body?.cancel();
  }

  /**
   * loginWithPasskey signs in with a passkey alone, no email or password:
   * the browser lets the user pick one of their passkeys for this site
   * (discoverable credentials). It signs in exactly as login does (tokens,
   * state, other tabs); the session is `aal2`, as the passkey's user
   * verification is a second factor (NIST SP 800-63B §5.1.8: a
   * multi-factor cryptographic authenticator).
   */
  async loginWithPasskey(signal?: AbortSignal): Promise<User> {
    const answer = await this.answer(signal);
    return signInWith(this.d, await this.d.wire.passkeyLogin(answer));
  }

  /**
   * conditionalPasskeyLogin offers the user's passkeys in the autofill of
   * the page's username field (it needs autocomplete="username webauthn")
   * and resolves once one was picked and the sign-in is done, as
   * {@link Passkeys.loginWithPasskey} would. It waits as long as the page
   * does: abort `signal` when the user signs in another way or the field
   * goes away. It resolves null when the browser has no such autofill or
   * the signal aborted it; it rejects when the picked passkey is refused.
   */
  async conditionalPasskeyLogin(signal?: AbortSignal): Promise<User | null> {
    if (signal?.aborted || !(await conditionalMediationAvailable())) return null;
    let answer: PasskeyAnswer;
    try {
      answer = await this.answer(signal, true);
    } catch (e) {
      if (signal?.aborted || (e instanceof AuthError && e.code === 'passkey_aborted')) return null;
      throw e;
    }
    return signInWith(this.d, await this.d.wire.passkeyLogin(answer));
  }

  /**
   * answer runs a sign-in ceremony: request options from the server, the
   * browser's prompt, the assertion. It is also the passkey answer of a
   * login's second step and of step-up (POST /api/auth/mfa/verify).
   */
  async answer(signal?: AbortSignal, conditional = false): Promise<PasskeyAnswer> {
    requireWebAuthn();
    const c = await this.ceremony(await this.d.wire.postAnonymous('/api/auth/passkeys/login/options', {}));
    return { challenge_id: c.challenge_id, credential: await getCredential(c.publicKey, signal, conditional) };
  }

  private async ceremony(res: Response): Promise<Ceremony> {
    return readJSON<Ceremony>(res, (b) => typeof b.challenge_id === 'string' && !!b.publicKey && typeof b.publicKey === 'object');
  }
}

function isPasskey(b: unknown): boolean {
  const p = b as Record<string, unknown> | null;
  return !!p && typeof p.id === 'string' && typeof p.name === 'string' && typeof p.created_at === 'string' && typeof p.synced === 'boolean';
}

