package gatehouse

import (
	"context"
	"fmt"
	"strings"
)

// Admin is the operators' API (CONTRACT §9). It is a capability: the only
// ways to get one are [Service.AsAdmin], which checks that the caller is
// an enabled administrator at the assurance level their factors allow, and
// [Service.Operator], for the command line (whoever can run it already
// holds the database). So no admin method can be reached without the check.
type Admin struct {
	s *Service
	// actorID is the administrator's user id; "" for the command line.
	actorID string
}

// AsAdmin returns the operators' API for the holder of c, or ErrForbidden
// when they are not an enabled administrator, or ErrInsufficientAuth when
// they have a second factor and c is aal1 (NIST SP 800-63B §4.2: the
// administrator's own assurance level applies to what they administer).
// The role is read from the user cache, which the revocation feed keeps
// current on every instance: a demotion takes effect within one poll.
func (s *Service) AsAdmin(ctx context.Context, c *AccessClaims) (*Admin, error) {
	u, err := s.Me(ctx, c)
	if err != nil {
		return nil, err
	}
	if u.Role != RoleAdmin || u.Disabled {
		return nil, fmt.Errorf("%w: administrators only", ErrForbidden)
	}
	if err := s.requireAAL2(ctx, c); err != nil {
		return nil, err
	}
	return &Admin{s: s, actorID: u.ID}, nil
}

// Operator returns the operators' API for the command line.
func (s *Service) Operator() *Admin { return &Admin{s: s} }

// CommandLineAgent is the user agent of the events the command line
// causes (they have no client address).
const CommandLineAgent = "gatehouse command line"

func (a *Admin) ctx(ctx context.Context) context.Context {
	if a.actorID == "" {
		if clientOf(ctx) == (ClientInfo{}) {
			ctx = WithClientInfo(ctx, ClientInfo{UserAgent: CommandLineAgent})
		}
		return ctx
	}
	return withActor(ctx, a.actorID)
}

// Users searches users by email or name, newest first.
func (a *Admin) Users(ctx context.Context, q string, after *UserCursor, limit int) ([]AdminUser, *UserCursor, error) {
	limit = pageSize(limit)
	us, err := a.s.store.SearchUsers(ctx, strings.TrimSpace(q), after, limit+1, a.s.now().UTC())
	if err != nil {
		return nil, nil, err
	}
	us, last := trimPage(us, limit)
	if last == nil {
		return us, nil, nil
	}
	return us, &UserCursor{CreatedAt: last.CreatedAt, ID: last.ID}, nil
}

// User returns one user as an administrator sees them.
func (a *Admin) User(ctx context.Context, id string) (*AdminUser, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	return a.s.store.AdminUser(ctx, id, a.s.now().UTC())
}

// exists returns ErrNotFound when there is no user id: a plain read, not
// the counts of [Admin.User], for the actions that only need to know.
func (a *Admin) exists(ctx context.Context, id string) error {
	if !ValidID(id) {
		return ErrNotFound
	}
	_, err := a.s.store.UserByID(ctx, id)
	return err
}

// UserByEmail returns the user with this email (the command line names
// users by email).
func (a *Admin) UserByEmail(ctx context.Context, email string) (*AdminUser, error) {
	u, err := a.s.userOfOperator(ctx, email)
	if err != nil {
		return nil, err
	}
	return a.User(ctx, u.ID)
}

// Sessions lists a user's live sessions.
func (a *Admin) Sessions(ctx context.Context, id string) ([]Session, error) {
	if err := a.exists(ctx, id); err != nil {
		return nil, err
	}
	return a.s.store.LiveSessions(ctx, id, a.s.now().UTC())
}

// UpdateUser edits an account. Disabling ends every session of the user
// as a revocation (refused within a poll on every instance, CONTRACT §4);
// a change that would leave no enabled administrator is ErrLastAdmin.
// Returns a *ValidationError for a bad field, ErrEmailTaken, ErrNotFound.
func (a *Admin) UpdateUser(ctx context.Context, id string, upd UserUpdate) (*AdminUser, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	var verr *ValidationError
	var fields []string
	if upd.Name != nil {
		name, msg := cleanName(*upd.Name)
		if msg != "" {
			verr = verr.Add("name", msg)
		}
		upd.Name = &name
		fields = append(fields, "name")
	}
	if upd.Email != nil {
		canonical, err := CanonicalEmail(*upd.Email)
		if err != nil {
			verr = verr.Add("email", err.Error())
		}
		upd.Email = &canonical
		fields = append(fields, "email")
	}
	if upd.EmailVerified != nil {
		fields = append(fields, "email_verified")
	}
	if upd.Role != nil {
		if *upd.Role != RoleUser && *upd.Role != RoleAdmin {
			verr = verr.Add("role", `must be "user" or "admin"`)
		}
		fields = append(fields, "role")
	}
	if upd.Disabled != nil {
		fields = append(fields, "disabled")
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, Invalid("body", "names no field to change")
	}
	typ, detail := EventUserUpdated, []string{"fields", strings.Join(fields, ",")}
	if upd.Disabled != nil && len(fields) == 1 {
		typ, detail = EventUserEnabled, nil
		if *upd.Disabled {
			typ = EventUserDisabled
		}
	}
	if upd.Role != nil {
		detail = append(detail, "role", *upd.Role)
	}
	ctx = a.ctx(ctx)
	ctx, done := a.s.record(ctx, a.s.newEvent(ctx, typ, id, "", detail...))
	_, revoked, err := a.s.store.UpdateUser(ctx, id, upd, a.s.now().UTC())
	done(err)
	if err != nil {
		return nil, err
	}
	a.s.guard.users.invalidate(id)
	a.s.revokedSessions(ReasonUserDisabled, revoked)
	return a.User(ctx, id)
}

// DeleteUser deletes an account with everything of theirs; their tokens
// are refused within a poll on every instance.
func (a *Admin) DeleteUser(ctx context.Context, id string) error {
	if !ValidID(id) {
		return ErrNotFound
	}
	ctx = a.ctx(ctx)
	ctx, done := a.s.record(ctx, a.s.newEvent(ctx, EventUserDeleted, id, ""))
	revoked, err := a.s.store.DeleteUser(ctx, id, a.s.now().UTC())
	done(err)
	if err != nil {
		return err
	}
	a.s.guard.users.invalidate(id)
	a.s.revokedSessions(ReasonUserDeleted, revoked)
	return nil
}

// LogoutUser ends every session of a user and returns how many.
func (a *Admin) LogoutUser(ctx context.Context, id string) (int, error) {
	if err := a.exists(ctx, id); err != nil {
		return 0, err
	}
	ctx = a.ctx(ctx)
	ctx, done := a.s.record(ctx, a.s.newEvent(ctx, EventSessionRevoked, id, "", "reason", ReasonAdmin))
	ids, err := a.s.store.RevokeUserSessions(ctx, id, "", ReasonAdmin, a.s.now().UTC())
	if len(ids) > 0 {
		done(err) // as the store, no event when no session was live
	}
	if err != nil {
		return 0, err
	}
	a.s.revokedSessions(ReasonAdmin, ids)
	return len(ids), nil
}

// ResetFactors removes a user's TOTP, recovery codes and passkeys, and
// ends their sessions (a lost phone: the next login is by password alone,
// so every session made with the lost factor must end too).
func (a *Admin) ResetFactors(ctx context.Context, id string) (int, error) {
	if err := a.exists(ctx, id); err != nil {
		return 0, err
	}
	ctx = a.ctx(ctx)
	ctx, done := a.s.record(ctx, a.s.newEvent(ctx, EventMFARemoved, id, "", "by", "admin"))
	ids, err := a.s.store.ResetMFA(ctx, id, ReasonMFAReset, a.s.now().UTC())
	done(err)
	if err != nil {
		return 0, err
	}
	a.s.revokedSessions(ReasonMFAReset, ids)
	return len(ids), nil
}

// Events lists audit events, newest first.
func (a *Admin) Events(ctx context.Context, f EventFilter, after *EventCursor, limit int) ([]Event, *EventCursor, error) {
	if f.Type != "" && !knownEventType(f.Type) {
		return nil, nil, Invalid("type", "is not an event type")
	}
	return a.s.events(ctx, f, after, limit)
}

func knownEventType(t string) bool {
	for _, k := range EventTypes {
		if k == t {
			return true
		}
	}
	return false
}
