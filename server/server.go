// Package server assembles a complete Gatehouse (store, keys, passwords,
// lifecycle service and HTTP API) from one [Config]. cmd/gatehouse is built
// on it, and a Go application can mount Gatehouse inside itself:
//
//	cfg := server.DefaultConfig()
//	cfg.DB, cfg.Issuer = "sqlite:auth.db", "https://example.com"
//	gh, err := server.New(ctx, cfg)
//	...
//	go gh.Run(ctx)
//	mux.Handle("/", gh)
package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/mailer"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/token"
	"github.com/gatehouse/gatehouse/totp"
)

// Core is Gatehouse without its HTTP layer: the store, the signing keys
// and the lifecycle service. The CLI's admin verbs open one ([Open]);
// [Server] adds the HTTP API.
type Core struct {
	cfg         Config
	store       gatehouse.Store
	svc         *gatehouse.Service
	tokens      *token.Tokens
	sealer      *token.Sealer
	hasher      *password.Hasher
	outbox      *mailer.Outbox // nil when the store keeps no mail
	log         *slog.Logger
	keysMu      sync.Mutex // serialises key ring reloads
	keysSig     string     // identity of the loaded key ring, to notice changes (keysMu)
	kidReloadAt time.Time  // last reload for an unknown kid (keysMu)
}

// Server is a running Gatehouse: an [http.Handler] plus the background
// work started by [Server.Run].
type Server struct {
	*Core
	handler http.Handler
	metrics *httpapi.Metrics
}

const (
	// leeway is the clock skew verifiers allow on exp and nbf (CONTRACT §3: at most 5 s).
	leeway = 5 * time.Second
	// unknownKIDReloadEvery bounds the key ring reloads that tokens with an
	// unknown kid can cause: a flood of forged kids costs one database read
	// per interval, while a key another instance just started
	// signing with is accepted at once instead of after Config.KeyReload.
	unknownKIDReloadEvery = 500 * time.Millisecond
)

// New opens the database, applies migrations, loads (or creates) the
// signing keys and returns a Gatehouse ready to serve.
func New(ctx context.Context, cfg Config) (*Server, error) {
	metrics := httpapi.NewMetrics()
	core, err := open(ctx, cfg, metrics.Revoked)
	if err != nil {
		return nil, err
	}
	registerPoolMetrics(metrics.Registry(), core.hasher)
	if core.outbox != nil {
		registerMailMetrics(metrics.Registry(), core.outbox)
	}
	s := &Server{Core: core, metrics: metrics}
	s.handler = httpapi.NewHandler(httpapi.Config{
		Service: core.svc, Issuer: core.cfg.Issuer,
		JWKS:           func() []byte { return core.tokens.Keys().JWKS() },
		Ready:          core.store.Ping,
		CORSOrigins:    cfg.CORSOrigins,
		TrustedProxies: cfg.TrustedProxies,
		Metrics:        metrics,
		PrivateMetrics: cfg.PrivateMetrics,
		Logger:         core.log,
		App:            cfg.App,
		NoDemo:         !cfg.Demo,
	})
	return s, nil
}

// Open opens the database, applies migrations and loads the keys, without
// the HTTP layer: for one-shot administration (creating a user, ending
// sessions). Close it when done.
func Open(ctx context.Context, cfg Config) (*Core, error) {
	return open(ctx, cfg, nil)
}

func open(ctx context.Context, cfg Config, onRevoke func(string, int)) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	db, _ := ParseDB(cfg.DB) // valid: Validate parsed it
	store, err := OpenStore(ctx, db, cfg.Logger)
	if err != nil {
		return nil, err
	}
	c, err := assemble(ctx, cfg, db, store, onRevoke)
	if err != nil {
		store.Close()
		return nil, err
	}
	return c, nil
}

// openSealer returns the sealer of the private signing keys: the
// configured key secret, or for SQLite the one in the file beside the
// database (generated on first start).
func openSealer(cfg Config, db DB) (secret []byte, _ *token.Sealer, _ error) {
	secret, err := keySecret(cfg, db)
	if err != nil {
		return nil, nil, err
	}
	sealer, err := token.NewSealer(secret)
	if err != nil {
		return nil, nil, &gatehouse.ConfigError{Field: "KeySecret", Err: err}
	}
	return secret, sealer, nil
}

func assemble(ctx context.Context, cfg Config, db DB, store gatehouse.Store, onRevoke func(string, int)) (*Core, error) {
	secret, sealer, err := openSealer(cfg, db)
	if err != nil {
		return nil, err
	}
	c := &Core{cfg: cfg, store: store, sealer: sealer, log: cfg.Logger}
	ks, err := c.loadKeys(ctx, true)
	if err != nil {
		return nil, err
	}
	c.tokens, err = token.New(token.Config{Issuer: cfg.Issuer, Audience: cfg.Audience, Leeway: leeway}, ks)
	if err != nil {
		return nil, err
	}
	c.tokens.OnUnknownKID(c.reloadForUnknownKID)
	refresh, err := gatehouse.NewRefreshTokenCodec(token.DeriveKey(secret, "refresh"))
	if err != nil {
		return nil, err
	}
	c.hasher, err = password.New(password.Config{Params: cfg.PasswordParams, Workers: cfg.HashWorkers})
	if err != nil {
		return nil, err
	}
	composer, err := mailer.NewComposer(cfg.MailTemplates)
	if err != nil {
		return nil, &gatehouse.ConfigError{Field: "MailTemplates", Err: err}
	}
	{
		sender, err := newSender(cfg)
		if err != nil {
			return nil, err
		}
		c.outbox = &mailer.Outbox{
			Store: store, Sender: sender, Log: cfg.Logger,
			Backoff:     mailer.ExponentialBackoff(cfg.MailRetry, time.Hour),
			GiveUpAfter: cfg.MailGiveUp,
			Lease:       cfg.MailLease,
		}
	}
	svcCfg := gatehouse.DefaultConfig()
	svcCfg.Store, svcCfg.Tokens, svcCfg.Passwords, svcCfg.RefreshTokens = store, c.tokens, c.hasher, refresh
	svcCfg.Issuer, svcCfg.Audience = cfg.Issuer, cfg.Audience
	// Second-factor secrets get their own key, derived apart from the one
	// that seals signing keys (NIST SP 800-108: one key, one purpose).
	if svcCfg.Secrets, err = token.NewSealer(token.DeriveKey(secret, "mfa")); err != nil {
		return nil, err
	}
	svcCfg.TOTP = totp.TOTP{}
	if svcCfg.Passkeys, err = relyingParty(cfg); err != nil {
		return nil, err
	}
	svcCfg.Policy = cfg.Policy
	svcCfg.RevocationPoll = cfg.RevocationPoll
	svcCfg.Logger = cfg.Logger
	svcCfg.OnRevoke = onRevoke
	svcCfg.Mail, svcCfg.AppURL = composer, cfg.AppURL
	if c.outbox != nil {
		svcCfg.OnMailQueued = c.outbox.Wake
	}
	c.svc, err = gatehouse.New(svcCfg)
	if err != nil {
		return nil, err
	}
	if c.outbox != nil {
		c.outbox.Resolve = c.svc.ResolveMail
	}
	if err := c.svc.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// ServeHTTP serves the Gatehouse API and app.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// MetricsHandler serves the Prometheus metrics, for a listener of their
// own (Config.PrivateMetrics).
func (s *Server) MetricsHandler() http.Handler { return s.metrics.Handler() }

// Service returns the lifecycle service, for embedders and the CLI.
func (s *Core) Service() *gatehouse.Service { return s.svc }

// Store returns the store.
func (s *Core) Store() gatehouse.Store { return s.store }

// Tokens returns the access-token issuer and verifier.
func (s *Core) Tokens() *token.Tokens { return s.tokens }

// Run does the background work until ctx ends: following revocations made
// by other processes, reloading rotated keys, pruning expired rows.
func (s *Core) Run(ctx context.Context) {
	go s.svc.Run(ctx)
	if s.outbox != nil {
		// Said when mail starts going out, not by every command that
		// opens the core (the operators' verbs send none).
		if s.cfg.SMTPURL == "" {
			s.log.Warn("no SMTP server configured: mails, with their links, are written to the log instead; for development only")
		}
		go s.outbox.Run(ctx)
	}
	tick := time.NewTicker(s.cfg.KeyReload)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.keysMu.Lock()
			_, err := s.loadKeys(ctx, false)
			s.keysMu.Unlock()
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "key ring reload failed", "err", err)
			}
		}
	}
}

// reloadForUnknownKID re-reads the key ring when a token names a kid it
// lacks, at most once per unknownKIDReloadEvery; callers arriving during a
// reload wait for it and then look again.
func (s *Core) reloadForUnknownKID() {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if time.Since(s.kidReloadAt) < unknownKIDReloadEvery {
		return
	}
	s.kidReloadAt = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.loadKeys(ctx, false); err != nil {
		s.log.Warn("key ring reload for an unknown kid failed", "err", err)
	}
}

// Close closes the database.
func (s *Core) Close() error { return s.store.Close() }

// newSender is the SMTP relay of Config.SMTPURL or, without one, the log.
func newSender(cfg Config) (mailer.Sender, error) {
	if cfg.SMTPURL == "" {
		return mailer.Log{Logger: cfg.Logger}, nil
	}
	from := cfg.SMTPFrom
	if from == "" {
		u, _ := url.Parse(cfg.Issuer)
		from = "Gatehouse <no-reply@" + u.Hostname() + ">"
	}
	s, err := mailer.NewSMTP(cfg.SMTPURL, from)
	if err != nil {
		return nil, &gatehouse.ConfigError{Field: "SMTPURL", Err: err}
	}
	return s, nil
}

// keySecret returns the configured key secret, or for SQLite the one in
// the file beside the database, generating it on first start (CONTRACT §3).
func keySecret(cfg Config, db DB) ([]byte, error) {
	if len(cfg.KeySecret) > 0 {
		return cfg.KeySecret, nil // Validate checked its length
	}
	if db.Postgres() {
		return nil, configErr("KeySecret", "is required with PostgreSQL: every instance must share it")
	}
	file := cfg.KeySecretFile
	if file == "" {
		file = db.Path + ".key"
	}
	return readOrCreateSecretFile(file)
}

func readOrCreateSecretFile(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err == nil {
		secret := []byte(strings.TrimSpace(string(b)))
		if len(secret) < 32 {
			return nil, fmt.Errorf("key secret file %s: holds fewer than 32 bytes", file)
		}
		return secret, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("key secret file: %w", err)
	}
	secret := []byte(base64.RawURLEncoding.EncodeToString(gatehouse.RandomBytes(32)))
	// O_EXCL: if two processes start at once, one creates the file and the
	// other reads what the first wrote.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		time.Sleep(50 * time.Millisecond)
		return readOrCreateSecretFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("key secret file: %w", err)
	}
	if _, err := f.Write(append(secret, '\n')); err != nil {
		f.Close()
		return nil, fmt.Errorf("key secret file %s: %w", file, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("key secret file %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if d, err := os.Open(filepath.Dir(file)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return secret, nil
}

// registerPoolMetrics exposes the password-hashing pool, whose saturation
// is what a login flood looks like from inside.
func registerPoolMetrics(reg *prometheus.Registry, h *password.Hasher) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_password_hash_workers_busy", Help: "Password hashes being computed now.",
		}, func() float64 { return float64(h.Stats().Busy) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_password_hash_waiting", Help: "Requests waiting for a password-hashing worker.",
		}, func() float64 { return float64(h.Stats().Waiting) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_password_hash_rejected_total", Help: "Requests refused with 503 server_busy because the hashing pool was full.",
		}, func() float64 { return float64(h.Stats().Rejected) }),
	)
}

// registerMailMetrics counts the outbox's attempts by result and exposes
// the queue: how many mails wait and how old the oldest is.
func registerMailMetrics(reg *prometheus.Registry, o *mailer.Outbox) {
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_mails_total", Help: "Mail delivery attempts by result: sent, retried (failed, will retry) or failed (given up).",
	}, []string{"result"})
	for _, r := range []string{"sent", "retried", "failed"} {
		attempts.WithLabelValues(r)
	}
	o.OnResult = func(r string) { attempts.WithLabelValues(r).Inc() }
	queue := func() (int, time.Time) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, oldest, err := o.Store.Outbox(ctx)
		if err != nil {
			return 0, time.Time{}
		}
		return n, oldest
	}
	reg.MustRegister(attempts,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_mail_queue_length", Help: "Mails waiting to be sent.",
		}, func() float64 { n, _ := queue(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_mail_queue_age_seconds", Help: "Age of the oldest mail waiting to be sent (0 when none).",
		}, func() float64 {
			_, oldest := queue()
			if oldest.IsZero() {
				return 0
			}
			return time.Since(oldest).Seconds()
		}),
	)
}
