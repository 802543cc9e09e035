-- 0004_passkeys: passkeys (CONTRACT §8). The WebAuthn credentials of each
-- user, and the ceremonies in progress (registration, login).

-- A passkey: the public half of a key pair an authenticator holds. The
-- credential id is the authenticator's, chosen by it, and names the key
-- across all users: a login finds the passkey by it alone (discoverable
-- credentials), so it is unique over the table, not per user.
-- public_key is the COSE_Key (RFC 9052 §7). transports is a
-- space-separated list, as in the SQLite schema (WebAuthn's
-- AuthenticatorTransport values hold no space). sign_count is the
-- authenticator's counter, an unsigned 32-bit number, which integer (signed
-- 32 bits) cannot hold above 2147483647: hence bigint, bounded by a check.
-- A counter that goes backwards betrays a clone (WebAuthn §6.1.1).
-- backup_eligible and backed_up are the BE and BS flags. last_used_at is
-- NULL until the first sign-in with it.
CREATE TABLE passkeys (
    id              text COLLATE "C" NOT NULL PRIMARY KEY,
    user_id         text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id   bytea       NOT NULL UNIQUE,
    public_key      bytea       NOT NULL,
    attestation     text        NOT NULL,
    aaguid          bytea       NOT NULL,
    transports      text        NOT NULL,
    sign_count      bigint      NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
    backup_eligible boolean     NOT NULL,
    backed_up       boolean     NOT NULL,
    name            text        NOT NULL,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz
);

-- Passkeys lists by user, oldest first; ResetMFA and the cascade from
-- users delete by user.
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- The server's half of a WebAuthn ceremony in progress, single-use and
-- short-lived (CONTRACT §8: 5 minutes). session is the WebAuthn library's
-- record of it, opaque here. user_id is the registering user, NULL for a
-- discoverable login, where the user is not known until the answer names
-- its passkey; a registration dies with its user.
CREATE TABLE webauthn_challenges (
    id         text COLLATE "C" NOT NULL PRIMARY KEY,
    ceremony   text        NOT NULL,
    user_id    text COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    session    bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

-- ResetMFA and the cascade from users delete by user.
CREATE INDEX webauthn_challenges_user ON webauthn_challenges (user_id);
-- Prune deletes by expiry.
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at);
