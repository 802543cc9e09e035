package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
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
