-- 0002_mail: accounts by email. Email verification, single-use link tokens
-- (verification, password reset, email change), and the outbox of mails,
-- which are written in the transaction of the change that causes them and
-- delivered later.

ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1));

-- The feed also says "this user changed" (email, verification, password
-- reset), so that every instance drops its cached copy of the user. Such an
-- entry has user_id set and session_id ''; a revocation has the reverse.
ALTER TABLE revocations ADD COLUMN user_id TEXT CHECK ((session_id = '') = (user_id IS NOT NULL));

-- Only the SHA-256 of a token is stored: a dump yields no usable link
-- (OWASP Forgot Password Cheat Sheet). A token is good for one purpose and
-- one address (email), and dies with its user.
CREATE TABLE email_tokens (
    hash       BLOB    NOT NULL PRIMARY KEY,
    purpose    TEXT    NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Issuing a token deletes the older ones of the user and purpose.
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);
-- Prune deletes by expiry.
CREATE INDEX email_tokens_expiry ON email_tokens (expires_at);

-- The outbox. A mail waits while sent_at and failed_at are NULL; a sender
-- leases it until lease_until, so that two senders never send it at once
-- and a crashed sender's mail is taken up again when the lease ends.
CREATE TABLE outbox (
    id              TEXT    NOT NULL PRIMARY KEY,
    purpose         TEXT    NOT NULL,
    to_addr         TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    text_body       TEXT    NOT NULL,
    html_body       TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    sent_at         INTEGER,
    failed_at       INTEGER, -- given up: kept with last_error for the operator
    last_error      TEXT    NOT NULL DEFAULT ''
) STRICT;

-- ClaimMails and Outbox read the waiting mails, oldest first.
CREATE INDEX outbox_pending ON outbox (created_at, id) WHERE sent_at IS NULL AND failed_at IS NULL;
-- Prune deletes the mails that left the queue long enough ago.
CREATE INDEX outbox_done ON outbox (coalesce(sent_at, failed_at));
