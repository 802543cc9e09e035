package httpapi

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/web"
)

// OpenAPI is the description of this API (CONTRACT §9): OpenAPI 3.1,
// written by hand and embedded, so that the binary serves the very
// document the tests check every request and response against
// (internal/apitest). A route added to the table without it fails
// TestOpenAPICoversRoutes.
//
//go:embed openapi.json
var OpenAPI []byte

func (a *api) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(OpenAPI)
}

// docsPage is /api/docs: the API reference that web/docs builds into
// web/dist/docs.html, one self-contained file (the renderer and its styles
// inline) so that it works offline, with or without the demo app.
type docsPage struct {
	html    []byte
	csp     string
	started time.Time
}

// docsNotBuilt stands in when the binary was built without web/.
const docsNotBuilt = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Gatehouse API</title></head>
<body>
<h1>Gatehouse API</h1>
<p>The description is at <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1).
This build has no reference page: build web/ with Node.js (<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>)
and rebuild the server to get one.</p>
</body>
</html>
`

var inlineScript = regexp.MustCompile(`(?s)<script[^>]*>(.*?)</script>`)

// newDocsPage reads docs.html from the built web tree. Its Content-Security-
// Policy allows exactly its own inline scripts, by hash, and nothing from
// elsewhere: no CDN, no eval (OWASP CSP cheat sheet, "hashes"). Styles
// may be inline, since the renderer sets them at run time; the page
// fetches only /api/openapi.json.
func newDocsPage(fsys fs.FS) *docsPage {
	d := &docsPage{started: time.Now()}
	html, err := fs.ReadFile(fsys, "docs.html")
	if err != nil {
		d.html = []byte(docsNotBuilt)
		d.csp = "default-src 'none'; frame-ancestors 'none'"
		return d
	}
	var hashes []string
	for _, m := range inlineScript.FindAllSubmatch(html, -1) {
		sum := sha256.Sum256(m[1])
		hashes = append(hashes, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	d.html = html
	d.csp = "default-src 'none'; script-src " + strings.Join(hashes, " ") + "; style-src 'unsafe-inline'; " +
		"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return d
}

// embeddedDocs is the page of the web tree embedded in the binary.
var embeddedDocs = sync.OnceValue(func() *docsPage { return newDocsPage(web.Dist()) })

func (a *api) handleDocs(w http.ResponseWriter, r *http.Request) { embeddedDocs().ServeHTTP(w, r) }

func (d *docsPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", d.csp)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "docs.html", d.started, strings.NewReader(string(d.html)))
}
