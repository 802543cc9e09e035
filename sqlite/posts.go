package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gatehouse/gatehouse"
)

// CreatePost stores p; AuthorName is not stored (it is joined on read). The
// error wraps [gatehouse.ErrConflict] when the id is taken and
// [gatehouse.ErrNotFound] when the author does not exist.
func (s *Store) CreatePost(ctx context.Context, p *gatehouse.Post) error {
	return s.writeTx(ctx, "create post", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO posts (id, author_id, title, body, created_at) VALUES (?, ?, ?, ?, ?)`,
			p.ID, p.AuthorID, p.Title, p.Body, p.CreatedAt.UnixMicro())
		return err
	})
}

const postSelect = `SELECT p.id, p.author_id, u.name, p.title, p.body, p.created_at
    FROM posts p JOIN users u ON u.id = p.author_id`

func scanPost(row scanner) (gatehouse.Post, error) {
	var p gatehouse.Post
	var created int64
	err := row.Scan(&p.ID, &p.AuthorID, &p.AuthorName, &p.Title, &p.Body, &created)
	p.CreatedAt = usecs(created)
	return p, err
}

// Post returns a post with its author's name; the error wraps
// [gatehouse.ErrNotFound] if there is no such post.
func (s *Store) Post(ctx context.Context, id string) (*gatehouse.Post, error) {
	p, err := scanPost(s.read.QueryRowContext(ctx, postSelect+` WHERE p.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("post", id)
	}
	if err != nil {
		return nil, s.wrap(ctx, "post", err)
	}
	return &p, nil
}

// ListPosts returns up to limit posts, newest first with ties broken by id
// (descending), strictly after the cursor (nil: from the newest). Keyset
// pagination on (created_at, id) walks the posts_page index, so a page
// costs the same however deep it is, and posts added meanwhile neither
// repeat nor hide rows of later pages.
func (s *Store) ListPosts(ctx context.Context, after *gatehouse.PostCursor, limit int) ([]gatehouse.Post, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if after == nil {
		rows, err = s.read.QueryContext(ctx, postSelect+`
            ORDER BY p.created_at DESC, p.id DESC LIMIT ?`, limit)
	} else {
		rows, err = s.read.QueryContext(ctx, postSelect+`
            WHERE (p.created_at, p.id) < (?, ?)
            ORDER BY p.created_at DESC, p.id DESC LIMIT ?`, after.CreatedAt.UnixMicro(), after.ID, limit)
	}
	if err != nil {
		return nil, s.wrap(ctx, "list posts", err)
	}
	defer rows.Close()
	var out []gatehouse.Post
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			return nil, s.wrap(ctx, "list posts", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, "list posts", err)
	}
	return out, nil
}

// DeletePost deletes a post; the error wraps [gatehouse.ErrNotFound] if
// there is no such post.
func (s *Store) DeletePost(ctx context.Context, id string) error {
	return s.writeTx(ctx, "delete post", func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `DELETE FROM posts WHERE id = ?`, id))
		if err == nil && n == 0 {
			err = notFound("post", id)
		}
		return err
	})
}
