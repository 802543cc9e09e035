package storeerr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// driverErr stands for a driver's error; its code picks the Kind.
type driverErr struct{ code Kind }

func (e driverErr) Error() string { return fmt.Sprintf("driver error %d", e.code) }

func TestWrap(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	classify := func(err error) (Kind, string) {
		var d driverErr
		if !errors.As(err, &d) {
			return Other, ""
		}
		if d.code == Unavailable {
			return d.code, "too slow"
		}
		return d.code, ""
	}
	ours := NotFound("test", "session", "s1")
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		closed bool
		err    error
		want   []error // errors.Is each
		text   string  // in the message
	}{
		{"conflict", context.Background(), false, driverErr{Conflict}, []error{gatehouse.ErrConflict}, "test: op: already exists: driver error"},
		{"missing", context.Background(), false, driverErr{Missing}, []error{gatehouse.ErrNotFound}, "test: op: not found"},
		{"unavailable with detail", context.Background(), false, driverErr{Unavailable}, []error{gatehouse.ErrUnavailable}, "too slow: driver error"},
		{"invalid", context.Background(), false, driverErr{Invalid}, []error{gatehouse.ErrInvalidInput}, "test: op:"},
		{"other", context.Background(), false, driverErr{Other}, nil, "test: op: driver error"},
		{"ours pass unchanged", context.Background(), true, ours, []error{gatehouse.ErrNotFound}, "test: session s1: not found"},
		{"caller gave up", canceled, false, driverErr{Unavailable}, []error{context.Canceled}, "test: op: context canceled: driver error"},
		{"caller's context error", canceled, false, fmt.Errorf("x: %w", context.Canceled), []error{context.Canceled}, "test: op: x: context canceled"},
		{"closed", context.Background(), true, driverErr{Conflict}, []error{gatehouse.ErrUnavailable}, "the store is closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Mapper{Store: "test", Closed: func() bool { return tc.closed }, Classify: classify}
			got := m.Wrap(tc.ctx, "op", tc.err)
			for _, w := range tc.want {
				if !errors.Is(got, w) {
					t.Errorf("Wrap = %v, want it to wrap %v", got, w)
				}
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("Wrap = %v lost the original error", got)
			}
			if tc.name == "other" || tc.name == "caller gave up" {
				if errors.Is(got, gatehouse.ErrUnavailable) || errors.Is(got, gatehouse.ErrConflict) {
					t.Errorf("Wrap = %v wraps a sentinel it should not", got)
				}
			}
			if !strings.Contains(got.Error(), tc.text) {
				t.Errorf("Wrap = %q, want it to say %q", got, tc.text)
			}
		})
	}
	if err := (Mapper{Store: "test", Classify: classify}).Wrap(context.Background(), "op", nil); err != nil {
		t.Errorf("Wrap(nil) = %v", err)
	}
}
