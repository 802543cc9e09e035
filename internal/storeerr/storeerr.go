// Package storeerr turns the errors of a store's database into errors
// wrapping Gatehouse's sentinels, by the same rules for both stores. What
// a driver error means (SQLite result codes, PostgreSQL SQLSTATEs) stays
// with each store, in its Classify; the rules around it (our own errors
// pass unchanged, a caller that gave up hears why, a closed store is
// unavailable, the sentinel goes in front of the driver's error) live here.
package storeerr

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse"
)

// Kind is what a driver error means to a caller.
type Kind int

const (
	// Other is an error of the statement or of Gatehouse: internal.
	Other Kind = iota
	// Conflict: a unique or primary key is taken.
	Conflict
	// Missing: a row referred to (foreign key) does not exist.
	Missing
	// Unavailable: the database cannot serve now (busy, I/O, gone).
	Unavailable
	// Invalid: the input cannot be stored (PostgreSQL text with a NUL).
	Invalid
)

var sentinels = map[Kind]error{
	Conflict:    gatehouse.ErrConflict,
	Missing:     gatehouse.ErrNotFound,
	Unavailable: gatehouse.ErrUnavailable,
	Invalid:     gatehouse.ErrInvalidInput,
}

// Mapper wraps the errors of one store. Its fields are set once; it is
// safe for concurrent use.
type Mapper struct {
	// Store names the store at the start of every message: "sqlite".
	Store string
	// Closed reports whether the store was closed, which makes every
	// failure after it unavailable.
	Closed func() bool
	// Classify says what a driver error means, by code, never by message
	// text (STYLE.md), and may add a word of explanation ("no answer
	// within 5s") that goes before the driver's error.
	Classify func(err error) (kind Kind, detail string)
}

// Wrap returns err as the failure of operation op, wrapping the sentinel
// that fits; nil stays nil. Errors that already carry ErrNotFound,
// ErrConflict or ErrUnavailable are the store's own and pass unchanged.
// When ctx ended, the error wraps ctx's error, not the driver's account of
// the interruption: the caller gave up, the database did not fail.
func (m Mapper) Wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gatehouse.ErrNotFound) || errors.Is(err, gatehouse.ErrConflict) || errors.Is(err, gatehouse.ErrUnavailable) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(err, ctxErr) {
			return fmt.Errorf("%s: %s: %w", m.Store, op, err)
		}
		return fmt.Errorf("%s: %s: %w: %w", m.Store, op, ctxErr, err)
	}
	if m.Closed != nil && m.Closed() {
		return fmt.Errorf("%s: %s: %w: the store is closed: %w", m.Store, op, gatehouse.ErrUnavailable, err)
	}
	kind, detail := m.Classify(err)
	sentinel, ok := sentinels[kind]
	switch {
	case !ok:
		return fmt.Errorf("%s: %s: %w", m.Store, op, err)
	case detail != "":
		return fmt.Errorf("%s: %s: %w: %s: %w", m.Store, op, sentinel, detail, err)
	default:
		return fmt.Errorf("%s: %s: %w: %w", m.Store, op, sentinel, err)
	}
}

// NotFound returns the error of a missing row of store: "sqlite: session
// ID: not found".
func NotFound(store, what, id string) error {
	return fmt.Errorf("%s: %s %s: %w", store, what, id, gatehouse.ErrNotFound)
}
