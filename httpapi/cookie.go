package httpapi

import (
	"net/http"
	"strings"
	"time"
)

// The refresh-token cookie (CONTRACT §5): HttpOnly so scripts never see it,
// SameSite=Strict, scoped to /api/auth, Secure unless the issuer is plain
// http (development). With Secure it takes the __Secure- prefix, which
// browsers only accept from a secure origin (RFC 6265bis §4.1.3.1).
const (
	cookieName       = "gatehouse_refresh"
	secureCookieName = "__Secure-gatehouse_refresh"
	cookiePath       = "/api/auth"
)

func (a *api) cookieName() string {
	if a.secure {
		return secureCookieName
	}
	return cookieName
}

// wantsCookie reports whether the client asked for the cookie transport.
func wantsCookie(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("X-Refresh-Transport"), "cookie")
}

func (a *api) refreshCookie(r *http.Request) string {
	c, err := r.Cookie(a.cookieName())
	if err != nil {
		return ""
	}
	return c.Value
}

func (a *api) setRefreshCookie(w http.ResponseWriter, token string, expires time.Time) {
	maxAge := int(time.Until(expires).Seconds())
	if maxAge < 1 {
		maxAge = 1
	}
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName(), Value: token, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteStrictMode,
	})
}

func (a *api) clearRefreshCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName(), Value: "", Path: cookiePath, MaxAge: -1,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteStrictMode,
	})
}
