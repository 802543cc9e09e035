-- 0001_init: Gatehouse's first schema.
--
-- Times are INTEGER Unix microseconds (UTC); NULL stands for the zero time,
-- which only the "not yet" columns (revoked_at, retired_at) may hold.
-- Tables are STRICT so that a value of the wrong type is an error, not a
-- silent conversion.

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE, -- canonical form (gatehouse.CanonicalEmail)
    name          TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,        -- PHC string, never a password
    created_at    INTEGER NOT NULL
) STRICT;

-- A session is one login. Refresh tokens are not stored: the token of a
-- generation is a MAC keyed outside the database (gatehouse.RefreshTokenCodec),
-- so a dump of this table yields no usable token.
CREATE TABLE sessions (
    id              TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret          BLOB    NOT NULL,
    generation      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER NOT NULL,
    rotated_at      INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoke_reason   TEXT    NOT NULL DEFAULT '',
    user_agent      TEXT    NOT NULL DEFAULT '',
    ip              TEXT    NOT NULL DEFAULT ''
) STRICT;

-- LiveSessions and RevokeUserSessions select by user, newest first.
CREATE INDEX sessions_user ON sessions (user_id, created_at DESC, id DESC);
-- Prune deletes by expiry.
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_idle_expiry ON sessions (idle_expires_at);

-- When each generation of a session was rotated away, for the reuse grace
-- period (CONTRACT §4). Rows older than the grace are forgotten.
CREATE TABLE retired_tokens (
    session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    retired_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, generation)
) STRICT, WITHOUT ROWID;

CREATE INDEX retired_tokens_age ON retired_tokens (retired_at);

-- The revocation feed. AUTOINCREMENT, unlike a plain rowid, never hands out
-- a seq again after the newest rows are pruned, so a reader's cursor can
-- never skip a later revocation.
CREATE TABLE revocations (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT    NOT NULL, -- no foreign key: entries outlive pruned sessions
    revoked_at INTEGER NOT NULL
) STRICT;

CREATE INDEX revocations_age ON revocations (revoked_at);

-- Fixed-window attempt counters (login and registration limits).
CREATE TABLE attempts (
    key      TEXT    NOT NULL PRIMARY KEY,
    count    INTEGER NOT NULL,
    reset_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE posts (
    id         TEXT    NOT NULL PRIMARY KEY,
    author_id  TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- ListPosts pages by (created_at, id) descending.
CREATE INDEX posts_page ON posts (created_at DESC, id DESC);
CREATE INDEX posts_author ON posts (author_id);

-- The access-token key ring. The private half is sealed under --key-secret
-- by the token package (CONTRACT §3: a dump must not be able to mint tokens).
CREATE TABLE signing_keys (
    kid            TEXT    NOT NULL PRIMARY KEY,
    alg            TEXT    NOT NULL,
    public_key     BLOB    NOT NULL,
    sealed_private BLOB    NOT NULL,
    created_at     INTEGER NOT NULL,
    retired_at     INTEGER
) STRICT;
