-- 0003_mfa: second factors (CONTRACT §8). A TOTP factor per user, its
-- recovery codes, and the pending second step of a login.

-- How each session was authenticated: its assurance level (NIST SP 800-63B
-- §4) and its methods (RFC 8176), copied into every access token of the
-- session. amr is a space-separated list. Every session that exists before
-- this migration was a password login.
ALTER TABLE sessions ADD COLUMN acr TEXT NOT NULL DEFAULT 'aal1';
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';

-- One TOTP factor per user (RFC 6238). The secret is sealed under
-- --key-secret, so a dump yields no secret (NIST SP 800-63B §5.1.4.2).
-- confirmed_at is NULL while the enrolment waits for its first code.
-- last_step is the last time step whose code was accepted: a code counts
-- only for a later step, so none works twice (RFC 6238 §5.2).
CREATE TABLE totp_factors (
    user_id       TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret BLOB    NOT NULL,
    last_step     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    confirmed_at  INTEGER
) STRICT, WITHOUT ROWID;

-- Recovery codes, stored only as hashes; each works once (used_at).
CREATE TABLE recovery_codes (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, hash)
) STRICT, WITHOUT ROWID;

-- The pending second step of a login (the mfa_token of 401 mfa_required).
-- Only its SHA-256 is stored, as for email tokens. It is bound to the user
-- and the client's address, and dies after a few wrong codes (failures).
CREATE TABLE mfa_challenges (
    hash       BLOB    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address    TEXT    NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- ResetMFA and the cascade from users delete by user.
CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);
-- Prune deletes by expiry.
CREATE INDEX mfa_challenges_expiry ON mfa_challenges (expires_at);
