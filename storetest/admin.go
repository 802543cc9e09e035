package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// ptr returns a pointer to v, for UserUpdate fields.
func ptr[T any](v T) *T { return &v }

// mustCreateAdmin stores a new enabled admin.
func mustCreateAdmin(tb testing.TB, st gatehouse.Store, name string) *gatehouse.User {
	tb.Helper()
	u := &gatehouse.User{ID: gatehouse.NewID(), Email: fmt.Sprintf("admin%d@example.com", emailSeq.Add(1)),
		Name: name, PasswordHash: "h", CreatedAt: base, Role: gatehouse.RoleAdmin}
	if err := st.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("CreateUser: %v", err)
	}
	return u
}

// search returns the ids SearchUsers finds for q, in one page.
func search(tb testing.TB, st gatehouse.Store, q string) []string {
	tb.Helper()
	got, err := st.SearchUsers(context.Background(), q, nil, 1000, base)
	if err != nil {
		tb.Fatalf("SearchUsers(%q): %v", q, err)
	}
	return adminIDs(got)
}

func adminIDs(us []gatehouse.AdminUser) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

func testAdmin(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("RoleAndLastLogin", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "plain")
		if u.Role != gatehouse.RoleUser {
			t.Errorf("CreateUser left Role %q in u, want %q", u.Role, gatehouse.RoleUser)
		}
		a := mustCreateAdmin(t, st, "admin")
		for _, tc := range []struct {
			u    *gatehouse.User
			role string
		}{{u, gatehouse.RoleUser}, {a, gatehouse.RoleAdmin}} {
			got := mustUser(t, st, tc.u.ID)
			if got.Role != tc.role || got.Disabled || !got.LastLoginAt.IsZero() {
				t.Errorf("UserByID = role %q, disabled %v, last login %v; want %q, false, zero",
					got.Role, got.Disabled, got.LastLoginAt, tc.role)
			}
		}
		mustCreateSession(t, st, newSession(u.ID, at(time.Hour)))
		got, err := st.UserByEmail(ctx, u.Email)
		if err != nil {
			t.Fatal(err)
		}
		wantTime(t, "LastLoginAt after CreateSession", got.LastLoginAt, at(time.Hour))
	})

	t.Run("Search", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		mk := func(email, name string) string {
			return mustCreateUserWithName(t, st, email, name).ID
		}
		alice := mk("alice@example.com", "Alice Smith")
		bob := mk("bob@example.org", "Bob ALICEson")
		pct := mk("pct@example.com", "100% sure")
		under := mk("under@example.com", "snake_case")
		plain := mk("plain@example.com", "100 sure")
		for _, tc := range []struct {
			q    string
			want []string
		}{
			{"alice", []string{alice, bob}}, // email of one, name of the other
			{"ALICE", []string{alice, bob}},
			{"Smith", []string{alice}},
			{"EXAMPLE.ORG", []string{bob}},
			{"%", []string{pct}},   // a literal %, not a wildcard
			{"_", []string{under}}, // a literal _, not a wildcard
			{"0% s", []string{pct}},
			{"nobody", nil},
			{"", []string{alice, bob, pct, under, plain}},
		} {
			if got := search(t, st, tc.q); !sameSet(got, tc.want) {
				t.Errorf("SearchUsers(%q) = %v, want %v", tc.q, got, tc.want)
			}
		}
	})

	t.Run("SearchPaging", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		var want []*gatehouse.User
		for i := range 13 {
			u := &gatehouse.User{ID: gatehouse.NewID(), Email: fmt.Sprintf("page%d@example.com", i), Name: "paged",
				PasswordHash: "h", CreatedAt: at(time.Duration(i/3) * time.Second)} // ties of three
			if err := st.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			want = append(want, u)
		}
		mustCreateUserWithName(t, st, "other@example.com", "unrelated")
		slices.SortFunc(want, func(a, b *gatehouse.User) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return compareStrings(b.ID, a.ID)
		})
		var wantIDs, got []string
		for _, u := range want {
			wantIDs = append(wantIDs, u.ID)
		}
		var after *gatehouse.UserCursor
		for range 10 {
			page, err := st.SearchUsers(ctx, "PAGED", after, 4, base)
			if err != nil {
				t.Fatalf("SearchUsers: %v", err)
			}
			got = append(got, adminIDs(page)...)
			if len(page) < 4 {
				break
			}
			last := page[len(page)-1]
			after = &gatehouse.UserCursor{CreatedAt: last.CreatedAt, ID: last.ID}
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("paged SearchUsers = %v,\nwant %v", got, wantIDs)
		}
	})

	t.Run("Counts", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "counted")
		other := mustCreateUser(t, st, "other")
		now := at(30 * time.Minute)
		mustCreateSession(t, st, newSession(u.ID, base))
		mustCreateSession(t, st, newSession(u.ID, at(time.Minute)))
		revoked := mustCreateSession(t, st, newSession(u.ID, base))
		if _, err := st.RevokeSession(ctx, revoked.ID, gatehouse.ReasonLogout, at(time.Minute)); err != nil {
			t.Fatal(err)
		}
		idle := newSession(u.ID, base)
		idle.IdleExpiresAt = now // expired at now: not live
		mustCreateSession(t, st, idle)
		old := newSession(u.ID, base)
		old.ExpiresAt = at(time.Minute)
		mustCreateSession(t, st, old)
		mustCreateSession(t, st, newSession(other.ID, base))
		mustCreatePasskey(t, st, newPasskey(u.ID, base))
		mustCreatePasskey(t, st, newPasskey(u.ID, base))
		if err := st.PutPendingTOTP(ctx, pendingTOTP(other.ID)); err != nil { // pending: not in force
			t.Fatal(err)
		}
		check := func(what string, got *gatehouse.AdminUser, sessions int, totp bool, passkeys int) {
			t.Helper()
			if got.LiveSessions != sessions || got.TOTP != totp || got.Passkeys != passkeys {
				t.Errorf("%s: sessions %d, totp %v, passkeys %d; want %d, %v, %d",
					what, got.LiveSessions, got.TOTP, got.Passkeys, sessions, totp, passkeys)
			}
		}
		a, err := st.AdminUser(ctx, u.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		check("AdminUser", a, 2, false, 2)
		if a.Email != u.Email || a.Name != u.Name || a.Role != gatehouse.RoleUser {
			t.Errorf("AdminUser = %+v, want the user %+v", a.User, u)
		}
		o, err := st.AdminUser(ctx, other.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		check("AdminUser of other", o, 1, false, 0)
		mustEnrol(t, st, u.ID, 1, "code")
		page, err := st.SearchUsers(ctx, "", nil, 10, now)
		if err != nil || len(page) != 2 {
			t.Fatalf("SearchUsers = %v, %v; want 2 users", adminIDs(page), err)
		}
		for _, a := range page {
			if a.ID == u.ID {
				check("SearchUsers", &a, 2, true, 2)
			} else {
				check("SearchUsers of other", &a, 1, false, 0)
			}
		}
		_, err = st.AdminUser(ctx, gatehouse.NewID(), now)
		wantErr(t, "AdminUser of nobody", err, gatehouse.ErrNotFound)
	})

	t.Run("UpdateUser", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "before")
		taken := mustCreateUser(t, st, "taken")
		for _, tc := range []struct {
			name  string
			upd   gatehouse.UserUpdate
			check func(got *gatehouse.User) bool
		}{
			{"name", gatehouse.UserUpdate{Name: ptr("after")}, func(g *gatehouse.User) bool { return g.Name == "after" }},
			{"email", gatehouse.UserUpdate{Email: ptr("new@example.com")}, func(g *gatehouse.User) bool { return g.Email == "new@example.com" }},
			{"email_verified", gatehouse.UserUpdate{EmailVerified: ptr(true)}, func(g *gatehouse.User) bool { return g.EmailVerified }},
			{"role", gatehouse.UserUpdate{Role: ptr(gatehouse.RoleAdmin)}, func(g *gatehouse.User) bool { return g.Role == gatehouse.RoleAdmin }},
			{"nothing", gatehouse.UserUpdate{}, func(g *gatehouse.User) bool { return true }},
		} {
			before := mustUser(t, st, u.ID)
			entries := len(userEntries(t, st))
			got, revoked, err := st.UpdateUser(ctx, u.ID, tc.upd, at(time.Minute))
			if err != nil || len(revoked) != 0 {
				t.Fatalf("UpdateUser(%s) = %v, %v", tc.name, revoked, err)
			}
			stored := mustUser(t, st, u.ID)
			if !tc.check(got) || !tc.check(stored) {
				t.Errorf("UpdateUser(%s) returned %+v, stored %+v", tc.name, got, stored)
			}
			// Every other field stays.
			after := *stored
			if tc.upd.Name != nil {
				after.Name = before.Name
			}
			if tc.upd.Email != nil {
				after.Email = before.Email
			}
			if tc.upd.EmailVerified != nil {
				after.EmailVerified = before.EmailVerified
			}
			if tc.upd.Role != nil {
				after.Role = before.Role
			}
			if after.Name != before.Name || after.Email != before.Email || after.EmailVerified != before.EmailVerified ||
				after.Role != before.Role || after.Disabled != before.Disabled || after.PasswordHash != before.PasswordHash {
				t.Errorf("UpdateUser(%s) changed more: %+v, was %+v", tc.name, stored, before)
			}
			if n := len(userEntries(t, st)); n != entries+1 {
				t.Errorf("UpdateUser(%s) appended %d user entries, want 1", tc.name, n-entries)
			}
		}
		_, _, err := st.UpdateUser(ctx, u.ID, gatehouse.UserUpdate{Name: ptr("lost"), Email: ptr(taken.Email)}, at(time.Minute))
		wantErr(t, "UpdateUser to a taken email", err, gatehouse.ErrEmailTaken)
		if got := mustUser(t, st, u.ID); got.Name != "after" || got.Email != "new@example.com" {
			t.Errorf("a refused UpdateUser changed the user: %+v", got)
		}
		_, _, err = st.UpdateUser(ctx, gatehouse.NewID(), gatehouse.UserUpdate{Name: ptr("x")}, at(time.Minute))
		wantErr(t, "UpdateUser of nobody", err, gatehouse.ErrNotFound)
	})

	t.Run("Disable", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		live := []string{
			mustCreateSession(t, st, newSession(u.ID, base)).ID,
			mustCreateSession(t, st, newSession(u.ID, base)).ID,
		}
		ended := mustCreateSession(t, st, newSession(u.ID, base))
		if _, err := st.RevokeSession(ctx, ended.ID, gatehouse.ReasonLogout, base); err != nil {
			t.Fatal(err)
		}
		kept := mustCreateSession(t, st, newSession(other.ID, base))
		before := len(feed(t, st))
		got, revoked, err := st.UpdateUser(ctx, u.ID, gatehouse.UserUpdate{Disabled: ptr(true)}, at(time.Minute))
		if err != nil || !got.Disabled || !sameSet(revoked, live) {
			t.Fatalf("UpdateUser(disable) = %+v, %v, %v; want disabled, %v", got, revoked, err, live)
		}
		for _, id := range live {
			if s := mustSession(t, st, id); !s.Revoked() || s.RevokeReason != "user_disabled" {
				t.Errorf("session %s after disabling: revoked %v, reason %q", id, s.Revoked(), s.RevokeReason)
			}
		}
		if s := mustSession(t, st, ended.ID); s.RevokeReason != gatehouse.ReasonLogout {
			t.Errorf("an ended session was revoked again: %q", s.RevokeReason)
		}
		if mustSession(t, st, kept.ID).Revoked() {
			t.Error("disabling a user revoked another's session")
		}
		var sessions, users []string
		for _, r := range feed(t, st)[before:] {
			if r.SessionID != "" {
				sessions = append(sessions, r.SessionID)
			} else {
				users = append(users, r.UserID)
			}
		}
		if !sameSet(sessions, live) || !slices.Equal(users, []string{u.ID}) {
			t.Errorf("the feed after disabling: sessions %v, users %v; want %v and the user", sessions, users, live)
		}
		got, revoked, err = st.UpdateUser(ctx, u.ID, gatehouse.UserUpdate{Disabled: ptr(false)}, at(time.Minute))
		if err != nil || got.Disabled || len(revoked) != 0 {
			t.Errorf("UpdateUser(enable) = %+v, %v, %v", got, revoked, err)
		}
	})

	t.Run("LastAdmin", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		a := mustCreateAdmin(t, st, "a")
		plain := mustCreateUser(t, st, "plain")
		disabled := mustCreateAdmin(t, st, "disabled admin") // does not count
		if _, _, err := st.UpdateUser(ctx, disabled.ID, gatehouse.UserUpdate{Disabled: ptr(true)}, base); err != nil {
			t.Fatalf("disabling one of two admins: %v", err)
		}
		feedLen := len(feed(t, st))
		_, _, err := st.UpdateUser(ctx, a.ID, gatehouse.UserUpdate{Role: ptr(gatehouse.RoleUser)}, base)
		wantErr(t, "demoting the last admin", err, gatehouse.ErrLastAdmin)
		_, _, err = st.UpdateUser(ctx, a.ID, gatehouse.UserUpdate{Name: ptr("x"), Disabled: ptr(true)}, base)
		wantErr(t, "disabling the last admin", err, gatehouse.ErrLastAdmin)
		_, err = st.DeleteUser(ctx, a.ID, base)
		wantErr(t, "deleting the last admin", err, gatehouse.ErrLastAdmin)
		if got := mustUser(t, st, a.ID); got.Role != gatehouse.RoleAdmin || got.Disabled || got.Name != "a" {
			t.Errorf("refused changes changed the last admin: %+v", got)
		}
		if n := len(feed(t, st)); n != feedLen {
			t.Errorf("refused changes appended %d feed entries", n-feedLen)
		}
		// What keeps them an enabled admin is allowed.
		if _, _, err := st.UpdateUser(ctx, a.ID, gatehouse.UserUpdate{Name: ptr("b"), Role: ptr(gatehouse.RoleAdmin),
			Disabled: ptr(false)}, base); err != nil {
			t.Errorf("renaming the last admin: %v", err)
		}
		// Plain users are not guarded.
		if _, _, err := st.UpdateUser(ctx, plain.ID, gatehouse.UserUpdate{Disabled: ptr(true)}, base); err != nil {
			t.Errorf("disabling a plain user: %v", err)
		}
		// With a second enabled admin, one may go.
		if _, _, err := st.UpdateUser(ctx, disabled.ID, gatehouse.UserUpdate{Disabled: ptr(false)}, base); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.UpdateUser(ctx, a.ID, gatehouse.UserUpdate{Role: ptr(gatehouse.RoleUser)}, base); err != nil {
			t.Errorf("demoting one of two admins: %v", err)
		}
		_, err = st.DeleteUser(ctx, disabled.ID, base)
		wantErr(t, "deleting the admin left", err, gatehouse.ErrLastAdmin)
		if _, _, err := st.UpdateUser(ctx, a.ID, gatehouse.UserUpdate{Role: ptr(gatehouse.RoleAdmin)}, base); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DeleteUser(ctx, disabled.ID, base); err != nil {
			t.Errorf("deleting one of two admins: %v", err)
		}
	})

	t.Run("LastAdminConcurrent", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		var survivor *gatehouse.User // of the previous round
		for round := range 10 {
			a, b := mustCreateAdmin(t, st, "a"), mustCreateAdmin(t, st, "b")
			if survivor != nil { // so that a and b are the only enabled admins
				if _, _, err := st.UpdateUser(ctx, survivor.ID, gatehouse.UserUpdate{Role: ptr(gatehouse.RoleUser)}, base); err != nil {
					t.Fatalf("demoting the previous round's admin: %v", err)
				}
			}
			demote := gatehouse.UserUpdate{Role: ptr(gatehouse.RoleUser)}
			if round%2 == 1 {
				demote = gatehouse.UserUpdate{Disabled: ptr(true)}
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, 2)
			for i, target := range []string{b.ID, a.ID} { // each demotes the other
				wg.Go(func() {
					<-start
					_, _, errs[i] = st.UpdateUser(ctx, target, demote, base)
				})
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else {
					wantErr(t, "the losing demotion", err, gatehouse.ErrLastAdmin)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d of two concurrent demotions succeeded (%v), want exactly 1", round, ok, errs)
			}
			survivor = nil
			for _, u := range []*gatehouse.User{a, b} {
				if g := mustUser(t, st, u.ID); g.Role == gatehouse.RoleAdmin && !g.Disabled {
					if survivor != nil {
						t.Fatalf("round %d: both admins are still enabled admins", round)
					}
					survivor = g
				}
			}
			if survivor == nil {
				t.Fatalf("round %d: no enabled admin left", round)
			}
		}
	})

	t.Run("DeleteUser", func(t *testing.T) { testDeleteUser(t, open) })

	t.Run("DeleteFactors", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		s := mustCreateSession(t, st, newSession(u.ID, base))
		mustEnrol(t, st, u.ID, 1, "c1", "c2")
		mustCreatePasskey(t, st, newPasskey(u.ID, base))
		mustEnrol(t, st, other.ID, 1, "c3")
		if removed, err := st.DeleteFactors(ctx, u.ID); !removed || err != nil {
			t.Fatalf("DeleteFactors = %v, %v; want true", removed, err)
		}
		_, err := st.TOTP(ctx, u.ID)
		wantErr(t, "TOTP after DeleteFactors", err, gatehouse.ErrNotFound)
		if n := codesLeft(t, st, u.ID); n != 0 {
			t.Errorf("%d recovery codes left after DeleteFactors", n)
		}
		if ids := passkeyIDs(t, st, u.ID); len(ids) != 0 {
			t.Errorf("passkeys after DeleteFactors: %v", ids)
		}
		if mustSession(t, st, s.ID).Revoked() {
			t.Error("DeleteFactors revoked a session")
		}
		if _, err := st.TOTP(ctx, other.ID); err != nil || codesLeft(t, st, other.ID) != 1 {
			t.Errorf("DeleteFactors removed another user's factors: %v", err)
		}
		if removed, err := st.DeleteFactors(ctx, u.ID); removed || err != nil {
			t.Errorf("DeleteFactors again = %v, %v; want false", removed, err)
		}
	})
}

// mustCreateUserWithName stores a user with email and name.
func mustCreateUserWithName(tb testing.TB, st gatehouse.Store, email, name string) *gatehouse.User {
	tb.Helper()
	u := &gatehouse.User{ID: gatehouse.NewID(), Email: email, Name: name, PasswordHash: "h", CreatedAt: base}
	if err := st.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("CreateUser: %v", err)
	}
	return u
}
