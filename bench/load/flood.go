package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// flood sends cfg.flood concurrent logins in a closed loop for
// cfg.duration, then watches the server's memory for cfg.settle. Each
// login costs one argon2id hash of 19 MiB (OWASP), the most memory any
// request takes, so this is the flood that exhausts a server's memory if
// anything does.
func flood(ctx context.Context, out io.Writer, cfg config, d *deployment) error {
	hc := newHTTPClient(cfg.flood)
	users, err := setupUsers(hc, d.bases[0], cfg.flood)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n[%s] gatehouse %s, login flood: %d concurrent clients for %s, then %s to settle, db %s\n",
		d.store, d.bases[0], cfg.flood, cfg.duration, cfg.settle, d.db)
	fmt.Fprintf(out, "before the flood: RSS %s, peak so far %s\n", mib(d.rss("VmRSS")), mib(d.rss("VmHWM")))

	var ok, busy, failed atomic.Int64
	fctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for _, u := range users {
		wg.Go(func() {
			for fctx.Err() == nil {
				err := u.login(hc, d.bases[0])
				var se *statusError
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &se) && se.status == 503:
					busy.Add(1)
				default:
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	peak := d.rss("VmHWM")
	fmt.Fprintf(out, "flood: %d logins in %s (%.1f/s), %d answered 503 server_busy, %d failed otherwise\n",
		ok.Load(), elapsed.Round(time.Millisecond), float64(ok.Load())/elapsed.Seconds(), busy.Load(), failed.Load())
	if peak < 0 {
		fmt.Fprintln(out, "memory: unknown (give --pid with --target)")
		return ctx.Err()
	}

	// Watch the memory fall back; report it at a few marks and when it
	// first drops below the bound.
	marks := []time.Duration{0, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 20 * time.Second, 30 * time.Second}
	end := time.Now()
	var below time.Duration = -1
	var last int64
	for ctx.Err() == nil {
		since := time.Since(end)
		last = d.rss("VmRSS")
		if below < 0 && last < cfg.settleMax {
			below = since
		}
		for len(marks) > 0 && since >= marks[0] {
			fmt.Fprintf(out, "  RSS %3.0fs after: %s\n", since.Seconds(), mib(last))
			marks = marks[1:]
		}
		if since >= cfg.settle {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	verdict := func(good bool) string {
		if good {
			return "ok"
		}
		return "OVER"
	}
	fmt.Fprintf(out, "peak RSS (VmHWM) %s: %s (bound %s)\n", mib(peak), verdict(peak <= cfg.peakMax), mib(cfg.peakMax))
	if below >= 0 {
		fmt.Fprintf(out, "settled RSS %s: below %s %.1fs after the flood: %s\n", mib(last), mib(cfg.settleMax), below.Seconds(), verdict(below <= cfg.settle))
	} else {
		fmt.Fprintf(out, "settled RSS %s: not below %s within %s: OVER\n", mib(last), mib(cfg.settleMax), cfg.settle)
	}
	return ctx.Err()
}
