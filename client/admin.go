package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The operators' API (/api/admin/, CONTRACT §9) and the user's own audit
// events. The admin methods need a Session logged in as an administrator:
// anyone else gets an [*Error] for which errors.Is(err,
// gatehouse.ErrForbidden) reports true, and an administrator who has a
// second factor but logged in with a password alone gets
// gatehouse.ErrInsufficientAuth (answer it with [Session.StepUp]).
// Refused changes map back to their sentinels too: gatehouse.ErrLastAdmin
// (the change would leave no enabled administrator), gatehouse.ErrNotFound,
// gatehouse.ErrEmailTaken, gatehouse.ErrInvalidInput.

// AdminUser is a user as an administrator sees them.
type AdminUser struct {
	User
	Disabled bool `json:"disabled"`
	// LastLoginAt is zero until the user's first login.
	LastLoginAt time.Time `json:"last_login_at"`
	MFA         struct {
		TOTP     bool `json:"totp"`
		Passkeys int  `json:"passkeys"`
	} `json:"mfa"`
	Sessions int `json:"sessions"` // live sessions
}

// UserPage is one page of [Session.ListUsers]. NextCursor is empty on the
// last page; pass it back for the next.
type UserPage struct {
	Items      []AdminUser `json:"items"`
	NextCursor string      `json:"next_cursor"`
}

// AdminUserUpdate is an administrator's edit of an account: nil fields
// stay as they are.
type AdminUserUpdate struct {
	Name          *string `json:"name,omitempty"`
	Email         *string `json:"email,omitempty"`
	EmailVerified *bool   `json:"email_verified,omitempty"`
	Role          *string `json:"role,omitempty"` // "admin" or "user"
	// Disabled true refuses the user's login and ends every session of
	// theirs, as a revocation.
	Disabled *bool `json:"disabled,omitempty"`
}

// SessionInfo is a live session as Gatehouse lists it.
type SessionInfo struct {
	ID         string    `json:"id"` // the sid of its access tokens
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

// Event is an entry of the audit log. It never holds a token, a code or
// a password.
type Event struct {
	ID   string    `json:"id"`
	Type string    `json:"type"` // e.g. "login.failed"; see gatehouse.EventTypes
	At   time.Time `json:"at"`
	// UserID is the account concerned; empty for an attempt on an address
	// with no account (Detail["email"] names it).
	UserID    string            `json:"user_id"`
	SessionID string            `json:"session_id"`
	ActorID   string            `json:"actor_id"` // the administrator who acted, if not the user
	IP        string            `json:"ip"`
	UserAgent string            `json:"user_agent"`
	Detail    map[string]string `json:"detail"`
}

// EventPage is one page of events, newest first. NextCursor is empty on
// the last page.
type EventPage struct {
	Items      []Event `json:"items"`
	NextCursor string  `json:"next_cursor"`
}

// EventFilter selects events; empty fields select everything.
type EventFilter struct {
	UserID string
	Type   string
}

// maxList bounds the list bodies read: a page of 100 events with long user
// agents is far below it.
const maxList = 4 << 20

// ListUsers searches users whose email or name contains q
// (case-insensitively; "" lists everyone), newest first. cursor is ""
// for the first page, then the previous page's NextCursor; limit 0 means
// the server's default (20), at most 100.
func (s *Session) ListUsers(ctx context.Context, q, cursor string, limit int) (*UserPage, error) {
	v := pageValues(cursor, limit)
	if q != "" {
		v.Set("q", q)
	}
	var p UserPage
	return &p, s.authed(ctx, http.MethodGet, withQuery("/api/admin/users", v), nil, http.StatusOK, &p)
}

// User returns one user (gatehouse.ErrNotFound if there is none).
func (s *Session) User(ctx context.Context, id string) (*AdminUser, error) {
	var u AdminUser
	return &u, s.authed(ctx, http.MethodGet, userPath(id, ""), nil, http.StatusOK, &u)
}

// UpdateUser applies upd and returns the user after the change.
func (s *Session) UpdateUser(ctx context.Context, id string, upd AdminUserUpdate) (*AdminUser, error) {
	var u AdminUser
	return &u, s.authed(ctx, http.MethodPatch, userPath(id, ""), upd, http.StatusOK, &u)
}

// DeleteUser deletes a user with their sessions, factors and posts; their
// tokens are refused within a second.
func (s *Session) DeleteUser(ctx context.Context, id string) error {
	return s.authed(ctx, http.MethodDelete, userPath(id, ""), nil, http.StatusNoContent, nil)
}

// UserSessions lists a user's live sessions.
func (s *Session) UserSessions(ctx context.Context, id string) ([]SessionInfo, error) {
	var out []SessionInfo
	return out, s.authed(ctx, http.MethodGet, userPath(id, "/sessions"), nil, http.StatusOK, &out)
}

// LogoutUser ends every session of a user.
func (s *Session) LogoutUser(ctx context.Context, id string) error {
	return s.authed(ctx, http.MethodPost, userPath(id, "/logout"), nil, http.StatusNoContent, nil)
}

// ResetUserFactors removes a user's TOTP, recovery codes and passkeys (a
// lost phone), and ends their sessions.
func (s *Session) ResetUserFactors(ctx context.Context, id string) error {
	return s.authed(ctx, http.MethodDelete, userPath(id, "/mfa"), nil, http.StatusNoContent, nil)
}

// Events lists the audit log, newest first (GET /api/admin/events).
func (s *Session) Events(ctx context.Context, f EventFilter, cursor string, limit int) (*EventPage, error) {
	v := pageValues(cursor, limit)
	if f.UserID != "" {
		v.Set("user_id", f.UserID)
	}
	if f.Type != "" {
		v.Set("type", f.Type)
	}
	var p EventPage
	return &p, s.authed(ctx, http.MethodGet, withQuery("/api/admin/events", v), nil, http.StatusOK, &p)
}

// MyEvents lists the logged-in user's own audit events, newest first
// (GET /api/auth/events): their logins, failed attempts, revocations and
// changes, for a "recent security activity" page.
func (s *Session) MyEvents(ctx context.Context, cursor string, limit int) (*EventPage, error) {
	var p EventPage
	return &p, s.authed(ctx, http.MethodGet, withQuery("/api/auth/events", pageValues(cursor, limit)), nil, http.StatusOK, &p)
}

func pageValues(cursor string, limit int) url.Values {
	v := url.Values{}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	return v
}

func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

func userPath(id, rest string) string {
	return "/api/admin/users/" + url.PathEscape(id) + rest
}

// authed sends a request with the session's access token and wants
// status; out, when set, receives the JSON answer. A 401 token_expired
// (the token expired in flight, or clocks disagree) refreshes once and
// sends the request again: it was refused before anything happened.
func (s *Session) authed(ctx context.Context, method, path string, body any, status int, out any) error {
	t, err := s.Token(ctx)
	if err != nil {
		return err
	}
	err = s.authedOnce(ctx, method, path, t.AccessToken, body, status, out)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusUnauthorized && e.Code == "token_expired" {
		if t, err = s.Refresh(ctx, t.AccessToken); err != nil {
			return err
		}
		return s.authedOnce(ctx, method, path, t.AccessToken, body, status, out)
	}
	return err
}

func (s *Session) authedOnce(ctx context.Context, method, path, access string, body any, status int, out any) error {
	resp, err := s.send(ctx, method, path, access, body)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if resp.StatusCode != status {
		return readError(resp)
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProblem))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxList)).Decode(out); err != nil {
		return fmt.Errorf("client: %s %s: bad response: %w", method, path, err)
	}
	return nil
}
