-- 0007_rotation_cost: a rotation forgets the session's retirements
-- older than the reuse grace. With only the primary key (session_id,
-- generation) that DELETE visits every retirement the session has within
-- the grace; this index lets it visit only the ones it deletes, so a
-- rotation costs the same however often the session is refreshed.
CREATE INDEX retired_tokens_session_age ON retired_tokens (session_id, retired_at);

-- A rotation updates idle_expires_at. While that column is indexed, every
-- rotation is a non-HOT update: PostgreSQL writes a new entry into each of
-- the sessions' indexes and leaves dead ones for vacuum. Without the index
-- (Prune, every ten minutes, is its only user, and scans instead), the
-- update changes no indexed column and, with room left on the page
-- (fillfactor 80 for the pages written from now on), stays on the page as
-- a heap-only tuple: no index write at all.
DROP INDEX sessions_idle_expiry;
ALTER TABLE sessions SET (fillfactor = 80);

-- Likewise every rotation inserts a retirement, into each index of
-- retired_tokens; the index by age alone served only Prune, which now
-- scans the table (about one row per session rotated within the grace).
DROP INDEX retired_tokens_age;
