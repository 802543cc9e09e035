package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoginFloodMemory floods the real binary, at the production argon2id
// parameters (19 MiB a hash), with 64 concurrent logins, and reads its
// memory from /proc: the peak stays within 128 MiB, and the resident set
// falls below 64 MiB within 30 s of the flood's end (issue 17; OWASP ASVS
// 5.0 15.2.2: a flood must not exhaust the server's memory).
func TestLoginFloodMemory(t *testing.T) {
	onlyOn(t, "sqlite", "the hashing pool's memory does not depend on the store")
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc to read a process's memory from")
	}
	t.Parallel()
	const (
		flooders = 64
		rounds   = 3 // logins per flooder
		users    = 8
		peakMax  = 128 << 10 // KiB
		settled  = 64 << 10  // KiB
		within   = 30 * time.Second
	)
	p := startBinary(t, "sqlite:"+filepath.Join(t.TempDir(), "g.db"),
		// The OWASP parameters, overriding fastArgs: the real cost.
		"--argon2-memory", "19456", "--argon2-time", "2", "--login-limit", "0", "--register-limit", "0")
	pid := p.cmd.Process.Pid
	c := &client{t: t, base: p.url, hc: checkedHTTP(t, 60*time.Second)}
	var emails []string
	for range users {
		email := uniqueEmail("flood-mem")
		c.register(email)
		emails = append(emails, email)
	}

	hc := &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: flooders},
	}
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		failures []string
	)
	var wg sync.WaitGroup
	for i := range flooders {
		wg.Go(func() {
			body, _ := json.Marshal(map[string]string{"email": emails[i%users], "password": testPassword})
			for range rounds {
				status, text, err := postJSON(hc, p.url+"/api/auth/login", body)
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case status == 200:
				case status == 503 && strings.Contains(text, `"server_busy"`):
				default:
					failures = append(failures, fmt.Sprintf("status %d: %.200s", status, text))
				}
				statuses[status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d logins neither succeeded nor got 503 server_busy, e.g. %s", len(failures), failures[0])
	}
	if statuses[200] == 0 {
		t.Fatalf("no login succeeded: %v", statuses)
	}

	peak := procStatusKiB(t, pid, "VmHWM")
	if peak > peakMax {
		t.Errorf("peak RSS %d MiB through a %d-way login flood, want at most %d MiB", peak>>10, flooders, peakMax>>10)
	}
	rss := procStatusKiB(t, pid, "VmRSS")
	took := eventually(t, within, func() string {
		rss = procStatusKiB(t, pid, "VmRSS")
		if rss < settled {
			return ""
		}
		return fmt.Sprintf("RSS %d MiB after the flood, want below %d MiB", rss>>10, settled>>10)
	})
	t.Logf("%d-way login flood (%v by status): peak RSS %.1f MiB, RSS %.1f MiB %v after",
		flooders, statuses, float64(peak)/1024, float64(rss)/1024, took.Round(100*time.Millisecond))
}

func postJSON(hc *http.Client, url string, body []byte) (int, string, error) {
	resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// procStatusKiB reads a memory field of /proc/PID/status, in KiB: VmHWM is
// the peak resident set since the process started, VmRSS the current one.
func procStatusKiB(t testing.TB, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d", &kb); err != nil {
				t.Fatalf("/proc/%d/status %s: %v", pid, field, err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
