// Package server assembles a complete Gatehouse (store, keys, passwords,
// lifecycle service and HTTP API) from one [Config]. cmd/gatehouse is built
// on it, and a Go application can mount Gatehouse inside itself:
//
//	gh, err := server.New(ctx, server.Config{DB: "sqlite:auth.db", Issuer: "https://example.com"})
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
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/token"
)

// Config configures a Gatehouse. Zero values take the CONTRACT §1 defaults.
type Config struct {
	// DB is "sqlite:PATH" (the default, "sqlite:gatehouse.db").
	DB string
	// Issuer is the iss of every token and the base of the metadata URLs;
	// required.
	Issuer   string
	Audience string // default "gatehouse"

	AccessTTL  time.Duration // default 15m
	RefreshTTL time.Duration // default 168h
	SessionTTL time.Duration // default 720h
	ReuseGrace time.Duration // default 10s; negative: none

	// SigningAlg is EdDSA, ES256, RS256 or HS256. Empty means the algorithm
	// in force: the newest stored key's, or EdDSA when there is none.
	SigningAlg string
	HMACSecret []byte // HS256 only; at least 32 bytes
	// KeySecret protects the private signing keys at rest. With SQLite and
	// none given, one is generated into KeySecretFile (default: the
	// database path + ".key", mode 0600) on first start.
	KeySecret     []byte
	KeySecretFile string

	CORSOrigins   []string
	LoginLimit    gatehouse.Limit
	RegisterLimit gatehouse.Limit

	// Password hashing (zero: OWASP parameters, GOMAXPROCS workers).
	PasswordParams password.Params
	HashWorkers    int

	// KeyReload is how often the key ring is re-read from the database, so
	// that a rotation made by another process takes effect (default 2s).
	KeyReload time.Duration
	// RevocationPoll is how often the revocation feed is read (default 250ms).
	RevocationPoll time.Duration

	Logger *slog.Logger
	// App serves the demo single-page app; nil serves a placeholder.
	App http.Handler
}

// Server is a running Gatehouse: an [http.Handler] plus the background
// work started by [Server.Run].
type Server struct {
	cfg         Config
	store       gatehouse.Store
	svc         *gatehouse.Service
	tokens      *token.Tokens
	sealer      *token.Sealer
	handler     http.Handler
	log         *slog.Logger
	keysMu      sync.Mutex // serialises key ring reloads
	keysSig     string     // identity of the loaded key ring, to notice changes (keysMu)
	kidReloadAt time.Time  // last reload for an unknown kid (keysMu)
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
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	store, err := OpenStore(ctx, cfg.DB, cfg.Logger)
	if err != nil {
		return nil, err
	}
	s, err := assemble(ctx, cfg, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	return s, nil
}

func (cfg *Config) defaults() error {
	if cfg.DB == "" {
		cfg.DB = "sqlite:gatehouse.db"
	}
	if isPostgres(cfg.DB) && len(cfg.KeySecret) == 0 {
		// Refuse before touching the database (CONTRACT §3): instances
		// behind one load balancer must share the secret, so none may
		// invent its own.
		return errors.New("--key-secret is required with PostgreSQL: every instance must share it")
	}
	if cfg.Issuer == "" {
		return errors.New("issuer is required")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("issuer %q: must be an http(s) URL without query or fragment", cfg.Issuer)
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if cfg.Audience == "" {
		cfg.Audience = "gatehouse"
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = 168 * time.Hour
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 720 * time.Hour
	}
	if cfg.KeyReload <= 0 {
		cfg.KeyReload = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.SigningAlg {
	case "", token.EdDSA, token.ES256, token.RS256:
		if len(cfg.HMACSecret) > 0 {
			return errors.New("--hmac-secret is only used with --signing-alg HS256")
		}
	case token.HS256:
		if len(cfg.HMACSecret) < 32 {
			return errors.New("--hmac-secret: HS256 needs a secret of at least 32 bytes (RFC 7518 §3.2)")
		}
	default:
		return fmt.Errorf("--signing-alg %q: must be EdDSA, ES256, RS256 or HS256", cfg.SigningAlg)
	}
	return nil
}

func assemble(ctx context.Context, cfg Config, store gatehouse.Store) (*Server, error) {
	secret, err := keySecret(cfg)
	if err != nil {
		return nil, err
	}
	sealer, err := token.NewSealer(secret)
	if err != nil {
		return nil, fmt.Errorf("--key-secret: %w", err)
	}
	s := &Server{cfg: cfg, store: store, sealer: sealer, log: cfg.Logger}
	ks, err := s.loadKeys(ctx, true)
	if err != nil {
		return nil, err
	}
	s.tokens, err = token.New(token.Config{Issuer: cfg.Issuer, Audience: cfg.Audience, Leeway: leeway}, ks)
	if err != nil {
		return nil, err
	}
	s.tokens.OnUnknownKID(s.reloadForUnknownKID)
	refresh, err := gatehouse.NewRefreshTokenCodec(token.DeriveKey(secret, "refresh"))
	if err != nil {
		return nil, err
	}
	hasher, err := password.New(password.Config{Params: cfg.PasswordParams, Workers: cfg.HashWorkers})
	if err != nil {
		return nil, err
	}
	metrics := httpapi.NewMetrics()
	registerPoolMetrics(metrics.Registry(), hasher)
	s.svc, err = gatehouse.New(gatehouse.Config{
		Store: store, Tokens: s.tokens, Passwords: hasher, RefreshTokens: refresh,
		Issuer: cfg.Issuer, Audience: cfg.Audience,
		AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, SessionTTL: cfg.SessionTTL, ReuseGrace: cfg.ReuseGrace,
		LoginLimit: cfg.LoginLimit, RegisterLimit: cfg.RegisterLimit,
		RevocationPoll: cfg.RevocationPoll,
		Logger:         cfg.Logger,
		OnRevoke:       metrics.Revoked,
	})
	if err != nil {
		return nil, err
	}
	if err := s.svc.Start(ctx); err != nil {
		return nil, err
	}
	s.handler = httpapi.NewHandler(httpapi.Config{
		Service: s.svc, Issuer: cfg.Issuer,
		JWKS:        func() []byte { return s.tokens.Keys().JWKS() },
		Ready:       store.Ping,
		CORSOrigins: cfg.CORSOrigins,
		Metrics:     metrics,
		Logger:      cfg.Logger,
		App:         cfg.App,
	})
	return s, nil
}

// ServeHTTP serves the Gatehouse API and app.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Service returns the lifecycle service, for embedders and the CLI.
func (s *Server) Service() *gatehouse.Service { return s.svc }

// Store returns the store.
func (s *Server) Store() gatehouse.Store { return s.store }

// Tokens returns the access-token issuer and verifier.
func (s *Server) Tokens() *token.Tokens { return s.tokens }

// Run does the background work until ctx ends: following revocations made
// by other processes, reloading rotated keys, pruning expired rows.
func (s *Server) Run(ctx context.Context) {
	go s.svc.Run(ctx)
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
func (s *Server) reloadForUnknownKID() {
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
func (s *Server) Close() error { return s.store.Close() }

// keySecret returns the configured key secret, or for SQLite the one in
// the file beside the database, generating it on first start (CONTRACT §3).
func keySecret(cfg Config) ([]byte, error) {
	if len(cfg.KeySecret) > 0 {
		if len(cfg.KeySecret) < 32 {
			return nil, errors.New("--key-secret: must be at least 32 bytes")
		}
		return cfg.KeySecret, nil
	}
	path, ok := strings.CutPrefix(cfg.DB, "sqlite:")
	if !ok {
		return nil, errors.New("--key-secret is required with PostgreSQL: every instance must share it")
	}
	file := cfg.KeySecretFile
	if file == "" {
		file = path + ".key"
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
