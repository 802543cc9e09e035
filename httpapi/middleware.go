package httpapi

import (
	"context"
	"encoding/hex"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

type requestIDKey struct{}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe gives each request an id (X-Request-Id, accepted from the client
// when it is short and plain), recovers panics into a 500 problem, logs one
// line per request and records its duration. It never logs the query string,
// bodies or the Authorization header: they may carry tokens or passwords.
func (a *api) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !plainID(id) {
			id = hex.EncodeToString(gatehouse.RandomBytes(8))
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		// The client of the request, for the audit events it causes.
		r = r.WithContext(gatehouse.WithClientInfo(ctx, a.clientInfo(r)))
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.ErrorContext(r.Context(), "panic", "request_id", id, "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeProblem(rec, Problem{Type: "urn:gatehouse:problem:internal_error", Title: http.StatusText(500), Status: 500, Code: "internal_error"})
				}
			}
			elapsed := time.Since(start)
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			if a.metrics != nil {
				a.metrics.observeRequest(route, r.Method, rec.status, elapsed)
			}
			a.log.InfoContext(r.Context(), "request",
				"request_id", id, "method", r.Method, "path", r.URL.Path, "route", route,
				"status", rec.status, "bytes", rec.bytes, "duration_ms", float64(elapsed.Microseconds())/1000,
				"ip", a.clientIP(r))
		}()
		next.ServeHTTP(rec, r)
	})
}

func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// securityHeaders sets the headers every response carries (OWASP Secure
// Headers; ASVS 5 3.4): no MIME sniffing, no framing, no referrer leaks. The
// CSP of API responses allows nothing; the app's CSP is set by its handler.
func securityHeaders(hsts bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if hsts {
			// Under an https issuer, browsers must never fall back to plain
			// http (OWASP HTTP Strict Transport Security cheat sheet; two
			// years, as the preload list asks; RFC 6797).
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// cors answers CORS for the exact origins of --cors-origins, with
// credentials; any other origin gets no CORS header at all (never a
// reflected origin, never "null": ASVS 5 3.4.2).
func (a *api) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !a.corsOrigins[origin] {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After, X-Request-Id")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-CSRF-Guard, X-Refresh-Transport, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticated wraps a handler that needs a valid access token. A refusal
// is a 401 with WWW-Authenticate: Bearer, plus error="invalid_token" when a
// token was sent (RFC 6750 §3.1).
func (a *api) authenticated(next func(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := gatehouse.BearerToken(r.Header.Values("Authorization"))
		if err == nil {
			var c *gatehouse.AccessClaims
			c, err = a.svc.Authenticate(r.Context(), token)
			if err == nil {
				next(bearerChallenger{w}, r, c)
				return
			}
		}
		a.metrics.countAuth(err)
		p, _ := problemFor(err)
		if p.Status == http.StatusUnauthorized {
			challenge := `Bearer realm="gatehouse"`
			if r.Header.Get("Authorization") != "" {
				challenge += `, error="invalid_token", error_description="` + gatehouse.ChallengeDescription(err) + `"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
		}
		a.writeError(w, r, err)
	})
}

// bearerChallenger adds the plain Bearer challenge to a 401 a protected
// handler answers after its token was accepted (a wrong current password):
// every 401 of a bearer-protected route carries one (RFC 6750 §3, CONTRACT
// §2), without error="invalid_token" since the token was fine.
type bearerChallenger struct{ http.ResponseWriter }

func (b bearerChallenger) WriteHeader(status int) {
	if status == http.StatusUnauthorized && b.Header().Get("WWW-Authenticate") == "" {
		b.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
	}
	b.ResponseWriter.WriteHeader(status)
}

func (b bearerChallenger) Unwrap() http.ResponseWriter { return b.ResponseWriter }

// sameOrigin reports whether the request's Origin, when present, is the
// server's own (the issuer's, or the Host it was sent to) or one of
// --cors-origins (CONTRACT §5; OWASP CSRF cheat sheet, "Verifying Origin
// with standard headers"). "null" is never trusted.
func (a *api) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	// Fetch Metadata (OWASP CSRF cheat sheet, "Fetch Metadata headers"):
	// a browser that marks the request cross-site or same-site vouches that
	// another origin sent it, which must then be an allowed one.
	if site := r.Header.Get("Sec-Fetch-Site"); (site == "cross-site" || site == "same-site") && !a.corsOrigins[origin] {
		return false
	}
	if origin == "" {
		return true
	}
	if origin == a.issuerOrigin || a.corsOrigins[origin] {
		return true
	}
	if scheme, host, ok := strings.Cut(origin, "://"); ok && host == r.Host {
		return scheme == "http" || scheme == "https"
	}
	return false
}
