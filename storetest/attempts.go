package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func testAttempts(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("ClearPrefix", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		keys := []string{"login|aaaa|1", "login|aaaa|2", "login|aaab|1", "login|aa", "other|aaaa|1"}
		for _, k := range keys {
			if _, _, err := st.AddAttempt(ctx, k, base, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.ClearAttemptsPrefix(ctx, "login|aaaa|"); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			n, _, err := st.Attempts(ctx, k, base)
			if err != nil {
				t.Fatal(err)
			}
			want := 1
			if k == "login|aaaa|1" || k == "login|aaaa|2" {
				want = 0
			}
			if n != want {
				t.Errorf("%s: count %d after clearing the prefix, want %d", k, n, want)
			}
		}
	})

	t.Run("Window", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		const key = "login|alice@example.com|192.0.2.1"
		window := 15 * time.Minute
		end := base.Add(window)

		// Each step is one call at a time; a count of 0 with a zero resetAt
		// means "no live window".
		for _, step := range []struct {
			name      string
			add       bool
			now       time.Time
			wantCount int
			wantReset time.Time
		}{
			{"nothing yet", false, base, 0, time.Time{}},
			{"first attempt opens the window", true, base, 1, end},
			{"second counts in it", true, at(time.Minute), 2, end},
			{"read inside", false, at(14 * time.Minute), 2, end},
			{"third, just before the end", true, end.Add(-time.Microsecond), 3, end},
			{"read at the end: over", false, end, 0, time.Time{}},
			{"read after the end", false, end.Add(time.Hour), 0, time.Time{}},
			{"an attempt after the end restarts at 1", true, end.Add(time.Hour), 1, end.Add(time.Hour + window)},
			{"read the new window", false, end.Add(time.Hour + time.Second), 1, end.Add(time.Hour + window)},
		} {
			var (
				count int
				reset time.Time
				err   error
			)
			if step.add {
				count, reset, err = st.AddAttempt(ctx, key, step.now, window)
			} else {
				count, reset, err = st.Attempts(ctx, key, step.now)
			}
			if err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			if count != step.wantCount || !reset.Equal(step.wantReset) {
				t.Errorf("%s: count %d, reset %v; want %d, %v", step.name, count, reset, step.wantCount, step.wantReset)
			}
			if !reset.IsZero() {
				wantTime(t, step.name, reset, step.wantReset)
			}
		}
	})

	t.Run("KeysAreIndependentAndClear", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		for range 3 {
			if _, _, err := st.AddAttempt(ctx, "a", base, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if n, _, err := st.AddAttempt(ctx, "b", base, time.Minute); n != 1 || err != nil {
			t.Errorf("first attempt of another key = %d, %v; want 1", n, err)
		}
		if err := st.ClearAttempts(ctx, "a"); err != nil {
			t.Fatalf("ClearAttempts: %v", err)
		}
		if n, reset, err := st.Attempts(ctx, "a", base); n != 0 || !reset.IsZero() || err != nil {
			t.Errorf("Attempts after ClearAttempts = %d, %v, %v; want 0, zero", n, reset, err)
		}
		if n, _, _ := st.Attempts(ctx, "b", base); n != 1 {
			t.Errorf("ClearAttempts(a) touched b: count %d", n)
		}
		if n, _, _ := st.AddAttempt(ctx, "a", at(time.Second), time.Minute); n != 1 {
			t.Errorf("first attempt after a clear = %d, want 1", n)
		}
		if err := st.ClearAttempts(ctx, "never-seen"); err != nil {
			t.Errorf("ClearAttempts of an unknown key: %v", err)
		}
	})

	t.Run("ConcurrentAttemptsAllCount", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		const n = 40
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				if _, _, err := st.AddAttempt(ctx, "k", base, time.Hour); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("AddAttempt: %v", err)
		}
		if got, _, _ := st.Attempts(ctx, "k", base); got != n {
			t.Errorf("after %d concurrent attempts the count is %d", n, got)
		}
	})
}
