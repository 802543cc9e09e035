package gatehouse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

var pwAdmin = "correct horse battery staple"

// eventOnTakenID makes every UpdateUser carry one more event, whose id is
// already taken: the store fails after the change, inside its transaction.
type eventOnTakenID struct {
	gatehouse.Store
	takenID string
}

func (s *eventOnTakenID) UpdateUser(ctx context.Context, id string, upd gatehouse.UserUpdate, now time.Time) (*gatehouse.User, []string, error) {
	evs := append(gatehouse.EventsOf(ctx), gatehouse.Event{ID: s.takenID, Type: gatehouse.EventUserUpdated, At: now, UserID: id})
	return s.Store.UpdateUser(gatehouse.WithEvents(ctx, evs...), id, upd, now)
}

// TestAdminChangeAndItsEventAreOneTransaction: a failure after the change
// (its event cannot be stored) leaves neither the change nor the event.
func TestAdminChangeAndItsEventAreOneTransaction(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "g.db"))
	svc := newService(t, st, nil)
	u, err := svc.CreateUser(ctx, "victim@example.com", pwAdmin, "Vic")
	if err != nil {
		t.Fatal(err)
	}
	g, err := svc.Login(ctx, "victim@example.com", pwAdmin, gatehouse.ClientInfo{IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	events, _, err := svc.Operator().Events(ctx, gatehouse.EventFilter{UserID: u.ID}, nil, 10)
	if err != nil || len(events) < 2 {
		t.Fatalf("events of register and login: %v %v", events, err)
	}

	faulty := newService(t, &eventOnTakenID{Store: st, takenID: events[0].ID}, nil)
	disabled := true
	if _, err := faulty.Operator().UpdateUser(ctx, u.ID, gatehouse.UserUpdate{Disabled: &disabled}); err == nil {
		t.Fatal("the update succeeded although its event could not be stored")
	}
	after, err := st.UserByID(ctx, u.ID)
	if err != nil || after.Disabled {
		t.Fatalf("the change was kept without its event: %+v %v", after, err)
	}
	if _, err := svc.Refresh(ctx, g.RefreshToken); err != nil {
		t.Fatalf("the user's session was ended by a change that did not happen: %v", err)
	}
	again, _, err := svc.Operator().Events(ctx, gatehouse.EventFilter{UserID: u.ID}, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range again {
		if e.Type == gatehouse.EventUserDisabled {
			t.Fatalf("an event was kept without its change: %+v", e)
		}
	}
	// And the same change through a sound store commits both.
	if _, err := svc.Operator().UpdateUser(ctx, u.ID, gatehouse.UserUpdate{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := svc.Operator().Events(ctx, gatehouse.EventFilter{UserID: u.ID, Type: gatehouse.EventUserDisabled}, nil, 10); len(got) != 1 {
		t.Fatalf("user.disabled events: %+v", got)
	}
	if _, err := svc.Login(ctx, "victim@example.com", pwAdmin, gatehouse.ClientInfo{IP: "192.0.2.1"}); !errors.Is(err, gatehouse.ErrUserDisabled) {
		t.Fatalf("login of a disabled user: %v", err)
	}
	if _, err := svc.Refresh(ctx, g.RefreshToken); !errors.Is(err, gatehouse.ErrSessionRevoked) {
		t.Fatalf("refresh of a disabled user: %v", err)
	}
}

func TestAsAdmin(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	op := e.svc.Operator()
	if _, err := op.CreateUser(ctx, "plain@example.com", pwAdmin, "", "root"); err == nil {
		t.Fatal("a role that does not exist was accepted")
	}
	if _, err := op.CreateUser(ctx, "plain@example.com", pwAdmin, "", gatehouse.RoleUser); err != nil {
		t.Fatal(err)
	}
	plain, err := e.svc.Login(ctx, "plain@example.com", pwAdmin, e.client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AsAdmin(ctx, e.claims(plain)); !errors.Is(err, gatehouse.ErrForbidden) {
		t.Fatalf("a user as admin: %v", err)
	}
	// The user of the MFA environment becomes an admin: their aal1 session
	// may not administer, their aal2 session may.
	admin := gatehouse.RoleAdmin
	u, err := op.UserByEmail(ctx, e.email)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.UpdateUser(ctx, u.ID, gatehouse.UserUpdate{Role: &admin}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AsAdmin(ctx, e.before); !errors.Is(err, gatehouse.ErrInsufficientAuth) {
		t.Fatalf("an aal1 session of an admin with a factor: %v", err)
	}
	adm, err := e.svc.AsAdmin(ctx, e.enrolled)
	if err != nil {
		t.Fatalf("an aal2 session of an admin: %v", err)
	}
	users, next, err := adm.Users(ctx, "PLAIN@", nil, 10)
	if err != nil || len(users) != 1 || next != nil || users[0].Email != "plain@example.com" {
		t.Fatalf("search: %+v %v %v", users, next, err)
	}
	for _, bad := range []gatehouse.UserUpdate{{}, {Role: ptr("root")}, {Email: ptr("not an email")}, {Name: ptr(strings.Repeat("n", 101))}} {
		var verr *gatehouse.ValidationError
		if _, err := adm.UpdateUser(ctx, users[0].ID, bad); !errors.As(err, &verr) {
			t.Errorf("update %+v: %v, want a validation error", bad, err)
		}
	}
	if _, err := adm.User(ctx, "not an id"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("user of a malformed id: %v", err)
	}
	// Demoted by another admin, the same session loses the capability at
	// once on this instance (other instances: within a poll of the feed).
	second, err := op.CreateUser(ctx, "second-admin@example.com", pwAdmin, "", gatehouse.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := e.svc.Login(ctx, "second-admin@example.com", pwAdmin, e.client)
	if err != nil {
		t.Fatal(err)
	}
	adm2, err := e.svc.AsAdmin(ctx, e.claims(g2))
	if err != nil {
		t.Fatal(err)
	}
	user := gatehouse.RoleUser
	e.advance(time.Second) // events at one instant list in id order
	if _, err := adm2.UpdateUser(ctx, u.ID, gatehouse.UserUpdate{Role: &user}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AsAdmin(ctx, e.enrolled); !errors.Is(err, gatehouse.ErrForbidden) {
		t.Fatalf("a demoted admin: %v", err)
	}
	evs, _, err := op.Events(ctx, gatehouse.EventFilter{UserID: u.ID, Type: gatehouse.EventUserUpdated}, nil, 10)
	if err != nil || len(evs) != 2 || evs[0].ActorID != second.ID || evs[0].Detail["role"] != "user" || evs[1].ActorID != "" {
		t.Fatalf("role change events (newest first: by the second admin, then by the operator): %+v %v", evs, err)
	}
	// The last admin cannot step down.
	if _, err := adm2.UpdateUser(ctx, second.ID, gatehouse.UserUpdate{Role: &user}); !errors.Is(err, gatehouse.ErrLastAdmin) {
		t.Fatalf("the last admin stepped down: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestAuditEventsAreLogged: each event is also a structured log line for
// operators to ship, with nothing secret in it.
func TestAuditEventsAreLogged(t *testing.T) {
	var buf bytes.Buffer
	ctx := context.Background()
	svc := newService(t, openStore(t, filepath.Join(t.TempDir(), "g.db")), nil, func(c *gatehouse.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	})
	if _, err := svc.CreateUser(ctx, "logged@example.com", pwAdmin, ""); err != nil {
		t.Fatal(err)
	}
	client := gatehouse.ClientInfo{IP: "198.51.100.4", UserAgent: "test-agent/1"}
	if _, err := svc.Login(gatehouse.WithClientInfo(ctx, client), "logged@example.com", "the wrong one", client); !errors.Is(err, gatehouse.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	g, err := svc.Login(gatehouse.WithClientInfo(ctx, client), "logged@example.com", pwAdmin, client)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "audit" {
			seen[m["event"].(string)] = m
		}
	}
	ok := seen[gatehouse.EventLoginSucceeded]
	if ok == nil || ok["ip"] != client.IP || ok["user_agent"] != client.UserAgent || ok["session_id"] != g.Session.ID {
		t.Fatalf("login.succeeded line: %v (all: %v)", ok, seen)
	}
	if seen[gatehouse.EventLoginFailed] == nil || seen[gatehouse.EventUserRegistered] == nil {
		t.Fatalf("audit lines: %v", seen)
	}
	for _, secret := range []string{pwAdmin, "the wrong one", g.AccessToken, g.RefreshToken} {
		if strings.Contains(buf.String(), secret) {
			t.Fatalf("the log holds a secret (%.8s…)", secret)
		}
	}
}
