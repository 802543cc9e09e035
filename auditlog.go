package gatehouse

import (
	"context"
	"log/slog"
	"time"
)

// The service side of the audit log: events are built from the request's
// client (carried in the context, so that every method need not take it),
// attached to the one store write they record, and logged as structured
// slog lines once that write committed, for operators who ship logs
// elsewhere (OWASP ASVS 5.0 V16: log security events, never a secret).

type clientInfoKey struct{}

// WithClientInfo returns a context that carries the client of a request;
// the HTTP layer sets it on every request, and audit events record it.
func WithClientInfo(ctx context.Context, c ClientInfo) context.Context {
	return context.WithValue(ctx, clientInfoKey{}, c)
}

func clientOf(ctx context.Context) ClientInfo {
	c, _ := ctx.Value(clientInfoKey{}).(ClientInfo)
	return c
}

// newEvent builds an event of the request in ctx. detail is given as
// key, value pairs and must hold nothing secret.
func (s *Service) newEvent(ctx context.Context, typ, userID, sessionID string, detail ...string) Event {
	c := clientOf(ctx)
	ev := Event{
		ID: NewID(), Type: typ, At: s.now().UTC().Truncate(time.Microsecond),
		UserID: userID, SessionID: sessionID, IP: c.IP, UserAgent: truncate(c.UserAgent, 512),
	}
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != userID {
		ev.ActorID = a
	}
	for i := 0; i+1 < len(detail); i += 2 {
		if ev.Detail == nil {
			ev.Detail = map[string]string{}
		}
		ev.Detail[detail[i]] = detail[i+1]
	}
	return ev
}

type actorKey struct{}

// withActor marks ctx as the work of an administrator: events of other
// users' accounts name them as the actor.
func withActor(ctx context.Context, adminID string) context.Context {
	return context.WithValue(ctx, actorKey{}, adminID)
}

// record attaches events to ctx for the next store write, and returns the
// function to call with that write's error: it logs the events when the
// write committed.
func (s *Service) record(ctx context.Context, events ...Event) (context.Context, func(error)) {
	return WithEvents(ctx, events...), func(err error) {
		if err == nil {
			s.logEvents(ctx, events)
		}
	}
}

// appendEvents stores events that record no change of their own (a failed
// login). A failure to store them is logged, not returned: the answer to
// the request does not depend on it, and the slog line still carries the
// event.
func (s *Service) appendEvents(ctx context.Context, events ...Event) {
	if err := s.store.AppendEvents(ctx, events...); err != nil {
		s.log.WarnContext(ctx, "audit events not stored", "err", err)
	}
	s.logEvents(ctx, events)
}

func (s *Service) logEvents(ctx context.Context, events []Event) {
	for _, ev := range events {
		attrs := []slog.Attr{
			slog.String("event", ev.Type), slog.String("event_id", ev.ID),
			slog.String("user_id", ev.UserID), slog.String("ip", ev.IP),
		}
		if ev.SessionID != "" {
			attrs = append(attrs, slog.String("session_id", ev.SessionID))
		}
		if ev.ActorID != "" {
			attrs = append(attrs, slog.String("actor_id", ev.ActorID))
		}
		if ev.UserAgent != "" {
			attrs = append(attrs, slog.String("user_agent", ev.UserAgent))
		}
		for k, v := range ev.Detail {
			attrs = append(attrs, slog.String("detail."+k, v))
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
	}
}

// MyEvents lists the caller's own audit events, newest first.
func (s *Service) MyEvents(ctx context.Context, c *AccessClaims, after *EventCursor, limit int) ([]Event, *EventCursor, error) {
	return s.events(ctx, EventFilter{UserID: c.Subject}, after, limit)
}

func (s *Service) events(ctx context.Context, f EventFilter, after *EventCursor, limit int) ([]Event, *EventCursor, error) {
	limit = pageSize(limit)
	evs, err := s.store.Events(ctx, f, after, limit+1)
	if err != nil {
		return nil, nil, err
	}
	evs, last := trimPage(evs, limit)
	if last == nil {
		return evs, nil, nil
	}
	return evs, &EventCursor{At: last.At, ID: last.ID}, nil
}

// trimPage cuts items, read with limit+1 to learn whether a next page
// exists, to limit; it returns the last item kept when there is a next
// page (its cursor), nil at the end.
func trimPage[T any](items []T, limit int) ([]T, *T) {
	if len(items) <= limit {
		return items, nil
	}
	items = items[:limit]
	return items, &items[limit-1]
}

// pageSize clamps a requested page size: 20 when unset, at most
// MaxPageSize.
func pageSize(limit int) int {
	switch {
	case limit <= 0:
		return 20
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}
