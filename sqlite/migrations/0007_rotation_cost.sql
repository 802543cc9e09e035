-- 0007_rotation_cost: a rotation forgets the session's retirements
-- older than the reuse grace. With only the primary key (session_id,
-- generation) that DELETE visits every retirement the session has within
-- the grace; this index lets it visit only the ones it deletes, so a
-- rotation costs the same however often the session is refreshed.
CREATE INDEX retired_tokens_session_age ON retired_tokens (session_id, retired_at);
