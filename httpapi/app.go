package httpapi

import (
	"net/http"
)

// AppCSP is the Content-Security-Policy of the app's pages: scripts and
// styles only from this origin, no inline script, no framing (OWASP CSP
// cheat sheet; ASVS 5 3.4.3).
const AppCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const placeholderPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Gatehouse</title></head>
<body>
<main>
<h1>Gatehouse</h1>
<p>The authentication server is running. The API lives under <code>/api/</code>;
see <a href="/.well-known/oauth-authorization-server">its metadata</a>.</p>
</main>
</body>
</html>
`

// placeholderApp serves a plain page for every route of the app.
func placeholderApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", AppCSP)
		_, _ = w.Write([]byte(placeholderPage))
	})
}
