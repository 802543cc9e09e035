package gatehouse

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// AccessTokens mints and verifies access tokens (implemented by the token
// package). Verify returns errors wrapping ErrTokenInvalid or ErrTokenExpired.
type AccessTokens interface {
	Issue(c *AccessClaims) (string, error)
	Verify(token string) (*AccessClaims, error)
}

// Passwords checks, hashes and compares passwords (implemented by the
// password package). Hash, Compare and CompareDummy may return ErrServerBusy
// when the bounded hashing pool is full.
type Passwords interface {
	// Check returns a message saying why a new password is refused, or "".
	Check(password string) string
	Hash(ctx context.Context, password string) (string, error)
	// Compare reports whether password matches hash, and whether the hash
	// should be replaced because the parameters in force changed.
	Compare(ctx context.Context, hash, password string) (match, rehash bool, err error)
	// CompareDummy costs what Compare costs, for logins of unknown emails
	// (CONTRACT §4: same answer and same time as a wrong password).
	CompareDummy(ctx context.Context, password string) error
}

// Service runs the token lifecycle. It is safe for concurrent use.
type Service struct {
	cfg   Config
	store Store
	log   *slog.Logger
	now   func() time.Time
	guard *sessionGuard
	// clients caches service clients for their token checks.
	clients clientCache
}

// New returns a Service for a Config that passes [Config.Validate]. Call [Service.Run] to follow revocations made
// elsewhere (other instances, the CLI).
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gatehouse: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		cfg:   cfg,
		store: cfg.Store,
		log:   cfg.Logger,
		now:   cfg.Now,
		guard: newSessionGuard(cfg.Store, cfg.Logger, cfg.SessionCacheSize, cfg.RevocationPoll),
	}, nil
}

// Run follows the revocation feed and prunes what has expired, until ctx
// ends. Call it once, in its own goroutine after [Service.Start].
func (s *Service) Run(ctx context.Context) {
	go s.guard.run(ctx)
	prune := time.NewTicker(10 * time.Minute)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-prune.C:
			s.prune(ctx)
		}
	}
}

// Start positions the revocation-feed reader; call it before serving.
func (s *Service) Start(ctx context.Context) error {
	if err := s.guard.start(ctx); err != nil {
		return fmt.Errorf("gatehouse: read revocation feed: %w", err)
	}
	if err := s.normalizeStoredEmails(ctx); err != nil {
		return fmt.Errorf("gatehouse: normalise stored emails: %w", err)
	}
	return nil
}

// feedRetention is how long revocation-feed entries and ended sessions are
// kept: longer than any access token lives, so that every instance, and
// every follower of the feed, sees a revocation before it is pruned.
func (s *Service) feedRetention() time.Duration { return 2*s.cfg.AccessTTL + time.Hour }

func (s *Service) prune(ctx context.Context) {
	now := s.now()
	keep := s.feedRetention()
	if err := s.store.Prune(ctx, now, now.Add(-keep), now.Add(-keep), now.Add(-keep)); err != nil {
		s.log.WarnContext(ctx, "prune failed", "err", err)
	}
	if r := s.cfg.AuditRetention; r > 0 {
		if _, err := s.store.PruneEvents(ctx, now.Add(-r)); err != nil {
			s.log.WarnContext(ctx, "prune of audit events failed", "err", err)
		}
	}
}

// AccessTTL returns the lifetime of access tokens.
func (s *Service) AccessTTL() time.Duration { return s.cfg.AccessTTL }

// ClientInfo describes the client of a request, for the sessions page and
// the rate limits.
type ClientInfo struct {
	IP        string
	UserAgent string
}

func retryAfter(resetAt, now time.Time) int {
	secs := int(resetAt.Sub(now).Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	return secs
}
