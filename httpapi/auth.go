package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
)

// userJSON is a User as clients see it: never a hash, never a token.
type userJSON struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	CreatedAt     time.Time `json:"created_at"`
	Role          string    `json:"role"`
}

func toUserJSON(u *gatehouse.User) *userJSON {
	role := u.Role
	if role == "" {
		role = gatehouse.RoleUser
	}
	return &userJSON{ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name, CreatedAt: u.CreatedAt.UTC(), Role: role}
}

// tokensJSON is the Tokens object of CONTRACT §2. In cookie mode the
// refresh token travels only in its cookie and is left out here.
type tokensJSON struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int       `json:"expires_in"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	User         *userJSON `json:"user,omitempty"`
}

func (a *api) handleRegister(w http.ResponseWriter, r *http.Request) {
	f, err := decodeJSON(w, r, false, "email", "password", "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	u, err := a.svc.Register(r.Context(), f["email"], f["password"], f["name"], a.clientInfo(r))
	a.metrics.countRegistration(err)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toUserJSON(u))
}

func (a *api) handleLogin(w http.ResponseWriter, r *http.Request) {
	f, err := decodeJSON(w, r, false, "email", "password")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	g, err := a.svc.Login(r.Context(), f["email"], f["password"], a.clientInfo(r))
	a.metrics.countLogin(err)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeGrant(w, g, wantsCookie(r))
}

// writeGrant answers a login or refresh (RFC 6749 §5.1: no-store).
func (a *api) writeGrant(w http.ResponseWriter, g *gatehouse.Grant, cookie bool) {
	body := tokensJSON{AccessToken: g.AccessToken, TokenType: "bearer", ExpiresIn: g.ExpiresIn, RefreshToken: g.RefreshToken}
	if g.User != nil {
		body.User = toUserJSON(g.User)
	}
	if cookie {
		a.setRefreshCookie(w, g.RefreshToken, g.Session.IdleExpiresAt)
		body.RefreshToken = ""
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, body)
}

// refreshTokenOf returns the refresh token of a refresh or logout request,
// from the body or the cookie, and whether it came from the cookie. Both
// at once is 400; relying on the cookie needs the CSRF guard (CONTRACT §5).
func (a *api) refreshTokenOf(w http.ResponseWriter, r *http.Request) (token string, fromCookie bool, err error) {
	f, err := decodeJSON(w, r, true, "refresh_token")
	if err != nil {
		return "", false, err
	}
	cookie := a.refreshCookie(r)
	switch {
	case f["refresh_token"] != "" && cookie != "":
		return "", false, badRequest("send the refresh token in the body or in the cookie, not both")
	case f["refresh_token"] != "":
		return f["refresh_token"], false, nil
	case cookie != "":
		if r.Header.Get("X-CSRF-Guard") != "1" || !a.sameOrigin(r) {
			return "", true, gatehouse.ErrCSRF
		}
		return cookie, true, nil
	}
	return "", false, nil
}

func (a *api) handleRefresh(w http.ResponseWriter, r *http.Request) {
	token, fromCookie, err := a.refreshTokenOf(w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if token == "" {
		a.metrics.countRefresh(nil, gatehouse.ErrRefreshTokenInvalid)
		a.writeError(w, r, withDetail(gatehouse.ErrRefreshTokenInvalid, "no refresh token was sent"))
		return
	}
	g, err := a.svc.Refresh(r.Context(), token)
	a.metrics.countRefresh(g, err)
	if err != nil {
		if fromCookie && terminalRefreshError(err) {
			a.clearRefreshCookie(w)
		}
		a.writeError(w, r, err)
		return
	}
	a.writeGrant(w, g, fromCookie || wantsCookie(r))
}

// terminalRefreshError reports whether a refresh failure means the token
// will never work again (as opposed to a busy or unreachable database).
func terminalRefreshError(err error) bool {
	return errors.Is(err, gatehouse.ErrRefreshTokenInvalid) || errors.Is(err, gatehouse.ErrRefreshTokenExpired) ||
		errors.Is(err, gatehouse.ErrRefreshTokenReused) || errors.Is(err, gatehouse.ErrSessionRevoked)
}

func (a *api) handleLogout(w http.ResponseWriter, r *http.Request) {
	token, fromCookie, err := a.refreshTokenOf(w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if token != "" {
		if err := a.svc.Logout(r.Context(), token); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	if fromCookie || wantsCookie(r) {
		a.clearRefreshCookie(w)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) handleLogoutAll(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	if err := a.svc.LogoutAll(r.Context(), c); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.clearRefreshCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

type sessionJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

func (a *api) handleSessions(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	sessions, err := a.svc.Sessions(r.Context(), c)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, toSessionsJSON(sessions, c.SessionID))
}

// toSessionsJSON lists sessions; current is the caller's own session id.
func toSessionsJSON(sessions []gatehouse.Session, current string) []sessionJSON {
	out := make([]sessionJSON, len(sessions))
	for i, s := range sessions {
		out[i] = sessionJSON{
			ID: s.ID, CreatedAt: s.CreatedAt.UTC(), LastUsedAt: s.LastUsedAt.UTC(),
			ExpiresAt: s.IdleExpiresAt.UTC(), UserAgent: s.UserAgent, IP: s.IP,
			Current: s.ID == current,
		}
	}
	return out
}

func (a *api) handleDeleteSession(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	if err := a.svc.DeleteSession(r.Context(), c, r.PathValue("id")); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) handleChangePassword(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	f, err := decodeJSON(w, r, false, "current_password", "new_password")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.svc.ChangePassword(r.Context(), c, f["current_password"], f["new_password"], a.clientInfo(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) handleMe(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	u, err := a.svc.Me(r.Context(), c)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, toUserJSON(u))
}

// handleUpdateProfile is PATCH /api/users/me {name}: the user's own
// display name, the one field a user edits directly.
func (a *api) handleUpdateProfile(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	f, err := decodeJSON(w, r, false, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	u, err := a.svc.UpdateProfile(r.Context(), c, f["name"])
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, toUserJSON(u))
}
