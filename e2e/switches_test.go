package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apitest"
)

// --signup=false: nobody registers over HTTP, the administrator's "user
// create" still makes accounts, and they log in as usual.
func TestSignupDisabled(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--signup=false")
	c := newClient(t, g)
	email := uniqueEmail("nosignup")
	r := c.do("POST", "/api/auth/register", map[string]string{"email": email, "password": testPassword, "name": "Walk In"})
	r.wantProblem(t, 403, "signup_disabled")
	c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}).wantProblem(t, 401, "invalid_credentials")

	out, err := runCLI(t, map[string]string{"GATEHOUSE_DB": g.DB}, testPassword+"\n", "user", "create", "--email", email, "--name", "Made By Admin", "--password-stdin")
	if err != nil {
		t.Fatalf("user create with sign-up off: %v %q", err, out)
	}
	tok := c.login(email, testPassword)
	if me := c.get("/api/users/me", tok.Access); me.Status != 200 || me.str(t, "email") != email {
		t.Fatalf("me: %s", me)
	}
	// Refusing is not counted as a registration: the refusal stays the
	// same however often it is asked.
	for range 3 {
		c.do("POST", "/api/auth/register", map[string]string{"email": uniqueEmail("again"), "password": testPassword}).wantProblem(t, 403, "signup_disabled")
	}
}

// Sign-up is on unless turned off (today's behaviour, and the library's
// default): the same request is a 201 on a server started without the flag.
func TestSignupOnByDefault(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	newClient(t, g).register(uniqueEmail("signup"))
}

// --demo=false: no demo app, no posts API; / is a plain status page, every
// other path outside the API a 404 problem, and the auth API works.
func TestDemoDisabled(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--demo=false")
	// The description is of the demo on; here the posts API is absent.
	c := &client{t: t, base: g.URL, hc: checkedHTTP(t, 30*time.Second,
		apitest.Unserved("GET /api/posts", "POST /api/posts", "DELETE /api/posts/{id}"))}
	_, tok := c.newUser("nodemo")

	for _, path := range []string{"/api/posts", "/api/posts/some-id"} {
		c.get(path, tok.Access).wantProblem(t, 404, "not_found")
	}
	c.do("POST", "/api/posts", map[string]string{"title": "t", "body": "b"}, "Authorization", "Bearer "+tok.Access).wantProblem(t, 404, "not_found")
	for _, path := range []string{"/login", "/dashboard", "/assets/index.js", "/index.html"} {
		c.get(path, "").wantProblem(t, 404, "not_found")
	}

	root := c.get("/", "")
	if root.Status != 200 || !strings.HasPrefix(root.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/: %s (%s)", root, root.Header.Get("Content-Type"))
	}
	body := strings.ToLower(string(root.Body))
	if !strings.Contains(body, "gatehouse") || strings.Contains(body, "<script") || strings.Contains(body, "<style") {
		t.Fatalf("/ is not a plain status page: %s", root.Body)
	}
	if csp := root.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("/ CSP %q, want one that allows nothing", csp)
	}
	if me := c.get("/api/users/me", tok.Access); me.Status != 200 {
		t.Fatalf("the API went with the demo: %s", me)
	}
}

// The demo is on unless turned off: the posts API and the app's routes.
func TestDemoOnByDefault(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	_, tok := c.newUser("demo")
	if r := c.get("/api/posts", tok.Access); r.Status != 200 {
		t.Fatalf("/api/posts: %s", r)
	}
	if r := c.get("/login", ""); r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/login: %s", r)
	}
}
