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

// Route is one method and path pattern of the API, as the mux sees it.
// Auth says what the route needs: "" nothing, "bearer" a user's access
// token, "admin" an administrator's.
type Route struct {
	Method, Pattern, Auth string
}

// Routes lists every route of the API with the demo on and /metrics
// public: what the OpenAPI description must cover, and what the tests walk
// (every admin route refuses a non-admin).
func Routes() []Route {
	a := &api{metrics: &Metrics{}}
	var out []Route
	for _, e := range a.table(true) {
		out = append(out, Route{Method: e.method, Pattern: e.path, Auth: e.auth})
	}
	return out
}

type routeEntry struct {
	method, path, auth string
	h                  http.Handler
}

func (a *api) table(demo bool) []routeEntry {
	var t []routeEntry
	open := func(method, path string, h http.HandlerFunc) {
		t = append(t, routeEntry{method, path, "", h})
	}
	user := func(method, path string, h func(http.ResponseWriter, *http.Request, *gatehouse.AccessClaims)) {
		t = append(t, routeEntry{method, path, "bearer", a.authenticated(h)})
	}
	admin := func(method, path string, h func(http.ResponseWriter, *http.Request, *gatehouse.AccessClaims)) {
		t = append(t, routeEntry{method, path, "admin", a.administrator(h)})
	}
	open("POST", "/api/auth/register", a.handleRegister)
	open("POST", "/api/auth/login", a.handleLogin)
	open("POST", "/api/auth/refresh", a.handleRefresh)
	open("POST", "/api/auth/logout", a.handleLogout)
	user("POST", "/api/auth/logout-all", a.handleLogoutAll)
	user("GET", "/api/auth/sessions", a.handleSessions)
	user("DELETE", "/api/auth/sessions/{id}", a.handleDeleteSession)
	user("POST", "/api/auth/password", a.handleChangePassword)
	user("GET", "/api/auth/events", a.handleMyEvents)
	user("POST", "/api/auth/verify-email/send", a.handleSendVerification)
	open("POST", "/api/auth/verify-email", a.handleVerifyEmail)
	open("POST", "/api/auth/password/forgot", a.handleForgotPassword)
	open("POST", "/api/auth/password/reset", a.handleResetPassword)
	user("POST", "/api/auth/email", a.handleChangeEmail)
	open("POST", "/api/auth/email/confirm", a.handleConfirmEmail)
	user("GET", "/api/auth/mfa", a.handleMFAStatus)
	user("POST", "/api/auth/mfa/totp", a.handleEnrollTOTP)
	user("DELETE", "/api/auth/mfa/totp", a.handleDisableTOTP)
	user("POST", "/api/auth/mfa/totp/confirm", a.handleConfirmTOTP)
	user("POST", "/api/auth/mfa/recovery-codes", a.handleRecoveryCodes)
	open("POST", "/api/auth/mfa/verify", a.handleMFAVerify)
	user("POST", "/api/auth/passkeys/register/options", a.handlePasskeyRegisterOptions)
	user("POST", "/api/auth/passkeys/register", a.handlePasskeyRegister)
	user("GET", "/api/auth/passkeys", a.handlePasskeys)
	user("PATCH", "/api/auth/passkeys/{id}", a.handleRenamePasskey)
	user("DELETE", "/api/auth/passkeys/{id}", a.handleDeletePasskey)
	open("POST", "/api/auth/passkeys/login/options", a.handlePasskeyLoginOptions)
	open("POST", "/api/auth/passkeys/login", a.handlePasskeyLogin)
	open("POST", "/api/auth/token", a.handleToken)
	open("POST", "/api/auth/revoke", a.handleRevoke)
	open("POST", "/api/auth/introspect", a.handleIntrospect)
	open("GET", "/api/auth/revocations", a.handleRevocations)
	user("GET", "/api/users/me", a.handleMe)
	user("PATCH", "/api/users/me", a.handleUpdateProfile)
	admin("GET", "/api/admin/users", a.handleAdminUsers)
	admin("GET", "/api/admin/users/{id}", a.handleAdminUser)
	admin("PATCH", "/api/admin/users/{id}", a.handleAdminUpdateUser)
	admin("DELETE", "/api/admin/users/{id}", a.handleAdminDeleteUser)
	admin("GET", "/api/admin/users/{id}/sessions", a.handleAdminUserSessions)
	admin("POST", "/api/admin/users/{id}/logout", a.handleAdminLogoutUser)
	admin("DELETE", "/api/admin/users/{id}/mfa", a.handleAdminResetMFA)
	admin("GET", "/api/admin/events", a.handleAdminEvents)
	if demo {
		user("GET", "/api/posts", a.handleListPosts)
		user("POST", "/api/posts", a.handleCreatePost)
		user("DELETE", "/api/posts/{id}", a.handleDeletePost)
	}
	open("GET", "/api/openapi.json", a.handleOpenAPI)
	open("GET", "/api/docs", a.handleDocs)
	open("GET", "/.well-known/jwks.json", a.handleJWKS)
	open("GET", "/.well-known/oauth-authorization-server", a.handleMetadata)
	open("GET", "/healthz", a.handleHealthz)
	open("GET", "/readyz", a.handleReadyz)
	if a.metrics != nil && !a.privateMetrics {
		t = append(t, routeEntry{"GET", "/metrics", "", a.metrics.Handler()})
	}
	return t
}

// routes registers the table: one mux pattern per path, dispatching on the
// method, so that a path's other methods get a 405 problem (with Allow)
// rather than the mux's plain-text answer, and so that /a/{id} and /a/b
// never conflict (a method-specific pattern beside a method-less one does).
func (a *api) routes(mux *http.ServeMux, app http.Handler, demo bool) {
	byPath := map[string]map[string]http.Handler{}
	allow := map[string][]string{} // in table order
	var paths []string
	for _, e := range a.table(demo) {
		if byPath[e.path] == nil {
			byPath[e.path] = map[string]http.Handler{}
			paths = append(paths, e.path)
		}
		byPath[e.path][e.method] = e.h
		allow[e.path] = append(allow[e.path], e.method)
	}
	for _, p := range paths {
		methods := byPath[p]
		if h, ok := methods["GET"]; ok {
			methods["HEAD"] = h
		}
		mux.Handle(p, a.byMethod(methods, strings.Join(allow[p], ", ")))
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
