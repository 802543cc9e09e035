package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/migrate"
	"github.com/gatehouse/gatehouse/storetest"
)

// allMigrations returns the names of the embedded migrations, in order.
func allMigrations(tb testing.TB) []string {
	tb.Helper()
	ms, err := migrations()
	if err != nil {
		tb.Fatalf("migrations: %v", err)
	}
	if len(ms) == 0 {
		tb.Fatal("no embedded migrations")
	}
	var names []string
	for i, m := range ms {
		if m.Version != i+1 {
			tb.Errorf("migration %s has version %d, want %d (no gaps)", m.Name, m.Version, i+1)
		}
		names = append(names, m.Name)
	}
	return names
}

func openRaw(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	want := allMigrations(t)
	s := openRaw(t, filepath.Join(t.TempDir(), "g.db"))

	if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("SchemaVersion before Migrate = %d, %v; want 0 (Open must not migrate)", v, err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if !slices.Equal(applied, want) {
		t.Errorf("Migrate applied %v, want %v", applied, want)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(want) {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(want))
	}
	for _, table := range []string{"users", "sessions", "revocations", "attempts", "posts", "signing_keys", "email_tokens", "outbox",
		"totp_factors", "recovery_codes", "mfa_challenges", "passkeys", "webauthn_challenges", "service_clients", "audit_events"} {
		if ok, err := s.hasTable(ctx, table); !ok || err != nil {
			t.Errorf("table %s missing after Migrate (%v)", table, err)
		}
	}

	again, err := s.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Errorf("second Migrate = %v, %v; want nothing applied", again, err)
	}
	var rows int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil || rows != len(want) {
		t.Errorf("schema_migrations has %d rows (%v), want %d", rows, err, len(want))
	}
}

// TestMigrateConcurrently runs Migrate on two handles of one fresh file at
// once, as two processes starting together would: both succeed, and each
// migration is applied exactly once between them.
func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	want := allMigrations(t)
	for round := range 5 {
		path := filepath.Join(t.TempDir(), "g.db")
		stores := []*Store{openRaw(t, path), openRaw(t, path)}
		results := make([][]string, len(stores))
		errs := make([]error, len(stores))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, s := range stores {
			wg.Go(func() {
				<-start
				results[i], errs[i] = s.Migrate(ctx)
			})
		}
		close(start)
		wg.Wait()
		var union []string
		for i := range stores {
			if errs[i] != nil {
				t.Fatalf("round %d: Migrate on handle %d: %v", round, i, errs[i])
			}
			union = append(union, results[i]...)
		}
		slices.Sort(union)
		if !slices.Equal(union, want) {
			t.Errorf("round %d: the two Migrate calls applied %v together, want each of %v once", round, union, want)
		}
		for i, s := range stores {
			if v, err := s.SchemaVersion(ctx); err != nil || v != len(want) {
				t.Errorf("round %d: handle %d SchemaVersion = %d, %v", round, i, v, err)
			}
		}
	}
}

func TestMigrationsAreWellFormed(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if len(m.SQL) == 0 {
			t.Errorf("migration %s is empty", m.Name)
		}
	}
	allMigrations(t)
}

// TestMigrateMFAOnOldDatabase upgrades a database of the previous release
// (0001 and 0002, with a user and a session in it) to 0003: the session,
// a password login, reads back as aal1 with amr [pwd]; the new tables work;
// and deleting the user takes its second factors with it (ON DELETE
// CASCADE, which needs foreign_keys on: Open sets it).
func TestMigrateMFAOnOldDatabase(t *testing.T) {
	ctx := context.Background()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 || ms[2].Name != "0003_mfa" {
		t.Fatalf("migrations = %v, want 0003_mfa third", allMigrations(t))
	}
	s := openRaw(t, filepath.Join(t.TempDir(), "g.db"))
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	err = s.writeTx(ctx, "old release", func(tx *sql.Tx) error {
		if err := applyMigrations(ctx, tx, ms[:2], t0); err != nil {
			return err
		}
		// What 0002's code wrote: no acr, no amr.
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'u@example.com', 'h', ?)`,
			t0.UnixMicro()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, user_id, secret, generation, created_at, last_used_at,
            rotated_at, idle_expires_at, expires_at) VALUES ('s1', 'u1', x'00', 1, ?, ?, ?, ?, ?)`,
			t0.UnixMicro(), t0.UnixMicro(), t0.UnixMicro(), t0.Add(time.Hour).UnixMicro(), t0.Add(time.Hour).UnixMicro())
		return err
	})
	if err != nil {
		t.Fatalf("setting up the old schema: %v", err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil || !slices.Equal(applied, allMigrations(t)[2:]) {
		t.Fatalf("Migrate = %v, %v; want %v", applied, err, allMigrations(t)[2:])
	}

	sess, err := s.Session(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if sess.ACR != gatehouse.AAL1 || !slices.Equal(sess.AMR, []string{gatehouse.AMRPassword}) {
		t.Errorf("an old session reads ACR %q, AMR %v; want aal1 [pwd]", sess.ACR, sess.AMR)
	}
	if err := s.RaiseSession(ctx, "s1", gatehouse.AAL2, []string{gatehouse.AMRPassword, gatehouse.AMROTP}); err != nil {
		t.Errorf("RaiseSession of an old session: %v", err)
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

	if _, err := s.write.ExecContext(ctx, `DELETE FROM users WHERE id = 'u1'`); err != nil {
		t.Fatalf("deleting the user: %v", err)
	}
	for _, table := range []string{"totp_factors", "recovery_codes", "mfa_challenges", "sessions"} {
		var n int
		if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s has %d rows (%v) after its user was deleted, want 0", table, n, err)
		}
	}
}

// applyMigrations applies ms in tx and records them, as Migrate did when
// they were the latest: a database of an older release.
func applyMigrations(ctx context.Context, tx *sql.Tx, ms []migrate.Migration, at time.Time) error {
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return err
	}
	for _, m := range ms {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, at.UnixMicro()); err != nil {
			return err
		}
	}
	return nil
}

// TestMigratePasskeysOnOldDatabase upgrades a database of the previous
// release (0001 to 0003, with a user, a session and a TOTP factor in it)
// to 0004: what was there still reads; passkeys and WebAuthn challenges
// work; and deleting the user takes its passkeys and registrations with
// it (ON DELETE CASCADE), while a discoverable login, nobody's, stays.
func TestMigratePasskeysOnOldDatabase(t *testing.T) {
	ctx := context.Background()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 4 || ms[3].Name != "0004_passkeys" {
		t.Fatalf("migrations = %v, want 0004_passkeys fourth", allMigrations(t))
	}
	s := openRaw(t, filepath.Join(t.TempDir(), "g.db"))
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	err = s.writeTx(ctx, "old release", func(tx *sql.Tx) error {
		if err := applyMigrations(ctx, tx, ms[:3], t0); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'u@example.com', 'h', ?)`,
			t0.UnixMicro()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, user_id, secret, generation, created_at, last_used_at,
            rotated_at, idle_expires_at, expires_at, acr, amr) VALUES ('s1', 'u1', x'00', 1, ?, ?, ?, ?, ?, 'aal2', 'pwd otp mfa')`,
			t0.UnixMicro(), t0.UnixMicro(), t0.UnixMicro(), t0.Add(time.Hour).UnixMicro(), t0.Add(time.Hour).UnixMicro()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO totp_factors (user_id, sealed_secret, last_step, created_at, confirmed_at)
            VALUES ('u1', x'01', 9, ?, ?)`, t0.UnixMicro(), t0.UnixMicro())
		return err
	})
	if err != nil {
		t.Fatalf("setting up the old schema: %v", err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil || !slices.Equal(applied, allMigrations(t)[3:]) {
		t.Fatalf("Migrate = %v, %v; want %v", applied, err, allMigrations(t)[3:])
	}

	if sess, err := s.Session(ctx, "s1"); err != nil || sess.ACR != gatehouse.AAL2 {
		t.Errorf("the old session after Migrate = %+v, %v", sess, err)
	}
	if f, err := s.TOTP(ctx, "u1"); err != nil || !f.Confirmed() || f.LastStep != 9 {
		t.Errorf("the old TOTP factor after Migrate = %+v, %v", f, err)
	}
	p := &gatehouse.Passkey{ID: "p1", UserID: "u1", CredentialID: []byte("cred"), PublicKey: []byte("k"),
		Attestation: "none", AAGUID: make([]byte, 16), SignCount: 4294967295, Name: "key", CreatedAt: t0}
	if err := s.CreatePasskey(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, err := s.PasskeyByCredentialID(ctx, []byte("cred")); err != nil || got.SignCount != p.SignCount {
		t.Errorf("PasskeyByCredentialID = %+v, %v", got, err)
	}
	for _, c := range []gatehouse.WebAuthnChallenge{
		{ID: "reg", Ceremony: gatehouse.CeremonyRegister, UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{ID: "login", Ceremony: gatehouse.CeremonyLogin, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
	} {
		if err := s.CreateWebAuthnChallenge(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := s.write.ExecContext(ctx, `DELETE FROM users WHERE id = 'u1'`); err != nil {
		t.Fatalf("deleting the user: %v", err)
	}
	for table, want := range map[string]int{"passkeys": 0, "webauthn_challenges": 1, "totp_factors": 0, "sessions": 0} {
		var n int
		if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != want {
			t.Errorf("%s has %d rows (%v) after the user was deleted, want %d", table, n, err, want)
		}
	}
	if _, err := s.ConsumeWebAuthnChallenge(ctx, "login", t0); err != nil {
		t.Errorf("the discoverable login after the user was deleted: %v", err)
	}
}

// TestMigrateClientsOnOldDatabase upgrades a database of the previous
// release (0001 to 0004, with a user, a revoked session and a passkey in
// it) to 0005: what was there still reads, the old feed entry with the
// time it was appended; and service clients work.
func TestMigrateClientsOnOldDatabase(t *testing.T) {
	ctx := context.Background()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 5 || ms[4].Name != "0005_clients" {
		t.Fatalf("migrations = %v, want 0005_clients fifth", allMigrations(t))
	}
	s := openRaw(t, filepath.Join(t.TempDir(), "g.db"))
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 678901000, time.UTC)
	err = s.writeTx(ctx, "old release", func(tx *sql.Tx) error {
		if err := applyMigrations(ctx, tx, ms[:4], t0); err != nil {
			return err
		}
		for _, q := range []string{
			`INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'u@example.com', 'h', ?1)`,
			`INSERT INTO sessions (id, user_id, secret, generation, created_at, last_used_at, rotated_at,
                idle_expires_at, expires_at, revoked_at, revoke_reason) VALUES ('s1', 'u1', x'00', 1, ?1, ?1, ?1, ?1, ?1, ?1, 'logout')`,
			`INSERT INTO revocations (session_id, revoked_at) VALUES ('s1', ?1)`,
			`INSERT INTO passkeys (id, user_id, credential_id, public_key, attestation, aaguid, transports,
                sign_count, backup_eligible, backed_up, name, created_at) VALUES ('p1', 'u1', x'01', x'02', 'none', x'00', '', 7, 0, 0, 'key', ?1)`,
		} {
			if _, err := tx.ExecContext(ctx, q, t0.UnixMicro()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("setting up the old schema: %v", err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil || !slices.Equal(applied, allMigrations(t)[4:]) {
		t.Fatalf("Migrate = %v, %v; want %v", applied, err, allMigrations(t)[4:])
	}

	if sess, err := s.Session(ctx, "s1"); err != nil || !sess.Revoked() {
		t.Errorf("the old session after Migrate = %+v, %v", sess, err)
	}
	if p, err := s.PasskeyByCredentialID(ctx, []byte{1}); err != nil || p.SignCount != 7 {
		t.Errorf("the old passkey after Migrate = %+v, %v", p, err)
	}
	revs, err := s.Revocations(ctx, 0, 10)
	if err != nil || len(revs) != 1 || revs[0].SessionID != "s1" || !revs[0].At.Equal(t0) || revs[0].At.Location() != time.UTC {
		t.Errorf("the old feed after Migrate = %+v, %v; want s1 at %v UTC", revs, err, t0)
	}

	c := &gatehouse.ServiceClient{ID: "c1", Name: "billing", SecretHash: []byte{0, 1, 2},
		Scopes: []string{gatehouse.ScopeIntrospect}, CreatedAt: t0}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Client(ctx, "c1"); err != nil || got.Name != c.Name || !slices.Equal(got.SecretHash, c.SecretHash) ||
		!slices.Equal(got.Scopes, c.Scopes) || !got.CreatedAt.Equal(t0) {
		t.Errorf("Client = %+v, %v; want %+v", got, err, c)
	}
	if cs, err := s.Clients(ctx); err != nil || len(cs) != 1 {
		t.Errorf("Clients = %+v, %v; want c1", cs, err)
	}
}

// TestMigrateAdminOnOldDatabase upgrades a database of the previous
// release (0001 to 0005, with a user in it) to 0006: the old user is an
// enabled plain user who never logged in; roles, the CHECK on them, and
// the audit log work.
func TestMigrateAdminOnOldDatabase(t *testing.T) {
	ctx := context.Background()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 6 || ms[5].Name != "0006_admin" {
		t.Fatalf("migrations = %v, want 0006_admin sixth", allMigrations(t))
	}
	s := openRaw(t, filepath.Join(t.TempDir(), "g.db"))
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 678901000, time.UTC)
	err = s.writeTx(ctx, "old release", func(tx *sql.Tx) error {
		if err := applyMigrations(ctx, tx, ms[:5], t0); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'u@example.com', 'h', ?)`,
			t0.UnixMicro())
		return err
	})
	if err != nil {
		t.Fatalf("setting up the old schema: %v", err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil || !slices.Equal(applied, allMigrations(t)[5:]) {
		t.Fatalf("Migrate = %v, %v; want %v", applied, err, allMigrations(t)[5:])
	}
	u, err := s.UserByID(ctx, "u1")
	if err != nil || u.Role != gatehouse.RoleUser || u.Disabled || !u.LastLoginAt.IsZero() || !u.CreatedAt.Equal(t0) {
		t.Fatalf("the old user after Migrate = %+v, %v; want an enabled user who never logged in", u, err)
	}
	role := gatehouse.RoleAdmin
	if u, _, err := s.UpdateUser(ctx, "u1", gatehouse.UserUpdate{Role: &role}, t0); err != nil || u.Role != gatehouse.RoleAdmin {
		t.Errorf("UpdateUser(role admin) = %+v, %v", u, err)
	}
	err = s.writeTx(ctx, "bad role", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE users SET role = 'root' WHERE id = 'u1'`)
		return err
	})
	if err == nil {
		t.Error("the schema took the role 'root'")
	}
	e := gatehouse.Event{ID: "e1", Type: gatehouse.EventUserUpdated, At: t0, UserID: "u1"}
	if err := s.AppendEvents(ctx, e); err != nil {
		t.Fatal(err)
	}
	if evs, err := s.Events(ctx, gatehouse.EventFilter{UserID: "u1"}, nil, 10); err != nil || len(evs) != 1 || evs[0].ID != "e1" {
		t.Errorf("Events = %+v, %v; want e1", evs, err)
	}
}

// 0008 moves the retirements still recorded into their sessions' rows, each
// at its generation's place; a gap ends what is carried over.
func TestMigrateRetirementsIntoSessions(t *testing.T) {
	ctx := context.Background()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 8 || ms[7].Name != "0008_retirements_in_session" {
		t.Fatalf("migrations = %v, want 0008_retirements_in_session eighth", allMigrations(t))
	}
	s := openRaw(t, filepath.Join(t.TempDir(), "g.db"))
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 678901000, time.UTC)
	at := func(gen int64) int64 { return t0.Add(time.Duration(gen) * time.Second).UnixMicro() }
	err = s.writeTx(ctx, "old release", func(tx *sql.Tx) error {
		if err := applyMigrations(ctx, tx, ms[:7], t0); err != nil {
			return err
		}
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'u@example.com', 'h', ?)`, []any{at(0)}},
			{`INSERT INTO sessions (id, user_id, secret, generation, created_at, last_used_at, rotated_at, idle_expires_at, expires_at)
              VALUES ('whole', 'u1', x'00', 5, ?1, ?1, ?1, ?2, ?2), ('gap', 'u1', x'00', 5, ?1, ?1, ?1, ?2, ?2),
                     ('never', 'u1', x'00', 1, ?1, ?1, ?1, ?2, ?2)`, []any{at(0), at(3600)}},
			// whole: generations 2, 3 and 4 (1 forgotten); gap: 2 and 4.
			{`INSERT INTO retired_tokens (session_id, generation, retired_at)
              VALUES ('whole', 2, ?), ('whole', 3, ?), ('whole', 4, ?), ('gap', 2, ?), ('gap', 4, ?)`,
				[]any{at(2), at(3), at(4), at(2), at(4)}},
		} {
			if _, err := tx.ExecContext(ctx, q.query, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("setting up the old schema: %v", err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	storetest.CarriedRetirements(t, s, func(gen int64) time.Time { return usecs(at(gen)) })
}
