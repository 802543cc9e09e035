package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// statements keeps the hot statements prepared on a database handle.
// SQLite otherwise parses and plans every statement anew, and for a
// rotation that was two thirds of the statements' CPU (the profile of
// BenchmarkServiceRefresh). database/sql prepares a Stmt once per
// connection and reuses it; a transaction borrows it with Tx.StmtContext.
type statements struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStatements(db *sql.DB) *statements {
	return &statements{db: db, m: make(map[string]*sql.Stmt)}
}

// get returns the queries prepared, in their order. A query not prepared
// yet waits for a connection of the handle (the writer has one), so get
// must not be called inside a transaction of it.
func (p *statements) get(ctx context.Context, queries ...string) ([]*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*sql.Stmt, len(queries))
	for i, q := range queries {
		st, ok := p.m[q]
		if !ok {
			var err error
			if st, err = p.db.PrepareContext(ctx, q); err != nil {
				return nil, err
			}
			p.m[q] = st
		}
		out[i] = st
	}
	return out, nil
}
