package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.EventStore = (*Store)(nil)

// Events ride on writes.
//
// A write made with a context from gatehouse.WithEvents stores those
// events in its own transaction, when and only when it commits a change
// (gatehouse.EventStore). Both ways a write reaches the database do it:
// writeTx, after fn returned nil and before COMMIT, and the group
// committer (group.go), after each write of a batch. Every write of the
// Store goes through one of them, so no write can forget its events; an
// event that fails to insert fails the write, whose change rolls back.
//
// A write that ends without error but without the change its caller asked
// for (a session already revoked, a lost compare-and-swap, a challenge
// unknown or expired, a token refused) returns errUnchanged from fn: the
// helper then commits whatever fn wrote (only housekeeping, like deleting
// an expired token) without the events, and the method answers from the
// results fn assigned. A write that fails stores nothing at all.

// errUnchanged is what a write's fn returns when it made none of the
// change its caller asked for; writeTx and the committer answer nil and
// store no events.
var errUnchanged = errors.New("sqlite: nothing changed")

// unchangedIf returns errUnchanged when cond holds, nil otherwise.
func unchangedIf(cond bool) error {
	if cond {
		return errUnchanged
	}
	return nil
}

// eventsFor returns the events of ctx, those without a UserID given
// *userID when userID is not nil; it copies rather than changes the
// caller's events.
func eventsFor(ctx context.Context, userID *string) []gatehouse.Event {
	events := gatehouse.EventsOf(ctx)
	if userID == nil || *userID == "" {
		return events
	}
	out := slices.Clone(events)
	for i := range out {
		if out[i].UserID == "" {
			out[i].UserID = *userID
		}
	}
	return out
}

// execer is a write transaction, or the writer.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertEvents stores events; one with an empty ID gets a new one.
func insertEvents(ctx context.Context, tx execer, events []gatehouse.Event) error {
	for _, e := range events {
		if e.ID == "" {
			e.ID = gatehouse.NewID()
		}
		detail, err := encodeDetail(e.Detail)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events (`+eventColumns+`)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.Type, e.At.UnixMicro(), e.UserID, e.SessionID, e.ActorID, e.IP, e.UserAgent, detail); err != nil {
			return err
		}
	}
	return nil
}

const eventColumns = `id, type, at, user_id, session_id, actor_id, ip, user_agent, detail`

// encodeDetail stores a detail map as a JSON object; an empty one (nil or
// not) is NULL, which reads back as nil.
func encodeDetail(d map[string]string) (any, error) {
	if len(d) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func scanEvent(row scanner) (gatehouse.Event, error) {
	var (
		e      gatehouse.Event
		at     int64
		detail sql.NullString
	)
	if err := row.Scan(&e.ID, &e.Type, &at, &e.UserID, &e.SessionID, &e.ActorID, &e.IP, &e.UserAgent, &detail); err != nil {
		return e, err
	}
	e.At = usecs(at)
	if detail.Valid {
		if err := json.Unmarshal([]byte(detail.String), &e.Detail); err != nil {
			return e, err
		}
	}
	return e, nil
}

// AppendEvents stores events that record no change of their own, in one
// transaction (with those attached to ctx, like any write).
func (s *Store) AppendEvents(ctx context.Context, events ...gatehouse.Event) error {
	if len(events) == 0 && len(gatehouse.EventsOf(ctx)) == 0 {
		return nil
	}
	return s.writeTx(ctx, "append events", func(tx *sql.Tx) error {
		return insertEvents(ctx, tx, events)
	})
}

// Events returns up to limit events matching f, newest first (ties by id,
// descending), strictly after the cursor (nil: from the newest). Keyset
// paging on (at, id) walks the index of the filter.
func (s *Store) Events(ctx context.Context, f gatehouse.EventFilter, after *gatehouse.EventCursor, limit int) ([]gatehouse.Event, error) {
	var (
		where []string
		args  []any
	)
	if f.UserID != "" {
		where, args = append(where, "user_id = ?"), append(args, f.UserID)
	}
	if f.Type != "" {
		where, args = append(where, "type = ?"), append(args, f.Type)
	}
	if after != nil {
		where, args = append(where, "(at, id) < (?, ?)"), append(args, after.At.UnixMicro(), after.ID)
	}
	q := `SELECT ` + eventColumns + ` FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := s.read.QueryContext(ctx, q+` ORDER BY at DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, s.wrap(ctx, "events", err)
	}
	defer rows.Close()
	var out []gatehouse.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, s.wrap(ctx, "events", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, "events", err)
	}
	return out, nil
}

// PruneEvents deletes the events older than before and returns how many
// it deleted.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.writeTx(ctx, "prune events", func(tx *sql.Tx) error {
		var err error
		n, err = affected(tx.ExecContext(ctx, `DELETE FROM audit_events WHERE at < ?`, before.UnixMicro()))
		if err != nil {
			return err
		}
		return unchangedIf(n == 0)
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
