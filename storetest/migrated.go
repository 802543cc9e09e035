package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// CarriedRetirements checks a store just migrated to 0008 from a schema in
// which each store's test recorded, in retired_tokens, at at(gen):
// session "whole" at generation 5 with generations 2, 3 and 4 retired (1
// already forgotten), "gap" at 5 with 2 and 4 (3 missing), and "never" at
// 1 with none. The migration carries each retirement to its generation's
// place in the session's row, and stops at a gap; rotations go on from
// there.
func CarriedRetirements(t *testing.T, st gatehouse.Store, at func(gen int64) time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, tc := range []struct {
		session string
		gen     int64
		kept    bool
	}{
		{"whole", 4, true}, {"whole", 3, true}, {"whole", 2, true}, {"whole", 1, false}, {"whole", 5, false},
		{"gap", 4, true}, {"gap", 3, false}, {"gap", 2, false},
		{"never", 0, false},
	} {
		got, err := st.RetiredAt(ctx, tc.session, tc.gen)
		switch {
		case tc.kept && (err != nil || !got.Equal(at(tc.gen))):
			t.Errorf("%s: RetiredAt(%d) = %v, %v; want %v", tc.session, tc.gen, got, err, at(tc.gen))
		case !tc.kept && !errors.Is(err, gatehouse.ErrNotFound):
			t.Errorf("%s: RetiredAt(%d) = %v, %v; want ErrNotFound", tc.session, tc.gen, got, err)
		}
	}
	if ok, err := Rotated(st.RotateSession(ctx, "whole", 5, at(5), at(3600))); !ok || err != nil {
		t.Fatalf("RotateSession after Migrate = %v, %v", ok, err)
	}
	for _, gen := range []int64{5, 4, 2} {
		if got, err := st.RetiredAt(ctx, "whole", gen); err != nil || !got.Equal(at(gen)) {
			t.Errorf("after a rotation, RetiredAt(%d) = %v, %v", gen, got, err)
		}
	}
}
