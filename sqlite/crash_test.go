//go:build unix

package sqlite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/storetest"
)

// crashEnv names the database file the crash helper writes to; the helper
// does nothing without it.
const crashEnv = "GATEHOUSE_SQLITE_CRASH_DB"

// TestCrashHelper is the child of TestCrashDurability, not a test of its
// own. In a loop, from several goroutines at once so that the writes share
// group commits, it creates a user and a session, rotates the session
// once, and prints "ack USER SESSION" after each RotateSession returned: a
// line on stdout is a write the store acknowledged.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("only runs as the child of TestCrashDurability")
	}
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	// Bounded, so that a parent that died cannot leave it running.
	deadline := time.Now().Add(2 * time.Minute)
	var out sync.Mutex // one whole line at a time
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				u, sess := crashWrite(ctx, s)
				out.Lock()
				// os.Stdout is unbuffered: the line leaves the process now.
				fmt.Printf("ack %s %s\n", u, sess)
				out.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(3)
}

// crashWrite creates a user and a session and rotates the session; it
// ends the process on any failure.
func crashWrite(ctx context.Context, s *Store) (userID, sessionID string) {
	now := time.Now().UTC()
	u := &gatehouse.User{ID: gatehouse.NewID(), Email: gatehouse.NewID() + "@example.com", PasswordHash: "h", CreatedAt: now}
	sess := &gatehouse.Session{
		ID: gatehouse.NewID(), UserID: u.ID, Secret: gatehouse.RandomBytes(32), Generation: 1,
		CreatedAt: now, LastUsedAt: now, RotatedAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour),
	}
	if err := s.CreateUser(ctx, u); err != nil {
		fmt.Fprintln(os.Stderr, "create user:", err)
		os.Exit(2)
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		fmt.Fprintln(os.Stderr, "create session:", err)
		os.Exit(2)
	}
	if ok, err := storetest.Rotated(s.RotateSession(ctx, sess.ID, 1, now, now.Add(time.Hour))); err != nil || !ok {
		fmt.Fprintln(os.Stderr, "rotate:", ok, err)
		os.Exit(2)
	}
	return u.ID, sess.ID
}

// TestCrashDurability kills a writing child with SIGKILL in mid-stream,
// three times over on one file, and checks after each kill that every
// write the child acknowledged is in the database, whole, and that the
// database passes PRAGMA integrity_check.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "crash.db")
	s := mustOpenPath(t, path, Options{})
	s.Close()

	total := 0
	for round, acksBeforeKill := range []int{50, 200, 400} {
		acks := runAndKill(t, path, acksBeforeKill)
		if len(acks) < acksBeforeKill {
			t.Fatalf("round %d: child gave %d acknowledgements, want at least %d", round, len(acks), acksBeforeKill)
		}
		total += len(acks)

		s, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		var check string
		if err := s.read.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Errorf("round %d: integrity_check = %q, %v", round, check, err)
		}
		for _, a := range acks {
			if _, err := s.UserByID(ctx, a.user); err != nil {
				t.Errorf("round %d: acknowledged user %s lost: %v", round, a.user, err)
			}
			sess, err := s.Session(ctx, a.session)
			if err != nil {
				t.Errorf("round %d: acknowledged session %s lost: %v", round, a.session, err)
				continue
			}
			if sess.Generation != 2 {
				t.Errorf("round %d: session %s at generation %d, want the acknowledged rotation to 2", round, a.session, sess.Generation)
			}
			if _, err := s.RetiredAt(ctx, a.session, 1); err != nil {
				t.Errorf("round %d: retirement of session %s lost: %v", round, a.session, err)
			}
		}
		var users int
		if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&users); err != nil || users < total {
			t.Errorf("round %d: %d users in the database (%v), want at least %d", round, users, err, total)
		}
		s.Close()
	}
	t.Logf("%d acknowledged writes survived 3 SIGKILLs", total)
}

type ack struct{ user, session string }

// runAndKill starts the helper on path, reads acknowledgements until it has
// n, kills the child with SIGKILL while it is still writing, and returns
// every complete acknowledgement the child printed before it died.
func runAndKill(t *testing.T, path string, n int) []ack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	var acks []ack
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if errors.Is(err, io.EOF) {
			// A fragment without its newline was cut by the kill: not an
			// acknowledgement.
			break
		}
		if err != nil {
			t.Fatalf("reading the child: %v", err)
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "ack" {
			continue // test framework chatter
		}
		acks = append(acks, ack{user: f[1], session: f[2]})
		if len(acks) == n && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
				t.Fatalf("kill: %v", err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before %d acknowledgements (%v): %s", n, err, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v; stderr: %s", cmd.ProcessState, stderr.String())
	}
	return acks
}
