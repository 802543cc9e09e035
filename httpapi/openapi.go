package httpapi

import "net/http"

// Placeholders until the API description lands (it replaces this file).

func (a *api) handleOpenAPI(w http.ResponseWriter, r *http.Request) { notFoundProblem(w, r) }

func (a *api) handleDocs(w http.ResponseWriter, r *http.Request) { notFoundProblem(w, r) }
