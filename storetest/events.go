package storetest

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newEvent returns an event of typ for userID at t with every field set.
func newEvent(typ, userID string, t time.Time) gatehouse.Event {
	return gatehouse.Event{
		ID: gatehouse.NewID(), Type: typ, At: t, UserID: userID,
		SessionID: gatehouse.NewID(), ActorID: gatehouse.NewID(),
		IP: "192.0.2.7", UserAgent: "storetest/1.0", Detail: map[string]string{"reason": "because"},
	}
}

// allEvents returns every event of f, newest first, in one page.
func allEvents(tb testing.TB, st gatehouse.Store, f gatehouse.EventFilter) []gatehouse.Event {
	tb.Helper()
	evs, err := st.Events(context.Background(), f, nil, 1_000_000)
	if err != nil {
		tb.Fatalf("Events(%+v): %v", f, err)
	}
	return evs
}

// eventIDs returns the ids of evs, in order.
func eventIDs(evs []gatehouse.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// hasEvent reports whether an event with id is stored.
func hasEvent(tb testing.TB, st gatehouse.Store, id string) bool {
	tb.Helper()
	return slices.Contains(eventIDs(allEvents(tb, st, gatehouse.EventFilter{})), id)
}

// wantEvent compares every field of two events.
func wantEvent(tb testing.TB, got, want gatehouse.Event) {
	tb.Helper()
	if got.ID != want.ID || got.Type != want.Type || got.UserID != want.UserID || got.SessionID != want.SessionID ||
		got.ActorID != want.ActorID || got.IP != want.IP || got.UserAgent != want.UserAgent {
		tb.Errorf("event = %+v,\nwant %+v", got, want)
	}
	// An empty Detail, nil or not, reads back as nil.
	wantDetail := want.Detail
	if len(wantDetail) == 0 {
		wantDetail = nil
	}
	if !maps.Equal(got.Detail, wantDetail) || (got.Detail == nil) != (wantDetail == nil) {
		tb.Errorf("event %s: Detail = %#v, want %#v", want.ID, got.Detail, wantDetail)
	}
	wantTime(tb, "At", got.At, want.At)
}

func testEvents(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		full := newEvent(gatehouse.EventLoginFailed, gatehouse.NewID(), base.In(time.FixedZone("UTC-3", -3*3600)))
		full.Detail = map[string]string{"reason": "wrong_password", "email": "Ünïcode@example.com", "quote": `"\`}
		unknown := newEvent(gatehouse.EventLoginFailed, "", at(time.Second)) // an unknown email
		unknown.SessionID, unknown.ActorID, unknown.Detail = "", "", nil
		empty := newEvent(gatehouse.EventLoginRateLimited, "u", at(2*time.Second))
		empty.Detail = map[string]string{}
		if err := st.AppendEvents(ctx, full, unknown, empty); err != nil {
			t.Fatalf("AppendEvents: %v", err)
		}
		if err := st.AppendEvents(ctx); err != nil {
			t.Fatalf("AppendEvents of nothing: %v", err)
		}
		got := allEvents(t, st, gatehouse.EventFilter{})
		if len(got) != 3 {
			t.Fatalf("Events = %v, want 3", eventIDs(got))
		}
		for i, want := range []gatehouse.Event{empty, unknown, full} {
			wantEvent(t, got[i], want)
		}
		wantErr(t, "AppendEvents of a taken id", st.AppendEvents(ctx, full), gatehouse.ErrConflict)
	})

	t.Run("FiltersAndPaging", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		alice, bob := gatehouse.NewID(), gatehouse.NewID()
		var all []gatehouse.Event
		for i := range 30 {
			user := []string{alice, bob, ""}[i%3]
			typ := []string{gatehouse.EventLoginSucceeded, gatehouse.EventLoginFailed}[i%2]
			// Ties: three events share each instant, so paging must order
			// them by id.
			all = append(all, newEvent(typ, user, at(time.Duration(i/3)*time.Second)))
		}
		if err := st.AppendEvents(ctx, all...); err != nil {
			t.Fatalf("AppendEvents: %v", err)
		}
		newestFirst := func(f func(gatehouse.Event) bool) []string {
			var want []gatehouse.Event
			for _, e := range all {
				if f(e) {
					want = append(want, e)
				}
			}
			slices.SortFunc(want, func(a, b gatehouse.Event) int {
				if c := b.At.Compare(a.At); c != 0 {
					return c
				}
				return compareStrings(b.ID, a.ID)
			})
			return eventIDs(want)
		}
		for _, tc := range []struct {
			name string
			f    gatehouse.EventFilter
			want []string
		}{
			{"all", gatehouse.EventFilter{}, newestFirst(func(gatehouse.Event) bool { return true })},
			{"user", gatehouse.EventFilter{UserID: alice}, newestFirst(func(e gatehouse.Event) bool { return e.UserID == alice })},
			{"type", gatehouse.EventFilter{Type: gatehouse.EventLoginFailed},
				newestFirst(func(e gatehouse.Event) bool { return e.Type == gatehouse.EventLoginFailed })},
			{"user and type", gatehouse.EventFilter{UserID: bob, Type: gatehouse.EventLoginSucceeded},
				newestFirst(func(e gatehouse.Event) bool { return e.UserID == bob && e.Type == gatehouse.EventLoginSucceeded })},
			{"nobody's", gatehouse.EventFilter{UserID: gatehouse.NewID()}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := eventIDs(allEvents(t, st, tc.f)); !slices.Equal(got, tc.want) {
					t.Errorf("Events = %v,\nwant %v", got, tc.want)
				}
				// Pages of 4, each after the last of the one before: the
				// same events, in the same order, none twice.
				var paged []string
				var after *gatehouse.EventCursor
				for range 20 {
					page, err := st.Events(ctx, tc.f, after, 4)
					if err != nil {
						t.Fatalf("Events: %v", err)
					}
					if len(page) > 4 {
						t.Fatalf("a page of %d, want at most 4", len(page))
					}
					paged = append(paged, eventIDs(page)...)
					if len(page) < 4 {
						break
					}
					last := page[len(page)-1]
					after = &gatehouse.EventCursor{At: last.At, ID: last.ID}
				}
				if !slices.Equal(paged, tc.want) {
					t.Errorf("paged Events = %v,\nwant %v", paged, tc.want)
				}
			})
		}
	})

	t.Run("Prune", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		var evs []gatehouse.Event
		for i := range 5 {
			evs = append(evs, newEvent(gatehouse.EventUserUpdated, "u", at(time.Duration(i)*time.Hour)))
		}
		if err := st.AppendEvents(ctx, evs...); err != nil {
			t.Fatal(err)
		}
		// Strictly older than before: the event at 2h stays.
		if n, err := st.PruneEvents(ctx, at(2*time.Hour)); err != nil || n != 2 {
			t.Errorf("PruneEvents = %d, %v; want 2", n, err)
		}
		if got, want := eventIDs(allEvents(t, st, gatehouse.EventFilter{})), []string{evs[4].ID, evs[3].ID, evs[2].ID}; !slices.Equal(got, want) {
			t.Errorf("after PruneEvents: %v, want %v", got, want)
		}
		if n, err := st.PruneEvents(ctx, at(2*time.Hour)); err != nil || n != 0 {
			t.Errorf("PruneEvents again = %d, %v; want 0", n, err)
		}
	})

	t.Run("RideOnWrites", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := &gatehouse.User{ID: gatehouse.NewID(), Email: "ride@example.com", PasswordHash: "h", CreatedAt: base}
		registered := newEvent(gatehouse.EventUserRegistered, u.ID, base)
		if err := st.CreateUser(gatehouse.WithEvents(ctx, registered), u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		s := newSession(u.ID, at(time.Minute))
		login := newEvent(gatehouse.EventLoginSucceeded, u.ID, at(time.Minute))
		if err := st.CreateSession(gatehouse.WithEvents(ctx, login), s); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		renamed := newEvent(gatehouse.EventUserUpdated, u.ID, at(2*time.Minute))
		if err := st.SetUserName(gatehouse.WithEvents(ctx, renamed), u.ID, "n", at(2*time.Minute)); err != nil {
			t.Fatalf("SetUserName: %v", err)
		}
		revoked := newEvent(gatehouse.EventSessionRevoked, u.ID, at(3*time.Minute))
		if ok, err := st.RevokeSession(gatehouse.WithEvents(ctx, revoked), s.ID, gatehouse.ReasonLogout, at(3*time.Minute)); !ok || err != nil {
			t.Fatalf("RevokeSession = %v, %v", ok, err)
		}
		got := allEvents(t, st, gatehouse.EventFilter{UserID: u.ID})
		if want := []string{revoked.ID, renamed.ID, login.ID, registered.ID}; !slices.Equal(eventIDs(got), want) {
			t.Fatalf("events = %v, want %v", eventIDs(got), want)
		}
		wantEvent(t, got[2], login)
	})

	t.Run("LinkTokensNameTheUser", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		for _, tc := range []struct {
			purpose string
			redeem  func(ctx context.Context, hash []byte) error
		}{
			{gatehouse.PurposeVerifyEmail, func(ctx context.Context, h []byte) error {
				_, err := st.VerifyEmail(ctx, h, at(time.Minute))
				return err
			}},
			{gatehouse.PurposeResetPassword, func(ctx context.Context, h []byte) error {
				_, _, err := st.ResetPassword(ctx, h, "new hash", at(time.Minute))
				return err
			}},
			{gatehouse.PurposeChangeEmail, func(ctx context.Context, h []byte) error {
				_, err := st.ConfirmEmailChange(ctx, h, at(time.Minute))
				return err
			}},
		} {
			email := mustUser(t, st, u.ID).Email
			if tc.purpose == gatehouse.PurposeChangeEmail {
				email = "changed@example.com"
			}
			tok, hash := newToken(u, tc.purpose, email)
			if err := st.IssueEmailToken(ctx, nil, tok); err != nil {
				t.Fatal(err)
			}
			nobody := newEvent(gatehouse.EventEmailVerified, "", at(time.Minute))
			named := newEvent(gatehouse.EventEmailVerified, "someone", at(time.Minute))
			events := []gatehouse.Event{nobody, named}
			if err := tc.redeem(gatehouse.WithEvents(ctx, events...), hash); err != nil {
				t.Fatalf("redeeming a %s token: %v", tc.purpose, err)
			}
			if events[0].UserID != "" {
				t.Errorf("%s changed the caller's event", tc.purpose)
			}
			got := allEvents(t, st, gatehouse.EventFilter{UserID: u.ID})
			if !slices.Contains(eventIDs(got), nobody.ID) {
				t.Errorf("%s: the event naming nobody was not stored naming the token's user: %v", tc.purpose, eventIDs(got))
			}
			if !slices.Contains(eventIDs(allEvents(t, st, gatehouse.EventFilter{UserID: "someone"})), named.ID) {
				t.Errorf("%s: the event naming someone changed user", tc.purpose)
			}
		}
	})

	t.Run("NotWithoutAChange", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		s := mustCreateSession(t, st, newSession(u.ID, base))
		// (b) A write that fails stores no event.
		dup := &gatehouse.User{ID: gatehouse.NewID(), Email: u.Email, PasswordHash: "h", CreatedAt: base}
		e := newEvent(gatehouse.EventUserRegistered, dup.ID, base)
		wantErr(t, "CreateUser with a taken email", st.CreateUser(gatehouse.WithEvents(ctx, e), dup), gatehouse.ErrEmailTaken)
		if hasEvent(t, st, e.ID) {
			t.Error("the event of a failed CreateUser was stored")
		}
		// (c) A write that reports it changed nothing stores no event.
		if ok, err := st.RevokeSession(ctx, s.ID, gatehouse.ReasonLogout, at(time.Minute)); !ok || err != nil {
			t.Fatalf("RevokeSession = %v, %v", ok, err)
		}
		for _, tc := range []struct {
			name  string
			write func(ctx context.Context) (bool, error)
		}{
			{"RevokeSession of a revoked session", func(ctx context.Context) (bool, error) {
				return st.RevokeSession(ctx, s.ID, gatehouse.ReasonLogout, at(2*time.Minute))
			}},
			{"RotateSession of a revoked session", func(ctx context.Context) (bool, error) {
				return Rotated(st.RotateSession(ctx, s.ID, 1, at(2*time.Minute), at(time.Hour)))
			}},
			{"ConsumeMFAChallenge of an unknown challenge", func(ctx context.Context) (bool, error) {
				return st.ConsumeMFAChallenge(ctx, hashOf("unknown"), at(2*time.Minute))
			}},
			{"UseRecoveryCode of an unknown code", func(ctx context.Context) (bool, error) {
				return st.UseRecoveryCode(ctx, u.ID, hashOf("unknown"), at(2*time.Minute))
			}},
			{"DeleteFactors of a user without factors", func(ctx context.Context) (bool, error) {
				return st.DeleteFactors(ctx, u.ID)
			}},
			{"RevokeUserSessions of a user without live sessions", func(ctx context.Context) (bool, error) {
				ids, err := st.RevokeUserSessions(ctx, u.ID, "", gatehouse.ReasonAdmin, at(2*time.Minute))
				return len(ids) > 0, err
			}},
		} {
			e := newEvent(gatehouse.EventSessionRevoked, u.ID, at(2*time.Minute))
			if changed, err := tc.write(gatehouse.WithEvents(ctx, e)); changed || err != nil {
				t.Errorf("%s = %v, %v; want false, nil", tc.name, changed, err)
			}
			if hasEvent(t, st, e.ID) {
				t.Errorf("%s stored its event", tc.name)
			}
		}
		// A refused email token is deleted, without the event.
		tok, hash := newToken(u, gatehouse.PurposeVerifyEmail, u.Email)
		if err := st.IssueEmailToken(ctx, nil, tok); err != nil {
			t.Fatal(err)
		}
		e = newEvent(gatehouse.EventEmailVerified, u.ID, at(2*time.Hour))
		_, err := st.VerifyEmail(gatehouse.WithEvents(ctx, e), hash, at(2*time.Hour))
		wantErr(t, "VerifyEmail of an expired token", err, gatehouse.ErrEmailTokenExpired)
		if hasEvent(t, st, e.ID) {
			t.Error("VerifyEmail of an expired token stored its event")
		}
	})

	t.Run("AtomicWithTheChange", func(t *testing.T) { testEventAtomicity(t, open) })
}

// compareStrings orders strings bytewise, as the stores order ids.
func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// testEventAtomicity (a): a write whose event cannot be stored (its id is
// taken) fails, and its change is rolled back with it.
func testEventAtomicity(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	t.Parallel()
	ctx := context.Background()
	st := open(t)
	u := mustCreateUser(t, st, "before")
	s := mustCreateSession(t, st, newSession(u.ID, base))
	taken := newEvent(gatehouse.EventUserRegistered, u.ID, base)
	if err := st.AppendEvents(ctx, taken); err != nil {
		t.Fatal(err)
	}
	// bad returns a context whose event has the taken id.
	bad := func() context.Context {
		e := newEvent(gatehouse.EventUserUpdated, u.ID, at(time.Minute))
		e.ID = taken.ID
		return gatehouse.WithEvents(ctx, e)
	}
	feedLen := len(feed(t, st))

	wantErr(t, "SetUserName", st.SetUserName(bad(), u.ID, "after", at(time.Minute)), gatehouse.ErrConflict)
	if got := mustUser(t, st, u.ID); got.Name != "before" {
		t.Errorf("SetUserName whose event failed renamed the user to %q", got.Name)
	}

	ok, err := st.RevokeSession(bad(), s.ID, gatehouse.ReasonLogout, at(time.Minute))
	wantErr(t, "RevokeSession", err, gatehouse.ErrConflict)
	if ok || mustSession(t, st, s.ID).Revoked() {
		t.Errorf("RevokeSession whose event failed = %v, and revoked the session", ok)
	}

	disable := true
	_, _, err = st.UpdateUser(bad(), u.ID, gatehouse.UserUpdate{Disabled: &disable}, at(time.Minute))
	wantErr(t, "UpdateUser", err, gatehouse.ErrConflict)
	if got := mustUser(t, st, u.ID); got.Disabled || mustSession(t, st, s.ID).Revoked() {
		t.Errorf("UpdateUser whose event failed changed the user (%+v) or revoked its session", got)
	}

	s2 := newSession(u.ID, at(time.Hour))
	wantErr(t, "CreateSession", st.CreateSession(bad(), s2), gatehouse.ErrConflict)
	if _, err := st.Session(ctx, s2.ID); err == nil {
		t.Error("CreateSession whose event failed stored the session")
	}
	if got := mustUser(t, st, u.ID); !got.LastLoginAt.Equal(base) {
		t.Errorf("CreateSession whose event failed set LastLoginAt to %v", got.LastLoginAt)
	}

	_, err = st.DeleteUser(bad(), u.ID, at(time.Minute))
	wantErr(t, "DeleteUser", err, gatehouse.ErrConflict)
	mustUser(t, st, u.ID)

	if n := len(feed(t, st)); n != feedLen {
		t.Errorf("the feed grew from %d to %d entries by writes that failed", feedLen, n)
	}
	if got := allEvents(t, st, gatehouse.EventFilter{}); len(got) != 1 {
		t.Errorf("events = %v, want only the first", eventIDs(got))
	}
}
