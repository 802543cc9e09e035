package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Feed states, as [FeedStatus.State] and the health check report them.
const (
	FeedOff     = "off"     // no client credentials: no feed is followed
	FeedSyncing = "syncing" // not caught up yet (start, or after a feed gap)
	FeedLive    = "live"    // caught up, last answer within FeedStaleAfter
	FeedStale   = "stale"   // caught up once, but no answer for too long
)

const (
	// maxPollWait is the longest wait asked of the feed: under the 30 s
	// idle timeout of many proxies and load balancers.
	maxPollWait = 25 * time.Second
	// backoffMin and backoffMax bound the pause after a failed exchange.
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
	// earlyPause spaces long polls answered empty well before their wait
	// (a Gatehouse shutting down answers at once): no busy loop.
	earlyPause = 100 * time.Millisecond
	// pruneEvery is how often expired sids leave the revoked set.
	pruneEvery = time.Minute
	// maxFeedAnswer bounds a feed answer read (1000 entries are ~100 KB).
	maxFeedAnswer = 4 << 20
	// cutoffMargin widens the feed-gap horizon for clock skew between the
	// instance that issued a token and the one that pruned the feed.
	cutoffMargin = time.Second
)

// follower reads Gatehouse's revocation feed in a goroutine of its own and
// answers, for Verify, whether a token's session was revoked. Fields after
// the atomics are the loop's own, except those under mu.
type follower struct {
	client              *http.Client
	tokenURL, feedURL   string
	clientID, secret    string
	now                 func() time.Time
	log                 *slog.Logger
	maxLife, staleAfter time.Duration
	wait                time.Duration

	started time.Time
	live    atomic.Bool  // caught up; false again after a feed gap
	lastOK  atomic.Int64 // unix ns of the last 200 from the feed; 0 before
	lastSeq atomic.Int64
	cutoff  atomic.Int64 // unix ns: tokens issued before are refused; 0 none
	errs    atomic.Int64 // failed exchanges, for the metrics

	mu      sync.RWMutex
	revoked map[string]time.Time // sid → when its tokens have all expired
	lastErr string
	since   time.Time // horizon of the last feed gap

	after     int64 // the loop's position in the feed
	tok       string
	tokRenew  time.Time
	lastPrune time.Time

	stop context.CancelFunc
	done chan struct{}
}

func newFollower(cfg *Config, issuer string) *follower {
	// The long poll needs a deadline longer than a client-wide Timeout may
	// allow: each request here carries its own.
	hc := *cfg.HTTPClient
	hc.Timeout = 0
	wait := min(maxPollWait, cfg.FeedStaleAfter/2).Truncate(time.Second)
	if wait < time.Second {
		wait = time.Second
	}
	now := cfg.Now()
	return &follower{
		client:   &hc,
		tokenURL: issuer + "/api/auth/token", feedURL: issuer + "/api/auth/revocations",
		clientID: cfg.ClientID, secret: cfg.ClientSecret,
		now: cfg.Now, log: cfg.Logger,
		maxLife: cfg.MaxTokenLifetime, staleAfter: cfg.FeedStaleAfter, wait: wait,
		started: now, lastPrune: now,
		revoked: make(map[string]time.Time),
		done:    make(chan struct{}),
	}
}

// start runs the loop until close.
func (f *follower) start() {
	ctx, cancel := context.WithCancel(context.Background())
	f.stop = cancel
	go f.run(ctx)
}

func (f *follower) close() {
	f.stop()
	<-f.done
}

// check refuses claims the feed says must not pass. It runs after the
// signature and claims were verified, cached or not, so the token cache
// needs no eviction: a revoked sid is looked up on every Verify.
func (f *follower) check(c *gatehouse.AccessClaims) error {
	now := f.now()
	switch f.state(now) {
	case FeedSyncing:
		return fmt.Errorf("%w: revocation feed not caught up yet", gatehouse.ErrUnavailable)
	case FeedStale:
		return fmt.Errorf("%w: revocation feed stale", gatehouse.ErrUnavailable)
	}
	if cut := f.cutoff.Load(); cut != 0 && c.IssuedAt.UnixNano() < cut {
		// Issued before the feed's horizon: its session may have been
		// revoked in the part of the feed that was pruned unseen.
		return fmt.Errorf("%w: issued before the revocation feed's horizon", gatehouse.ErrTokenExpired)
	}
	f.mu.RLock()
	until, ok := f.revoked[c.SessionID]
	f.mu.RUnlock()
	if ok && now.Before(until) {
		return gatehouse.ErrSessionRevoked
	}
	return nil
}

func (f *follower) state(now time.Time) string {
	if !f.live.Load() {
		return FeedSyncing
	}
	if now.Sub(time.Unix(0, f.lastOK.Load())) > f.staleAfter {
		return FeedStale
	}
	return FeedLive
}

func (f *follower) run(ctx context.Context) {
	defer close(f.done)
	var pause time.Duration
	for ctx.Err() == nil {
		err := f.exchange(ctx)
		if err == nil {
			pause = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		f.errs.Add(1)
		f.setErr(ctx, err)
		pause = min(max(2*pause, backoffMin), backoffMax)
		t := time.NewTimer(pause + rand.N(pause/4+1)) // jitter spreads many followers' retries
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (f *follower) setErr(ctx context.Context, err error) {
	msg := err.Error()
	f.mu.Lock()
	repeated := f.lastErr == msg
	f.lastErr = msg
	f.mu.Unlock()
	if !repeated { // one line per new error, not one per retry
		f.log.WarnContext(ctx, "revocation feed", "err", msg)
	}
}

// errFeedRefused is a 401 from the feed: the client token is renewed.
var errFeedRefused = errors.New("verify: revocation feed: 401, client token refused")

// exchange is one poll of the feed, renewing the client token first when
// due and once more after a 401.
func (f *follower) exchange(ctx context.Context) error {
	err := f.poll(ctx)
	if errors.Is(err, errFeedRefused) {
		f.tok = "" // revoked, or the signing key rotated: get a new one
		err = f.poll(ctx)
		if errors.Is(err, errFeedRefused) {
			f.tok = ""
		}
	}
	return err
}

// feedAnswer is the feed's 200 body.
type feedAnswer struct {
	Entries []struct {
		Seq int64     `json:"seq"`
		SID string    `json:"sid"`
		At  time.Time `json:"at"`
	} `json:"entries"`
	LastSeq *int64 `json:"last_seq"`
}

// feedGap is the feed's 410 body.
type feedGap struct {
	Code     string    `json:"code"`
	FirstSeq int64     `json:"first_seq"`
	Since    time.Time `json:"since"`
}

func (f *follower) poll(ctx context.Context) error {
	tok, err := f.token(ctx)
	if err != nil {
		return err
	}
	// While syncing, pages are asked for at once until an empty one shows
	// the follower has caught up; then it long-polls.
	wait := f.wait
	if !f.live.Load() {
		wait = 0
	}
	ctx, cancel := context.WithTimeout(ctx, wait+fetchTimeout)
	defer cancel()
	q := url.Values{"after": {strconv.FormatInt(f.after, 10)}, "wait": {strconv.Itoa(int(wait / time.Second))}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.feedURL+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	sent := time.Now()
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("verify: revocation feed: %w", err)
	}
	defer resp.Body.Close()
	body, err := readJSON(resp, maxFeedAnswer)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return errFeedRefused
	case resp.StatusCode == http.StatusGone:
		if err != nil {
			return fmt.Errorf("verify: revocation feed: 410: %w", err)
		}
		return f.gap(ctx, body)
	case resp.StatusCode != http.StatusOK:
		hint := ""
		if resp.StatusCode == http.StatusForbidden {
			hint = " (does the client have scope revocations?)"
		}
		return fmt.Errorf("verify: revocation feed: status %d%s", resp.StatusCode, hint)
	case err != nil:
		return fmt.Errorf("verify: revocation feed: %w", err)
	}
	var a feedAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("verify: revocation feed: %w", err)
	}
	if a.LastSeq == nil || *a.LastSeq < f.after {
		return errors.New("verify: revocation feed: answer without a last_seq at or after the one asked for")
	}
	now := f.now()
	f.mu.Lock()
	for _, e := range a.Entries {
		if e.Seq <= f.after || e.Seq > *a.LastSeq || e.SID == "" {
			f.mu.Unlock()
			return fmt.Errorf("verify: revocation feed: entry seq %d outside (%d, %d] or without sid", e.Seq, f.after, *a.LastSeq)
		}
		// Its tokens were issued before it was revoked, so they have all
		// expired MaxTokenLifetime after: then the sid can go.
		if until := e.At.Add(f.maxLife); until.After(now) && until.After(f.revoked[e.SID]) {
			f.revoked[e.SID] = until
		}
	}
	if now.Sub(f.lastPrune) >= pruneEvery {
		f.lastPrune = now
		for sid, until := range f.revoked {
			if !now.Before(until) {
				delete(f.revoked, sid)
			}
		}
	}
	f.lastErr = ""
	f.mu.Unlock()
	f.after = *a.LastSeq
	f.lastSeq.Store(f.after)
	// Freshness is stored after the set is whole, so that Verify never
	// sees it without the entries it covers.
	f.lastOK.Store(now.UnixNano())
	if !f.live.Load() && len(a.Entries) == 0 {
		f.live.Store(true)
		f.log.InfoContext(ctx, "revocation feed live", "last_seq", f.after)
	}
	if wait > 0 && len(a.Entries) == 0 && time.Since(sent) < wait/2 {
		t := time.NewTimer(earlyPause)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return nil
}

// gap handles a 410 feed_gap: entries after f.after were pruned (or the
// feed restarted below it). Every revocation at or after since is still
// held, from first_seq on, so the follower re-reads from there and, for
// what it may have missed before since, refuses every token issued before
// since: a session revoked then can only have tokens issued before then.
func (f *follower) gap(ctx context.Context, body []byte) error {
	var g feedGap
	if err := json.Unmarshal(body, &g); err != nil || g.Code != "feed_gap" || g.FirstSeq < 1 || g.Since.IsZero() {
		return fmt.Errorf("verify: revocation feed: 410 without a valid feed_gap: %.200s", body)
	}
	if g.FirstSeq-1 == f.after {
		// Resuming where it says would loop on the same answer.
		return fmt.Errorf("verify: revocation feed: 410 for after=%d, which it named itself", f.after)
	}
	cut := g.Since.Add(cutoffMargin).UnixNano()
	if cut > f.cutoff.Load() {
		f.cutoff.Store(cut)
	}
	f.mu.Lock()
	f.since = g.Since
	f.mu.Unlock()
	f.log.WarnContext(ctx, "revocation feed gap: refusing tokens issued before its horizon",
		"after", f.after, "first_seq", g.FirstSeq, "since", g.Since)
	f.after = g.FirstSeq - 1
	f.lastSeq.Store(f.after)
	f.live.Store(false) // catch up before trusting the set again
	return nil
}

// token returns the client-credentials token, fetching a new one when it
// is due for renewal.
func (f *follower) token(ctx context.Context) (string, error) {
	if f.tok != "" && f.now().Before(f.tokRenew) {
		return f.tok, nil
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"revocations"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	// RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic
	// encodes them, which url.QueryEscape does (space as +).
	req.SetBasicAuth(url.QueryEscape(f.clientID), url.QueryEscape(f.secret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("verify: client token: %w", err)
	}
	defer resp.Body.Close()
	body, err := readJSON(resp, maxDocument)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return "", fmt.Errorf("verify: client token: status %d %s", resp.StatusCode, e.Error)
	}
	if err != nil {
		return "", fmt.Errorf("verify: client token: %w", err)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return "", fmt.Errorf("verify: client token: %w", err)
	}
	// RFC 6749 §7.1: the token type is case-insensitive.
	if t.AccessToken == "" || !strings.EqualFold(t.TokenType, "bearer") {
		return "", errors.New("verify: client token: answer without a bearer access_token")
	}
	// Renewed at three quarters of its life, well before it expires; a
	// token without expires_in is used for a minute.
	life := time.Minute
	if t.ExpiresIn > 0 {
		life = time.Duration(t.ExpiresIn) * time.Second
	}
	f.tok, f.tokRenew = t.AccessToken, f.now().Add(life*3/4)
	return f.tok, nil
}

// readJSON reads a JSON (or +json) body of at most limit bytes. The body
// is returned even when the type is wrong, for error messages.
func readJSON(resp *http.Response, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("answer larger than %d bytes", limit)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return body, fmt.Errorf("content type %q is not JSON", resp.Header.Get("Content-Type"))
	}
	return body, nil
}
