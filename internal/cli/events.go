package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse"
)

// scanForEmail bounds how many events "events --email" reads when the
// email has no account (the failed logins of an unknown address are kept
// under the address, not under a user): the newest ones.
const scanForEmail = 10_000

func events(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	u := newUserCommand("events", "List audit events, newest first: time, type, user, client address, user agent, detail. "+
		"--email selects one user's events, with the attempts recorded under the address alone (failed logins of an address with no account, rate-limited attempts; among the newest 10000 events). "+
		"With --json, one JSON object per line.", false)
	email := u.c.fs.String("email", "", "only the events of this user")
	typ := u.c.fs.String("type", "", "only events of this type: "+strings.Join(gatehouse.EventTypes, ", "))
	limit := 50
	u.c.fs.Var(limitFlag{&limit}, "limit", "list at most this many events")
	if done, err := u.parse(args, getenv, stdout); done || err != nil {
		return err
	}
	if *typ != "" && !knownEventType(*typ) {
		return fmt.Errorf("gatehouse events: --type %q: not an event type (see gatehouse events --help)", *typ)
	}
	adm, closeDB, err := u.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	names := newUserNames(adm)
	f := gatehouse.EventFilter{Type: *typ}
	var out []gatehouse.Event
	if *email == "" {
		out, err = collectEvents(ctx, adm, f, limit, limit, nil, nil)
	} else {
		out, err = eventsOfEmail(ctx, adm, names, f, *email, limit)
	}
	if err != nil {
		return commandError(u.name, err)
	}
	if *u.json {
		return writeJSONLines(stdout, out, func(e gatehouse.Event) any { return toCLIEvent(ctx, &e, names) })
	}
	if len(out) == 0 {
		fmt.Fprintln(stderr, "no events match")
		return nil
	}
	return writeEventTable(ctx, stdout, out, names)
}

// eventsOfEmail returns the newest events of the account with this email
// and those recorded under the address alone: failed logins of an address
// with no account, and rate-limited attempts (counted before any account
// is looked up, so they name the address, not a user).
func eventsOfEmail(ctx context.Context, adm *gatehouse.Admin, names *userNames, f gatehouse.EventFilter, email string, limit int) ([]gatehouse.Event, error) {
	var own []gatehouse.Event
	au, err := adm.UserByEmail(ctx, email)
	switch {
	case err == nil:
		names.known[au.ID] = au.Email
		uf := f
		uf.UserID = au.ID
		if own, err = collectEvents(ctx, adm, uf, limit, limit, nil, nil); err != nil {
			return nil, err
		}
	case !errors.Is(err, gatehouse.ErrNotFound):
		return nil, err
	}
	canonical, err := gatehouse.CanonicalEmail(email)
	if err != nil {
		return nil, err
	}
	underAddress := func(e gatehouse.Event) bool { return e.UserID == "" && e.Detail["email"] == canonical }
	// Events older than the oldest of a full page of the account's own
	// cannot make the newest limit: stop reading there.
	var stop func(gatehouse.Event) bool
	if len(own) == limit {
		oldest := own[len(own)-1]
		stop = func(e gatehouse.Event) bool { return e.At.Before(oldest.At) }
	}
	loose, err := collectEvents(ctx, adm, f, limit, scanForEmail, underAddress, stop)
	if err != nil {
		return nil, err
	}
	all := append(own, loose...)
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].At.Equal(all[j].At) {
			return all[i].At.After(all[j].At)
		}
		return all[i].ID > all[j].ID
	})
	return all[:min(len(all), limit)], nil
}

// collectEvents pages through the events f selects, newest first, and
// returns up to limit of those keep accepts (nil: all), reading at most
// scan events and none past the first that stop accepts.
func collectEvents(ctx context.Context, adm *gatehouse.Admin, f gatehouse.EventFilter, limit, scan int,
	keep, stop func(gatehouse.Event) bool) ([]gatehouse.Event, error) {
	var out []gatehouse.Event
	var after *gatehouse.EventCursor
	for read := 0; len(out) < limit && read < scan; {
		page, next, err := adm.Events(ctx, f, after, min(scan-read, gatehouse.MaxPageSize))
		if err != nil {
			return nil, err
		}
		read += len(page)
		for _, e := range page {
			if stop != nil && stop(e) {
				return out, nil
			}
			if (keep == nil || keep(e)) && len(out) < limit {
				out = append(out, e)
			}
		}
		if next == nil {
			break
		}
		after = next
	}
	return out, nil
}

func knownEventType(t string) bool {
	for _, k := range gatehouse.EventTypes {
		if k == t {
			return true
		}
	}
	return false
}

// writeEventTable writes events one a line: time, type, user, ip, user
// agent, detail.
func writeEventTable(ctx context.Context, w io.Writer, evs []gatehouse.Event, names *userNames) error {
	if len(evs) == 0 {
		fmt.Fprintln(w, "  (none)")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTYPE\tUSER\tIP\tUSER AGENT\tDETAIL")
	for i := range evs {
		e := &evs[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), cell(e.Type),
			cell(names.user(ctx, e)), cell(e.IP), cell(e.UserAgent), cell(detailText(ctx, e, names)))
	}
	return tw.Flush()
}

// detailText is an event's detail as sorted key=value pairs, with the
// administrator who acted (by email when they still exist) and the session.
func detailText(ctx context.Context, e *gatehouse.Event, names *userNames) string {
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys)+2)
	for _, k := range keys {
		parts = append(parts, k+"="+e.Detail[k])
	}
	if e.ActorID != "" {
		parts = append(parts, "actor="+names.email(ctx, e.ActorID))
	}
	if e.SessionID != "" {
		parts = append(parts, "session="+e.SessionID)
	}
	return strings.Join(parts, " ")
}

// userNames finds the emails of the users events name, once each.
type userNames struct {
	adm   *gatehouse.Admin
	known map[string]string // user id → email; "" for a user that is gone
}

func newUserNames(adm *gatehouse.Admin) *userNames {
	return &userNames{adm: adm, known: map[string]string{}}
}

// email returns the email of user id, or the id when there is no such
// user any more (or it cannot be read now).
func (n *userNames) email(ctx context.Context, id string) string {
	e, ok := n.known[id]
	if !ok {
		if au, err := n.adm.User(ctx, id); err == nil {
			e = au.Email
		}
		n.known[id] = e
	}
	if e == "" {
		return id
	}
	return e
}

// user names the account of an event: its email when the user exists,
// else its id, else the address a failed login named.
func (n *userNames) user(ctx context.Context, e *gatehouse.Event) string {
	if e.UserID != "" {
		return n.email(ctx, e.UserID)
	}
	return e.Detail["email"]
}

// The JSON of --json: the shapes of the HTTP API (/api/admin/), so that
// one script reads both.

type cliUser struct {
	ID            string     `json:"id"`
	Email         string     `json:"email"`
	EmailVerified bool       `json:"email_verified"`
	Name          string     `json:"name"`
	CreatedAt     time.Time  `json:"created_at"`
	Role          string     `json:"role"`
	Disabled      bool       `json:"disabled"`
	LastLoginAt   *time.Time `json:"last_login_at"`
	MFA           struct {
		TOTP     bool `json:"totp"`
		Passkeys int  `json:"passkeys"`
	} `json:"mfa"`
	Sessions int `json:"sessions"`
}

func toCLIUser(au *gatehouse.AdminUser) cliUser {
	out := cliUser{
		ID: au.ID, Email: au.Email, EmailVerified: au.EmailVerified, Name: au.Name,
		CreatedAt: au.CreatedAt.UTC(), Role: roleOf(&au.User), Disabled: au.Disabled, Sessions: au.LiveSessions,
	}
	if !au.LastLoginAt.IsZero() {
		t := au.LastLoginAt.UTC()
		out.LastLoginAt = &t
	}
	out.MFA.TOTP, out.MFA.Passkeys = au.TOTP, au.Passkeys
	return out
}

type cliSession struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	ACR        string    `json:"acr"`
}

func toCLISession(s *gatehouse.Session) cliSession {
	return cliSession{
		ID: s.ID, CreatedAt: s.CreatedAt.UTC(), LastUsedAt: s.LastUsedAt.UTC(), ExpiresAt: s.IdleExpiresAt.UTC(),
		UserAgent: s.UserAgent, IP: s.IP, ACR: s.ACR,
	}
}

type cliEvent struct {
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	At        time.Time         `json:"at"`
	UserID    *string           `json:"user_id"`
	UserEmail *string           `json:"user_email"` // the user's email now, when they exist
	SessionID *string           `json:"session_id"`
	ActorID   *string           `json:"actor_id"`
	IP        string            `json:"ip"`
	UserAgent string            `json:"user_agent"`
	Detail    map[string]string `json:"detail"`
}

func toCLIEvent(ctx context.Context, e *gatehouse.Event, names *userNames) cliEvent {
	d := e.Detail
	if d == nil {
		d = map[string]string{}
	}
	out := cliEvent{
		ID: e.ID, Type: e.Type, At: e.At.UTC(), UserID: orNil(e.UserID), SessionID: orNil(e.SessionID),
		ActorID: orNil(e.ActorID), IP: e.IP, UserAgent: e.UserAgent, Detail: d,
	}
	if e.UserID != "" {
		if em := names.email(ctx, e.UserID); em != e.UserID {
			out.UserEmail = &em
		}
	}
	return out
}

func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
