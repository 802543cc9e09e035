package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.ClientStore = (*Store)(nil)

// Service clients change only by an administrator's hand, rarely, so
// their writes run alone (writeTx) rather than through the group committer,
// which is for the writes of every request.

const clientColumns = `id, name, secret_hash, scopes, created_at`

// CreateClient stores a new client; the error wraps [gatehouse.ErrConflict]
// when its id is taken.
func (s *Store) CreateClient(ctx context.Context, c *gatehouse.ServiceClient) error {
	return s.writeTx(ctx, "create client", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO service_clients (`+clientColumns+`) VALUES (?, ?, ?, ?, ?)`,
			c.ID, c.Name, secretBytes(c.SecretHash), joinScopes(c.Scopes), c.CreatedAt.UnixMicro())
		return err
	})
}

// Client returns a client; the error wraps [gatehouse.ErrNotFound] when
// there is none.
func (s *Store) Client(ctx context.Context, id string) (*gatehouse.ServiceClient, error) {
	c, err := scanClient(s.read.QueryRowContext(ctx, `SELECT `+clientColumns+`
        FROM service_clients WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("client", id)
	}
	if err != nil {
		return nil, s.wrap(ctx, "client", err)
	}
	return &c, nil
}

// Clients lists every client, oldest first (ties by id).
func (s *Store) Clients(ctx context.Context) ([]gatehouse.ServiceClient, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+clientColumns+`
        FROM service_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, s.wrap(ctx, "clients", err)
	}
	defer rows.Close()
	var out []gatehouse.ServiceClient
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, s.wrap(ctx, "clients", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, "clients", err)
	}
	return out, nil
}

// DeleteClient deletes a client; the error wraps [gatehouse.ErrNotFound]
// when there is none.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.writeTx(ctx, "delete client", func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `DELETE FROM service_clients WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("client", id)
		}
		return nil
	})
}

func scanClient(row scanner) (gatehouse.ServiceClient, error) {
	var (
		c       gatehouse.ServiceClient
		scopes  string
		created int64
	)
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &scopes, &created); err != nil {
		return c, err
	}
	c.Scopes, c.CreatedAt = splitScopes(scopes), usecs(created)
	return c, nil
}

// joinScopes stores a client's scopes as one space-separated string: a
// scope token holds no space (RFC 6749 §3.3).
func joinScopes(scopes []string) string { return strings.Join(scopes, " ") }

// splitScopes reads what joinScopes stored; none is nil.
func splitScopes(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}
