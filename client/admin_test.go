package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/apitest"
	"github.com/gatehouse/gatehouse/internal/ghtest"
)

// adminSession creates an administrator as the command line does and logs
// them in.
func adminSession(t *testing.T, g *ghtest.Gatehouse) (*client.Session, string) {
	t.Helper()
	ctx := context.Background()
	email := ghtest.Email(t)
	u, err := g.Server.Service().Operator().CreateUser(ctx, email, ghtest.Password, "Admin", gatehouse.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	// Marking lets a test say a request is out of the OpenAPI description on purpose.
	s, err := client.New(client.Config{URL: g.URL, HTTPClient: &http.Client{Transport: apitest.Marking(nil)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Login(ctx, email, ghtest.Password); err != nil {
		t.Fatal(err)
	}
	return s, u.ID
}

// The operators' API through the Go client against a real server: every
// admin route, with the errors mapped back to the root package's
// sentinels.
func TestClientAdmin(t *testing.T) {
	ctx := context.Background()
	g := ghtest.Start(t, nil)
	admin, adminID := adminSession(t, g)
	user, email := newSession(t, g, nil)

	// Role rides on the User of every answer.
	me, err := user.UpdateProfile(ctx, "Plain User")
	if err != nil || me.Role != "user" {
		t.Fatalf("the user's own profile: %+v %v", me, err)
	}
	// Not an admin: forbidden, on every admin method.
	if _, err := user.ListUsers(ctx, "", "", 0); !errors.Is(err, gatehouse.ErrForbidden) {
		t.Fatalf("a user lists users: %v", err)
	}
	if _, err := user.Events(ctx, client.EventFilter{}, "", 0); !errors.Is(err, gatehouse.ErrForbidden) {
		t.Fatalf("a user reads the audit log: %v", err)
	}

	page, err := admin.ListUsers(ctx, email, "", 0)
	if err != nil || len(page.Items) != 1 || page.NextCursor != "" {
		t.Fatalf("search by email: %+v %v", page, err)
	}
	u := page.Items[0]
	if u.Email != email || u.Role != "user" || u.Disabled || u.Sessions != 1 || u.LastLoginAt.IsZero() || u.MFA.TOTP || u.MFA.Passkeys != 0 {
		t.Fatalf("the user as an admin sees them: %+v", u)
	}
	// Paging: one at a time, newest first, no user twice.
	first, err := admin.ListUsers(ctx, "", "", 1)
	if err != nil || len(first.Items) != 1 || first.NextCursor == "" || first.Items[0].ID != u.ID {
		t.Fatalf("first page: %+v %v", first, err)
	}
	second, err := admin.ListUsers(ctx, "", first.NextCursor, 1)
	if err != nil || len(second.Items) != 1 || second.Items[0].ID != adminID || second.NextCursor != "" {
		t.Fatalf("second page: %+v %v", second, err)
	}
	if got, err := admin.User(ctx, u.ID); err != nil || got.Email != email {
		t.Fatalf("User: %+v %v", got, err)
	}
	if _, err := admin.User(ctx, "0190a7a4-0000-7000-8000-000000000000"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("an unknown user: %v", err)
	}

	// Edits; the last admin cannot leave.
	name := "Renamed"
	got, err := admin.UpdateUser(ctx, u.ID, client.AdminUserUpdate{Name: &name})
	if err != nil || got.Name != name || got.Email != email {
		t.Fatalf("rename: %+v %v", got, err)
	}
	role := "user"
	if _, err := admin.UpdateUser(ctx, adminID, client.AdminUserUpdate{Role: &role}); !errors.Is(err, gatehouse.ErrLastAdmin) {
		t.Fatalf("the last admin demoted themselves: %v", err)
	}
	bad := "root"
	if _, err := admin.UpdateUser(apitest.WithMalformed(ctx, "no such role"), u.ID, client.AdminUserUpdate{Role: &bad}); !errors.Is(err, gatehouse.ErrInvalidInput) {
		t.Fatalf("an unknown role: %v", err)
	}

	sessions, err := admin.UserSessions(ctx, u.ID)
	if err != nil || len(sessions) != 1 || sessions[0].ID == "" || sessions[0].Current {
		t.Fatalf("the user's sessions: %+v %v", sessions, err)
	}
	if err := admin.LogoutUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if sessions, err := admin.UserSessions(ctx, u.ID); err != nil || len(sessions) != 0 {
		t.Fatalf("sessions after logout: %+v %v", sessions, err)
	}
	if err := admin.ResetUserFactors(ctx, u.ID); err != nil {
		t.Fatalf("reset factors: %v", err)
	}

	// A wrong password, then disabling: the audit log has both, the user
	// logs in no more.
	other, err := client.New(client.Config{URL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Login(ctx, email, "wrong "+ghtest.Password); !errors.Is(err, gatehouse.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	yes := true
	if got, err := admin.UpdateUser(ctx, u.ID, client.AdminUserUpdate{Disabled: &yes}); err != nil || !got.Disabled {
		t.Fatalf("disable: %+v %v", got, err)
	}
	if err := other.Login(ctx, email, ghtest.Password); !errors.Is(err, gatehouse.ErrUserDisabled) {
		t.Fatalf("a disabled user logs in: %v", err)
	}
	evs, err := admin.Events(ctx, client.EventFilter{UserID: u.ID, Type: gatehouse.EventLoginFailed}, "", 0)
	if err != nil || len(evs.Items) != 2 {
		t.Fatalf("failed logins: %+v %v", evs, err)
	}
	if e := evs.Items[1]; e.Detail["reason"] != "wrong_password" || e.IP == "" || e.UserID != u.ID || e.At.IsZero() {
		t.Fatalf("the wrong password's event: %+v", e)
	}
	if e := evs.Items[0]; e.Detail["reason"] != "user_disabled" {
		t.Fatalf("the disabled login's event, newest first: %+v", e)
	}
	all, err := admin.Events(ctx, client.EventFilter{UserID: u.ID}, "", 2)
	if err != nil || len(all.Items) != 2 || all.NextCursor == "" {
		t.Fatalf("a page of 2: %+v %v", all, err)
	}
	more, err := admin.Events(ctx, client.EventFilter{UserID: u.ID}, all.NextCursor, 100)
	if err != nil || len(more.Items) == 0 || more.Items[0].ID == all.Items[1].ID || more.Items[0].At.After(all.Items[1].At) {
		t.Fatalf("the next page: %+v %v", more, err)
	}
	var disabled *client.Event
	for _, e := range append(all.Items, more.Items...) {
		if e.Type == gatehouse.EventUserDisabled {
			disabled = &e
		}
	}
	if disabled == nil || disabled.ActorID != adminID {
		t.Fatalf("the disabling is not recorded as the admin's: %+v", disabled)
	}
	if _, err := admin.Events(ctx, client.EventFilter{Type: "no.such"}, "", 0); !errors.Is(err, gatehouse.ErrInvalidInput) {
		t.Fatalf("an unknown event type: %v", err)
	}

	// The admin's own events.
	mine, err := admin.MyEvents(ctx, "", 0)
	if err != nil || len(mine.Items) == 0 || mine.Items[0].UserID != adminID {
		t.Fatalf("MyEvents: %+v %v", mine, err)
	}
	for _, e := range mine.Items {
		if e.UserID != adminID {
			t.Fatalf("MyEvents lists another user's event: %+v", e)
		}
	}

	if err := admin.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.User(ctx, u.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("a deleted user: %v", err)
	}
	if err := admin.DeleteUser(ctx, u.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("deleted twice: %v", err)
	}
}

// Disabling a user refuses their session at once: the client's next call
// fails and a refresh ends the session (ErrLoggedOut).
func TestClientDisabledUserIsLoggedOut(t *testing.T) {
	ctx := context.Background()
	g := ghtest.Start(t, nil)
	admin, _ := adminSession(t, g)
	user, email := newSession(t, g, nil)
	page, err := admin.ListUsers(ctx, email, "", 0)
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("%+v %v", page, err)
	}
	yes := true
	if _, err := admin.UpdateUser(ctx, page.Items[0].ID, client.AdminUserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		_, err := user.MyEvents(ctx, "", 0)
		if errors.Is(err, gatehouse.ErrSessionRevoked) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the disabled user's token is still accepted after 1s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := user.Refresh(ctx, ""); !errors.Is(err, client.ErrLoggedOut) {
		t.Fatalf("refresh of a disabled user: %v", err)
	}
}
