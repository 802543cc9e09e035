package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres/pgtest"
)

// TestMigrateMFAOnOldDatabase upgrades a schema of the previous release
// (0001 and 0002, with a user and a session in it) to 0003: the session,
// a password login, reads back as aal1 with amr [pwd]; the new tables
// work; and deleting the user takes its second factors with it.
func TestMigrateMFAOnOldDatabase(t *testing.T) {
	ctx := context.Background()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 || ms[2].Name != "0003_mfa" {
		t.Fatalf("the third migration is not 0003_mfa")
	}
	s, err := Open(ctx, pgtest.URL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := s.pool.Exec(ctx, createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		if _, err := s.pool.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	// What 0002's code wrote: no acr, no amr.
	if _, err := s.pool.Exec(ctx, `INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'u@example.com', 'h', $1)`, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO sessions (id, user_id, secret, generation, created_at, last_used_at,
        rotated_at, idle_expires_at, expires_at) VALUES ('s1', 'u1', '\x00', 1, $1, $1, $1, $2, $2)`, t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil || !slices.Equal(applied, []string{"0003_mfa"}) {
		t.Fatalf("Migrate = %v, %v; want [0003_mfa]", applied, err)
	}

	sess, err := s.Session(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if sess.ACR != gatehouse.AAL1 || !slices.Equal(sess.AMR, []string{gatehouse.AMRPassword}) {
		t.Errorf("an old session reads ACR %q, AMR %v; want aal1 [pwd]", sess.ACR, sess.AMR)
	}
	if err := s.PutPendingTOTP(ctx, &gatehouse.TOTPFactor{UserID: "u1", SealedSecret: []byte("s"), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmTOTP(ctx, "u1", 9, [][]byte{[]byte("c1")}, "s1", gatehouse.AAL2, nil, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateMFAChallenge(ctx, &gatehouse.MFAChallenge{Hash: []byte("h"), UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM users WHERE id = 'u1'`); err != nil {
		t.Fatalf("deleting the user: %v", err)
	}
	for _, table := range []string{"totp_factors", "recovery_codes", "mfa_challenges", "sessions"} {
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s has %d rows (%v) after its user was deleted, want 0", table, n, err)
		}
	}
}
