package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func TestBackup(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, Options{})
	for i := range 20 {
		u := &gatehouse.User{ID: fmt.Sprintf("u%02d", i), Email: fmt.Sprintf("u%02d@example.com", i), PasswordHash: "h", CreatedAt: time.Now()}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	to := filepath.Join(t.TempDir(), "copy.db")
	if err := s.Backup(ctx, to); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	fi, err := os.Stat(to)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("copy has mode %v, want 0600", fi.Mode().Perm())
	}

	// A second backup to the same file is refused and leaves it intact.
	err = s.Backup(ctx, to)
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("backup over an existing file: %v, want a refusal", err)
	}

	// A write after the backup is not in the copy; every one before is.
	if err := s.CreateUser(ctx, &gatehouse.User{ID: "late", Email: "late@example.com", PasswordHash: "h", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := mustOpenPath(t, to, Options{})
	var check string
	if err := c.read.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check of the copy = %q, %v", check, err)
	}
	for i := range 20 {
		if _, err := c.UserByEmail(ctx, fmt.Sprintf("u%02d@example.com", i)); err != nil {
			t.Errorf("user %d missing from the copy: %v", i, err)
		}
	}
	if _, err := c.UserByEmail(ctx, "late@example.com"); err == nil {
		t.Error("a user created after the backup is in the copy")
	}
}

func TestBackupFailureLeavesNoFile(t *testing.T) {
	s := mustOpenStore(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	to := filepath.Join(t.TempDir(), "copy.db")
	if err := s.Backup(ctx, to); err == nil {
		t.Fatal("backup with a cancelled context succeeded")
	}
	if _, err := os.Stat(to); !os.IsNotExist(err) {
		t.Fatalf("a failed backup left %s behind (%v)", to, err)
	}
}
