// Command load measures a Gatehouse server over loopback: requests per
// second, p50 and p99 latency, and the server's peak resident memory, for
// GET /healthz, GET /api/users/me, POST /api/auth/refresh and POST
// /api/auth/login at a number of concurrent clients, and the ratios
// me/healthz and refresh/healthz: how close an authenticated read and a
// rotation come to the cheapest request the same HTTP stack serves.
//
//	go build -o /tmp/gatehouse ./cmd/gatehouse
//	go run ./bench/load --bin /tmp/gatehouse --stores both --clients 16 --duration 10s
//
// It starts the server itself, so that it can read the server's peak RSS
// (VmHWM) from /proc: on a fresh SQLite file, and with --stores postgres (or
// both) in a schema of its own that it creates in the database of
// --postgres (default $GATEHOUSE_TEST_POSTGRES_URL) and drops at the end.
// --db names any other database. Password hashing uses the production
// OWASP parameters: login numbers are the real cost.
//
// With --instances N it starts N servers on one database, behind one
// issuer as behind a load balancer, and sends each client's successive
// requests to the instances in turn (a refresh on B of A's token, the hard
// case). On PostgreSQL it also reports the database's own commits per
// request (pg_stat_database.xact_commit delta / requests).
//
// With --flood N it floods the server with N concurrent logins for
// --duration instead, then watches it for --settle, and reports the peak
// RSS and how far and how fast it falls back: argon2id's memory is what a
// login flood exhausts.
//
// With --target URL it measures a server already running (another build,
// or another product with the same endpoints), and reads its memory only
// when --pid names its process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type config struct {
	bin         string
	db          string
	target      string
	pid         int
	stores      []string
	postgres    string
	clients     int
	duration    time.Duration
	rounds      int
	scenarios   []string
	extra       []string
	instances   int
	flood       int
	followers   int
	revocations int
	settle      time.Duration
	settleMax   int64 // KiB: the settled RSS the flood report checks against
	peakMax     int64 // KiB: the peak RSS the flood report checks against
}

func parse(args []string) (config, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	var cfg config
	fs.StringVar(&cfg.bin, "bin", "", "gatehouse binary to start (required unless --target)")
	fs.StringVar(&cfg.db, "db", "", "--db of the server, instead of a store of --stores")
	fs.StringVar(&cfg.target, "target", "", "base URL of a server already running, instead of starting one")
	fs.IntVar(&cfg.pid, "pid", 0, "with --target: the server's process, to read its memory from /proc")
	stores := fs.String("stores", "sqlite", "stores to measure in turn: sqlite, postgres, or both")
	fs.StringVar(&cfg.postgres, "postgres", os.Getenv("GATEHOUSE_TEST_POSTGRES_URL"), "PostgreSQL database in which --stores postgres creates (and drops) a schema of its own")
	fs.IntVar(&cfg.clients, "clients", 16, "concurrent clients")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long each scenario, or the flood, runs")
	scen := fs.String("scenarios", "healthz,me,refresh,login", "scenarios to run, in order")
	fs.IntVar(&cfg.rounds, "rounds", 1, "run the scenarios this many times in turn and report each ratio's median over the rounds (a shared machine's speed drifts: each round's ratio compares neighbours in time)")
	extra := fs.String("server-args", "", "extra server flags, space-separated")
	fs.IntVar(&cfg.instances, "instances", 1, "servers to start on the one database; each client spreads its requests over them")
	fs.IntVar(&cfg.flood, "flood", 0, "instead of the scenarios, flood the server with this many concurrent logins and report its memory")
	fs.IntVar(&cfg.followers, "followers", 0, "instead of the scenarios, park this many followers on the revocation feed and report their memory and the revocation-to-follower delay")
	fs.IntVar(&cfg.revocations, "revocations", 20, "with --followers: logouts to deliver")
	fs.DurationVar(&cfg.settle, "settle", 30*time.Second, "with --flood: how long to watch the memory fall back after the flood")
	settleMiB := fs.Int64("settle-below", 64, "with --flood: the RSS (MiB) the server should settle below within --settle")
	peakMiB := fs.Int64("peak-below", 128, "with --flood: the RSS (MiB) the server's peak should stay at or below")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.bin == "" && cfg.target == "" {
		return cfg, errors.New("--bin or --target is required (go build -o /tmp/gatehouse ./cmd/gatehouse)")
	}
	if cfg.instances < 1 {
		return cfg, errors.New("--instances must be at least 1")
	}
	if cfg.flood < 0 {
		return cfg, errors.New("--flood must not be negative")
	}
	if cfg.rounds < 1 {
		return cfg, errors.New("--rounds must be at least 1")
	}
	if *stores == "both" {
		*stores = "sqlite,postgres"
	}
	cfg.stores = strings.Split(*stores, ",")
	for _, s := range cfg.stores {
		if s != "sqlite" && s != "postgres" {
			return cfg, fmt.Errorf("--stores: unknown store %q (sqlite, postgres, both)", s)
		}
	}
	switch {
	case cfg.target != "":
		cfg.stores = []string{"target"}
	case cfg.db != "":
		cfg.stores = []string{"db"}
	}
	cfg.scenarios = strings.Split(*scen, ",")
	for _, s := range cfg.scenarios {
		if _, ok := scenarios[s]; !ok {
			return cfg, fmt.Errorf("--scenarios: unknown scenario %q", s)
		}
	}
	cfg.extra = strings.Fields(*extra)
	if cfg.instances > 1 {
		// One issuer for all, as behind a load balancer: a token of one
		// instance must verify on the others.
		cfg.extra = append([]string{"--issuer", "http://gatehouse.load"}, cfg.extra...)
	}
	cfg.settleMax, cfg.peakMax = *settleMiB*1024, *peakMiB*1024
	return cfg, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parse(args)
	if err != nil {
		return err
	}
	var summary [][]storeRatios
	for _, store := range cfg.stores {
		err := func() error {
			dep, err := deploy(ctx, cfg, store)
			if err != nil {
				return fmt.Errorf("%s: %w", store, err)
			}
			defer dep.close()
			if cfg.flood > 0 {
				return flood(ctx, out, cfg, dep)
			}
			if cfg.followers > 0 {
				return followers(ctx, out, cfg, dep)
			}
			rounds, err := bench(ctx, out, cfg, dep)
			summary = append(summary, rounds)
			return err
		}()
		if err != nil {
			return err
		}
	}
	if cfg.flood == 0 && cfg.followers == 0 {
		printRatios(out, summary)
	}
	return nil
}
