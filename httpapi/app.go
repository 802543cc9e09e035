package httpapi

import (
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/web"
)

// AppCSP is the Content-Security-Policy of the app's pages: scripts and
// styles only from this origin, no inline script or style, no framing
// (OWASP CSP cheat sheet; ASVS 5 3.4.3). The SDK keeps tokens out of reach
// of injected markup only as long as no inline script can run, which is
// why the seeds' "strict Content Security Policy" is not optional here.
const AppCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// notBuiltPage is served for every app route when the binary was built
// without the app (web/dist held only its placeholder).
const notBuiltPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Gatehouse</title></head>
<body>
<main>
<h1>Gatehouse</h1>
<p>The authentication server is running. The API lives under <code>/api/</code>;
see <a href="/.well-known/oauth-authorization-server">its metadata</a>.</p>
<p>The demo app is not part of this build. To include it, build it with Node.js
and rebuild the server:</p>
<pre>cd web &amp;&amp; npm ci &amp;&amp; npm run build &amp;&amp; cd .. &amp;&amp; go build ./cmd/gatehouse</pre>
</main>
</body>
</html>
`

// statusPage is / when the demo is off (--demo=false): static markup, no
// script, no style, so that the API's Content-Security-Policy, which
// allows nothing (securityHeaders), fits it as well.
const statusPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Gatehouse</title></head>
<body>
<h1>Gatehouse</h1>
<p>The authentication server is running. The API lives under <code>/api/</code>;
see <a href="/.well-known/oauth-authorization-server">its metadata</a>.</p>
</body>
</html>
`

// statusApp stands in for the app when the demo is off: the status page
// at /, a 404 problem everywhere else, so that no client-side route of
// the demo (/login, /dashboard, …) appears to exist.
func statusApp(a *api) http.Handler {
	started := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			notFoundProblem(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			a.writeError(w, r, gatehouse.ErrMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "index.html", started, strings.NewReader(statusPage))
	})
}

// defaultApp is the app embedded in the binary (package web).
func defaultApp() http.Handler { return App(web.Dist()) }

// App serves a built single-page app from fsys: its files as they are, and
// index.html for any other path, so that client-side routes (/login,
// /dashboard, …) load the app (CONTRACT §2). Files under /assets/ carry a
// content hash in their names and are cached for a year; everything else
// is revalidated. A missing file with an extension is a 404 rather than
// index.html, so that a stale script URL fails plainly instead of being
// parsed as HTML. Every answer carries [AppCSP].
func App(fsys fs.FS) http.Handler {
	index, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		index = nil
	}
	started := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", AppCSP)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if index == nil {
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Cache-Control", "no-cache")
			_, _ = io.WriteString(w, notBuiltPage)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name != "" && name != "index.html" {
			if served := serveFile(w, r, fsys, name); served {
				return
			}
			if path.Ext(name) != "" || strings.HasPrefix(name, "assets/") {
				http.NotFound(w, r)
				return
			}
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "index.html", started, strings.NewReader(string(index)))
	})
}

// serveFile answers with the named regular file of fsys, if there is one.
func serveFile(w http.ResponseWriter, r *http.Request, fsys fs.FS, name string) bool {
	f, err := fsys.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return false
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		return false
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if strings.HasPrefix(name, "assets/") {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, st.ModTime(), rs)
	return true
}
