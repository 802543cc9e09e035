package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// followers measures the revocation feed (CONTRACT §10): how many waiting
// followers a server holds per MiB of memory, and how long a revocation
// takes to reach them all (from the logout's answer to each follower's).
func followers(ctx context.Context, out io.Writer, cfg config, d *deployment) error {
	base := d.bases[0]
	client, secret, err := createFeedClient(cfg, d)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.followers + 16}, Timeout: 90 * time.Second}
	tok, err := clientToken(hc, base, client, secret)
	if err != nil {
		return err
	}
	users, err := setupUsers(newHTTPClient(4), base, cfg.revocations)
	if err != nil {
		return err
	}
	start, err := feedPoll(hc, base, tok, 0, 0)
	if err != nil {
		return err
	}
	before, beforeGo := d.rss("VmRSS"), goMemory(hc, base)

	// Each follower records when it learnt of each session's end.
	type seen struct {
		sid string
		at  time.Time
	}
	got := make([][]seen, cfg.followers)
	fctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range cfg.followers {
		wg.Go(func() {
			after := start.LastSeq
			for fctx.Err() == nil {
				a, err := feedPoll(hc, base, tok, after, 30)
				if err != nil {
					return
				}
				now := time.Now()
				for _, e := range a.Entries {
					got[i] = append(got[i], seen{e.SID, now})
				}
				after = a.LastSeq
			}
		})
	}
	time.Sleep(3 * time.Second) // all parked
	parked, parkedGo := d.rss("VmRSS"), goMemory(hc, base)

	ended := map[string]time.Time{}
	for _, u := range users {
		sid, err := sidOf(u.access)
		if err != nil {
			stop()
			return err
		}
		if _, err := post(hc, base+"/api/auth/logout", map[string]string{"refresh_token": u.refresh}, "", 204); err != nil {
			stop()
			return fmt.Errorf("logout: %w", err)
		}
		ended[sid] = time.Now()
		time.Sleep(250 * time.Millisecond) // one at a time: each delay measured alone
	}
	time.Sleep(2 * time.Second)
	stop()
	// The parked polls return within their wait; do not hold the report.
	var delays []time.Duration
	missed := 0
	for i := range got {
		have := map[string]bool{}
		for _, s := range got[i] {
			if t, ok := ended[s.sid]; ok && !have[s.sid] {
				delays = append(delays, max(s.at.Sub(t), 0))
				have[s.sid] = true
			}
		}
		missed += len(ended) - len(have)
	}
	slices.Sort(delays)
	fmt.Fprintf(out, "\n%s: %d followers waiting on GET /api/auth/revocations, %d revocations\n", d.store, cfg.followers, len(ended))
	if beforeGo > 0 && parkedGo > 0 {
		// The Go runtime's in-use heap and stacks: RSS moves with the
		// collector's timing, these with what the followers hold.
		per := float64(parkedGo-beforeGo) / 1024 / float64(cfg.followers)
		fmt.Fprintf(out, "  server heap+stacks in use %.1f MiB before, %.1f MiB with the followers parked: %.1f KiB per follower, %.0f followers per MiB\n",
			float64(beforeGo)/(1<<20), float64(parkedGo)/(1<<20), per, 1024/max(per, 0.001))
	}
	if before > 0 && parked > 0 {
		fmt.Fprintf(out, "  server RSS %s before, %s with the followers parked\n", mib(before), mib(parked))
	}
	if len(delays) > 0 {
		fmt.Fprintf(out, "  revocation to follower: median %v, p99 %v, max %v (%d deliveries, %d missed)\n",
			delays[len(delays)/2].Round(time.Millisecond), delays[len(delays)*99/100].Round(time.Millisecond),
			delays[len(delays)-1].Round(time.Millisecond), len(delays), missed)
	}
	if missed > 0 {
		return fmt.Errorf("%d revocations never reached a follower", missed)
	}
	return nil
}

// createFeedClient registers a service client with the gatehouse CLI.
func createFeedClient(cfg config, d *deployment) (id, secret string, err error) {
	cmd := exec.Command(cfg.bin, "clients", "create", "--db", d.rawDB, "--name", "load", "--scope", "revocations")
	cmd.Env = append(os.Environ(), "GATEHOUSE_KEY_SECRET="+strings.Repeat("k", 32))
	b, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("clients create: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "client_id: "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "client_secret: "); ok {
			secret = v
		}
	}
	if id == "" || secret == "" {
		return "", "", fmt.Errorf("clients create printed %q", b)
	}
	return id, secret, nil
}

func clientToken(hc *http.Client, base, id, secret string) (string, error) {
	req, _ := http.NewRequest("POST", base+"/api/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	body, err := do(hc, req, 200)
	if err != nil {
		return "", fmt.Errorf("client_credentials: %w", err)
	}
	var t struct {
		AccessToken string `json:"access_token"`
	}
	return t.AccessToken, json.Unmarshal(body, &t)
}

type feedPage struct {
	Entries []struct {
		SID string `json:"sid"`
	} `json:"entries"`
	LastSeq int64 `json:"last_seq"`
}

func feedPoll(hc *http.Client, base, tok string, after int64, wait int) (*feedPage, error) {
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/auth/revocations?after=%d&wait=%d", base, after, wait), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	body, err := do(hc, req, 200)
	if err != nil {
		return nil, err
	}
	var p feedPage
	return &p, json.NewDecoder(bytes.NewReader(body)).Decode(&p)
}

// sidOf reads the sid claim of an access token (no verification: the
// server issued it).
func sidOf(jwt string) (string, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var c struct {
		SID string `json:"sid"`
	}
	return c.SID, json.Unmarshal(b, &c)
}

// goMemory is the server's Go heap and stacks in use, in bytes, from its
// /metrics (Prometheus' Go collector), or -1.
func goMemory(hc *http.Client, base string) int64 {
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	b, err := do(hc, req, 200)
	if err != nil {
		return -1
	}
	var total int64
	for _, line := range strings.Split(string(b), "\n") {
		for _, name := range []string{"go_memstats_heap_inuse_bytes ", "go_memstats_stack_inuse_bytes "} {
			if v, ok := strings.CutPrefix(line, name); ok {
				var f float64
				if _, err := fmt.Sscan(v, &f); err == nil {
					total += int64(f)
				}
			}
		}
	}
	if total == 0 {
		return -1
	}
	return total
}
