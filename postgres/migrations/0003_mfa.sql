-- 0003_mfa: second factors (CONTRACT §8). A TOTP factor per user, its
-- recovery codes, and the pending second step of a login.

-- How each session was authenticated: its assurance level (NIST SP 800-63B
-- §4) and its methods (RFC 8176), copied into every access token of the
-- session. amr is a space-separated list, as in the SQLite schema. Every
-- session that exists before this migration was a password login.
ALTER TABLE sessions
    ADD COLUMN acr text NOT NULL DEFAULT 'aal1',
    ADD COLUMN amr text NOT NULL DEFAULT 'pwd';

-- One TOTP factor per user (RFC 6238). The secret is sealed under
-- --key-secret, so a dump yields no secret (NIST SP 800-63B §5.1.4.2).
-- confirmed_at is NULL while the enrolment waits for its first code.
-- last_step is the last time step whose code was accepted: a code counts
-- only for a later step, so none works twice (RFC 6238 §5.2); UseTOTPStep
-- moves it forward with a compare-and-swap on this row.
CREATE TABLE totp_factors (
    user_id       text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret bytea       NOT NULL,
    last_step     bigint      NOT NULL,
    created_at    timestamptz NOT NULL,
    confirmed_at  timestamptz
);

-- Recovery codes, stored only as hashes; each works once (used_at).
CREATE TABLE recovery_codes (
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, hash)
);

-- The pending second step of a login (the mfa_token of 401 mfa_required).
-- Only its SHA-256 is stored, as for email tokens. It is bound to the user
-- and the client's address, and dies after a few wrong codes (failures).
CREATE TABLE mfa_challenges (
    hash       bytea       NOT NULL PRIMARY KEY,
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address    text        NOT NULL,
    failures   integer     NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

-- ResetMFA and the cascade from users delete by user.
CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);
-- Prune deletes by expiry.
CREATE INDEX mfa_challenges_expiry ON mfa_challenges (expires_at);
