package e2e

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apitest"
)

// A flood of logins queues briefly, then gets 503 server_busy with
// Retry-After; it never exhausts memory (one argon2id worker: 19 MiB) and
// never starves token refresh and verification, which do not hash.
func TestLoginFloodDoesNotStarveTokens(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--argon2-memory", "19456", "--argon2-time", "2", "--hash-workers", "1", "--login-limit", "0")
	c := newClient(t, g)
	_, tok := c.newUser("flood") // one real hash at OWASP cost

	const flooders = 150
	var busy, refused, other atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range flooders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.do("POST", "/api/auth/login", map[string]string{"email": fmt.Sprintf("flood-%d@example.com", i), "password": "not the password"})
			switch {
			case r.Status == 503 && r.str(t, "code") == "server_busy" && r.Header.Get("Retry-After") != "":
				busy.Add(1)
			case r.Status == 401:
				refused.Add(1)
			default:
				other.Add(1)
				t.Errorf("flood login: %s", r)
			}
		}()
	}
	// Meanwhile, bearer requests and refreshes keep being served.
	var lat []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		rt := tok.Refresh
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			if i%5 == 0 {
				next := c.mustRefresh(rt)
				rt, tok.Access = next.Refresh, next.Access
			} else if r := c.get("/api/users/me", tok.Access); r.Status != 200 {
				t.Errorf("me during the flood: %s", r)
				return
			}
			lat = append(lat, time.Since(start))
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	if busy.Load() == 0 {
		t.Fatalf("no 503 server_busy among %d concurrent logins on one worker (%d refused normally)", flooders, refused.Load())
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		t.Fatal("no token request completed during the flood")
	}
	t.Logf("flood of %d logins: %d answered 401, %d answered 503 server_busy; %d token requests meanwhile, p50 %v, p99 %v",
		flooders, refused.Load(), busy.Load(), len(lat), lat[len(lat)/2], lat[len(lat)*99/100])
	m := string(c.get("/metrics", "").Body)
	if !strings.Contains(m, "gatehouse_password_hash_rejected_total") {
		t.Error("the pool is not in /metrics")
	}
}

// No input, however malformed, gets a 5xx (CONTRACT §2).
func TestHostileInputsNeverGet5xx(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	// Hostile on purpose: only the answers are checked against the description.
	c := &client{t: t, base: g.URL, hc: checkedHTTP(t, 30*time.Second, apitest.ResponsesOnly())}
	_, tok := c.newUser("hostile")
	rng := rand.New(rand.NewPCG(1, 2))
	endpoints := []string{
		"POST /api/auth/register", "POST /api/auth/login", "POST /api/auth/refresh", "POST /api/auth/logout",
		"POST /api/auth/logout-all", "GET /api/auth/sessions", "DELETE /api/auth/sessions/x", "POST /api/auth/password",
		"GET /api/users/me", "GET /api/posts", "POST /api/posts", "DELETE /api/posts/x", "POST /api/auth/token",
		"POST /api/auth/revoke", "GET /.well-known/jwks.json", "GET /.well-known/oauth-authorization-server",
		"GET /healthz", "GET /readyz", "GET /metrics", "GET /", "PUT /api/auth/login", "PATCH /api/posts",
	}
	bodies := []string{"", "{}", "null", "[]", `{"email":1e999}`, `{"email":"\u0000","password":"\u0000"}`,
		strings.Repeat(`{"a":`, 5000), `{"title":"` + strings.Repeat("é", 300) + `"}`, "\xff\xfe\x00",
		`{"refresh_token":"gate_rt_` + strings.Repeat("A", 75) + `"}`, `grant_type=password&username=%zz`}
	types := []string{"application/json", "application/x-www-form-urlencoded", "text/plain", "application/json; charset=utf-16", "multipart/form-data; boundary=x", ""}
	auths := []string{"", "Bearer " + tok.Access, "Bearer", "Bearer " + strings.Repeat("a.", 5000), "Basic Og==", "Bearer " + tok.Refresh, "Bearer a.b.c"}
	for _, ep := range endpoints {
		method, path, _ := strings.Cut(ep, " ")
		for i := 0; i < 40; i++ {
			body := bodies[rng.IntN(len(bodies))]
			if rng.IntN(4) == 0 {
				b := make([]byte, rng.IntN(200))
				for j := range b {
					b[j] = byte(rng.IntN(256))
				}
				body = string(b)
			}
			hdr := []string{"Content-Type", types[rng.IntN(len(types))]}
			if a := auths[rng.IntN(len(auths))]; a != "" {
				hdr = append(hdr, "Authorization", a)
			}
			if rng.IntN(5) == 0 {
				hdr = append(hdr, "X-Refresh-Transport", "cookie", "Cookie", "gatehouse_refresh="+strings.Repeat("%", rng.IntN(10)), "X-CSRF-Guard", "1", "Origin", "null")
			}
			r := c.do(method, path+randomQuery(rng), body, hdr...)
			if r.Status >= 500 {
				t.Fatalf("%s with body %q: %s", ep, body, r)
			}
		}
	}
	// Raw requests a client library would not send.
	for _, raw := range []string{
		"GET /api/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{}",
		"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
		"GET /api/users/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n",
		"GET /api/users/me HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n",
	} {
		if status := rawStatus(t, g.URL, raw); status >= 500 {
			t.Fatalf("raw %q: status %d", raw[:min(len(raw), 60)], status)
		}
	}
	// The sweep sent logout-all with a valid token, so that session ended;
	// a new one must work.
	_, fresh := c.newUser("hostile-after")
	if r := c.get("/api/users/me", fresh.Access); r.Status != 200 {
		t.Fatalf("the server is unwell after the sweep: %s", r)
	}
}

func randomQuery(rng *rand.Rand) string {
	switch rng.IntN(4) {
	case 0:
		return "?limit=" + strconv.Itoa(rng.IntN(300)-50)
	case 1:
		return "?cursor=" + strings.Repeat("A", rng.IntN(300)) + "&limit=%zz"
	}
	return ""
}

// rawStatus sends bytes on a fresh connection and returns the status code
// (0 when the server closed the connection without an answer).
func rawStatus(t *testing.T, base, raw string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(35 * time.Second))
	if _, err := io.Copy(conn, bytes.NewReader([]byte(raw))); err != nil {
		return 0
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	line, _ := io.ReadAll(io.LimitReader(conn, 64))
	parts := strings.Fields(string(line))
	if len(parts) < 2 {
		return 0
	}
	status, _ := strconv.Atoi(parts[1])
	return status
}
