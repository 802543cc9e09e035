package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// scenario is one request of a client; it updates the user's tokens.
type scenario func(hc *http.Client, base string, u *user) error

var scenarios = map[string]scenario{
	// healthz is the floor: the same HTTP stack and middleware, no
	// token, no database. The other scenarios are reported against it.
	"healthz": func(hc *http.Client, base string, u *user) error {
		req, _ := http.NewRequest("GET", base+"/healthz", nil)
		_, err := do(hc, req, 200)
		return err
	},
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
		return u.take(body)
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

// storeRatios are one pass's figures for the ratios to /healthz.
type storeRatios struct {
	store                string
	healthz, me, refresh float64            // req/s; 0 when not run
	cpu                  map[string]float64 // server CPU µs per request, by scenario
}

// bench runs the scenarios against one deployment, --rounds times in
// turn, and prints a row for each run; it returns each round's figures.
func bench(ctx context.Context, out io.Writer, cfg config, d *deployment) ([]storeRatios, error) {
	hc := newHTTPClient(cfg.clients)
	users, err := setupUsers(hc, d.bases[0], cfg.clients)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "\n[%s] gatehouse %s, %d instance(s), %d clients, %s per scenario, %d round(s), db %s\n",
		d.store, strings.Join(d.bases, " "), len(d.bases), cfg.clients, cfg.duration, cfg.rounds, d.db)
	fmt.Fprintf(out, "%-10s %10s %10s %10s %10s %8s %12s %10s %6s %12s\n", "scenario", "requests", "req/s", "p50", "p99", "errors", "peak RSS", "CPU/req", "GCs", "db commits")
	var rounds []storeRatios
	for range cfg.rounds {
		r := storeRatios{store: d.store, cpu: map[string]float64{}}
		for _, name := range cfg.scenarios {
			if ctx.Err() != nil {
				return rounds, ctx.Err()
			}
			rate := benchOne(ctx, out, cfg, d, hc, users, name, r.cpu)
			switch name {
			case "healthz":
				r.healthz = rate
			case "me":
				r.me = rate
			case "refresh":
				r.refresh = rate
			}
		}
		rounds = append(rounds, r)
	}
	return rounds, nil
}

// benchOne measures one scenario, prints its row, records its server CPU
// per request in cpu and returns its rate.
func benchOne(ctx context.Context, out io.Writer, cfg config, d *deployment, hc *http.Client, users []*user, name string, cpuByName map[string]float64) float64 {
	before := d.commits.settled()
	cpu0, gc0 := d.cpu(), gcCount(hc, d.bases[0])
	res := measure(ctx, hc, d.bases, users, cfg.duration, scenarios[name])
	cpu, cpu1 := "-", d.cpu()
	if cpu0 >= 0 && cpu1 >= 0 && res.n > 0 {
		us := float64((cpu1 - cpu0).Microseconds()) / float64(res.n)
		cpuByName[name] = us
		cpu = fmt.Sprintf("%.0fµs", us)
	}
	gcs := "-"
	if gc1 := gcCount(hc, d.bases[0]); gc0 >= 0 && gc1 >= 0 {
		gcs = fmt.Sprint(gc1 - gc0)
	}
	perReq := "-"
	if d.commits != nil && res.n > 0 {
		perReq = fmt.Sprintf("%.2f/req", float64(d.commits.settled()-before)/float64(res.n))
	}
	fmt.Fprintf(out, "%-10s %10d %10.0f %10s %10s %8d %12s %10s %6s %12s\n", name, res.n, res.rate, res.p50, res.p99, res.errors, mib(d.rss("VmHWM")), cpu, gcs, perReq)
	return res.rate
}

// printRatios prints me/healthz and refresh/healthz of every pass in one
// table, the figures the issues set goals for: by requests per second, and
// by the server's CPU per request (healthz's over the scenario's: the
// rate ratio a server with the CPUs to itself would reach), which the load
// generator and other work on the machine disturb less. Over several
// rounds each ratio is computed within each round and the median is
// printed, with the lowest and highest in brackets.
func printRatios(out io.Writer, all [][]storeRatios) {
	fmt.Fprintf(out, "\n%-10s %12s %20s %20s %20s %20s\n", "store", "healthz/s", "me/healthz", "refresh/healthz", "by CPU: me", "by CPU: refresh")
	for _, rounds := range all {
		if len(rounds) == 0 {
			continue
		}
		col := func(f func(r storeRatios) (float64, float64)) string {
			var xs []float64
			for _, r := range rounds {
				if a, b := f(r); a > 0 && b > 0 {
					xs = append(xs, a/b)
				}
			}
			return medianRange(xs)
		}
		var healthz []float64
		for _, r := range rounds {
			healthz = append(healthz, r.healthz)
		}
		sort.Float64s(healthz)
		fmt.Fprintf(out, "%-10s %12.0f %20s %20s %20s %20s\n", rounds[0].store, healthz[len(healthz)/2],
			col(func(r storeRatios) (float64, float64) { return r.me, r.healthz }),
			col(func(r storeRatios) (float64, float64) { return r.refresh, r.healthz }),
			col(func(r storeRatios) (float64, float64) { return r.cpu["healthz"], r.cpu["me"] }),
			col(func(r storeRatios) (float64, float64) { return r.cpu["healthz"], r.cpu["refresh"] }))
	}
}

// medianRange formats the median of xs, and with more than one, their
// range: "0.181 [0.150-0.200]".
func medianRange(xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	sort.Float64s(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	if len(xs) == 1 {
		return fmt.Sprintf("%.3f", m)
	}
	return fmt.Sprintf("%.3f [%.3f-%.3f]", m, xs[0], xs[len(xs)-1])
}

// measure runs sc in a closed loop, one goroutine per user, for d.
func measure(ctx context.Context, hc *http.Client, bases []string, users []*user, d time.Duration, sc scenario) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	for i, u := range users {
		wg.Go(func() {
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
		})
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
