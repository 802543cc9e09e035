package e2e

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The operators' API (CONTRACT §9) through the real server.

// newAdmin creates an administrator with the CLI, on g's database, and
// logs them in.
func newAdmin(t *testing.T, g *instance, prefix string) (string, tokens) {
	t.Helper()
	email := uniqueEmail(prefix)
	if out, err := runCLI(t, nil, testPassword+"\n", "user", "create", "--db", g.DB, "--email", email, "--password-stdin", "--admin"); err != nil {
		t.Fatalf("user create --admin: %v\n%s", err, out)
	}
	return email, newClient(t, g).login(email, testPassword)
}

// adminPath fills a route pattern's {id} with id.
func adminPath(pattern, id string) string {
	return strings.ReplaceAll(pattern, "{id}", id)
}

func bearer(access string) []string { return []string{"Authorization", "Bearer " + access} }

// TestEveryAdminRouteRefusesNonAdmins walks the route table, not a hand
// list: a route added later is covered the day it is added.
func TestEveryAdminRouteRefusesNonAdmins(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	_, admin := newAdmin(t, g, "walk-admin")
	_, user := c.newUser("walk-user")
	n := 0
	for _, r := range httpapi.Routes() {
		if r.Auth != "admin" {
			if strings.HasPrefix(r.Pattern, "/api/admin/") {
				t.Errorf("%s %s is under /api/admin/ but not an admin route", r.Method, r.Pattern)
			}
			continue
		}
		n++
		path := adminPath(r.Pattern, user.UserID)
		var body any
		if r.Method == "PATCH" {
			body = map[string]string{"name": "Renamed"}
		}
		c.do(r.Method, path, body).wantProblem(t, 401, "token_missing")
		c.do(r.Method, path, body, bearer(user.Access)...).wantProblem(t, 403, "forbidden")
		if r.Method == "GET" {
			if resp := c.do(r.Method, path, nil, bearer(admin.Access)...); resp.Status != 200 {
				t.Errorf("admin %s %s: %s", r.Method, path, resp)
			}
		}
	}
	if n < 8 {
		t.Fatalf("only %d admin routes in the table", n)
	}
}

func TestAdminFindsEditsAndDeletesUsers(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	_, admin := newAdmin(t, g, "edit-admin")
	as := bearer(admin.Access)
	email, user := c.newUser("Edit-Target")

	// Search by a part of the email, in another case.
	part := strings.ToUpper(strings.Split(email, "@")[0][:12])
	r := c.do("GET", "/api/admin/users?q="+url.QueryEscape(part), nil, as...)
	var page struct {
		Items []struct {
			ID, Email, Role string
			Sessions        int
			Disabled        bool
		}
		NextCursor *string `json:"next_cursor"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &page) != nil || len(page.Items) != 1 || page.Items[0].ID != user.UserID {
		t.Fatalf("search %q: %s", part, r)
	}
	if it := page.Items[0]; it.Role != "user" || it.Sessions != 1 || it.Disabled {
		t.Fatalf("listed %+v", it)
	}

	// Paging: three users per page, no duplicates, ends with null.
	for range 4 {
		c.newUser("edit-page")
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		r := c.do("GET", "/api/admin/users?limit=3&q=edit-page&cursor="+url.QueryEscape(cursor), nil, as...)
		page.Items, page.NextCursor = nil, nil
		if r.Status != 200 || json.Unmarshal(r.Body, &page) != nil {
			t.Fatalf("page: %s", r)
		}
		for _, it := range page.Items {
			if seen[it.ID] {
				t.Fatalf("user %s listed twice", it.ID)
			}
			seen[it.ID] = true
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if len(seen) != 4 {
		t.Fatalf("paged through %d users, want 4", len(seen))
	}
	c.do("GET", "/api/admin/users?cursor=bogus", nil, as...).wantProblem(t, 422, "validation_failed")

	path := "/api/admin/users/" + user.UserID
	r = c.do("PATCH", path, map[string]any{"name": "Edited Name", "email_verified": true}, as...)
	if r.Status != 200 || r.str(t, "name") != "Edited Name" || r.obj(t)["email_verified"] != true {
		t.Fatalf("patch: %s", r)
	}
	if me := c.get("/api/users/me", user.Access); me.str(t, "name") != "Edited Name" {
		t.Fatalf("the user does not see the new name: %s", me)
	}
	c.do("PATCH", path, map[string]any{"role": "root"}, malformed("no such role", as...)...).wantProblem(t, 422, "validation_failed")
	c.do("PATCH", path, map[string]any{"disabled": "yes"}, malformed("not a boolean", as...)...).wantProblem(t, 422, "validation_failed")
	c.do("PATCH", path, map[string]any{"email": strings.ToLower(admin.UserID) + "x"}, as...).wantProblem(t, 422, "validation_failed")
	c.do("GET", "/api/admin/users/usr_unknown0000000000000000", nil, as...).wantProblem(t, 404, "not_found")

	if r := c.do("DELETE", path, nil, as...); r.Status != 204 {
		t.Fatalf("delete: %s", r)
	}
	eventually(t, time.Second, func() string {
		if r := c.get("/api/users/me", user.Access); r.Status != 401 {
			return "a deleted user's token is accepted: " + r.String()
		}
		return ""
	})
	c.refresh(user.Refresh).wantProblem(t, 401, "refresh_token_invalid")
	c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}).wantProblem(t, 401, "invalid_credentials")
	c.do("GET", path, nil, as...).wantProblem(t, 404, "not_found")
}

// TestDisableReachesEveryInstance: disabling on A refuses the user's token
// on B within a second (the revocation feed), and the user can neither
// log in nor refresh until enabled again.
func TestDisableReachesEveryInstance(t *testing.T) {
	t.Parallel()
	a, b := startPair(t)
	ca, cb := newClient(t, a), newClient(t, b)
	_, admin := newAdmin(t, a, "disable-admin")
	email, user := cb.newUser("disable-user")
	if r := cb.get("/api/users/me", user.Access); r.Status != 200 { // cached live on B
		t.Fatalf("%s", r)
	}
	path := "/api/admin/users/" + user.UserID
	if r := ca.do("PATCH", path, map[string]any{"disabled": true}, bearer(admin.Access)...); r.Status != 200 || r.obj(t)["disabled"] != true || r.obj(t)["sessions"] != 0.0 {
		t.Fatalf("disable: %s", r)
	}
	t.Logf("B refused the disabled user's token %v after the change on A", revokedWithin(t, cb, user.Access))
	cb.refresh(user.Refresh).wantProblem(t, 401, "session_revoked")
	cb.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}).wantProblem(t, 403, "user_disabled")
	// A wrong password still says only that: nothing to learn for a guesser.
	cb.do("POST", "/api/auth/login", map[string]string{"email": email, "password": "not the password"}).wantProblem(t, 401, "invalid_credentials")
	if r := ca.do("POST", "/api/auth/token", "grant_type=password&username="+url.QueryEscape(email)+"&password="+url.QueryEscape(testPassword),
		"Content-Type", "application/x-www-form-urlencoded"); r.Status != 400 || r.str(t, "error") != "invalid_grant" || r.str(t, "code") != "user_disabled" {
		t.Fatalf("password grant of a disabled user: %s", r)
	}
	if r := ca.do("PATCH", path, map[string]any{"disabled": false}, bearer(admin.Access)...); r.Status != 200 {
		t.Fatalf("enable: %s", r)
	}
	cb.login(email, testPassword)
}

func TestLastAdminGuard(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	_, first := newAdmin(t, g, "last-admin")
	self := "/api/admin/users/" + first.UserID
	c.do("PATCH", self, map[string]any{"role": "user"}, bearer(first.Access)...).wantProblem(t, 409, "last_admin")
	c.do("PATCH", self, map[string]any{"disabled": true}, bearer(first.Access)...).wantProblem(t, 409, "last_admin")
	c.do("DELETE", self, nil, bearer(first.Access)...).wantProblem(t, 409, "last_admin")

	_, second := newAdmin(t, g, "second-admin")
	if r := c.do("PATCH", self, map[string]any{"role": "user"}, bearer(second.Access)...); r.Status != 200 || r.str(t, "role") != "user" {
		t.Fatalf("demote the first admin: %s", r)
	}
	// The demotion takes effect on the next request, token unchanged.
	c.get("/api/admin/users", first.Access).wantProblem(t, 403, "forbidden")
	c.do("PATCH", "/api/admin/users/"+second.UserID, map[string]any{"role": "user"}, bearer(second.Access)...).wantProblem(t, 409, "last_admin")
}

// TestAdminWithFactorNeedsAAL2: an administrator who has a second factor
// administers only from a session that used it.
func TestAdminWithFactorNeedsAAL2(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	email, admin := newAdmin(t, g, "aal2-admin")
	_, _, aal2 := enrolTOTP(t, c, admin.Access)
	if r := c.get("/api/admin/users", aal2); r.Status != 200 {
		t.Fatalf("aal2 admin: %s", r)
	}
	// A new login stops at the challenge; an old aal1 session is refused.
	c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}).wantProblem(t, 401, "mfa_required")
	r := c.get("/api/admin/users", admin.Access)
	if r.Status == 200 {
		// admin.Access is the session enrolment raised to aal2 in place;
		// its old token still says aal1.
		t.Fatalf("an aal1 token of an admin with a factor was accepted: %s", r)
	}
	r.wantProblem(t, 403, "insufficient_user_authentication")
}

// event is an audit event as the API lists it.
type event struct {
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	At        time.Time         `json:"at"`
	UserID    *string           `json:"user_id"`
	SessionID *string           `json:"session_id"`
	ActorID   *string           `json:"actor_id"`
	IP        string            `json:"ip"`
	UserAgent string            `json:"user_agent"`
	Detail    map[string]string `json:"detail"`
}

// allEvents pages through path (an events listing) and returns the events
// and their raw JSON text.
func allEvents(t *testing.T, c *client, path, access string) ([]event, string) {
	t.Helper()
	var out []event
	var raw strings.Builder
	cursor := ""
	for pages := 0; pages < 100; pages++ {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		r := c.get(path+sep+"limit=50&cursor="+url.QueryEscape(cursor), access)
		var page struct {
			Items      []event `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if r.Status != 200 || json.Unmarshal(r.Body, &page) != nil {
			t.Fatalf("%s: %s", path, r)
		}
		raw.Write(r.Body)
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out, raw.String()
		}
		cursor = *page.NextCursor
	}
	t.Fatal("events paging does not end")
	return nil, ""
}

// TestAuditLogRecordsTheLifecycleAndNoSecret drives a user through the
// lifecycle, then reads every event the server wrote and looks in them for
// every secret the test used: passwords, tokens, codes, the TOTP secret.
func TestAuditLogRecordsTheLifecycleAndNoSecret(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--reuse-grace", "0s")
	c := newClient(t, g)
	_, admin := newAdmin(t, g, "audit-admin")
	email, tok := c.newUser("audit-user")
	secrets := []string{testPassword, tok.Access, tok.Refresh, admin.Access, admin.Refresh}

	wrong := "a wrong password 12345"
	secrets = append(secrets, wrong)
	c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": wrong}).wantProblem(t, 401, "invalid_credentials")
	unknown := uniqueEmail("audit-nobody")
	c.do("POST", "/api/auth/login", map[string]string{"email": unknown, "password": wrong}).wantProblem(t, 401, "invalid_credentials")
	next := c.mustRefresh(tok.Refresh)
	secrets = append(secrets, next.Access, next.Refresh)
	c.refresh(tok.Refresh).wantProblem(t, 401, "refresh_token_reused")

	s2 := c.login(email, testPassword)
	secrets = append(secrets, s2.Access, s2.Refresh)
	totpSecret, codes, aal2 := enrolTOTP(t, c, s2.Access)
	secrets = append(secrets, totpSecret, aal2)
	secrets = append(secrets, codes...)
	newPassword := "another correct horse staple"
	secrets = append(secrets, newPassword)
	if r := c.do("POST", "/api/auth/password", map[string]string{"current_password": testPassword, "new_password": newPassword}, bearer(aal2)...); r.Status != 204 {
		t.Fatalf("password: %s", r)
	}
	r := c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": newPassword})
	r.wantProblem(t, 401, "mfa_required")
	mfaToken := r.str(t, "mfa_token")
	secrets = append(secrets, mfaToken)
	c.do("POST", "/api/auth/mfa/verify", map[string]string{"mfa_token": mfaToken, "recovery_code": "aaaabbbbccccdddd"}).wantProblem(t, 401, "mfa_code_invalid")
	r = c.do("POST", "/api/auth/mfa/verify", map[string]string{"mfa_token": mfaToken, "recovery_code": codes[0]})
	if r.Status != 200 {
		t.Fatalf("recovery code: %s", r)
	}
	secrets = append(secrets, r.str(t, "access_token"), r.str(t, "refresh_token"))
	// The user's own listing holds theirs only.
	mine, _ := allEvents(t, c, "/api/auth/events", r.str(t, "access_token"))
	for _, e := range mine {
		if e.UserID == nil || *e.UserID != tok.UserID {
			t.Fatalf("/api/auth/events lists another account's event: %+v", e)
		}
	}
	if len(mine) < 8 {
		t.Fatalf("the user sees %d of their events", len(mine))
	}
	if r := c.do("POST", "/api/auth/logout-all", nil, bearer(aal2)...); r.Status != 204 {
		t.Fatalf("logout-all: %s", r)
	}

	events, raw := allEvents(t, c, "/api/admin/events", admin.Access)
	for _, s := range secrets {
		if s != "" && strings.Contains(raw, s) {
			t.Errorf("an event holds a secret the test used (%.12s…)", s)
		}
	}
	logs := g.logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the server's log holds a secret the test used (%.12s…)", s)
		}
	}
	if !strings.Contains(logs, "msg=audit") && !strings.Contains(logs, `"msg":"audit"`) {
		t.Errorf("no audit line in the server's log")
	}
	types := map[string]int{}
	for _, e := range events {
		types[e.Type]++
		if (e.IP == "" && e.UserAgent != gatehouse.CommandLineAgent) || e.At.IsZero() || e.ID == "" {
			t.Errorf("event without ip, time or id: %+v", e)
		}
	}
	for _, want := range []string{"user.registered", "login.succeeded", "login.failed", "refresh.reused", "session.revoked",
		"password.changed", "mfa.enrolled", "mfa.failed", "recovery_code.used"} {
		if types[want] == 0 {
			t.Errorf("no %s event; saw %v", want, types)
		}
	}
	var unknownSeen bool
	for _, e := range events {
		if e.Type == "login.failed" && e.UserID == nil {
			unknownSeen = e.Detail["email"] != "" && e.Detail["reason"] == "unknown_email"
		}
	}
	if !unknownSeen {
		t.Errorf("the failed login of an unknown email is not recorded with its address and no user")
	}
	failed, _ := allEvents(t, c, "/api/admin/events?type=login.failed&user_id="+tok.UserID, admin.Access)
	if len(failed) != 1 || failed[0].Detail["reason"] != "wrong_password" {
		t.Fatalf("filtered events: %+v", failed)
	}
	c.get("/api/admin/events?type=no.such", admin.Access).wantProblem(t, 422, "validation_failed")
}

// TestNoWayBackIntoADisabledAccountByEmail: a reset link sent before the
// account was disabled is refused after, no new one is sent, and a reset
// of an enabled account is in the audit log under its user.
func TestNoWayBackIntoADisabledAccountByEmail(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	g := startGatehouse(t, mailArgs(mail)...)
	c := newClient(t, g)
	_, admin := newAdmin(t, g, "mail-admin")
	email, user := c.newUser("mail-disabled")
	if r := c.do("POST", "/api/auth/password/forgot", map[string]string{"email": email}); r.Status != 202 {
		t.Fatalf("forgot: %s", r)
	}
	_, token := linkToken(t, mail, email, "Reset your password")
	if r := c.do("PATCH", "/api/admin/users/"+user.UserID, map[string]any{"disabled": true}, bearer(admin.Access)...); r.Status != 200 {
		t.Fatalf("disable: %s", r)
	}
	c.do("POST", "/api/auth/password/reset", map[string]string{"token": token, "new_password": "a brand new passphrase 42"}).wantProblem(t, 403, "user_disabled")

	if r := c.do("PATCH", "/api/admin/users/"+user.UserID, map[string]any{"disabled": false}, bearer(admin.Access)...); r.Status != 200 {
		t.Fatalf("enable: %s", r)
	}
	mail.Clear()
	c.do("POST", "/api/auth/password/forgot", map[string]string{"email": email})
	_, token = linkToken(t, mail, email, "Reset your password")
	if r := c.do("POST", "/api/auth/password/reset", map[string]string{"token": token, "new_password": "a brand new passphrase 42"}); r.Status != 204 {
		t.Fatalf("reset: %s", r)
	}
	resets, _ := allEvents(t, c, "/api/admin/events?type=password.reset&user_id="+user.UserID, admin.Access)
	asked, _ := allEvents(t, c, "/api/admin/events?type=password.reset_requested&user_id="+user.UserID, admin.Access)
	if len(resets) != 1 || len(asked) != 2 {
		t.Fatalf("password.reset %d (want 1), password.reset_requested %d (want 2)", len(resets), len(asked))
	}
}
