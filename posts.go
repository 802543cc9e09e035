package gatehouse

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Post limits.
const (
	MaxPostTitle = 200
	MaxPostBody  = 10_000
	MaxPageSize  = 100
)

// CreatePost stores a post by the user of c. Returns *ValidationError.
func (s *Service) CreatePost(ctx context.Context, c *AccessClaims, title, body string) (*Post, error) {
	title = strings.TrimSpace(title)
	var verr *ValidationError
	switch {
	case title == "":
		verr = verr.Add("title", "is required")
	case utf8.RuneCountInString(title) > MaxPostTitle || !utf8.ValidString(title):
		verr = verr.Add("title", "must be at most 200 characters")
	case strings.ContainsRune(title, 0):
		// PostgreSQL text cannot hold NUL; refusing it here keeps both
		// stores answering alike.
		verr = verr.Add("title", "must not contain NUL characters")
	}
	if utf8.RuneCountInString(body) > MaxPostBody || !utf8.ValidString(body) {
		verr = verr.Add("body", "must be at most 10000 characters")
	} else if strings.ContainsRune(body, 0) {
		verr = verr.Add("body", "must not contain NUL characters")
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	author, err := s.store.UserByID(ctx, c.Subject)
	if err != nil {
		return nil, err
	}
	p := &Post{
		ID: NewID(), AuthorID: author.ID, AuthorName: author.Name,
		Title: title, Body: body, CreatedAt: s.now().UTC().Truncate(time.Microsecond), // what both stores keep
	}
	if err := s.store.CreatePost(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// ListPosts returns a page of everyone's posts, newest first, and the
// cursor of the next page (nil at the end).
func (s *Service) ListPosts(ctx context.Context, after *PostCursor, limit int) ([]Post, *PostCursor, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	posts, err := s.store.ListPosts(ctx, after, limit+1)
	if err != nil {
		return nil, nil, err
	}
	posts, last := trimPage(posts, limit)
	if last == nil {
		return posts, nil, nil
	}
	return posts, &PostCursor{CreatedAt: last.CreatedAt, ID: last.ID}, nil
}

// DeletePost deletes a post of the user of c. Returns ErrNotFound or
// ErrForbidden (not the author).
func (s *Service) DeletePost(ctx context.Context, c *AccessClaims, id string) error {
	if !ValidID(id) {
		return ErrNotFound
	}
	p, err := s.store.Post(ctx, id)
	if err != nil {
		return err
	}
	if p.AuthorID != c.Subject {
		return ErrForbidden
	}
	return s.store.DeletePost(ctx, id)
}
