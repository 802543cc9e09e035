-- 0004_passkeys: passkeys (CONTRACT §8). The WebAuthn credentials of each
-- user, and the ceremonies in progress (registration, login).

-- A passkey: the public half of a key pair an authenticator holds. The
-- credential id is the authenticator's, chosen by it, and names the key
-- across all users: a login finds the passkey by it alone (discoverable
-- credentials), so it is unique over the table, not per user.
-- public_key is the COSE_Key (RFC 9052 §7). transports is a
-- space-separated list (WebAuthn's AuthenticatorTransport values hold no
-- space). sign_count is the authenticator's counter, an unsigned 32-bit
-- number: a counter that goes backwards betrays a clone (WebAuthn §6.1.1).
-- backup_eligible and backed_up are the BE and BS flags. last_used_at is
-- NULL until the first sign-in with it.
CREATE TABLE passkeys (
    id              TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id   BLOB    NOT NULL UNIQUE,
    public_key      BLOB    NOT NULL,
    attestation     TEXT    NOT NULL,
    aaguid          BLOB    NOT NULL,
    transports      TEXT    NOT NULL,
    sign_count      INTEGER NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
    backup_eligible INTEGER NOT NULL CHECK (backup_eligible IN (0, 1)),
    backed_up       INTEGER NOT NULL CHECK (backed_up IN (0, 1)),
    name            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
) STRICT, WITHOUT ROWID;

-- Passkeys lists by user, oldest first; ResetMFA and the cascade from
-- users delete by user.
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- The server's half of a WebAuthn ceremony in progress, single-use and
-- short-lived (CONTRACT §8: 5 minutes). session is the WebAuthn library's
-- record of it, opaque here. user_id is the registering user, NULL for a
-- discoverable login, where the user is not known until the answer names
-- its passkey; a registration dies with its user.
CREATE TABLE webauthn_challenges (
    id         TEXT    NOT NULL PRIMARY KEY,
    ceremony   TEXT    NOT NULL,
    user_id    TEXT    REFERENCES users (id) ON DELETE CASCADE,
    session    BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- ResetMFA and the cascade from users delete by user.
CREATE INDEX webauthn_challenges_user ON webauthn_challenges (user_id);
-- Prune deletes by expiry.
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at);
