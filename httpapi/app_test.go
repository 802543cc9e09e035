package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gatehouse/gatehouse/internal/apitest"
)

func TestApp(t *testing.T) {
	built := fstest.MapFS{
		"index.html":           {Data: []byte(`<!doctype html><script type="module" src="/assets/app-1a2b.js"></script>`)},
		"assets/app-1a2b.js":   {Data: []byte(`console.log("app")`)},
		"assets/app-1a2b.css":  {Data: []byte(`body{}`)},
		"robots.txt":           {Data: []byte("User-agent: *\n")},
		"assets/nested/x.json": {Data: []byte(`{}`)},
	}
	h := App(built)
	get := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	tests := []struct {
		name, method, path string
		status             int
		contentType, body  string
		cache              string
	}{
		{"root is index.html", "GET", "/", 200, "text/html", "/assets/app-1a2b.js", "no-cache"},
		{"client-side route falls back to index.html", "GET", "/dashboard", 200, "text/html", "/assets/app-1a2b.js", "no-cache"},
		{"deep route falls back", "GET", "/a/b/c", 200, "text/html", "/assets/app-1a2b.js", "no-cache"},
		{"index.html itself", "GET", "/index.html", 200, "text/html", "/assets/app-1a2b.js", "no-cache"},
		{"hashed asset is cached for good", "GET", "/assets/app-1a2b.js", 200, "javascript", `console.log("app")`, "immutable"},
		{"stylesheet", "GET", "/assets/app-1a2b.css", 200, "text/css", "body{}", "immutable"},
		{"file at the root", "GET", "/robots.txt", 200, "text/plain", "User-agent", "no-cache"},
		{"missing asset is a 404, not HTML", "GET", "/assets/gone-99.js", 404, "text/plain", "", ""},
		{"missing file with an extension is a 404", "GET", "/favicon.ico", 404, "text/plain", "", ""},
		{"a directory is not listed", "GET", "/assets/nested", 404, "text/plain", "", ""},
		{"dot-dot stays inside", "GET", "/../../etc/passwd", 200, "text/html", "/assets/app-1a2b.js", "no-cache"},
		{"HEAD works", "HEAD", "/sessions", 200, "text/html", "", "no-cache"},
		{"POST is refused", "POST", "/login", 405, "text/plain", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(tc.method, tc.path)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.Contains(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %q", ct, tc.contentType)
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("body %q lacks %q", rec.Body, tc.body)
			}
			if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, tc.cache) {
				t.Errorf("Cache-Control %q, want %q", cc, tc.cache)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); csp != AppCSP {
				t.Errorf("CSP %q", csp)
			}
		})
	}
	if rec := get("POST", "/login"); rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("405 without Allow: %v", rec.Header())
	}
}

func TestAppNotBuilt(t *testing.T) {
	// What a binary built without Node.js embeds: the placeholder only.
	h := App(fstest.MapFS{".gitkeep": {Data: nil}})
	for _, p := range []string{"/", "/login", "/dashboard"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "npm run build") {
			t.Fatalf("%s: %d %s", p, rec.Code, rec.Body)
		}
		if rec.Header().Get("Content-Security-Policy") != AppCSP {
			t.Fatalf("%s: no CSP", p)
		}
	}
}

func TestAppCSPForbidsInlineCode(t *testing.T) {
	// The SDK's token handling relies on no injected script running
	// (OWASP CSP cheat sheet): no inline or eval'd script, no inline style,
	// no framing, no plugins, no <base> hijack.
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(AppCSP, want) {
			t.Errorf("AppCSP lacks %q", want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "data: 'self'; script"} {
		if strings.Contains(AppCSP, bad) {
			t.Errorf("AppCSP allows %q", bad)
		}
	}
}

// With the demo off, only the API is served: / is a status page without
// any script, /api/posts and the app's routes are 404 problems. The same
// handler with the demo on serves them, so the test fails if NoDemo is
// ignored.
// demoRoutes are the operations a handler with NoDemo leaves out.
var demoRoutes = apitest.Unserved("GET /api/posts", "POST /api/posts", "DELETE /api/posts/{id}")

func TestDemoOff(t *testing.T) {
	app := App(fstest.MapFS{"index.html": {Data: []byte(`<!doctype html><script src="/assets/a.js"></script>`)}})
	svc := &fakeService{}
	on := NewHandler(Config{Service: svc, Issuer: testIssuer, App: app})
	off := NewHandler(Config{Service: svc, Issuer: testIssuer, App: app, NoDemo: true})

	a := do(t, off, httptest.NewRequest("GET", testIssuer+"/", nil))
	if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || !strings.Contains(a.body, "Gatehouse") {
		t.Fatalf("/ with the demo off: %d %q %s", a.status, a.header.Get("Content-Type"), a.body)
	}
	if strings.Contains(strings.ToLower(a.body), "<script") || !strings.Contains(a.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("the status page may run scripts: CSP %q, body %s", a.header.Get("Content-Security-Policy"), a.body)
	}
	if a := do(t, off, httptest.NewRequest("HEAD", testIssuer+"/", nil)); a.status != 200 {
		t.Fatalf("HEAD /: %d", a.status)
	}
	if a := do(t, off, httptest.NewRequest("POST", testIssuer+"/", nil)); a.status != 405 || a.problem.Code != "method_not_allowed" {
		t.Fatalf("POST /: %d %s", a.status, a.body)
	}
	for _, p := range []string{"/login", "/dashboard", "/assets/a.js", "/api/posts", "/api/posts/123"} {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			// The description is of the demo on: /api/posts exists there.
			a := doWith(t, off, httptest.NewRequest(m, testIssuer+p, nil), demoRoutes)
			if a.status != 404 || a.problem.Code != "not_found" {
				t.Fatalf("%s %s with the demo off: %d %s", m, p, a.status, a.body)
			}
		}
	}
	if a := do(t, off, jsonRequest("POST", "/api/auth/login", `{"email":"a@example.com","password":"pw"}`)); a.status == 404 {
		t.Fatalf("the API went with the demo: %d %s", a.status, a.body)
	}

	// The demo on: the same paths are the app's and the posts API's.
	if a := do(t, on, httptest.NewRequest("GET", testIssuer+"/login", nil)); a.status != 200 || !strings.Contains(a.body, "<script") {
		t.Fatalf("/login with the demo on: %d %s", a.status, a.body)
	}
	if a := do(t, on, httptest.NewRequest("GET", testIssuer+"/api/posts", nil)); a.status != 401 {
		t.Fatalf("/api/posts with the demo on: %d %s", a.status, a.body)
	}
}
