package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.EventStore = (*Store)(nil)

// Events ride on writes.
//
// A write made with a context from gatehouse.WithEvents stores those
// events in its own transaction, when and only when it commits a change
// (gatehouse.EventStore). Every write of the Store goes through tx, which
// stores them after fn returned nil and before COMMIT, or through write,
// which runs in tx as soon as events are attached; so no write can forget
// its events, and an event that fails to insert fails the write, whose
// change rolls back.
//
// A write that ends without error but without the change its caller asked
// for (a session already revoked, a lost compare-and-swap, a challenge
// unknown or expired, a token refused) returns errUnchanged from fn: the
// helper then commits whatever fn wrote (only housekeeping, like deleting
// an expired token) without the events, and the method answers from the
// results fn assigned. A write that fails stores nothing at all.

// errUnchanged is what a write's fn returns when it made none of the
// change its caller asked for; tx and write answer nil and store no
// events.
var errUnchanged = errors.New("postgres: nothing changed")

// unchangedIf returns errUnchanged when cond holds, nil otherwise.
func unchangedIf(cond bool) error {
	if cond {
		return errUnchanged
	}
	return nil
}

// unchangedUnless returns err, or errUnchanged when err is nil: the
// answer of a conditional write that changed nothing.
func unchangedUnless(err error) error {
	if err == nil {
		return errUnchanged
	}
	return err
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

const eventColumns = `id, type, at, user_id, session_id, actor_id, ip, user_agent, detail`

// insertEvents stores events, in one statement; one with an empty ID gets
// a new one.
func insertEvents(ctx context.Context, tx pgx.Tx, events []gatehouse.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	cols := make([][]string, 7)
	for i := range cols {
		cols[i] = make([]string, n)
	}
	ats := make([]time.Time, n)
	details := make([]*string, n)
	for i, e := range events {
		if e.ID == "" {
			e.ID = gatehouse.NewID()
		}
		for j, v := range []string{e.ID, e.Type, e.UserID, e.SessionID, e.ActorID, e.IP, e.UserAgent} {
			cols[j][i] = v
		}
		ats[i] = e.At
		d, err := encodeDetail(e.Detail)
		if err != nil {
			return err
		}
		details[i] = d
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_events (`+eventColumns+`)
        SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],
            $6::text[], $7::text[], $8::text[], $9::text[])`,
		cols[0], cols[1], ats, cols[2], cols[3], cols[4], cols[5], cols[6], details)
	return err
}

// encodeDetail stores a detail map as a JSON object; an empty one (nil or
// not) is NULL, which reads back as nil.
func encodeDetail(d map[string]string) (*string, error) {
	if len(d) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

func scanEvent(row pgx.Row) (gatehouse.Event, error) {
	var (
		e      gatehouse.Event
		detail *string
	)
	if err := row.Scan(&e.ID, &e.Type, &e.At, &e.UserID, &e.SessionID, &e.ActorID, &e.IP, &e.UserAgent, &detail); err != nil {
		return e, err
	}
	e.At = e.At.UTC()
	if detail != nil {
		if err := json.Unmarshal([]byte(*detail), &e.Detail); err != nil {
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
	return s.tx(ctx, "append events", func(ctx context.Context, tx pgx.Tx) error {
		return insertEvents(ctx, tx, events)
	})
}

// Events returns up to limit events matching f, newest first (ties by id,
// descending), strictly after the cursor (nil: from the newest). Keyset
// paging on (at, id) walks the index of the filter.
func (s *Store) Events(ctx context.Context, f gatehouse.EventFilter, after *gatehouse.EventCursor, limit int) ([]gatehouse.Event, error) {
	if hasNUL(f.UserID, f.Type) {
		return nil, nil // no stored text holds a NUL
	}
	var (
		where []string
		args  []any
	)
	if f.UserID != "" {
		args = append(args, f.UserID)
		where = append(where, fmt.Sprintf("user_id = $%d", len(args)))
	}
	if f.Type != "" {
		args = append(args, f.Type)
		where = append(where, fmt.Sprintf("type = $%d", len(args)))
	}
	if after != nil {
		args = append(args, after.At, cursorID(after.ID))
		where = append(where, fmt.Sprintf("(at, id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	q := `SELECT ` + eventColumns + ` FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY at DESC, id DESC LIMIT $%d`, len(args))
	var out []gatehouse.Event
	err := s.read(ctx, "events", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (gatehouse.Event, error) { return scanEvent(r) })
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PruneEvents deletes the events older than before and returns how many
// it deleted.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, "prune events", func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM audit_events WHERE at < $1`, before)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		return unchangedIf(n == 0)
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// cursorID returns an id to compare stored ids with in place of id, a
// cursor's, which may hold a NUL that PostgreSQL text cannot. No stored id
// holds one, so an id sorts before P+"\x00…" exactly when it sorts before
// P+"\x01" (the ids are COLLATE "C": bytewise).
func cursorID(id string) string {
	if i := strings.IndexByte(id, 0); i >= 0 {
		return id[:i] + "\x01"
	}
	return id
}
