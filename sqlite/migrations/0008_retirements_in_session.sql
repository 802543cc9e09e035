-- 0008_retirements_in_session: a session keeps when its last generations
-- retired in its own row, so that a rotation is one UPDATE of one row.
-- Until now each rotation inserted a row into retired_tokens and deleted
-- the session's rows older than the reuse grace: two more statements, and
-- pages of two more indexes, in every refresh's commit.
--
-- retired holds the last 8 retirements (gatehouse.RetirementsKept), newest
-- first, each as 16 characters: the Unix microseconds in decimal,
-- zero-padded. Entry i is when generation - 1 - i retired.
ALTER TABLE sessions ADD COLUMN retired TEXT NOT NULL DEFAULT '';

-- Carry the retirements still recorded over, so that a tab racing the
-- upgrade keeps its grace. Each generation from generation - 1 down is
-- taken as long as there is no gap, so that an entry's place is its
-- generation.
UPDATE sessions SET retired = coalesce((
    SELECT group_concat(printf('%016d', r.retired_at), '' ORDER BY r.generation DESC)
    FROM retired_tokens r
    WHERE r.session_id = sessions.id
      AND r.generation BETWEEN sessions.generation - 8 AND sessions.generation - 1
      AND (SELECT count(*) FROM retired_tokens q
           WHERE q.session_id = r.session_id
             AND q.generation BETWEEN r.generation AND sessions.generation - 1)
          = sessions.generation - r.generation
), '');

DROP TABLE retired_tokens;

-- A rotation updates idle_expires_at; while that column is indexed, every
-- rotation also rewrites an index entry. Prune, every ten minutes, was the
-- index's only user: it scans instead.
DROP INDEX sessions_idle_expiry;
