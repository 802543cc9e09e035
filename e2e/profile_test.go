package e2e

import (
	"strings"
	"testing"
	"time"
)

func TestUpdateProfile(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	_, tok := c.newUser("profile")
	bearer := []string{"Authorization", "Bearer " + tok.Access}
	if r := c.get("/api/users/me", tok.Access); r.str(t, "name") != "Test User" { // cached now
		t.Fatalf("/me: %s", r)
	}
	r := c.do("PATCH", "/api/users/me", map[string]string{"name": "  Ada Lovelace "}, bearer...)
	if r.Status != 200 || r.str(t, "name") != "Ada Lovelace" {
		t.Fatalf("PATCH /api/users/me: %s", r)
	}
	if r := c.get("/api/users/me", tok.Access); r.str(t, "name") != "Ada Lovelace" {
		t.Fatalf("/me after the change (the cache must have dropped the old copy): %s", r)
	}
	c.do("PATCH", "/api/users/me", map[string]string{"name": strings.Repeat("n", 101)}, bearer...).wantProblem(t, 422, "validation_failed")
	c.do("PATCH", "/api/users/me", map[string]string{"name": "bell\a"}, bearer...).wantProblem(t, 422, "validation_failed")
	c.do("PATCH", "/api/users/me", map[string]string{"name": "x"}).wantProblem(t, 401, "token_missing")
	r = c.do("DELETE", "/api/users/me", nil, bearer...)
	r.wantProblem(t, 405, "method_not_allowed")
	if allow := r.Header.Get("Allow"); allow != "GET, PATCH" {
		t.Fatalf("Allow %q", allow)
	}
}

// A change made on one instance reaches the other's user cache through
// the feed.
func TestProfileChangeReachesOtherInstances(t *testing.T) {
	t.Parallel()
	a, b := startPair(t)
	ca, cb := newClient(t, a), newClient(t, b)
	_, tok := ca.newUser("profile-ab")
	if r := cb.get("/api/users/me", tok.Access); r.str(t, "name") != "Test User" { // cached on B
		t.Fatalf("/me on B: %s", r)
	}
	if r := ca.do("PATCH", "/api/users/me", map[string]string{"name": "Renamed"}, "Authorization", "Bearer "+tok.Access); r.Status != 200 {
		t.Fatalf("PATCH on A: %s", r)
	}
	eventually(t, time.Second, func() string {
		if r := cb.get("/api/users/me", tok.Access); r.str(t, "name") != "Renamed" {
			return "B still answers " + r.String()
		}
		return ""
	})
}
