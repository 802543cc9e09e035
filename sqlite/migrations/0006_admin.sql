-- 0006_admin: operators (CONTRACT §9). Roles and disabled accounts, when
-- each user last signed in, and the audit log.

-- What the account may do: only an admin reaches /api/admin/. Every
-- account that exists before this migration is a plain user; the CHECK
-- keeps a mistyped role from granting or hiding anything.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'));
-- An administrator locked the account: no login, refresh or reset. It is a
-- flag rather than a deletion so that the account, its posts and its
-- history survive and can be enabled again.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
-- When the newest session was made (CreateSession sets it), for the
-- administrator's view; NULL until the first login.
ALTER TABLE users ADD COLUMN last_login_at INTEGER;

-- SearchUsers pages newest first by (created_at, id).
CREATE INDEX users_page ON users (created_at DESC, id DESC);
-- The last-admin guard counts the enabled administrators, who are few.
CREATE INDEX users_admins ON users (id) WHERE role = 'admin' AND disabled = 0;

-- The audit log: who did what to which account, from where (OWASP ASVS
-- 5.0 V16.2). Never a token, code or password. An event is written in the
-- transaction of the change it records. user_id is not a foreign key:
-- events outlive the users they name (a deleted user's history stays for
-- the retention period), and a failed login of an unknown email has
-- user_id ''. detail is a JSON object of strings, NULL when empty; it is
-- read back whole, never searched.
CREATE TABLE audit_events (
    id         TEXT    NOT NULL PRIMARY KEY,
    type       TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    user_id    TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    actor_id   TEXT    NOT NULL,
    ip         TEXT    NOT NULL,
    user_agent TEXT    NOT NULL,
    detail     TEXT
) STRICT;

-- Events pages newest first by (at, id): all of them, one user's, or one
-- type's. The first also serves PruneEvents, which deletes by age.
CREATE INDEX audit_events_page ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_user ON audit_events (user_id, at DESC, id DESC);
CREATE INDEX audit_events_type ON audit_events (type, at DESC, id DESC);
