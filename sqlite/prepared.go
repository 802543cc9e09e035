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

// prepare prepares queries ahead of their use. One that fails is left to
// get, whose error its caller sees.
func (p *statements) prepare(ctx context.Context, queries ...string) {
	for _, q := range queries {
		_, _ = p.get(ctx, q)
	}
}

// get returns query prepared. A query not prepared yet waits for a
// connection of the handle (the writer has one), so get must not be called
// inside a transaction of it.
func (p *statements) get(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.m[query]; ok {
		return st, nil
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.m[query] = st
	return st, nil
}
