package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the integrity check of the copy
)

// TestBackupUnderLoadAndRestore backs up a running server's database while
// registrations go on, restores the copy with its key file beside it, and
// checks that every registration acknowledged before the backup began is
// there, and that sessions made before it still refresh (which needs the
// key secret of the file kept with the copy).
func TestBackupUnderLoadAndRestore(t *testing.T) {
	onlyOn(t, "sqlite", "the backup command copies an SQLite file")
	g := startGatehouse(t, "--register-limit", "0")
	dbPath := strings.TrimPrefix(g.DB, "sqlite:")
	c := newClient(t, g)
	sessionEmail, before := c.newUser("backup-session")

	// Registrations from several clients, recorded as they are acknowledged.
	var (
		mu    sync.Mutex
		acked []string
		errs  []string
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	hc := &http.Client{Timeout: 30 * time.Second}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("load-%d-%d-%s", w, i, uniqueEmail("b"))
				body, _ := json.Marshal(map[string]string{"email": email, "password": testPassword})
				resp, err := hc.Post(g.URL+"/api/auth/register", "application/json", bytes.NewReader(body))
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					continue
				}
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode == 201 {
					acked = append(acked, email)
				} else {
					errs = append(errs, fmt.Sprintf("%s: status %d", email, resp.StatusCode))
				}
				mu.Unlock()
			}
		}()
	}
	ackedNow := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), acked...)
	}
	eventually(t, 30*time.Second, func() string {
		if n := len(ackedNow()); n < 100 {
			return fmt.Sprintf("%d registrations so far", n)
		}
		return ""
	})

	backupFile := filepath.Join(t.TempDir(), "gatehouse-backup.db")
	mustHave := ackedNow() // acknowledged before the backup starts
	out, err := runCLI(t, nil, "", "backup", "--db", g.DB, "--to", backupFile)
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("backup: %v\n%s", err, out)
	}
	// More registrations after the copy, so the load went on around it.
	atBackup := len(ackedNow())
	eventually(t, 30*time.Second, func() string {
		if n := len(ackedNow()); n < atBackup+50 {
			return fmt.Sprintf("%d registrations after the backup", n-atBackup)
		}
		return ""
	})
	close(stop)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d registrations failed under the backup, first: %s", len(errs), errs[0])
	}
	t.Logf("%d registrations acknowledged before the backup started, %d in all", len(mustHave), len(ackedNow()))

	keyFile := dbPath + ".key"
	if !strings.Contains(out, "backed up "+g.DB+" to "+backupFile) || !strings.Contains(out, "keep "+keyFile+" ") {
		t.Fatalf("backup output does not name the copy and the key file %s:\n%s", keyFile, out)
	}

	// The copy as it lies, before any server opens it.
	db, err := sql.Open("sqlite", "file:"+backupFile+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var check string
	err = db.QueryRow("PRAGMA integrity_check").Scan(&check)
	db.Close()
	if err != nil || check != "ok" {
		t.Fatalf("integrity_check of the copy = %q, %v", check, err)
	}

	// Restore as docs/deployment.md says: the copy at the database path,
	// the key file beside it.
	dir := t.TempDir()
	restored := filepath.Join(dir, "gatehouse.db")
	copyFile(t, backupFile, restored)
	copyFile(t, keyFile, restored+".key")
	r := startGatehouseOn(t, dir, "sqlite:"+restored)
	rc := newClient(t, r)
	for _, email := range mustHave {
		if resp := rc.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}); resp.Status != 200 {
			t.Fatalf("registration of %s acknowledged before the backup: login on the restored copy: %s", email, resp)
		}
	}
	if resp := rc.refresh(before.Refresh); resp.Status != 200 {
		t.Fatalf("a session of %s made before the backup does not refresh on the restored copy: %s", sessionEmail, resp)
	}
}

func TestBackupRefusals(t *testing.T) {
	onlyOn(t, "sqlite", "the backup command copies an SQLite file")
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "gatehouse.db")
	if out, err := runCLI(t, nil, "", "migrate", "--db", db); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	existing := filepath.Join(dir, "old-backup.db")
	if err := os.WriteFile(existing, []byte("an older backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no --to", []string{"--db", db}, "gatehouse backup: --to is required"},
		{"existing file", []string{"--db", db, "--to", existing}, "gatehouse backup: --to " + existing + ": the file exists"},
		{"postgres", []string{"--db", "postgres://u:pw@db.example.com/gatehouse", "--to", filepath.Join(dir, "x.db")}, "gatehouse backup: --db is PostgreSQL: back it up with pg_dump"},
		{"no database", []string{"--db", "sqlite:" + filepath.Join(dir, "none.db"), "--to", filepath.Join(dir, "y.db")}, "gatehouse backup: --db sqlite:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCLI(t, nil, "", append([]string{"backup"}, tc.args...)...)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "pw@") {
				t.Fatalf("error %v, want one starting %q\n%s", err, tc.want, out)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "an older backup" {
		t.Fatal("the existing file was changed")
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !os.IsNotExist(err) {
		t.Fatal("backup of a missing database created it")
	}
	// With --key-secret, the secret is what must be kept.
	out, err := runCLI(t, nil, "", "backup", "--db", db, "--to", filepath.Join(dir, "z.db"), "--key-secret", strings.Repeat("k", 32))
	if err != nil || !strings.Contains(out, "keep the --key-secret") || strings.Contains(out, ".key ") {
		t.Fatalf("backup with --key-secret: %v\n%s", err, out)
	}
	out, err = runCLI(t, nil, "", "backup", "--help")
	if err != nil || !strings.Contains(out, "Usage: gatehouse backup") || !strings.Contains(out, "GATEHOUSE_TO") {
		t.Fatalf("backup --help: %v\n%s", err, out)
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
