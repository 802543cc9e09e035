package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// CreateSession stores a new session and sets the user's LastLoginAt to
// its CreatedAt, in one statement. The error wraps [gatehouse.ErrConflict]
// when the id is taken and [gatehouse.ErrNotFound] when the user does not
// exist.
func (s *Store) CreateSession(ctx context.Context, sess *gatehouse.Session) error {
	return s.write(ctx, "create session", func(ctx context.Context, q dbtx) error {
		_, err := q.Exec(ctx, `WITH s AS (INSERT INTO sessions (
                id, user_id, secret, generation, created_at, last_used_at, rotated_at,
                idle_expires_at, expires_at, revoked_at, revoke_reason, user_agent, ip, acr, amr)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            RETURNING user_id, created_at)
            UPDATE users u SET last_login_at = s.created_at FROM s WHERE u.id = s.user_id`,
			sess.ID, sess.UserID, nonNil(sess.Secret), sess.Generation,
			sess.CreatedAt, sess.LastUsedAt, sess.RotatedAt, sess.IdleExpiresAt, sess.ExpiresAt,
			nullTime(sess.RevokedAt), sess.RevokeReason, sess.UserAgent, sess.IP, sess.ACR, joinAMR(sess.AMR))
		return err
	})
}

const sessionColumns = `id, user_id, secret, generation, created_at, last_used_at, rotated_at,
    idle_expires_at, expires_at, revoked_at, revoke_reason, user_agent, ip, acr, amr`

// joinAMR stores the methods of a session as one space-separated string
// (RFC 8176 values never hold a space); none is the empty string.
func joinAMR(amr []string) string { return strings.Join(amr, " ") }

// splitAMR reads what joinAMR stored; the empty string is nil.
func splitAMR(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}

func scanSession(row pgx.Row) (gatehouse.Session, error) {
	var (
		s       gatehouse.Session
		revoked *time.Time
		amr     string
	)
	err := row.Scan(&s.ID, &s.UserID, &s.Secret, &s.Generation, &s.CreatedAt, &s.LastUsedAt, &s.RotatedAt,
		&s.IdleExpiresAt, &s.ExpiresAt, &revoked, &s.RevokeReason, &s.UserAgent, &s.IP, &s.ACR, &amr)
	if err != nil {
		return s, err
	}
	s.CreatedAt, s.LastUsedAt, s.RotatedAt = s.CreatedAt.UTC(), s.LastUsedAt.UTC(), s.RotatedAt.UTC()
	s.IdleExpiresAt, s.ExpiresAt, s.RevokedAt = s.IdleExpiresAt.UTC(), s.ExpiresAt.UTC(), fromNull(revoked)
	s.AMR = splitAMR(amr)
	return s, nil
}

// Session returns the session; the error wraps [gatehouse.ErrNotFound] if
// there is no such session.
func (s *Store) Session(ctx context.Context, id string) (*gatehouse.Session, error) {
	if hasNUL(id) {
		return nil, notFound("session", id)
	}
	var sess gatehouse.Session
	err := s.read(ctx, "session", func(ctx context.Context) error {
		var err error
		sess, err = scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("session", id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sess, nil
}

// liveAt is the condition of [gatehouse.Session.Live] in SQL; $2 is the
// time at which to judge.
const liveAt = `revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2`

// LiveSessions lists the user's sessions that are neither revoked nor
// expired at now, newest first.
func (s *Store) LiveSessions(ctx context.Context, userID string, now time.Time) ([]gatehouse.Session, error) {
	if hasNUL(userID) {
		return nil, nil
	}
	var out []gatehouse.Session
	err := s.read(ctx, "live sessions", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
            WHERE user_id = $1 AND `+liveAt+`
            ORDER BY created_at DESC, id DESC`, userID, now)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (gatehouse.Session, error) { return scanSession(r) })
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// rotate is a whole rotation in one statement, so one round trip and one
// commit. The UPDATE's WHERE clause is the compare-and-swap: PostgreSQL
// takes the session's row lock, and a concurrent UPDATE of the same row
// (from this instance or another) waits for it, then re-checks the WHERE
// clause against the committed row (READ COMMITTED's re-evaluation), finds
// generation moved on and updates nothing. So of concurrent rotations of
// one token exactly one succeeds (RFC 9700 §4.14.2: a refresh token is used
// once). The same UPDATE records when generation $2 retired: retired holds
// the session's last RetirementsKept retirements, newest first (element i
// is when generation - 1 - i retired), so a rotation writes no other row
// and changes no indexed column (a heap-only update, migration 0007).
var rotate = `UPDATE sessions
        SET generation = generation + 1, rotated_at = $3, last_used_at = $3, idle_expires_at = $4,
            retired = (ARRAY[$3::timestamptz] || retired)[1:` + strconv.Itoa(gatehouse.RetirementsKept) + `]
        WHERE id = $1 AND generation = $2 AND revoked_at IS NULL AND expires_at > $3 AND idle_expires_at > $3
        RETURNING ` + sessionColumns

// RotateSession advances the session from generation from to from+1 if,
// and only if, from is still its current generation and the session is
// live at now (not revoked, not expired); see rotate for how the database
// serialises it. It records that from retired at now and returns the
// session as it is after the rotation, or nil when it did not rotate. The
// error wraps [gatehouse.ErrNotFound] if there is no such session.
func (s *Store) RotateSession(ctx context.Context, id string, from int64, now, idleExpiresAt time.Time) (*gatehouse.Session, error) {
	if hasNUL(id) {
		return nil, notFound("session", id)
	}
	op := &rotation{id: id, from: from, now: now, idle: idleExpiresAt}
	if len(gatehouse.EventsOf(ctx)) > 0 {
		return s.rotateAlone(ctx, op) // its events commit with it
	}
	return s.rotations.rotate(ctx, op) // batch.go
}

// rotateAlone is one rotation in its own statement.
func (s *Store) rotateAlone(ctx context.Context, op *rotation) (*gatehouse.Session, error) {
	var rotated *gatehouse.Session
	err := s.write(ctx, "rotate session", func(ctx context.Context, q dbtx) error {
		rotated = nil
		sess, err := scanSession(q.QueryRow(ctx, rotate, op.id, op.from, op.now, op.idle))
		if errors.Is(err, pgx.ErrNoRows) {
			return unchangedUnless(sessionExists(ctx, q, op.id))
		}
		if err != nil {
			return err
		}
		rotated = &sess
		return nil
	})
	if err != nil {
		return nil, err // after an error, nothing changed
	}
	return rotated, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// sessionExists returns nil if the session exists, an error wrapping
// ErrNotFound if it does not.
func sessionExists(ctx context.Context, q querier, id string) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM sessions WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("session", id)
	}
	return err
}

// RetiredAt returns when a generation of a session was retired; the error
// wraps [gatehouse.ErrNotFound] when that is not recorded (see rotate).
func (s *Store) RetiredAt(ctx context.Context, sessionID string, generation int64) (time.Time, error) {
	if hasNUL(sessionID) {
		return time.Time{}, notFound("retired generation of session", sessionID)
	}
	var (
		current int64
		retired []time.Time
	)
	err := s.read(ctx, "retired at", func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, `SELECT generation, retired FROM sessions WHERE id = $1`,
			sessionID).Scan(&current, &retired)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // not recorded: answered below
		}
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	if i := current - 1 - generation; i >= 0 && i < int64(len(retired)) {
		return retired[i].UTC(), nil
	}
	return time.Time{}, notFound("retired generation of session", sessionID)
}

// RevokeSession ends a session and, in the same transaction, appends it to
// the revocation feed, so that every instance learns of it (CONTRACT §4).
// It reports false, appending nothing, when the session was already
// revoked, and the error wraps [gatehouse.ErrNotFound] when there is no
// such session.
func (s *Store) RevokeSession(ctx context.Context, id, reason string, now time.Time) (bool, error) {
	if hasNUL(id) {
		return false, notFound("session", id)
	}
	revoked := false
	err := s.tx(ctx, "revoke session", func(ctx context.Context, tx pgx.Tx) error {
		revoked = false
		tag, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2
            WHERE id = $3 AND revoked_at IS NULL`, now, reason, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return unchangedUnless(sessionExists(ctx, tx, id))
		}
		if err := appendFeed(ctx, tx, []string{id}, now); err != nil {
			return err
		}
		revoked = true
		return nil
	})
	return revoked && err == nil, err // after an error, nothing changed
}

// RevokeUserSessions ends every live session of a user except
// exceptSessionID (empty: all of them), appends them to the revocation feed
// in the same transaction, and returns their ids.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, exceptSessionID, reason string, now time.Time) ([]string, error) {
	if hasNUL(userID) {
		return nil, nil
	}
	if hasNUL(exceptSessionID) {
		exceptSessionID = "" // no session has that id: except none
	}
	var ids []string
	err := s.tx(ctx, "revoke user sessions", func(ctx context.Context, tx pgx.Tx) error {
		var err error
		ids, err = revokeUserSessions(ctx, tx, userID, exceptSessionID, reason, now)
		if err != nil {
			return err
		}
		return unchangedIf(len(ids) == 0)
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

func revokeUserSessions(ctx context.Context, tx pgx.Tx, userID, exceptSessionID, reason string, now time.Time) ([]string, error) {
	// ORDER BY id in the locking subquery: two transactions revoking an
	// overlapping set lock the rows in the same order, so they queue
	// rather than deadlock.
	rows, err := tx.Query(ctx, `UPDATE sessions SET revoked_at = $2, revoke_reason = $4
        WHERE id IN (
            SELECT id FROM sessions
            WHERE user_id = $1 AND id <> $3 AND `+liveAt+`
            ORDER BY id FOR UPDATE)
        AND revoked_at IS NULL
        RETURNING id`, userID, now, exceptSessionID, reason)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, appendFeed(ctx, tx, ids, now)
}

// appendFeed appends ids to the revocation feed, in this order, and
// announces them to the other instances.
//
// The seqs come from the one row of revocation_head. Incrementing it takes
// that row's lock until this transaction ends, and PostgreSQL releases a
// transaction's locks only after its commit became visible. So the next
// appender gets its seqs only after these rows are visible to everyone:
// seqs become visible in order, without gaps, and a reader that saw seq N
// has seen every seq below it. A sequence (bigserial) would not do: its
// numbers are taken at nextval, in one order, and become visible at
// commit, in another, and a reader resuming after 6 would skip a 5 that
// committed later, leaving a revoked session accepted (CONTRACT §4).
// Revocations are rare next to refreshes, so serialising them costs
// nothing that matters.
//
// pg_notify is transactional too: the other instances are told at commit,
// never before the rows are visible.
func appendFeed(ctx context.Context, tx pgx.Tx, ids []string, now time.Time) error {
	var last int64
	if err := tx.QueryRow(ctx, `UPDATE revocation_head SET last = last + $1 RETURNING last`, len(ids)).Scan(&last); err != nil {
		return err
	}
	first := last - int64(len(ids)) + 1
	if _, err := tx.Exec(ctx, `INSERT INTO revocations (seq, session_id, revoked_at)
        SELECT $1 + i - 1, id, $3 FROM unnest($2::text[]) WITH ORDINALITY AS u(id, i)`,
		first, ids, now); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, current_schema())`, notifyChannel)
	return err
}

// Revocations returns up to limit entries of the revocation feed with
// Seq > after, in Seq order, each with the time it was appended (At).
// Seqs become visible in order (see appendFeed), so a reader that resumes
// after the last seq it saw misses nothing.
func (s *Store) Revocations(ctx context.Context, after int64, limit int) ([]gatehouse.Revocation, error) {
	var out []gatehouse.Revocation
	err := s.read(ctx, "revocations", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT seq, session_id, coalesce(user_id, ''), revoked_at FROM revocations
            WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (gatehouse.Revocation, error) {
			var rev gatehouse.Revocation
			err := r.Scan(&rev.Seq, &rev.SessionID, &rev.UserID, &rev.At)
			rev.At = rev.At.UTC()
			return rev, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LastRevocationSeq returns the highest Seq of the feed (0 when empty):
// the head, which counts every seq ever handed out and committed.
func (s *Store) LastRevocationSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.read(ctx, "last revocation seq", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT last FROM revocation_head`).Scan(&seq)
	})
	return seq, err
}
