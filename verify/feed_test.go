package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/verify"
)

func TestFeedRefusesRevokedSessionWithinOneSecond(t *testing.T) {
	t.Parallel()
	g := newFakeIssuer(t)
	g.maxWait = 20 * time.Second // a real long poll: the revocation must cut it short
	v := g.follower(nil)
	waitLive(t, v)
	a, b := g.fresh("sid-a"), g.fresh("sid-b")
	for _, tok := range []string{a, b} {
		if got := verdict(v, tok); got != "ok" { // now in the verified-token cache too
			t.Fatalf("before revocation: %s", got)
		}
	}
	time.Sleep(100 * time.Millisecond) // the follower is inside its long poll

	g.revoke("sid-a")
	took := eventually(t, 2*time.Second, "revoked session refused", func() bool { return verdict(v, a) == "session_revoked" })
	if took > time.Second {
		t.Errorf("refused after %v, want within 1 s", took)
	}
	if got := verdict(v, b); got != "ok" {
		t.Errorf("other session: %s", got)
	}
	// Through the middleware, the same problem as Gatehouse's own routes.
	srv := httptest.NewServer(v.Middleware(hello))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Authorization", "Bearer "+a)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Code string }
	_ = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if resp.StatusCode != 401 || p.Code != "session_revoked" || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error_description="the session was ended"`) {
		t.Errorf("middleware: %d %s %q", resp.StatusCode, p.Code, resp.Header.Get("WWW-Authenticate"))
	}
	s := v.FeedStatus()
	if s.State != verify.FeedLive || s.LastSeq != 1 || s.RevokedSessions != 1 || s.LastError != "" || s.Since != nil {
		t.Errorf("status %+v", s)
	}
	if g.wrongScopes.Load() != 0 {
		t.Error("client token asked for a scope other than revocations")
	}
}

func TestFeedCatchesUpBeforeAccepting(t *testing.T) {
	t.Parallel()
	g := newFakeIssuer(t)
	// More than two pages, some too old to matter any more.
	old := make([]string, 5)
	for i := range old {
		old[i] = fmt.Sprintf("old-%d", i)
	}
	g.revokeAt(g.clock.Now().Add(-2*time.Hour), old...)
	var sids []string
	for i := range 2500 {
		sids = append(sids, fmt.Sprintf("sid-%d", i))
	}
	g.revoke(sids...)
	g.drop.Store(true) // nothing answers yet
	v := g.follower(nil)
	tok := g.fresh("sid-2499")
	other := g.fresh("other")

	time.Sleep(200 * time.Millisecond)
	if got := verdict(v, other); got != "unavailable" {
		t.Fatalf("before the first answer: %s, want unavailable", got)
	}
	if v.FeedReady() {
		t.Fatal("ready before the first answer")
	}
	rec := httptest.NewRecorder()
	v.FeedHealth().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var hs verify.FeedStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &hs); err != nil || rec.Code != 503 || hs.State != verify.FeedSyncing {
		t.Fatalf("health while syncing: %d %s", rec.Code, rec.Body)
	}

	g.drop.Store(false)
	waitLive(t, v)
	if !v.FeedReady() {
		t.Fatal("live but not ready")
	}
	if got := verdict(v, tok); got != "session_revoked" {
		t.Errorf("last page's session: %s", got)
	}
	if got := verdict(v, g.fresh("sid-0")); got != "session_revoked" {
		t.Errorf("first page's session: %s", got)
	}
	if got := verdict(v, other); got != "ok" {
		t.Errorf("unrevoked session: %s", got)
	}
	if s := v.FeedStatus(); s.LastSeq != 2505 || s.RevokedSessions != 2500 {
		t.Errorf("status %+v: want last seq 2505 and 2500 sessions (the 5 old ones are past MaxTokenLifetime)", s)
	}
	rec = httptest.NewRecorder()
	v.FeedHealth().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"state":"live"`) {
		t.Errorf("health when live: %d %s", rec.Code, rec.Body)
	}
	// The pages were read in order, each from where the last one ended.
	var pages []int64
	for _, a := range g.feedAfters() {
		if len(pages) == 0 || pages[len(pages)-1] != a {
			pages = append(pages, a)
		}
	}
	if !slices.Equal(pages[:4], []int64{0, 1000, 2000, 2505}) {
		t.Errorf("after= sequence %v", pages)
	}
}

func TestFeedResumesAfterDroppedConnections(t *testing.T) {
	t.Parallel()
	g := newFakeIssuer(t)
	g.revoke("s1", "s2")
	v := g.follower(nil)
	waitLive(t, v)
	g.drop.Store(true)
	n := g.feedGets.Load()
	eventually(t, 2*time.Second, "retries while dropped", func() bool { return g.feedGets.Load() >= n+3 })
	if s := v.FeedStatus(); s.LastError == "" || s.State != verify.FeedLive {
		t.Errorf("while dropped (under FeedStaleAfter): %+v", s)
	}
	g.revoke("s3")
	g.drop.Store(false)
	tok := g.fresh("s3")
	eventually(t, 12*time.Second, "revocation after reconnect", func() bool { return verdict(v, tok) == "session_revoked" })
	for _, a := range g.feedAfters() {
		if a != 0 && a != 2 && a != 3 {
			t.Fatalf("after=%d: not resumed where the feed left off", a)
		}
	}
	if i := slices.Index(g.feedAfters(), 2); i < 0 || slices.Contains(g.feedAfters()[i:], 0) {
		t.Errorf("re-read the feed from the start: %v", g.feedAfters())
	}
	if s := v.FeedStatus(); s.LastSeq != 3 || s.LastError != "" {
		t.Errorf("status after recovery %+v", s)
	}
}

func TestFeedGap(t *testing.T) {
	t.Parallel()
	g := newFakeIssuer(t)
	g.revoke("s1")
	v := g.follower(nil)
	waitLive(t, v)

	// While the follower is away, entries 2–4 come and 1–3 are pruned.
	g.drop.Store(true)
	now := g.clock.Now()
	since := now.Add(-10 * time.Second)
	g.revokeAt(since.Add(-time.Minute), "s2", "s3")
	g.revokeAt(since.Add(time.Second), "s4")
	g.prune(4, since)
	g.drop.Store(false)

	oldTok := g.user("other-old", since.Add(-20*time.Second), time.Hour)
	edgeTok := g.user("other-edge", since, time.Hour) // within the 1 s margin
	newTok := g.user("other-new", since.Add(5*time.Second), time.Hour)
	s4 := g.user("s4", since.Add(5*time.Second), time.Hour)
	// Up to one long poll (5 s with the default FeedStaleAfter) may be
	// parked from before the prune: allow for it, and for a loaded machine.
	eventually(t, 15*time.Second, "gap handled", func() bool {
		s := v.FeedStatus()
		return s.Since != nil && s.State == verify.FeedLive && s.LastSeq == 4
	})
	for tok, want := range map[string]string{
		oldTok: "token_expired", edgeTok: "token_expired", newTok: "ok", s4: "session_revoked",
	} {
		if got := verdict(v, tok); got != want {
			t.Errorf("%s: got %s, want %s", strings.Split(tok, ".")[1][:20], got, want)
		}
	}
	if s := v.FeedStatus(); !s.Since.Equal(since) {
		t.Errorf("since %v, want %v", s.Since, since)
	}
	afters := g.feedAfters()
	if i := slices.Index(afters, 3); i < 0 || !slices.Contains(afters[:i], 1) {
		t.Errorf("not resumed from first_seq-1 after asking from 1: %v", afters)
	}
}

func TestFeedGapAtStart(t *testing.T) {
	t.Parallel()
	g := newFakeIssuer(t)
	since := g.clock.Now().Add(-time.Minute)
	g.revokeAt(since.Add(-time.Minute), "gone")
	g.revokeAt(since.Add(time.Second), "kept")
	g.prune(2, since)
	v := g.follower(nil)
	waitLive(t, v)
	if got := verdict(v, g.user("gone", since.Add(-2*time.Minute), time.Hour)); got != "token_expired" {
		t.Errorf("token from before the horizon: %s", got)
	}
	if got := verdict(v, g.fresh("kept")); got != "session_revoked" {
		t.Errorf("kept: %s", got)
	}
	if got := verdict(v, g.fresh("new")); got != "ok" {
		t.Errorf("new: %s", got)
	}
}

func TestFeedStaleThenRecovers(t *testing.T) {
	t.Parallel()
	g := newFakeIssuer(t)
	v := g.follower(func(c *verify.Config) { c.FeedStaleAfter = time.Second })
	waitLive(t, v)
	tok := g.fresh("s")
	srv := httptest.NewServer(v.Middleware(hello))
	defer srv.Close()
	status := func() (int, string) {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	if code, _ := status(); code != 200 {
		t.Fatalf("live: %d", code)
	}
	g.drop.Store(true)
	took := eventually(t, 3*time.Second, "stale", func() bool { return v.FeedStatus().State == verify.FeedStale })
	if took < 500*time.Millisecond {
		t.Errorf("stale after only %v", took)
	}
	if code, retry := status(); code != 503 || retry == "" {
		t.Errorf("stale: %d, Retry-After %q", code, retry)
	}
	if s := v.FeedStatus(); s.Lag < time.Second || s.LastError == "" || v.FeedReady() {
		t.Errorf("stale status %+v", s)
	}
	g.drop.Store(false)
	waitLive(t, v)
	if code, _ := status(); code != 200 {
		t.Errorf("recovered: %d", code)
	}
}

func TestFeedRenewsClientToken(t *testing.T) {
	t.Parallel()
	g := newFakeIssuer(t)
	g.expiresIn.Store(2)
	v := g.follower(nil)
	waitLive(t, v)
	// Renewed before it expires, without a 401 first.
	eventually(t, 3*time.Second, "renewal before expiry", func() bool { return g.tokenPosts.Load() >= 2 })
	if n := g.feed401s.Load(); n != 0 {
		t.Errorf("%d 401s before renewal", n)
	}
	g.expiresIn.Store(300)
	// And at once after a 401 (Gatehouse forgot it: rotation, restore).
	posts := g.tokenPosts.Load()
	g.forgetClientTokens()
	// The poll in flight ends (200 ms at most), the next one is refused.
	eventually(t, time.Second, "renewal after a 401", func() bool {
		return g.feed401s.Load() > 0 && g.tokenPosts.Load() > posts
	})
	g.revoke("s")
	tok := g.fresh("s")
	eventually(t, time.Second, "revocation seen with the renewed token", func() bool { return verdict(v, tok) == "session_revoked" })
	if s := v.FeedStatus(); s.State != verify.FeedLive {
		t.Errorf("status %+v", s)
	}
}

func TestFeedWrongSecret(t *testing.T) {
	t.Parallel()
	g := newFakeIssuer(t)
	v := g.follower(func(c *verify.Config) { c.ClientSecret = "wrong" })
	eventually(t, 2*time.Second, "error reported", func() bool { return v.FeedStatus().LastError != "" })
	time.Sleep(300 * time.Millisecond)
	s := v.FeedStatus()
	if s.State != verify.FeedSyncing || !strings.Contains(s.LastError, "401") || !strings.Contains(s.LastError, "invalid_client") {
		t.Errorf("status %+v", s)
	}
	if got := verdict(v, g.fresh("s")); got != "unavailable" {
		t.Errorf("verdict %s", got)
	}
	if g.feedGets.Load() != 0 {
		t.Error("feed asked without a client token")
	}
	if n := g.tokenPosts.Load(); n < 2 || n > 10 {
		t.Errorf("%d token requests in ~0.5 s: want retries with backoff", n)
	}
}

func TestFeedPrunesAfterMaxTokenLifetime(t *testing.T) {
	t.Parallel()
	g := newFakeIssuer(t)
	v := g.follower(func(c *verify.Config) { c.MaxTokenLifetime = 30 * time.Minute })
	waitLive(t, v)
	// A token living longer than MaxTokenLifetime says is a misconfiguration,
	// but it shows when the sid leaves the set.
	tok := g.user("s", g.clock.Now(), 3*time.Hour)
	g.revoke("s")
	eventually(t, time.Second, "refused", func() bool { return verdict(v, tok) == "session_revoked" })
	g.clock.Advance(29 * time.Minute)
	waitLive(t, v) // the jump makes the last answer look old until the next
	if got := verdict(v, tok); got != "session_revoked" {
		t.Errorf("before MaxTokenLifetime: %s", got)
	}
	g.clock.Advance(time.Minute + time.Second)
	eventually(t, 2*time.Second, "pruned", func() bool { return v.FeedStatus().RevokedSessions == 0 })
	waitLive(t, v)
	if got := verdict(v, tok); got != "ok" {
		t.Errorf("after MaxTokenLifetime: %s", got)
	}
}

func TestFeedMetrics(t *testing.T) {
	t.Parallel()
	g := newFakeIssuer(t)
	g.revoke("a", "b")
	v := g.follower(nil)
	waitLive(t, v)
	reg := prometheus.NewRegistry()
	reg.MustRegister(v.FeedCollector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			got[name] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"gatehouse_verify_feed_last_seq": 2, "gatehouse_verify_feed_revoked_sessions": 2,
		"gatehouse_verify_feed_state/live": 1, "gatehouse_verify_feed_state/stale": 0,
		"gatehouse_verify_feed_state/syncing": 0, "gatehouse_verify_feed_errors_total": 0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if lag, ok := got["gatehouse_verify_feed_lag_seconds"]; !ok || lag < 0 || lag > 5 {
		t.Errorf("lag %v", lag)
	}
}

func TestFeedClose(t *testing.T) {
	t.Parallel()
	g := newFakeIssuer(t)
	g.maxWait = 20 * time.Second
	v := g.follower(nil)
	waitLive(t, v)
	start := time.Now()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v: the long poll was not cut", d)
	}
	_ = v.Close()
	n := g.feedGets.Load()
	time.Sleep(200 * time.Millisecond)
	if g.feedGets.Load() != n {
		t.Error("feed asked after Close")
	}
	if got := verdict(v, g.fresh("s")); got != "unavailable" {
		t.Errorf("after Close: %s", got)
	}
}

func TestNoCredentialsNoFeed(t *testing.T) {
	t.Parallel()
	g := newFakeIssuer(t)
	g.revoke("s")
	v, err := verify.New(context.Background(), verify.Config{Issuer: g.srv.URL, Audience: "gatehouse"})
	if err != nil {
		t.Fatal(err)
	}
	if got := verdict(v, g.fresh("s")); got != "ok" {
		t.Errorf("without a feed: %s", got)
	}
	if s := v.FeedStatus(); s.State != verify.FeedOff || !v.FeedReady() {
		t.Errorf("status %+v", s)
	}
	rec := httptest.NewRecorder()
	v.FeedHealth().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Errorf("health %d", rec.Code)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(v.FeedCollector())
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 0 {
		t.Errorf("metrics without a feed: %v %v", mfs, err)
	}
	if err := v.Close(); err != nil {
		t.Error(err)
	}
	time.Sleep(50 * time.Millisecond)
	if g.tokenPosts.Load() != 0 || g.feedGets.Load() != 0 {
		t.Error("a verifier without credentials talked to the feed")
	}
	for _, cfg := range []verify.Config{
		{Issuer: g.srv.URL, Audience: "gatehouse", ClientID: "x"},
		{Issuer: g.srv.URL, Audience: "gatehouse", ClientSecret: "x"},
	} {
		if _, err := verify.New(context.Background(), cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}
