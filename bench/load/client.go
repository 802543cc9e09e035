package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// user is one client's identity: its credentials and current tokens.
type user struct {
	email, password string
	access, refresh string
}

const loadPassword = "load test passphrase 1"

func newHTTPClient(clients int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConns: 4 * clients, MaxIdleConnsPerHost: 4 * clients},
		Timeout:   30 * time.Second,
	}
}

// setupUsers registers and logs in n users, a few at a time: each costs
// two argon2id hashes, and the server's hashing pool is bounded.
func setupUsers(hc *http.Client, base string, n int) ([]*user, error) {
	users := make([]*user, n)
	stamp := time.Now().UnixNano()
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			u := &user{email: fmt.Sprintf("load-%d-%d@example.com", stamp, i), password: loadPassword}
			if _, err := post(hc, base+"/api/auth/register", map[string]string{"email": u.email, "password": u.password}, "", 201); err != nil {
				errs[i] = fmt.Errorf("register: %w", err)
				return
			}
			errs[i] = u.login(hc, base)
			users[i] = u
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return users, nil
}

func (u *user) login(hc *http.Client, base string) error {
	body, err := post(hc, base+"/api/auth/login", map[string]string{"email": u.email, "password": u.password}, "", 200)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	return u.take(body)
}

// take keeps the tokens of a login or refresh response.
func (u *user) take(body []byte) error {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return err
	}
	u.access, _ = m["access_token"].(string)
	u.refresh, _ = m["refresh_token"].(string)
	return nil
}

func post(hc *http.Client, url string, body any, bearer string, want int) ([]byte, error) {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return do(hc, req, want)
}

// statusError is an answer other than the one expected.
type statusError struct {
	status int
	body   []byte
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %s", e.status, e.body) }

func do(hc *http.Client, req *http.Request, want int) ([]byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return b, &statusError{resp.StatusCode, b}
	}
	return b, nil
}

// gcCount reads the Go runtime's count of completed collections from the
// server's /metrics (Prometheus' Go collector), or -1 when it has none.
func gcCount(hc *http.Client, base string) int64 {
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	b, err := do(hc, req, 200)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go_gc_duration_seconds_count "); ok {
			var n int64
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n
			}
		}
	}
	return -1
}
