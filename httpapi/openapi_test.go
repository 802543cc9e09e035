package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// The description covers every route of the table, and nothing else: a
// route added without its description (or removed with it left behind)
// fails here.
func TestOpenAPICoversRoutes(t *testing.T) {
	var routes []string
	for _, r := range Routes() {
		routes = append(routes, r.Method+" "+r.Pattern)
	}
	slices.Sort(routes)
	described := apiSpec.Operations()
	for _, r := range routes {
		if !slices.Contains(described, r) {
			t.Errorf("route %s is not in httpapi/openapi.json", r)
		}
	}
	for _, d := range described {
		if !slices.Contains(routes, d) {
			t.Errorf("httpapi/openapi.json describes %s, which is no route", d)
		}
	}
}

// Every admin operation says it needs a bearer token and lists forbidden.
func TestOpenAPIAdminOperations(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Security  []map[string][]string `json:"security"`
			Responses map[string]any        `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range Routes() {
		if r.Auth == "" {
			continue
		}
		op := doc.Paths[r.Pattern][strings.ToLower(r.Method)]
		if len(op.Security) != 1 || op.Security[0]["bearerAuth"] == nil {
			t.Errorf("%s %s needs a bearer token, the description says %v", r.Method, r.Pattern, op.Security)
		}
		if op.Responses["401"] == nil || (r.Auth == "admin" && op.Responses["403"] == nil) {
			t.Errorf("%s %s: the refusals of its auth are not described", r.Method, r.Pattern)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	h := newTestHandler(&fakeService{})
	a := do(t, h, httptest.NewRequest("GET", testIssuer+"/api/openapi.json", nil))
	if a.status != 200 || !bytes.Equal([]byte(a.body), OpenAPI) || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %s", a.status, a.header.Get("Content-Type"))
	}
	var v struct{ OpenAPI string }
	if err := json.Unmarshal(OpenAPI, &v); err != nil || !strings.HasPrefix(v.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, %v", v.OpenAPI, err)
	}
	d := do(t, h, httptest.NewRequest("GET", testIssuer+"/api/docs", nil))
	if d.status != 200 || !strings.HasPrefix(d.header.Get("Content-Type"), "text/html") || !strings.Contains(d.body, "/api/openapi.json") {
		t.Fatalf("docs: %d %s %.200s", d.status, d.header.Get("Content-Type"), d.body)
	}
}

// The docs page's CSP allows its own inline script by hash and nothing
// from another origin.
func TestDocsPageCSP(t *testing.T) {
	script := `fetch("/api/openapi.json")`
	page := newDocsPage(fstest.MapFS{"docs.html": {Data: []byte(
		`<!doctype html><title>API</title><script type="module">` + script + `</script><div id="docs"></div>`)}})
	w := httptest.NewRecorder()
	page.ServeHTTP(w, httptest.NewRequest("GET", "/api/docs", nil))
	csp := w.Header().Get("Content-Security-Policy")
	// sha256 of the script, base64: computed by the page from its own text.
	if !strings.Contains(csp, "script-src 'sha256-") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Fatalf("CSP %q", csp)
	}
	if !strings.Contains(csp, "connect-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	bare := newDocsPage(fstest.MapFS{})
	w = httptest.NewRecorder()
	bare.ServeHTTP(w, httptest.NewRequest("GET", "/api/docs", nil))
	if !strings.Contains(w.Body.String(), "/api/openapi.json") || !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("the page without a build: %s", w.Body.String())
	}
}
