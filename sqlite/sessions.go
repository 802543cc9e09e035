package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// CreateSession stores a new session and sets the user's LastLoginAt to
// its CreatedAt. The error wraps [gatehouse.ErrConflict] when the id is
// taken and [gatehouse.ErrNotFound] when the user does not exist.
func (s *Store) CreateSession(ctx context.Context, sess *gatehouse.Session) error {
	return s.groupTx(ctx, "create session", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (
                id, user_id, secret, generation, created_at, last_used_at, rotated_at,
                idle_expires_at, expires_at, revoked_at, revoke_reason, user_agent, ip, acr, amr)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sess.ID, sess.UserID, secretBytes(sess.Secret), sess.Generation,
			sess.CreatedAt.UnixMicro(), sess.LastUsedAt.UnixMicro(), sess.RotatedAt.UnixMicro(),
			sess.IdleExpiresAt.UnixMicro(), sess.ExpiresAt.UnixMicro(),
			micros(sess.RevokedAt), sess.RevokeReason, sess.UserAgent, sess.IP, sess.ACR, joinAMR(sess.AMR))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`,
			sess.CreatedAt.UnixMicro(), sess.UserID)
		return err
	})
}

// secretBytes keeps a nil secret from being stored as NULL, which the
// NOT NULL column would refuse.
func secretBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
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

type scanner interface{ Scan(dest ...any) error }

func scanSession(row scanner) (gatehouse.Session, error) {
	var (
		s                                     gatehouse.Session
		created, used, rotated, idle, expires int64
		revoked                               sql.NullInt64
		amr                                   string
	)
	err := row.Scan(&s.ID, &s.UserID, &s.Secret, &s.Generation, &created, &used, &rotated,
		&idle, &expires, &revoked, &s.RevokeReason, &s.UserAgent, &s.IP, &s.ACR, &amr)
	if err != nil {
		return s, err
	}
	s.CreatedAt, s.LastUsedAt, s.RotatedAt = usecs(created), usecs(used), usecs(rotated)
	s.IdleExpiresAt, s.ExpiresAt, s.RevokedAt = usecs(idle), usecs(expires), fromMicros(revoked)
	s.AMR = splitAMR(amr)
	return s, nil
}

// Session returns the session; the error wraps [gatehouse.ErrNotFound] if
// there is no such session.
func (s *Store) Session(ctx context.Context, id string) (*gatehouse.Session, error) {
	sess, err := scanSession(s.read.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("session", id)
	}
	if err != nil {
		return nil, s.wrap(ctx, "session", err)
	}
	return &sess, nil
}

// liveAt is the condition of [gatehouse.Session.Live] in SQL. It takes two
// parameters, both the time at which to judge.
const liveAt = `revoked_at IS NULL AND expires_at > ? AND idle_expires_at > ?`

// LiveSessions lists the user's sessions that are neither revoked nor
// expired at now, newest first.
func (s *Store) LiveSessions(ctx context.Context, userID string, now time.Time) ([]gatehouse.Session, error) {
	t := now.UnixMicro()
	rows, err := s.read.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
        WHERE user_id = ? AND `+liveAt+`
        ORDER BY created_at DESC, id DESC`, userID, t, t)
	if err != nil {
		return nil, s.wrap(ctx, "live sessions", err)
	}
	defer rows.Close()
	var out []gatehouse.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, s.wrap(ctx, "live sessions", err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, "live sessions", err)
	}
	return out, nil
}

// RotateSession advances the session from generation from to from+1 if,
// and only if, from is still its current generation and the session is
// live at now (not revoked, not expired). The UPDATE's WHERE clause is the
// compare-and-swap; the single writer and BEGIN IMMEDIATE serialise it
// against every other writer, in this process or another, so concurrent
// rotations of one token make exactly one successor (RFC 9700 §4.14.2: a
// refresh token is used once), also when they share a group commit
// (group.go). The same statement records that from retired at now, in the
// session's row (see retired), and returns the session as it is after the
// rotation, or nil when it did not rotate. The error wraps
// [gatehouse.ErrNotFound] if there is no such session.
func (s *Store) RotateSession(ctx context.Context, id string, from int64, now, idleExpiresAt time.Time) (*gatehouse.Session, error) {
	st, err := s.hot.get(ctx, rotateSwap)
	if err != nil {
		return nil, s.wrap(ctx, "rotate session", err)
	}
	swap := st[0]
	var rotated *gatehouse.Session
	err = s.groupTx(ctx, "rotate session", func(ctx context.Context, tx *sql.Tx) error {
		rotated = nil
		t := now.UnixMicro()
		sess, err := scanSession(tx.StmtContext(ctx, swap).QueryRowContext(ctx,
			t, t, idleExpiresAt.UnixMicro(), retiredEntry(t), id, from, t, t))
		if errors.Is(err, sql.ErrNoRows) {
			return unchangedUnless(sessionExists(ctx, tx, id))
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

// rotateSwap is a whole rotation in one statement, prepared once
// (prepared.go).
var rotateSwap = `UPDATE sessions
        SET generation = generation + 1, rotated_at = ?, last_used_at = ?, idle_expires_at = ?,
            retired = substr(? || retired, 1, ` + strconv.Itoa(retiredWidth*gatehouse.RetirementsKept) + `)
        WHERE id = ? AND generation = ? AND ` + liveAt + `
        RETURNING ` + sessionColumns

// A session's retired column holds when its last generations retired,
// newest first: entry i (retiredWidth characters, the Unix microseconds in
// decimal, zero-padded) is when generation-1-i retired. A rotation puts
// its entry in front and cuts the string to RetirementsKept entries, in
// the same UPDATE as the compare-and-swap: no row of another table to
// insert, and none to delete when it grows old.
const retiredWidth = 16

// retiredEntry is one entry of the retired column.
func retiredEntry(micros int64) string { return fmt.Sprintf("%0*d", retiredWidth, micros) }

// retiredAt finds when generation retired in a session at current whose
// retired column is retired.
func retiredAt(retired string, current, generation int64) (time.Time, bool) {
	i := current - 1 - generation
	if i < 0 || i >= int64(len(retired)/retiredWidth) {
		return time.Time{}, false
	}
	micros, err := strconv.ParseInt(retired[i*retiredWidth:(i+1)*retiredWidth], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return usecs(micros), true
}

// updateSession runs a conditional UPDATE of session id and reports
// whether it changed the row. When it did not, the error says why: nil
// when the session exists (the condition no longer holds), one wrapping
// ErrNotFound when it does not.
func updateSession(ctx context.Context, tx *sql.Tx, id, query string, args ...any) (bool, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 0 {
		return false, sessionExists(ctx, tx, id)
	}
	return true, nil
}

// unchangedUnless returns err, or errUnchanged when err is nil: the
// answer of a conditional write that changed nothing.
func unchangedUnless(err error) error {
	if err == nil {
		return errUnchanged
	}
	return err
}

// sessionExists returns nil if the session exists, an error wrapping
// ErrNotFound if it does not.
func sessionExists(ctx context.Context, tx *sql.Tx, id string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("session", id)
	}
	return err
}

// RetiredAt returns when a generation of a session was retired; the error
// wraps [gatehouse.ErrNotFound] when that is not recorded (see retired).
func (s *Store) RetiredAt(ctx context.Context, sessionID string, generation int64) (time.Time, error) {
	var (
		current int64
		retired string
	)
	err := s.read.QueryRowContext(ctx, `SELECT generation, retired FROM sessions WHERE id = ?`,
		sessionID).Scan(&current, &retired)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, s.wrap(ctx, "retired at", err)
	}
	if t, ok := retiredAt(retired, current, generation); ok {
		return t, nil
	}
	return time.Time{}, notFound("retired generation of session", sessionID)
}

// RevokeSession ends a session and, in the same transaction, appends it to
// the revocation feed, so that every instance learns of it (CONTRACT §4).
// It reports false, appending nothing, when the session was already
// revoked, and the error wraps [gatehouse.ErrNotFound] when there is no
// such session.
func (s *Store) RevokeSession(ctx context.Context, id, reason string, now time.Time) (bool, error) {
	revoked := false
	err := s.groupTx(ctx, "revoke session", func(ctx context.Context, tx *sql.Tx) error {
		revoked = false
		t := now.UnixMicro()
		ended, err := updateSession(ctx, tx, id, `UPDATE sessions SET revoked_at = ?, revoke_reason = ?
            WHERE id = ? AND revoked_at IS NULL`, t, reason, id)
		if !ended {
			return unchangedUnless(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO revocations (session_id, revoked_at) VALUES (?, ?)`, id, t); err != nil {
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
	var ids []string
	err := s.writeTx(ctx, "revoke user sessions", func(tx *sql.Tx) error {
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

func revokeUserSessions(ctx context.Context, tx *sql.Tx, userID, exceptSessionID, reason string, now time.Time) ([]string, error) {
	t := now.UnixMicro()
	rows, err := tx.QueryContext(ctx, `UPDATE sessions SET revoked_at = ?, revoke_reason = ?
        WHERE user_id = ? AND id <> ? AND `+liveAt+`
        RETURNING id`, t, reason, userID, exceptSessionID, t, t)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `INSERT INTO revocations (session_id, revoked_at) VALUES (?, ?)`, id, t); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// Revocations returns up to limit entries of the revocation feed with
// Seq > after, in Seq order, each with the time it was appended (At).
// SQLite has one writer at a time, so a seq is visible only after every
// smaller one: a reader that resumes after the last seq it saw misses
// nothing.
func (s *Store) Revocations(ctx context.Context, after int64, limit int) ([]gatehouse.Revocation, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT seq, session_id, coalesce(user_id, ''), revoked_at FROM revocations
        WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, s.wrap(ctx, "revocations", err)
	}
	defer rows.Close()
	var out []gatehouse.Revocation
	for rows.Next() {
		var (
			r  gatehouse.Revocation
			at int64
		)
		if err := rows.Scan(&r.Seq, &r.SessionID, &r.UserID, &at); err != nil {
			return nil, s.wrap(ctx, "revocations", err)
		}
		r.At = usecs(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, "revocations", err)
	}
	return out, nil
}

// LastRevocationSeq returns the highest Seq of the feed (0 when empty).
func (s *Store) LastRevocationSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM revocations`).Scan(&seq); err != nil {
		return 0, s.wrap(ctx, "last revocation seq", err)
	}
	return seq, nil
}
