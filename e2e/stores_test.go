package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/postgres/pgtest"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlite"
)

// openStoreOf opens the database of a running server directly, with the
// key secret its instances use: what an insider with the database and the
// secret holds.
func openStoreOf(t *testing.T, g *instance) (gatehouse.Store, []byte) {
	t.Helper()
	ctx := context.Background()
	if path, ok := strings.CutPrefix(g.DB, "sqlite:"); ok {
		secret, err := os.ReadFile(path + ".key")
		if err != nil {
			t.Fatal(err)
		}
		st, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st, secret
	}
	st, err := postgres.Open(ctx, g.DB, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st, []byte(pgKeySecret)
}

// TestPostgresDumpHoldsNoUsableSecret is TestDatabaseHoldsNoUsableSecret
// for PostgreSQL: the text of every row of every table of the schema (what
// pg_dump would write) holds no refresh token, password or key secret
// (CONTRACT §3).
func TestPostgresDumpHoldsNoUsableSecret(t *testing.T) {
	onlyOn(t, "postgres", "reads the schema's rows")
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	_, tok := c.newUser("pgdump")
	c.mustRefresh(tok.Refresh)
	dump := postgresRows(t, g.DB)
	if !strings.Contains(dump, sidOf(t, tok.Access)) {
		t.Fatal("the dump lacks the session: it is not a dump of the server's rows")
	}
	for what, secret := range map[string]string{
		"refresh token":      tok.Refresh,
		"refresh token body": strings.TrimPrefix(tok.Refresh, gatehouse.RefreshTokenPrefix),
		"password":           testPassword,
		"key secret":         pgKeySecret,
	} {
		if strings.Contains(dump, secret) {
			t.Errorf("the database holds the %s", what)
		}
	}
}

// TestPostgresNeedsKeySecret: without --key-secret a PostgreSQL server
// refuses to start, naming the flag, and creates nothing in the database.
func TestPostgresNeedsKeySecret(t *testing.T) {
	onlyOn(t, "postgres", "the rule is PostgreSQL's")
	t.Parallel()
	db := pgtest.URL(t)
	_, err := runCLI(t, map[string]string{"GATEHOUSE_KEY_SECRET": ""}, "", "serve", "--addr", "127.0.0.1:0", "--db", db)
	if err == nil || !strings.Contains(err.Error(), "--key-secret") {
		t.Fatalf("serve without --key-secret: %v", err)
	}
	st, err := postgres.Open(context.Background(), db, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if v, err := st.SchemaVersion(context.Background()); err != nil || v != 0 {
		t.Fatalf("the refused start migrated the database: version %d, %v", v, err)
	}
}

// TestPostgresMigrateAndUserCreate: the migrate and user create verbs on
// PostgreSQL, then a server on that database.
func TestPostgresMigrateAndUserCreate(t *testing.T) {
	onlyOn(t, "postgres", "the verbs on PostgreSQL")
	t.Parallel()
	db := pgtest.URL(t)
	out, err := runCLI(t, nil, "", "migrate", "--db", db)
	if err != nil || !strings.Contains(out, "applied 0001_init") {
		t.Fatalf("migrate: %v %q", err, out)
	}
	out, err = runCLI(t, nil, "", "migrate", "--db", db)
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: %v %q", err, out)
	}
	out, err = runCLI(t, nil, testPassword+"\n", "user", "create", "--db", db, "--email", "Admin@Example.com", "--password-stdin")
	if err != nil || !strings.Contains(out, "admin@example.com") {
		t.Fatalf("user create: %v %q", err, out)
	}
	g := startGatehouseOn(t, t.TempDir(), db)
	newClient(t, g).login("admin@example.com", testPassword)
}

// TestPostgresInstancesStartAtOnce: several instances starting together
// on an empty database all start (migrations take turns under the
// advisory lock), and within a key reload they all sign with one key and
// verify each other's tokens.
func TestPostgresInstancesStartAtOnce(t *testing.T) {
	onlyOn(t, "postgres", "concurrent migrations of PostgreSQL")
	t.Parallel()
	db := pgtest.URL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 3
	srvs := make([]*server.Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cfg := server.DefaultConfig()
			cfg.DB, cfg.Issuer, cfg.KeySecret, cfg.KeyReload = db, lbIssuer, []byte(pgKeySecret), 200*time.Millisecond
			srvs[i], errs[i] = server.New(ctx, cfg)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("instance %d did not start: %v", i, errs[i])
		}
		defer srvs[i].Close()
		go srvs[i].Run(ctx)
	}
	eventually(t, 5*time.Second, func() string {
		kid := srvs[0].Tokens().Keys().SignerKID()
		for i, s := range srvs {
			if got := s.Tokens().Keys().SignerKID(); got != kid {
				return fmt.Sprintf("instance %d signs with %s, instance 0 with %s", i, got, kid)
			}
		}
		return ""
	})
	now := time.Now()
	for i, s := range srvs {
		tok, err := s.Tokens().Issue(&gatehouse.AccessClaims{
			Issuer: lbIssuer, Subject: gatehouse.NewID(), Audience: []string{"gatehouse"},
			IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(time.Minute), ID: gatehouse.NewID(), SessionID: gatehouse.NewID(),
		})
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range srvs {
			if _, err := v.Tokens().Verify(tok); err != nil {
				t.Errorf("instance %d refuses a token of instance %d: %v", j, i, err)
			}
		}
	}
}

// postgresRows is the text of every row of every table of the database's
// schema: what pg_dump would write.
func postgresRows(t *testing.T, db string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 5 {
		t.Fatalf("tables %v, %v", tables, err)
	}
	var dump strings.Builder
	for _, table := range tables {
		// Every column as text, bytea as hex and as escaped bytes.
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			dump.WriteString(s + "\n")
		}
	}
	return dump.String()
}
