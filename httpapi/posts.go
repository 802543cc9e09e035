package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

type authorJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type postJSON struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	Author    authorJSON `json:"author"`
	CreatedAt time.Time  `json:"created_at"`
}

type postsPage struct {
	Items      []postJSON `json:"items"`
	NextCursor *string    `json:"next_cursor"`
}

func toPostJSON(p *gatehouse.Post) postJSON {
	return postJSON{
		ID: p.ID, Title: p.Title, Body: p.Body,
		Author:    authorJSON{ID: p.AuthorID, Name: p.AuthorName},
		CreatedAt: p.CreatedAt.UTC(),
	}
}

const defaultPageSize = 20

func (a *api) handleListPosts(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	limit, at, id, verr := pageQuery(r)
	var after *gatehouse.PostCursor
	if id != "" {
		after = &gatehouse.PostCursor{CreatedAt: at, ID: id}
	}
	if err := verr.Err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	posts, next, err := a.svc.ListPosts(r.Context(), after, limit)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	page := postsPage{Items: make([]postJSON, len(posts))}
	for i := range posts {
		page.Items[i] = toPostJSON(&posts[i])
	}
	if next != nil {
		s := encodeCursor(next)
		page.NextCursor = &s
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *api) handleCreatePost(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	f, err := decodeJSON(w, r, false, "title", "body")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := a.svc.CreatePost(r.Context(), c, f["title"], f["body"])
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/posts/"+p.ID)
	writeJSON(w, http.StatusCreated, toPostJSON(p))
}

func (a *api) handleDeletePost(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	if err := a.svc.DeletePost(r.Context(), c, r.PathValue("id")); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// A cursor is opaque to clients: base64url of "<created_at µs>.<id>".
func encodeCursor(c *gatehouse.PostCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + c.ID))
}

func decodeCursor(s string) (*gatehouse.PostCursor, bool) {
	if len(s) > 128 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	ts, id, ok := strings.Cut(string(b), ".")
	if !ok || !gatehouse.ValidID(id) {
		return nil, false
	}
	us, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || us < 0 {
		return nil, false
	}
	return &gatehouse.PostCursor{CreatedAt: time.UnixMicro(us).UTC(), ID: id}, true
}
