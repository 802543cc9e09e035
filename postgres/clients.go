package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.ClientStore = (*Store)(nil)

// Every write below is one statement, so none needs a transaction of its
// own.

const clientColumns = `id, name, secret_hash, scopes, created_at`

// CreateClient stores a new client; the error wraps [gatehouse.ErrConflict]
// when its id is taken.
func (s *Store) CreateClient(ctx context.Context, c *gatehouse.ServiceClient) error {
	return s.write(ctx, "create client", func(ctx context.Context, q dbtx) error {
		_, err := q.Exec(ctx, `INSERT INTO service_clients (`+clientColumns+`) VALUES ($1, $2, $3, $4, $5)`,
			c.ID, c.Name, nonNil(c.SecretHash), joinScopes(c.Scopes), c.CreatedAt)
		return err
	})
}

// Client returns a client; the error wraps [gatehouse.ErrNotFound] when
// there is none.
func (s *Store) Client(ctx context.Context, id string) (*gatehouse.ServiceClient, error) {
	if hasNUL(id) {
		return nil, notFound("client", id)
	}
	var c gatehouse.ServiceClient
	err := s.read(ctx, "client", func(ctx context.Context) error {
		var err error
		c, err = scanClient(s.pool.QueryRow(ctx, `SELECT `+clientColumns+`
            FROM service_clients WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("client", id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Clients lists every client, oldest first (ties by id).
func (s *Store) Clients(ctx context.Context) ([]gatehouse.ServiceClient, error) {
	var out []gatehouse.ServiceClient
	err := s.read(ctx, "clients", func(ctx context.Context) error {
		out = nil // fn may run again
		rows, err := s.pool.Query(ctx, `SELECT `+clientColumns+`
            FROM service_clients ORDER BY created_at, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanClient(rows)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteClient deletes a client; the error wraps [gatehouse.ErrNotFound]
// when there is none.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if hasNUL(id) {
		return notFound("client", id)
	}
	return s.write(ctx, "delete client", func(ctx context.Context, q dbtx) error {
		tag, err := q.Exec(ctx, `DELETE FROM service_clients WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("client", id)
		}
		return nil
	})
}

func scanClient(row pgx.Row) (gatehouse.ServiceClient, error) {
	var (
		c      gatehouse.ServiceClient
		scopes string
	)
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &scopes, &c.CreatedAt); err != nil {
		return c, err
	}
	c.Scopes, c.CreatedAt = splitScopes(scopes), c.CreatedAt.UTC()
	return c, nil
}

// joinScopes stores a client's scopes as one space-separated string, as
// the SQLite store does: a scope token holds no space (RFC 6749 §3.3).
func joinScopes(scopes []string) string { return strings.Join(scopes, " ") }

// splitScopes reads what joinScopes stored; none is nil.
func splitScopes(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}
