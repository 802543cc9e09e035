// Package web embeds the production build of the demo single-page app
// (web/app, built by `npm run build` in web/ into web/dist), so that the
// gatehouse binary serves it with no files beside it.
//
// Only web/dist/.gitkeep is committed: on a machine without Node.js the
// embedded tree holds no index.html, and the server then serves a page that
// says how to build the app. Building web/ before `go build` embeds the real
// one.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built app rooted at its index.html, or a tree without
// index.html when the app has not been built.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// fs.Sub fails only on an invalid path name; "dist" is valid.
		panic(err)
	}
	return sub
}
