// Package httpapi is Gatehouse's HTTP API (CONTRACT §2): JSON handlers
// over a [gatehouse.Service], RFC 9457 problems with stable codes, the
// OAuth 2.0 token and revocation endpoints, the cookie transport for
// browsers (CONTRACT §5), metadata, health and metrics.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// Config configures [NewHandler].
type Config struct {
	Service Service
	// Issuer is the iss of every token and the base of the metadata URLs.
	Issuer string
	// JWKS returns the current JSON Web Key Set document.
	JWKS func() []byte
	// Ready reports whether the database answers (for /readyz).
	Ready func(ctx context.Context) error
	// CORSOrigins are the exact origins allowed to call the API with
	// credentials.
	CORSOrigins []string
	// Metrics, when set, records every request and is served at /metrics,
	// unless PrivateMetrics says it is served elsewhere (its own listener).
	Metrics        *Metrics
	PrivateMetrics bool
	// TrustedProxies are the peers whose X-Forwarded-For is believed; from
	// any other peer the header is ignored (see clientIP).
	TrustedProxies []netip.Prefix
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// App serves everything outside the API (the demo single-page app);
	// nil serves the app embedded in the binary (package web).
	App http.Handler
	// NoDemo leaves out the demo: no app, no /api/posts. / answers a
	// short status page and every other path outside the API a 404
	// problem. (Negative so that the zero Config keeps today's behaviour.)
	NoDemo bool
}

type api struct {
	svc            Service
	issuer         string
	issuerOrigin   string
	secure         bool // cookies get Secure unless the issuer is plain http (CONTRACT §5)
	jwks           func() []byte
	ready          func(ctx context.Context) error
	corsOrigins    map[string]bool
	metrics        *Metrics
	trusted        []netip.Prefix
	privateMetrics bool
	log            *slog.Logger
}

// NewHandler returns the whole Gatehouse HTTP API as one handler.
func NewHandler(cfg Config) http.Handler {
	a := &api{
		svc:            cfg.Service,
		issuer:         strings.TrimSuffix(cfg.Issuer, "/"),
		jwks:           cfg.JWKS,
		ready:          cfg.Ready,
		corsOrigins:    map[string]bool{},
		metrics:        cfg.Metrics,
		trusted:        cfg.TrustedProxies,
		privateMetrics: cfg.PrivateMetrics,
		log:            cfg.Logger,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if u, err := url.Parse(a.issuer); err == nil {
		a.issuerOrigin = u.Scheme + "://" + u.Host
		a.secure = u.Scheme != "http"
	}
	for _, o := range cfg.CORSOrigins {
		a.corsOrigins[strings.TrimSuffix(o, "/")] = true
	}
	app := cfg.App
	if app == nil {
		app = defaultApp()
	}
	if cfg.NoDemo {
		app = statusApp(a)
	}
	mux := http.NewServeMux()
	a.routes(mux, app, !cfg.NoDemo)
	return a.observe(securityHeaders(!strings.HasPrefix(a.issuer, "http://"), a.cors(mux)))
}

func (a *api) routes(mux *http.ServeMux, app http.Handler, demo bool) {
	route := func(method, path string, h http.Handler) {
		mux.Handle(method+" "+path, h)
		// Other methods on a known path get a 405 problem rather than the
		// mux's plain-text one.
		mux.Handle(path, methodNotAllowed(a, method))
	}
	route("POST", "/api/auth/register", http.HandlerFunc(a.handleRegister))
	route("POST", "/api/auth/login", http.HandlerFunc(a.handleLogin))
	route("POST", "/api/auth/refresh", http.HandlerFunc(a.handleRefresh))
	route("POST", "/api/auth/logout", http.HandlerFunc(a.handleLogout))
	route("POST", "/api/auth/logout-all", a.authenticated(a.handleLogoutAll))
	route("GET", "/api/auth/sessions", a.authenticated(a.handleSessions))
	route("DELETE", "/api/auth/sessions/{id}", a.authenticated(a.handleDeleteSession))
	route("POST", "/api/auth/password", a.authenticated(a.handleChangePassword))
	route("POST", "/api/auth/verify-email/send", a.authenticated(a.handleSendVerification))
	route("POST", "/api/auth/verify-email", http.HandlerFunc(a.handleVerifyEmail))
	route("POST", "/api/auth/password/forgot", http.HandlerFunc(a.handleForgotPassword))
	route("POST", "/api/auth/password/reset", http.HandlerFunc(a.handleResetPassword))
	route("POST", "/api/auth/email", a.authenticated(a.handleChangeEmail))
	route("POST", "/api/auth/email/confirm", http.HandlerFunc(a.handleConfirmEmail))
	route("GET", "/api/auth/mfa", a.authenticated(a.handleMFAStatus))
	mux.Handle("POST /api/auth/mfa/totp", a.authenticated(a.handleEnrollTOTP))
	mux.Handle("DELETE /api/auth/mfa/totp", a.authenticated(a.handleDisableTOTP))
	mux.Handle("/api/auth/mfa/totp", methodNotAllowed(a, "POST, DELETE"))
	route("POST", "/api/auth/mfa/totp/confirm", a.authenticated(a.handleConfirmTOTP))
	route("POST", "/api/auth/mfa/recovery-codes", a.authenticated(a.handleRecoveryCodes))
	route("POST", "/api/auth/mfa/verify", http.HandlerFunc(a.handleMFAVerify))
	route("POST", "/api/auth/passkeys/register/options", a.authenticated(a.handlePasskeyRegisterOptions))
	route("POST", "/api/auth/passkeys/register", a.authenticated(a.handlePasskeyRegister))
	route("GET", "/api/auth/passkeys", a.authenticated(a.handlePasskeys))
	// One pattern for every method: a method-specific {id} pattern would
	// conflict with the exact paths above, which answer 405 to any method.
	mux.Handle("/api/auth/passkeys/{id}", a.byMethod(map[string]http.Handler{
		"PATCH": a.authenticated(a.handleRenamePasskey), "DELETE": a.authenticated(a.handleDeletePasskey)}, "PATCH, DELETE"))
	route("POST", "/api/auth/passkeys/login/options", http.HandlerFunc(a.handlePasskeyLoginOptions))
	route("POST", "/api/auth/passkeys/login", http.HandlerFunc(a.handlePasskeyLogin))
	route("POST", "/api/auth/token", http.HandlerFunc(a.handleToken))
	route("POST", "/api/auth/revoke", http.HandlerFunc(a.handleRevoke))
	route("POST", "/api/auth/introspect", http.HandlerFunc(a.handleIntrospect))
	route("GET", "/api/auth/revocations", http.HandlerFunc(a.handleRevocations))
	mux.Handle("GET /api/users/me", a.authenticated(a.handleMe))
	mux.Handle("PATCH /api/users/me", a.authenticated(a.handleUpdateProfile))
	mux.Handle("/api/users/me", methodNotAllowed(a, "GET, PATCH"))
	if demo {
		mux.Handle("GET /api/posts", a.authenticated(a.handleListPosts))
		mux.Handle("POST /api/posts", a.authenticated(a.handleCreatePost))
		mux.Handle("/api/posts", methodNotAllowed(a, "GET, POST"))
		route("DELETE", "/api/posts/{id}", a.authenticated(a.handleDeletePost))
	}
	route("GET", "/.well-known/jwks.json", http.HandlerFunc(a.handleJWKS))
	route("GET", "/.well-known/oauth-authorization-server", http.HandlerFunc(a.handleMetadata))
	route("GET", "/healthz", http.HandlerFunc(a.handleHealthz))
	route("GET", "/readyz", http.HandlerFunc(a.handleReadyz))
	if a.metrics != nil && !a.privateMetrics {
		route("GET", "/metrics", a.metrics.Handler())
	}
	notFound := http.HandlerFunc(notFoundProblem)
	mux.Handle("/api/", notFound)
	mux.Handle("/.well-known/", notFound)
	mux.Handle("/", app)
}

func notFoundProblem(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, Problem{Type: "urn:gatehouse:problem:not_found", Title: "Not Found", Status: 404, Code: "not_found", Detail: "no such endpoint"})
}

// byMethod dispatches on the request method, 405 for any other.
func (a *api) byMethod(handlers map[string]http.Handler, allow string) http.Handler {
	refuse := methodNotAllowed(a, allow)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := handlers[r.Method]; ok {
			h.ServeHTTP(w, r)
			return
		}
		refuse.ServeHTTP(w, r)
	})
}

func methodNotAllowed(a *api, allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		a.writeError(w, r, gatehouse.ErrMethodNotAllowed)
	})
}

func (a *api) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *api) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if a.ready != nil {
		if err := a.ready(r.Context()); err != nil {
			a.log.WarnContext(r.Context(), "not ready", "err", err)
			w.Header().Set("Retry-After", "1")
			writeProblem(w, Problem{Type: "urn:gatehouse:problem:unavailable", Title: "Service Unavailable", Status: 503, Code: "unavailable", Detail: "the database is unreachable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
