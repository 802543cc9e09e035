-- 0008_retirements_in_session: a session keeps when its last generations
-- retired in its own row, so that a rotation is one UPDATE of one row.
-- Until now each rotation inserted a row into retired_tokens and deleted
-- the session's rows older than the reuse grace: more index entries and
-- more dead tuples for vacuum in every refresh.
--
-- retired holds the last 8 retirements (gatehouse.RetirementsKept), newest
-- first: element i (from 1) is when generation - i retired. A column with
-- a constant default is added without rewriting the table.
ALTER TABLE sessions ADD COLUMN retired timestamptz[] NOT NULL DEFAULT '{}';

-- Carry the retirements still recorded over, so that a tab racing the
-- upgrade keeps its grace. Each generation from generation - 1 down is
-- taken as long as there is no gap, so that an element's place is its
-- generation.
UPDATE sessions s SET retired = carried.retired
FROM (
    SELECT r.session_id, array_agg(r.retired_at ORDER BY r.generation DESC) AS retired
    FROM retired_tokens r
    JOIN sessions o ON o.id = r.session_id
    WHERE r.generation BETWEEN o.generation - 8 AND o.generation - 1
      AND (SELECT count(*) FROM retired_tokens q
           WHERE q.session_id = r.session_id
             AND q.generation BETWEEN r.generation AND o.generation - 1)
          = o.generation - r.generation
    GROUP BY r.session_id
) carried
WHERE s.id = carried.session_id;

DROP TABLE retired_tokens;
