-- 0002_mail: accounts by email. Email verification, single-use link tokens
-- (verification, password reset, email change), and the outbox of mails,
-- which are written in the transaction of the change that causes them and
-- delivered later, by exactly one instance (ClaimMails: FOR UPDATE SKIP
-- LOCKED and a lease).

ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;

-- The feed also says "this user changed" (email, verification, password
-- reset), so that every instance drops its cached copy of the user. Such an
-- entry has user_id set and session_id ''; a revocation has the reverse.
-- Its seq comes from revocation_head like every other (see 0001_init).
ALTER TABLE revocations
    ADD COLUMN user_id text COLLATE "C",
    ADD CONSTRAINT revocations_one_subject CHECK ((session_id = '') = (user_id IS NOT NULL));

-- Only the SHA-256 of a token is stored: a dump yields no usable link
-- (OWASP Forgot Password Cheat Sheet). A token is good for one purpose and
-- one address (email), and dies with its user.
CREATE TABLE email_tokens (
    hash       bytea       NOT NULL PRIMARY KEY,
    purpose    text        NOT NULL,
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

-- Issuing a token deletes the older ones of the user and purpose.
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);
-- Prune deletes by expiry.
CREATE INDEX email_tokens_expiry ON email_tokens (expires_at);

-- The outbox. A mail waits while sent_at and failed_at are NULL; a sender
-- leases it until lease_until, so that two senders never send it at once
-- and a crashed sender's mail is taken up again when the lease ends.
CREATE TABLE outbox (
    id              text COLLATE "C" NOT NULL PRIMARY KEY,
    purpose         text        NOT NULL,
    to_addr         text        NOT NULL,
    subject         text        NOT NULL,
    text_body       text        NOT NULL,
    html_body       text        NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    sent_at         timestamptz,
    failed_at       timestamptz, -- given up: kept with last_error for the operator
    last_error      text        NOT NULL DEFAULT ''
);

-- ClaimMails and Outbox read the waiting mails, oldest first.
CREATE INDEX outbox_pending ON outbox (created_at, id) WHERE sent_at IS NULL AND failed_at IS NULL;
-- Prune deletes the mails that left the queue long enough ago.
CREATE INDEX outbox_done ON outbox ((coalesce(sent_at, failed_at)));
