// Command load measures a Gatehouse server over loopback: requests per
// second, p50 and p99 latency, and the server's peak resident memory, for
// GET /api/users/me, POST /api/auth/refresh and POST /api/auth/login at a
// number of concurrent clients.
//
//	go build -o /tmp/gatehouse ./cmd/gatehouse
//	go run ./bench/load --bin /tmp/gatehouse --clients 16 --duration 10s
//
// It starts the server itself (a fresh SQLite file, or --db), so that it can
// read the server's peak RSS (VmHWM) from /proc. Password hashing uses the
// production OWASP parameters: login numbers are the real cost.
//
// With --instances N it starts N servers on the one --db, behind one
// issuer as behind a load balancer, and sends each client's successive
// requests to the instances in turn (a refresh on B of A's token, the hard
// case). With a postgres:// --db it also reports the database's own
// commits per request (pg_stat_database.xact_commit delta / requests):
//
//	go run ./bench/load --bin /tmp/gatehouse --db 'postgres://postgres@127.0.0.1:5432/gh_bench?sslmode=disable' --instances 2
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type config struct {
	bin       string
	db        string
	clients   int
	duration  time.Duration
	scenarios []string
	extra     []string
	instances int
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	var cfg config
	fs.StringVar(&cfg.bin, "bin", "", "gatehouse binary to start (required)")
	fs.StringVar(&cfg.db, "db", "", "--db for the server (default: a fresh SQLite file in a temporary directory)")
	fs.IntVar(&cfg.clients, "clients", 16, "concurrent clients")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long each scenario runs")
	scen := fs.String("scenarios", "me,refresh,login", "scenarios to run, in order")
	extra := fs.String("server-args", "", "extra server flags, space-separated")
	fs.IntVar(&cfg.instances, "instances", 1, "servers to start on the one --db; each client spreads its requests over them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.bin == "" {
		return errors.New("--bin is required (go build -o /tmp/gatehouse ./cmd/gatehouse)")
	}
	cfg.scenarios = strings.Split(*scen, ",")
	cfg.extra = strings.Fields(*extra)
	dir, err := os.MkdirTemp("", "gatehouse-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cfg.db == "" {
		cfg.db = "sqlite:" + filepath.Join(dir, "load.db")
	}

	if cfg.instances < 1 {
		return errors.New("--instances must be at least 1")
	}
	if cfg.instances > 1 {
		// One issuer for all, as behind a load balancer: a token of one
		// instance must verify on the others.
		cfg.extra = append([]string{"--issuer", "http://gatehouse.load"}, cfg.extra...)
	}
	var (
		srvs  []*server
		bases []string
	)
	defer func() {
		for _, srv := range srvs {
			srv.stop()
		}
	}()
	for range cfg.instances {
		srv, err := startServer(cfg)
		if err != nil {
			return err
		}
		srvs = append(srvs, srv)
		bases = append(bases, srv.url)
	}
	var commits *commitCounter
	if strings.HasPrefix(cfg.db, "postgres://") || strings.HasPrefix(cfg.db, "postgresql://") {
		if commits, err = newCommitCounter(cfg.db); err != nil {
			return err
		}
		defer commits.close()
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 4 * cfg.clients, MaxIdleConnsPerHost: 4 * cfg.clients}, Timeout: 30 * time.Second}
	users, err := setupUsers(hc, bases[0], cfg.clients)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "gatehouse %s, %d instance(s), %d clients, %s per scenario, db %s, GOMAXPROCS of the server: all CPUs\n",
		strings.Join(bases, " "), cfg.instances, cfg.clients, cfg.duration, describe(cfg.db))
	fmt.Fprintf(out, "%-10s %10s %10s %10s %10s %8s %12s %12s\n", "scenario", "requests", "req/s", "p50", "p99", "errors", "peak RSS", "db commits")
	for _, name := range cfg.scenarios {
		sc, ok := scenarios[name]
		if !ok {
			return fmt.Errorf("unknown scenario %q", name)
		}
		before := commits.settled()
		res := measure(hc, bases, users, cfg, sc)
		perReq := "-"
		if commits != nil && res.n > 0 {
			perReq = fmt.Sprintf("%.2f/req", float64(commits.settled()-before)/float64(res.n))
		}
		var rss int64
		for _, srv := range srvs {
			r, _ := peakRSS(srv.cmd.Process.Pid)
			rss = max(rss, r)
		}
		fmt.Fprintf(out, "%-10s %10d %10.0f %10s %10s %8d %9.1f MiB %12s\n", name, res.n, res.rate, res.p50, res.p99, res.errors, float64(rss)/1024, perReq)
	}
	return nil
}

// commitCounter reads the database's count of committed transactions.
type commitCounter struct{ conn *pgx.Conn }

func newCommitCounter(db string) (*commitCounter, error) {
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		return nil, fmt.Errorf("commit counter: %w", err)
	}
	return &commitCounter{conn: conn}, nil
}

func (c *commitCounter) close() { c.conn.Close(context.Background()) }

// settled returns xact_commit once it has stopped moving: PostgreSQL's
// backends publish their counts lazily (at most every second while busy,
// within 10 s once idle), so a read right after the load would miss some.
// Each read is itself a commit, a few against thousands of requests.
func (c *commitCounter) settled() int64 {
	if c == nil {
		return 0
	}
	read := func() int64 {
		var n int64
		_ = c.conn.QueryRow(context.Background(),
			`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
		return n
	}
	last, same := read(), 0
	for range 30 {
		time.Sleep(time.Second)
		n := read()
		if n-last <= 1 { // only our own read
			if same++; same == 3 {
				return n
			}
		} else {
			same = 0
		}
		last = n
	}
	return last
}

func describe(db string) string {
	if i := strings.Index(db, "@"); i >= 0 {
		return "postgres://…@" + db[i+1:]
	}
	return db
}

type server struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

func startServer(cfg config) (*server, error) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", cfg.db, "--login-limit", "0", "--register-limit", "0",
		"--log-level", "error"}, cfg.extra...)
	cmd := exec.Command(cfg.bin, args...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_KEY_SECRET="+strings.Repeat("k", 32))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		cmd.Process.Kill()
		return nil, errors.New("the server printed nothing")
	}
	_, rest, _ := strings.Cut(sc.Text(), "listening on ")
	url, _, _ := strings.Cut(rest, " ")
	s := &server{cmd: cmd, url: url, done: make(chan struct{})}
	go func() { io.Copy(io.Discard, stdout); cmd.Wait(); close(s.done) }()
	return s, nil
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
	}
}

// peakRSS reads the peak resident set size (KiB) of a process.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb, nil
		}
	}
	return 0, errors.New("no VmHWM")
}

// user is one client's identity: its credentials and current tokens.
type user struct {
	email, password string
	access, refresh string
}

const loadPassword = "load test passphrase 1"

func setupUsers(hc *http.Client, base string, n int) ([]*user, error) {
	users := make([]*user, n)
	stamp := time.Now().UnixNano()
	for i := range users {
		u := &user{email: fmt.Sprintf("load-%d-%d@example.com", stamp, i), password: loadPassword}
		if _, err := post(hc, base+"/api/auth/register", map[string]string{"email": u.email, "password": u.password}, "", 201); err != nil {
			return nil, fmt.Errorf("register: %w", err)
		}
		if err := u.login(hc, base); err != nil {
			return nil, err
		}
		users[i] = u
	}
	return users, nil
}

func (u *user) login(hc *http.Client, base string) error {
	body, err := post(hc, base+"/api/auth/login", map[string]string{"email": u.email, "password": u.password}, "", 200)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
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
		return b, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return b, nil
}

// scenario is one request of a client; it updates the user's tokens.
type scenario func(hc *http.Client, base string, u *user) error

var scenarios = map[string]scenario{
	"me": func(hc *http.Client, base string, u *user) error {
		req, _ := http.NewRequest("GET", base+"/api/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+u.access)
		_, err := do(hc, req, 200)
		return err
	},
	"refresh": func(hc *http.Client, base string, u *user) error {
		body, err := post(hc, base+"/api/auth/refresh", map[string]string{"refresh_token": u.refresh}, "", 200)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return err
		}
		u.access, _ = m["access_token"].(string)
		u.refresh, _ = m["refresh_token"].(string)
		return nil
	},
	"login": func(hc *http.Client, base string, u *user) error {
		return u.login(hc, base)
	},
}

type result struct {
	n        int
	errors   int
	rate     float64
	p50, p99 time.Duration
}

func measure(hc *http.Client, bases []string, users []*user, cfg config, sc scenario) result {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for k := i; ctx.Err() == nil; k++ {
				t0 := time.Now()
				if err := sc(hc, bases[k%len(bases)], u); err != nil {
					bad++
					if bad < 3 {
						fmt.Fprintln(os.Stderr, "load: request failed:", err)
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := result{n: len(all), errors: errs, rate: float64(len(all)) / elapsed.Seconds()}
	if len(all) > 0 {
		r.p50 = all[len(all)*50/100].Round(time.Microsecond)
		r.p99 = all[min(len(all)-1, len(all)*99/100)].Round(time.Microsecond)
	}
	return r
}
