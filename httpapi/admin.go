package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The operators' API (CONTRACT §9) and the user's own audit events.

type adminUserJSON struct {
	userJSON
	Disabled    bool       `json:"disabled"`
	LastLoginAt *time.Time `json:"last_login_at"`
	MFA         struct {
		TOTP     bool `json:"totp"`
		Passkeys int  `json:"passkeys"`
	} `json:"mfa"`
	Sessions int `json:"sessions"`
}

func toAdminUserJSON(u *gatehouse.AdminUser) adminUserJSON {
	out := adminUserJSON{userJSON: *toUserJSON(&u.User), Disabled: u.Disabled, Sessions: u.LiveSessions}
	if !u.LastLoginAt.IsZero() {
		t := u.LastLoginAt.UTC()
		out.LastLoginAt = &t
	}
	out.MFA.TOTP, out.MFA.Passkeys = u.TOTP, u.Passkeys
	return out
}

type eventJSON struct {
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	At        time.Time         `json:"at"`
	UserID    *string           `json:"user_id"`
	SessionID *string           `json:"session_id"`
	ActorID   *string           `json:"actor_id"`
	IP        string            `json:"ip"`
	UserAgent string            `json:"user_agent"`
	Detail    map[string]string `json:"detail"`
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toEventJSON(e *gatehouse.Event) eventJSON {
	d := e.Detail
	if d == nil {
		d = map[string]string{}
	}
	return eventJSON{
		ID: e.ID, Type: e.Type, At: e.At.UTC(), UserID: orNull(e.UserID), SessionID: orNull(e.SessionID),
		ActorID: orNull(e.ActorID), IP: e.IP, UserAgent: e.UserAgent, Detail: d,
	}
}

type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

type adminKey struct{}

// administrator is authenticated plus the admin check: the handler finds
// the operators' API in the request's context (adminOf).
func (a *api) administrator(next func(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims)) http.Handler {
	return a.authenticated(func(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
		adm, err := a.svc.AsAdmin(r.Context(), c)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, adm)), c)
	})
}

func adminOf(r *http.Request) *gatehouse.Admin {
	return r.Context().Value(adminKey{}).(*gatehouse.Admin)
}

// pageQuery reads the limit and the cursor of a listing (posts, users,
// events): the cursor's time and id, id "" when there is none.
func pageQuery(r *http.Request) (limit int, at time.Time, id string, verr *gatehouse.ValidationError) {
	q := r.URL.Query()
	limit = defaultPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			verr = verr.Add("limit", "must be a whole number from 1 to 100")
		} else {
			limit = min(n, gatehouse.MaxPageSize)
		}
	}
	if s := q.Get("cursor"); s != "" {
		cur, ok := decodeCursor(s)
		if !ok {
			verr = verr.Add("cursor", "is not a cursor this server returned")
		} else {
			at, id = cur.CreatedAt, cur.ID
		}
	}
	return limit, at, id, verr
}

func nextCursor(at time.Time, id string) *string {
	s := encodeCursor(&gatehouse.PostCursor{CreatedAt: at, ID: id})
	return &s
}

func (a *api) handleAdminUsers(w http.ResponseWriter, r *http.Request, _ *gatehouse.AccessClaims) {
	limit, at, id, verr := pageQuery(r)
	q := r.URL.Query().Get("q")
	if len(q) > 320 {
		verr = verr.Add("q", "must be at most 320 characters")
	}
	if err := verr.Err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	var after *gatehouse.UserCursor
	if id != "" {
		after = &gatehouse.UserCursor{CreatedAt: at, ID: id}
	}
	users, next, err := adminOf(r).Users(r.Context(), q, after, limit)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := page[adminUserJSON]{Items: make([]adminUserJSON, len(users))}
	for i := range users {
		out.Items[i] = toAdminUserJSON(&users[i])
	}
	if next != nil {
		out.NextCursor = nextCursor(next.CreatedAt, next.ID)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) handleAdminUser(w http.ResponseWriter, r *http.Request, _ *gatehouse.AccessClaims) {
	u, err := adminOf(r).User(r.Context(), r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAdminUserJSON(u))
}

func (a *api) handleAdminUpdateUser(w http.ResponseWriter, r *http.Request, _ *gatehouse.AccessClaims) {
	f, err := decodeJSON(w, r, false, "name", "email", "email_verified!", "role", "disabled!")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var upd gatehouse.UserUpdate
	str := func(k string) *string {
		if v, ok := f[k]; ok {
			return &v
		}
		return nil
	}
	boolean := func(k string) *bool {
		if v, ok := f[k]; ok {
			b := v == "true"
			return &b
		}
		return nil
	}
	upd.Name, upd.Email, upd.Role = str("name"), str("email"), str("role")
	upd.EmailVerified, upd.Disabled = boolean("email_verified"), boolean("disabled")
	u, err := adminOf(r).UpdateUser(r.Context(), r.PathValue("id"), upd)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAdminUserJSON(u))
}

func (a *api) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request, _ *gatehouse.AccessClaims) {
	if err := adminOf(r).DeleteUser(r.Context(), r.PathValue("id")); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) handleAdminUserSessions(w http.ResponseWriter, r *http.Request, _ *gatehouse.AccessClaims) {
	sessions, err := adminOf(r).Sessions(r.Context(), r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toSessionsJSON(sessions, ""))
}

func (a *api) handleAdminLogoutUser(w http.ResponseWriter, r *http.Request, _ *gatehouse.AccessClaims) {
	if _, err := adminOf(r).LogoutUser(r.Context(), r.PathValue("id")); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) handleAdminResetMFA(w http.ResponseWriter, r *http.Request, _ *gatehouse.AccessClaims) {
	if _, err := adminOf(r).ResetFactors(r.Context(), r.PathValue("id")); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) handleAdminEvents(w http.ResponseWriter, r *http.Request, _ *gatehouse.AccessClaims) {
	limit, at, id, verr := pageQuery(r)
	f := gatehouse.EventFilter{UserID: r.URL.Query().Get("user_id"), Type: r.URL.Query().Get("type")}
	if f.UserID != "" && !gatehouse.ValidID(f.UserID) {
		verr = verr.Add("user_id", "is not a user id")
	}
	if err := verr.Err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeEvents(w, r, func(after *gatehouse.EventCursor) ([]gatehouse.Event, *gatehouse.EventCursor, error) {
		return adminOf(r).Events(r.Context(), f, after, limit)
	}, at, id)
}

func (a *api) handleMyEvents(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	limit, at, id, verr := pageQuery(r)
	if err := verr.Err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeEvents(w, r, func(after *gatehouse.EventCursor) ([]gatehouse.Event, *gatehouse.EventCursor, error) {
		return a.svc.MyEvents(r.Context(), c, after, limit)
	}, at, id)
}

func (a *api) writeEvents(w http.ResponseWriter, r *http.Request, list func(*gatehouse.EventCursor) ([]gatehouse.Event, *gatehouse.EventCursor, error), at time.Time, id string) {
	var after *gatehouse.EventCursor
	if id != "" {
		after = &gatehouse.EventCursor{At: at, ID: id}
	}
	events, next, err := list(after)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := page[eventJSON]{Items: make([]eventJSON, len(events))}
	for i := range events {
		out.Items[i] = toEventJSON(&events[i])
	}
	if next != nil {
		out.NextCursor = nextCursor(next.At, next.ID)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}
