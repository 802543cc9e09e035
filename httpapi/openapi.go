package httpapi

import (
	_ "embed"
	"net/http"
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
