package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/migrate"
	"github.com/gatehouse/gatehouse/postgres/pgtest"
	"github.com/gatehouse/gatehouse/storetest"
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
	applyMigrations(t, s, ms[:2])
	// What 0002's code wrote: no acr, no amr.
	if _, err := s.pool.Exec(ctx, `INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'u@example.com', 'h', $1)`, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO sessions (id, user_id, secret, generation, created_at, last_used_at,
        rotated_at, idle_expires_at, expires_at) VALUES ('s1', 'u1', '\x00', 1, $1, $1, $1, $2, $2)`, t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	applied, err := s.Migrate(ctx)
	if want := names(ms[2:]); err != nil || !slices.Equal(applied, want) {
		t.Fatalf("Migrate = %v, %v; want %v", applied, err, want)
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

// applyMigrations applies ms and records them, as Migrate did when they
// were the latest: a schema of an older release.
func applyMigrations(t *testing.T, s *Store, ms []migrate.Migration) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if _, err := s.pool.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
}

// names returns the names of ms, in order.
func names(ms []migrate.Migration) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// TestMigratePasskeysOnOldDatabase upgrades a schema of the previous
// release (0001 to 0003, with a user, a session and a TOTP factor in it)
// to 0004: what was there still reads; passkeys, with a sign count past
// integer's range, and WebAuthn challenges work; and deleting the user
// takes its passkeys and registrations with it, while a discoverable
// login, nobody's, stays.
func TestMigratePasskeysOnOldDatabase(t *testing.T) {
	ctx := context.Background()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 4 || ms[3].Name != "0004_passkeys" {
		t.Fatalf("the fourth migration is not 0004_passkeys")
	}
	s, err := Open(ctx, pgtest.URL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	applyMigrations(t, s, ms[:3])
	for _, q := range []string{
		`INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'u@example.com', 'h', $1)`,
		`INSERT INTO sessions (id, user_id, secret, generation, created_at, last_used_at, rotated_at,
            idle_expires_at, expires_at, acr, amr) VALUES ('s1', 'u1', '\x00', 1, $1, $1, $1, $1, $1, 'aal2', 'pwd otp mfa')`,
		`INSERT INTO totp_factors (user_id, sealed_secret, last_step, created_at, confirmed_at)
            VALUES ('u1', '\x01', 9, $1, $1)`,
	} {
		if _, err := s.pool.Exec(ctx, q, t0); err != nil {
			t.Fatalf("setting up the old schema: %v", err)
		}
	}
	applied, err := s.Migrate(ctx)
	if want := names(ms[3:]); err != nil || !slices.Equal(applied, want) {
		t.Fatalf("Migrate = %v, %v; want %v", applied, err, want)
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

	if _, err := s.pool.Exec(ctx, `DELETE FROM users WHERE id = 'u1'`); err != nil {
		t.Fatalf("deleting the user: %v", err)
	}
	for table, want := range map[string]int{"passkeys": 0, "webauthn_challenges": 1, "totp_factors": 0, "sessions": 0} {
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != want {
			t.Errorf("%s has %d rows (%v) after the user was deleted, want %d", table, n, err, want)
		}
	}
	if _, err := s.ConsumeWebAuthnChallenge(ctx, "login", t0); err != nil {
		t.Errorf("the discoverable login after the user was deleted: %v", err)
	}
}

// TestMigrateClientsOnOldDatabase upgrades a schema of the previous
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
		t.Fatalf("the fifth migration is not 0005_clients")
	}
	s, err := Open(ctx, pgtest.URL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 678901000, time.UTC)
	applyMigrations(t, s, ms[:4])
	for _, q := range []string{
		`INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'u@example.com', 'h', $1)`,
		`INSERT INTO sessions (id, user_id, secret, generation, created_at, last_used_at, rotated_at,
            idle_expires_at, expires_at, revoked_at, revoke_reason) VALUES ('s1', 'u1', '\x00', 1, $1, $1, $1, $1, $1, $1, 'logout')`,
		`WITH head AS (UPDATE revocation_head SET last = last + 1 RETURNING last)
            INSERT INTO revocations (seq, session_id, revoked_at) SELECT last, 's1', $1 FROM head`,
		`INSERT INTO passkeys (id, user_id, credential_id, public_key, attestation, aaguid, transports,
            sign_count, backup_eligible, backed_up, name, created_at) VALUES ('p1', 'u1', '\x01', '\x02', 'none', '\x00', '', 7, false, false, 'key', $1)`,
	} {
		if _, err := s.pool.Exec(ctx, q, t0); err != nil {
			t.Fatalf("setting up the old schema: %v", err)
		}
	}
	applied, err := s.Migrate(ctx)
	if want := names(ms[4:]); err != nil || !slices.Equal(applied, want) {
		t.Fatalf("Migrate = %v, %v; want %v", applied, err, want)
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

// TestMigrateAdminOnOldDatabase upgrades a schema of the previous release
// (0001 to 0005, with a user in it) to 0006: the old user is an enabled
// plain user who never logged in; roles, the CHECK on them, and the audit
// log work.
func TestMigrateAdminOnOldDatabase(t *testing.T) {
	ctx := context.Background()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 6 || ms[5].Name != "0006_admin" {
		t.Fatalf("the sixth migration is not 0006_admin")
	}
	s, err := Open(ctx, pgtest.URL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 678901000, time.UTC)
	applyMigrations(t, s, ms[:5])
	if _, err := s.pool.Exec(ctx, `INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'u@example.com', 'h', $1)`, t0); err != nil {
		t.Fatal(err)
	}
	applied, err := s.Migrate(ctx)
	if want := names(ms[5:]); err != nil || !slices.Equal(applied, want) {
		t.Fatalf("Migrate = %v, %v; want %v", applied, err, want)
	}
	u, err := s.UserByID(ctx, "u1")
	if err != nil || u.Role != gatehouse.RoleUser || u.Disabled || !u.LastLoginAt.IsZero() || !u.CreatedAt.Equal(t0) {
		t.Fatalf("the old user after Migrate = %+v, %v; want an enabled user who never logged in", u, err)
	}
	role := gatehouse.RoleAdmin
	if u, _, err := s.UpdateUser(ctx, "u1", gatehouse.UserUpdate{Role: &role}, t0); err != nil || u.Role != gatehouse.RoleAdmin {
		t.Errorf("UpdateUser(role admin) = %+v, %v", u, err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE users SET role = 'root' WHERE id = 'u1'`); err == nil {
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
		t.Fatalf("the eighth migration is not 0008_retirements_in_session")
	}
	s, err := Open(ctx, pgtest.URL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 678901000, time.UTC)
	at := func(gen int64) time.Time { return t0.Add(time.Duration(gen) * time.Second) }
	applyMigrations(t, s, ms[:7])
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'u@example.com', 'h', $1)`, []any{at(0)}},
		{`INSERT INTO sessions (id, user_id, secret, generation, created_at, last_used_at, rotated_at, idle_expires_at, expires_at)
          VALUES ('whole', 'u1', '\x00', 5, $1, $1, $1, $2, $2), ('gap', 'u1', '\x00', 5, $1, $1, $1, $2, $2),
                 ('never', 'u1', '\x00', 1, $1, $1, $1, $2, $2)`, []any{at(0), at(3600)}},
		// whole: generations 2, 3 and 4 (1 forgotten); gap: 2 and 4.
		{`INSERT INTO retired_tokens (session_id, generation, retired_at)
          VALUES ('whole', 2, $1), ('whole', 3, $2), ('whole', 4, $3), ('gap', 2, $1), ('gap', 4, $3)`,
			[]any{at(2), at(3), at(4)}},
	} {
		if _, err := s.pool.Exec(ctx, q.query, q.args...); err != nil {
			t.Fatalf("setting up the old schema: %v", err)
		}
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	storetest.CarriedRetirements(t, s, at)
}
