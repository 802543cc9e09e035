package verify

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FeedStatus is the state of a Verifier's revocation-feed follower.
type FeedStatus struct {
	// State is FeedOff (no client credentials), FeedSyncing, FeedLive or
	// FeedStale. Verify accepts tokens only when it is FeedLive or FeedOff.
	State string `json:"state"`
	// LastSeq is the feed position read up to.
	LastSeq int64 `json:"last_seq"`
	// Lag is the time since the last successful feed answer (since the
	// start before the first).
	Lag time.Duration `json:"-"`
	// LagSeconds is Lag in seconds, for the JSON of the health check.
	LagSeconds float64 `json:"lag_seconds"`
	// RevokedSessions is the size of the revoked-session set.
	RevokedSessions int `json:"revoked_sessions"`
	// LastError is the error of the last failed exchange with Gatehouse,
	// cleared by the next successful one.
	LastError string `json:"last_error,omitempty"`
	// Since is the horizon of the last feed gap (410), zero if none came:
	// tokens issued before it (plus 1 s) are refused as expired.
	Since *time.Time `json:"since,omitempty"`
}

// FeedStatus reports the revocation-feed follower's state. A Verifier
// without client credentials (or a [Local] one) reports FeedOff.
func (v *Verifier) FeedStatus() FeedStatus {
	f := v.feed
	if f == nil {
		return FeedStatus{State: FeedOff}
	}
	now := f.now()
	s := FeedStatus{State: f.state(now), LastSeq: f.lastSeq.Load()}
	last := f.started
	if ns := f.lastOK.Load(); ns != 0 {
		last = time.Unix(0, ns)
	}
	s.Lag = max(now.Sub(last), 0)
	s.LagSeconds = s.Lag.Seconds()
	f.mu.RLock()
	s.RevokedSessions = len(f.revoked)
	s.LastError = f.lastErr
	if !f.since.IsZero() {
		since := f.since
		s.Since = &since
	}
	f.mu.RUnlock()
	return s
}

// FeedReady reports whether Verify can accept tokens: the follower is live,
// or there is none. A service that follows the feed should report ready
// (to its orchestrator's readiness probe) only once this is true, since
// until then every token is refused with 503.
func (v *Verifier) FeedReady() bool {
	st := v.FeedStatus().State
	return st == FeedLive || st == FeedOff
}

// FeedHealth is an http.Handler for a readiness or health probe: 200 when
// [Verifier.FeedReady], 503 otherwise, with the [FeedStatus] as JSON.
func (v *Verifier) FeedHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := v.FeedStatus()
		code := http.StatusOK
		if s.State != FeedLive && s.State != FeedOff {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(s)
	})
}

var (
	descLag = prometheus.NewDesc("gatehouse_verify_feed_lag_seconds",
		"Seconds since the last successful answer of Gatehouse's revocation feed.", nil, nil)
	descSeq = prometheus.NewDesc("gatehouse_verify_feed_last_seq",
		"Revocation-feed position read up to.", nil, nil)
	descRevoked = prometheus.NewDesc("gatehouse_verify_feed_revoked_sessions",
		"Revoked sessions whose tokens are refused.", nil, nil)
	descState = prometheus.NewDesc("gatehouse_verify_feed_state",
		"1 for the follower's current state (syncing, live, stale), 0 for the others.", []string{"state"}, nil)
	descErrors = prometheus.NewDesc("gatehouse_verify_feed_errors_total",
		"Failed exchanges with Gatehouse's token endpoint or revocation feed.", nil, nil)
)

// feedCollector is the prometheus.Collector of [Verifier.FeedCollector].
type feedCollector struct{ v *Verifier }

// FeedCollector returns a prometheus.Collector of the follower's state:
// lag, last seq, revoked-set size, state and errors. Register it in the
// service's registry; a Verifier without a feed collects nothing.
func (v *Verifier) FeedCollector() prometheus.Collector { return feedCollector{v} }

func (c feedCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLag, descSeq, descRevoked, descState, descErrors} {
		ch <- d
	}
}

func (c feedCollector) Collect(ch chan<- prometheus.Metric) {
	if c.v.feed == nil {
		return
	}
	s := c.v.FeedStatus()
	ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, s.LagSeconds)
	ch <- prometheus.MustNewConstMetric(descSeq, prometheus.GaugeValue, float64(s.LastSeq))
	ch <- prometheus.MustNewConstMetric(descRevoked, prometheus.GaugeValue, float64(s.RevokedSessions))
	for _, st := range []string{FeedSyncing, FeedLive, FeedStale} {
		val := 0.0
		if st == s.State {
			val = 1
		}
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, val, st)
	}
	ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(c.v.feed.errs.Load()))
}
