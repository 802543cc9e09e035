package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func testRevoke(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("Session", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		s := mustCreateSession(t, st, newSession(u.ID, base))
		now := at(time.Minute)
		ok, err := st.RevokeSession(ctx, s.ID, gatehouse.ReasonLogout, now)
		if !ok || err != nil {
			t.Fatalf("RevokeSession = %v, %v; want true", ok, err)
		}
		want := *s
		want.RevokedAt, want.RevokeReason = now, gatehouse.ReasonLogout
		wantSession(t, mustSession(t, st, s.ID), &want)

		// Twice: false, no error, nothing appended, first revocation kept.
		ok, err = st.RevokeSession(ctx, s.ID, gatehouse.ReasonAdmin, at(2*time.Minute))
		if ok || err != nil {
			t.Errorf("second RevokeSession = %v, %v; want false, nil", ok, err)
		}
		wantSession(t, mustSession(t, st, s.ID), &want)
		if got := feedIDs(t, st); !slices.Equal(got, []string{s.ID}) {
			t.Errorf("feed = %v, want [%s] once", got, s.ID)
		}
	})

	t.Run("Feed", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		if seq, err := st.LastRevocationSeq(ctx); seq != 0 || err != nil {
			t.Errorf("LastRevocationSeq of an empty feed = %d, %v; want 0", seq, err)
		}
		if revs, err := st.Revocations(ctx, 0, 10); len(revs) != 0 || err != nil {
			t.Errorf("Revocations of an empty feed = %v, %v", revs, err)
		}
		u := mustCreateUser(t, st, "u")
		var want []string
		for i := range 5 {
			s := mustCreateSession(t, st, newSession(u.ID, base))
			if ok, err := st.RevokeSession(ctx, s.ID, gatehouse.ReasonLogout, at(time.Duration(i)*time.Second)); !ok || err != nil {
				t.Fatalf("RevokeSession = %v, %v", ok, err)
			}
			want = append(want, s.ID)
		}
		all := feed(t, st)
		var got []string
		for i, r := range all {
			got = append(got, r.SessionID)
			if i > 0 && r.Seq <= all[i-1].Seq {
				t.Errorf("Seq not strictly increasing: %d after %d", r.Seq, all[i-1].Seq)
			}
			if r.Seq <= 0 {
				t.Errorf("Seq %d, want > 0 (0 is the empty cursor)", r.Seq)
			}
			// At is the now of the RevokeSession that appended it.
			wantTime(t, fmt.Sprintf("entry %d At", i), r.At, at(time.Duration(i)*time.Second))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("feed = %v, want %v in revocation order", got, want)
		}
		last, err := st.LastRevocationSeq(ctx)
		if err != nil || last != all[len(all)-1].Seq {
			t.Errorf("LastRevocationSeq = %d, %v; want %d", last, err, all[len(all)-1].Seq)
		}

		for _, tc := range []struct {
			name  string
			after int64
			limit int
			want  []gatehouse.Revocation
		}{
			{"from the start", 0, 100, all},
			{"after the first", all[0].Seq, 100, all[1:]},
			{"after the second, limit 2", all[1].Seq, 2, all[2:4]},
			{"limit 1", 0, 1, all[:1]},
			{"after the last", last, 100, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.Revocations(ctx, tc.after, tc.limit)
				if err != nil {
					t.Fatalf("Revocations: %v", err)
				}
				if len(got) != len(tc.want) || (len(got) > 0 && !slices.Equal(got, tc.want)) {
					t.Errorf("Revocations(%d, %d) = %v, want %v", tc.after, tc.limit, got, tc.want)
				}
			})
		}

		// A reader resuming at its cursor sees exactly the new entries.
		s := mustCreateSession(t, st, newSession(u.ID, base))
		if _, err := st.RevokeSession(ctx, s.ID, gatehouse.ReasonLogout, at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got2, err := st.Revocations(ctx, last, 100)
		if err != nil || len(got2) != 1 || got2[0].SessionID != s.ID || got2[0].Seq <= last {
			t.Errorf("Revocations after cursor %d = %v, %v; want the one new entry", last, got2, err)
		}
		if len(got2) == 1 {
			wantTime(t, "new entry At", got2[0].At, at(time.Hour))
		}
	})

	t.Run("SeqNotReusedAfterPrune", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		s := mustCreateSession(t, st, newSession(u.ID, base))
		if _, err := st.RevokeSession(ctx, s.ID, gatehouse.ReasonLogout, base); err != nil {
			t.Fatal(err)
		}
		cursor, err := st.LastRevocationSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Prune the whole feed; a reader still holds cursor.
		if err := st.Prune(ctx, at(time.Minute), at(-time.Hour), at(time.Minute), at(-time.Hour)); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		if n := len(feed(t, st)); n != 0 {
			t.Fatalf("feed has %d entries after pruning it all", n)
		}
		s2 := mustCreateSession(t, st, newSession(u.ID, base))
		if _, err := st.RevokeSession(ctx, s2.ID, gatehouse.ReasonLogout, at(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, err := st.Revocations(ctx, cursor, 10)
		if err != nil || len(got) != 1 || got[0].SessionID != s2.ID {
			t.Errorf("Revocations after %d = %v, %v; a pruned seq was handed out again", cursor, got, err)
		}
	})

	t.Run("UserSessions", func(t *testing.T) {
		now := at(time.Hour)
		for _, tc := range []struct {
			name   string
			except bool
		}{
			{"AllOfThem", false},
			{"WithException", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				st := open(t)
				u := mustCreateUser(t, st, "u")
				other := mustCreateUser(t, st, "other")
				a := mustCreateSession(t, st, newSession(u.ID, at(1*time.Minute)))
				b := mustCreateSession(t, st, newSession(u.ID, at(2*time.Minute)))
				c := mustCreateSession(t, st, newSession(u.ID, at(3*time.Minute)))
				already := mustCreateSession(t, st, newSession(u.ID, at(4*time.Minute)))
				if _, err := st.RevokeSession(ctx, already.ID, gatehouse.ReasonLogout, at(5*time.Minute)); err != nil {
					t.Fatal(err)
				}
				expired := newSession(u.ID, at(-48*time.Hour))
				mustCreateSession(t, st, expired)
				theirs := mustCreateSession(t, st, newSession(other.ID, at(time.Minute)))

				except, want, untouched := "", []string{a.ID, b.ID, c.ID}, []string{expired.ID, theirs.ID}
				if tc.except {
					except, want, untouched = b.ID, []string{a.ID, c.ID}, []string{b.ID, expired.ID, theirs.ID}
				}
				got, err := st.RevokeUserSessions(ctx, u.ID, except, gatehouse.ReasonLogoutAll, now)
				if err != nil {
					t.Fatalf("RevokeUserSessions: %v", err)
				}
				if !sameSet(got, want) {
					t.Errorf("RevokeUserSessions returned %v, want %v", got, want)
				}
				for _, id := range want {
					s := mustSession(t, st, id)
					wantTime(t, "RevokedAt", s.RevokedAt, now)
					if s.RevokeReason != gatehouse.ReasonLogoutAll {
						t.Errorf("RevokeReason = %q", s.RevokeReason)
					}
				}
				for _, id := range untouched {
					if mustSession(t, st, id).Revoked() {
						t.Errorf("session %s was revoked, want untouched", id)
					}
				}
				if s := mustSession(t, st, already.ID); s.RevokeReason != gatehouse.ReasonLogout {
					t.Errorf("an already revoked session was revoked again: reason %q", s.RevokeReason)
				}
				fed := feedIDs(t, st)
				if !sameSet(fed[1:], want) || fed[0] != already.ID {
					t.Errorf("feed = %v, want [%s] then %v", fed, already.ID, want)
				}
				for i, r := range feed(t, st) {
					wantAt := now // every entry of one RevokeUserSessions bears its now
					if i == 0 {
						wantAt = at(5 * time.Minute) // already's, by RevokeSession
					}
					wantTime(t, "At of "+r.SessionID, r.At, wantAt)
				}
				// Nothing left to end: empty answer, nothing appended.
				again, err := st.RevokeUserSessions(ctx, u.ID, except, gatehouse.ReasonLogoutAll, now)
				if err != nil || len(again) != 0 || len(feed(t, st)) != len(fed) {
					t.Errorf("second RevokeUserSessions = %v, %v; want nothing", again, err)
				}
			})
		}
	})
}
