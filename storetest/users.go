package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func testUsers(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("SetUserName", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "renamed")
		last, err := st.LastRevocationSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetUserName(ctx, u.ID, "New Name", base); err != nil {
			t.Fatalf("SetUserName: %v", err)
		}
		got, err := st.UserByID(ctx, u.ID)
		if err != nil || got.Name != "New Name" || got.Email != u.Email {
			t.Fatalf("after SetUserName: %+v %v", got, err)
		}
		feed, err := st.Revocations(ctx, last, 10)
		if err != nil || len(feed) != 1 || feed[0].UserID != u.ID || feed[0].SessionID != "" {
			t.Fatalf("the feed after a name change: %+v %v, want one user entry", feed, err)
		}
		wantErr(t, "SetUserName of nobody", st.SetUserName(ctx, gatehouse.NewID(), "x", base), gatehouse.ErrNotFound)
	})

	t.Run("CreateAndLookUp", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		// A non-UTC zone: the store must keep the instant and answer in UTC.
		created := base.In(time.FixedZone("UTC+5:30", 5*3600+1800))
		u := &gatehouse.User{
			ID: gatehouse.NewID(), Email: "alice@example.com", Name: "Alice Ünïcode",
			PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", CreatedAt: created,
		}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		for _, tc := range []struct {
			name   string
			lookup func() (*gatehouse.User, error)
		}{
			{"UserByID", func() (*gatehouse.User, error) { return st.UserByID(ctx, u.ID) }},
			{"UserByEmail", func() (*gatehouse.User, error) { return st.UserByEmail(ctx, u.Email) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := tc.lookup()
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if got.ID != u.ID || got.Email != u.Email || got.Name != u.Name || got.PasswordHash != u.PasswordHash {
					t.Errorf("%s = %+v, want %+v", tc.name, got, u)
				}
				wantTime(t, "CreatedAt", got.CreatedAt, created)
			})
		}
	})

	t.Run("DuplicateEmail", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		first := mustCreateUser(t, st, "first")
		dup := &gatehouse.User{ID: gatehouse.NewID(), Email: first.Email, Name: "second", PasswordHash: "x", CreatedAt: base}
		err := st.CreateUser(ctx, dup)
		wantErr(t, "CreateUser with a taken email", err, gatehouse.ErrEmailTaken)
		wantErr(t, "CreateUser with a taken email", err, gatehouse.ErrConflict)
		got, err := st.UserByEmail(ctx, first.Email)
		if err != nil || got.ID != first.ID || got.Name != "first" {
			t.Errorf("after the duplicate, UserByEmail = %+v, %v; want the first user", got, err)
		}
		if _, err := st.UserByID(ctx, dup.ID); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("the refused user was stored: UserByID = %v", err)
		}
	})

	t.Run("DuplicateID", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		first := mustCreateUser(t, st, "first")
		err := st.CreateUser(ctx, &gatehouse.User{ID: first.ID, Email: "other@example.com", PasswordHash: "x", CreatedAt: base})
		wantErr(t, "CreateUser with a taken id", err, gatehouse.ErrConflict)
		if errors.Is(err, gatehouse.ErrEmailTaken) {
			t.Errorf("CreateUser with a taken id (free email) = %v; must not claim the email is taken", err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		mustCreateUser(t, st, "someone")
		unknown := gatehouse.NewID()
		_, err := st.UserByID(ctx, unknown)
		wantErr(t, "UserByID(unknown)", err, gatehouse.ErrNotFound)
		_, err = st.UserByEmail(ctx, "nobody@example.com")
		wantErr(t, "UserByEmail(unknown)", err, gatehouse.ErrNotFound)
		wantErr(t, "SetPasswordHash(unknown)", st.SetPasswordHash(ctx, unknown, "h"), gatehouse.ErrNotFound)
		_, err = st.ChangePassword(ctx, unknown, "h", "", base)
		wantErr(t, "ChangePassword(unknown)", err, gatehouse.ErrNotFound)
	})

	t.Run("SetPasswordHash", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		s := mustCreateSession(t, st, newSession(u.ID, base))
		if err := st.SetPasswordHash(ctx, u.ID, "new-hash"); err != nil {
			t.Fatalf("SetPasswordHash: %v", err)
		}
		if got, _ := st.UserByID(ctx, u.ID); got == nil || got.PasswordHash != "new-hash" {
			t.Errorf("hash after SetPasswordHash = %+v, want new-hash", got)
		}
		if got, _ := st.UserByID(ctx, other.ID); got == nil || got.PasswordHash != other.PasswordHash {
			t.Errorf("SetPasswordHash changed another user: %+v", got)
		}
		// A rehash at login is not a password change: sessions stay.
		if got := mustSession(t, st, s.ID); got.Revoked() {
			t.Errorf("SetPasswordHash revoked a session")
		}
	})

	t.Run("ChangePassword", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		keep := mustCreateSession(t, st, newSession(u.ID, at(1*time.Second)))
		a := mustCreateSession(t, st, newSession(u.ID, at(2*time.Second)))
		b := mustCreateSession(t, st, newSession(u.ID, at(3*time.Second)))
		gone := newSession(u.ID, at(-48*time.Hour)) // expired long ago
		mustCreateSession(t, st, gone)
		theirs := mustCreateSession(t, st, newSession(other.ID, base))

		now := at(10 * time.Second)
		revoked, err := st.ChangePassword(ctx, u.ID, "changed-hash", keep.ID, now)
		if err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		if !sameSet(revoked, []string{a.ID, b.ID}) {
			t.Errorf("ChangePassword revoked %v, want %v", revoked, []string{a.ID, b.ID})
		}
		if got, _ := st.UserByID(ctx, u.ID); got == nil || got.PasswordHash != "changed-hash" {
			t.Errorf("hash after ChangePassword = %+v", got)
		}
		for _, id := range []string{a.ID, b.ID} {
			s := mustSession(t, st, id)
			wantTime(t, "RevokedAt", s.RevokedAt, now)
			if s.RevokeReason != gatehouse.ReasonPasswordChange {
				t.Errorf("RevokeReason = %q, want %q", s.RevokeReason, gatehouse.ReasonPasswordChange)
			}
		}
		for _, id := range []string{keep.ID, gone.ID, theirs.ID} {
			if mustSession(t, st, id).Revoked() {
				t.Errorf("ChangePassword revoked session %s, which it must keep", id)
			}
		}
		if got := feedIDs(t, st); !sameSet(got, []string{a.ID, b.ID}) {
			t.Errorf("feed after ChangePassword = %v, want %v", got, []string{a.ID, b.ID})
		}

		// No session to keep: every live one ends, and the feed grows by it.
		revoked, err = st.ChangePassword(ctx, u.ID, "again", "", at(11*time.Second))
		if err != nil || !slices.Equal(revoked, []string{keep.ID}) {
			t.Errorf("ChangePassword(keep none) = %v, %v; want [%s]", revoked, err, keep.ID)
		}
		if n := len(feed(t, st)); n != 3 {
			t.Errorf("feed has %d entries, want 3", n)
		}
	})

	t.Run("ChangePasswordUnknownUserChangesNothing", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		s := mustCreateSession(t, st, newSession(u.ID, base))
		// The session id exists but the user does not: nothing may end.
		_, err := st.ChangePassword(ctx, gatehouse.NewID(), "h", "", base)
		wantErr(t, "ChangePassword(unknown user)", err, gatehouse.ErrNotFound)
		if mustSession(t, st, s.ID).Revoked() || len(feed(t, st)) != 0 {
			t.Errorf("a failed ChangePassword revoked something")
		}
	})
}
