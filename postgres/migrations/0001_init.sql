-- 0001_init: Gatehouse's first PostgreSQL schema. It holds what the SQLite
-- schema holds, in PostgreSQL's own types.
--
-- Times are timestamptz (microseconds, an instant, read back in UTC); NULL
-- stands for the zero time, which only the "not yet" columns (revoked_at,
-- retired_at) may hold. Identifiers are COLLATE "C": ties ordered by id
-- then compare bytes, exactly as SQLite's BINARY collation does, whatever
-- the database's default locale.
--
-- The tables are created in the first schema of the connection's
-- search_path, so that several Gatehouses (or test runs) can share one
-- database in separate schemas.

CREATE TABLE users (
    id            text COLLATE "C" NOT NULL PRIMARY KEY,
    email         text COLLATE "C" NOT NULL, -- canonical form (gatehouse.CanonicalEmail)
    name          text        NOT NULL DEFAULT '',
    password_hash text        NOT NULL,      -- PHC string, never a password
    created_at    timestamptz NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

-- A session is one login. Refresh tokens are not stored: the token of a
-- generation is a MAC keyed outside the database (gatehouse.RefreshTokenCodec),
-- so a dump of this table yields no usable token.
CREATE TABLE sessions (
    id              text COLLATE "C" NOT NULL PRIMARY KEY,
    user_id         text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret          bytea       NOT NULL,
    generation      bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz NOT NULL,
    rotated_at      timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoke_reason   text        NOT NULL DEFAULT '',
    user_agent      text        NOT NULL DEFAULT '',
    ip              text        NOT NULL DEFAULT ''
);

-- LiveSessions and RevokeUserSessions select by user, newest first.
CREATE INDEX sessions_user ON sessions (user_id, created_at DESC, id DESC);
-- Prune deletes by expiry.
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_idle_expiry ON sessions (idle_expires_at);

-- When each generation of a session was rotated away, for the reuse grace
-- period (CONTRACT §4). Rows older than the grace are forgotten.
CREATE TABLE retired_tokens (
    session_id text COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation bigint      NOT NULL,
    retired_at timestamptz NOT NULL,
    PRIMARY KEY (session_id, generation)
);

CREATE INDEX retired_tokens_age ON retired_tokens (retired_at);

-- The revocation feed. Its seq is not a sequence (bigserial): a sequence
-- hands out numbers at nextval, not at commit, so seq 6 can become visible
-- before seq 5 and a reader that resumed after 6 would never see 5. Every
-- append instead increments the one row of revocation_head, whose row lock
-- it holds until it commits: appends are serialised, seqs become visible in
-- order and without gaps, and a pruned seq is never handed out again
-- (the head is never pruned). See the package documentation.
CREATE TABLE revocation_head (
    one  boolean NOT NULL PRIMARY KEY DEFAULT true CHECK (one),
    last bigint  NOT NULL
);
INSERT INTO revocation_head (one, last) VALUES (true, 0);

CREATE TABLE revocations (
    seq        bigint NOT NULL PRIMARY KEY,
    session_id text COLLATE "C" NOT NULL, -- no foreign key: entries outlive pruned sessions
    revoked_at timestamptz NOT NULL
);

CREATE INDEX revocations_age ON revocations (revoked_at);

-- Fixed-window attempt counters (login and registration limits), shared by
-- every instance on this database. The key is bytea: it holds what a client
-- typed (an email), which may contain a NUL that text cannot.
CREATE TABLE attempts (
    key      bytea       NOT NULL PRIMARY KEY,
    count    integer     NOT NULL,
    reset_at timestamptz NOT NULL
);

CREATE INDEX attempts_reset ON attempts (reset_at);

CREATE TABLE posts (
    id         text COLLATE "C" NOT NULL PRIMARY KEY,
    author_id  text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      text        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL
);

-- ListPosts pages by (created_at, id) descending.
CREATE INDEX posts_page ON posts (created_at DESC, id DESC);
CREATE INDEX posts_author ON posts (author_id);

-- The access-token key ring. The private half is sealed under --key-secret
-- by the token package (CONTRACT §3: a dump must not be able to mint tokens).
CREATE TABLE signing_keys (
    kid            text COLLATE "C" NOT NULL PRIMARY KEY,
    alg            text        NOT NULL,
    public_key     bytea       NOT NULL,
    sealed_private bytea       NOT NULL,
    created_at     timestamptz NOT NULL,
    retired_at     timestamptz
);
