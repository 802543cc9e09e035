package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// CreatePost stores p; AuthorName is not stored (it is joined on read). The
// error wraps [gatehouse.ErrConflict] when the id is taken and
// [gatehouse.ErrNotFound] when the author does not exist.
func (s *Store) CreatePost(ctx context.Context, p *gatehouse.Post) error {
	return s.write(ctx, "create post", func(ctx context.Context, q dbtx) error {
		_, err := q.Exec(ctx, `INSERT INTO posts (id, author_id, title, body, created_at) VALUES ($1, $2, $3, $4, $5)`,
			p.ID, p.AuthorID, p.Title, p.Body, p.CreatedAt)
		return err
	})
}

const postSelect = `SELECT p.id, p.author_id, u.name, p.title, p.body, p.created_at
    FROM posts p JOIN users u ON u.id = p.author_id`

func scanPost(row pgx.Row) (gatehouse.Post, error) {
	var p gatehouse.Post
	err := row.Scan(&p.ID, &p.AuthorID, &p.AuthorName, &p.Title, &p.Body, &p.CreatedAt)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, err
}

// Post returns a post with its author's name; the error wraps
// [gatehouse.ErrNotFound] if there is no such post.
func (s *Store) Post(ctx context.Context, id string) (*gatehouse.Post, error) {
	if hasNUL(id) {
		return nil, notFound("post", id)
	}
	var p gatehouse.Post
	err := s.read(ctx, "post", func(ctx context.Context) error {
		var err error
		p, err = scanPost(s.pool.QueryRow(ctx, postSelect+` WHERE p.id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("post", id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// ListPosts returns up to limit posts, newest first with ties broken by id
// (descending, bytewise: the ids are COLLATE "C"), strictly after the
// cursor (nil: from the newest). Keyset pagination on (created_at, id)
// walks the posts_page index, so a page costs the same however deep it is.
func (s *Store) ListPosts(ctx context.Context, after *gatehouse.PostCursor, limit int) ([]gatehouse.Post, error) {
	var out []gatehouse.Post
	err := s.read(ctx, "list posts", func(ctx context.Context) error {
		var (
			rows pgx.Rows
			err  error
		)
		if after == nil {
			rows, err = s.pool.Query(ctx, postSelect+`
                ORDER BY p.created_at DESC, p.id DESC LIMIT $1`, limit)
		} else {
			id := after.ID
			if hasNUL(id) {
				// No stored id holds NUL (text cannot), so an id sorts
				// before P+"\x00…" exactly when it sorts before P+"\x01".
				id = id[:strings.IndexByte(id, 0)] + "\x01"
			}
			rows, err = s.pool.Query(ctx, postSelect+`
                WHERE (p.created_at, p.id) < ($1, $2)
                ORDER BY p.created_at DESC, p.id DESC LIMIT $3`, after.CreatedAt, id, limit)
		}
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (gatehouse.Post, error) { return scanPost(r) })
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeletePost deletes a post; the error wraps [gatehouse.ErrNotFound] if
// there is no such post.
func (s *Store) DeletePost(ctx context.Context, id string) error {
	if hasNUL(id) {
		return notFound("post", id)
	}
	return s.write(ctx, "delete post", func(ctx context.Context, q dbtx) error {
		tag, err := q.Exec(ctx, `DELETE FROM posts WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("post", id)
		}
		return nil
	})
}
