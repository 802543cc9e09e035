package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// pending is the condition of a mail still in the queue.
const pending = `sent_at IS NULL AND failed_at IS NULL`

// ClaimMails leases up to limit mails due at now, and not leased by
// another sender, until now+lease, oldest first; each claim counts as an
// attempt (Attempts includes it), so that a mail whose sending crashes the
// sender is still given up after the sender's maximum.
//
// FOR UPDATE SKIP LOCKED lets instances sharing the database claim at once
// without waiting for each other: a mail another claimer has locked is
// skipped, and one it has just leased no longer matches when PostgreSQL
// rechecks the condition on the row's newest version. So no two claimers
// get the same mail while its lease runs (CONTRACT §7: sent by exactly one
// instance).
func (s *Store) ClaimMails(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]gatehouse.Mail, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []gatehouse.Mail
	err := s.write(ctx, "claim mails", func(ctx context.Context, q dbtx) error {
		rows, err := q.Query(ctx, `WITH due AS (
                SELECT id FROM outbox
                WHERE `+pending+` AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                ORDER BY created_at, id LIMIT $3
                FOR UPDATE SKIP LOCKED)
            UPDATE outbox o SET lease_until = $2, attempts = o.attempts + 1
            FROM due WHERE o.id = due.id
            RETURNING o.id, o.purpose, o.to_addr, o.subject, o.text_body, o.html_body,
                o.created_at, o.attempts, o.next_attempt_at, o.last_error`,
			now, now.Add(lease), limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (gatehouse.Mail, error) {
			var m gatehouse.Mail
			err := r.Scan(&m.ID, &m.Purpose, &m.To, &m.Subject, &m.Text, &m.HTML,
				&m.CreatedAt, &m.Attempts, &m.NextAttemptAt, &m.LastError)
			m.CreatedAt, m.NextAttemptAt = m.CreatedAt.UTC(), m.NextAttemptAt.UTC()
			return m, err
		})
		if err != nil {
			return err
		}
		return unchangedIf(len(out) == 0)
	})
	if err != nil {
		return nil, err
	}
	// RETURNING promises no order.
	slices.SortFunc(out, gatehouse.CompareMailAge)
	return out, nil
}

// MailSent records the delivery of a mail: it leaves the queue. The error
// wraps [gatehouse.ErrNotFound] when there is no such mail.
func (s *Store) MailSent(ctx context.Context, id string, now time.Time) error {
	return s.updateMail(ctx, "mail sent", id, `sent_at = $2, lease_until = NULL`, now)
}

// MailFailed records a failed attempt and its reason: with next non-zero
// the mail is due again at next; with next zero it is given up and kept,
// out of the queue, for the operator. A mail already sent (by a sender
// that took it over after this one's lease ended) stays sent. The error
// wraps [gatehouse.ErrNotFound] when there is no such mail.
func (s *Store) MailFailed(ctx context.Context, id, reason string, next, now time.Time) error {
	if next.IsZero() {
		return s.updateMail(ctx, "mail failed", id, `failed_at = $2, last_error = $3, lease_until = NULL`, now, reason)
	}
	return s.updateMail(ctx, "mail failed", id, `next_attempt_at = $2, last_error = $3, lease_until = NULL`, next, reason)
}

// updateMail applies set ($1 is the id) to a mail not yet sent; it does
// nothing to a sent one, and returns ErrNotFound for a mail that does not
// exist.
func (s *Store) updateMail(ctx context.Context, op, id, set string, args ...any) error {
	if hasNUL(id) {
		return notFound("mail", id)
	}
	return s.write(ctx, op, func(ctx context.Context, q dbtx) error {
		var updated, exists bool
		err := q.QueryRow(ctx, `WITH u AS (
                UPDATE outbox SET `+set+` WHERE id = $1 AND sent_at IS NULL RETURNING 1)
            SELECT EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM outbox WHERE id = $1)`,
			append([]any{id}, args...)...).Scan(&updated, &exists)
		if err != nil {
			return err
		}
		if !updated && !exists {
			return notFound("mail", id)
		}
		return unchangedIf(!updated) // sent already: left alone
	})
}

// Outbox returns how many mails wait to be sent, leased ones included, and
// the creation time of the oldest (zero when none wait).
func (s *Store) Outbox(ctx context.Context) (int, time.Time, error) {
	var n int
	var oldest *time.Time
	err := s.read(ctx, "outbox", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE `+pending).Scan(&n, &oldest)
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	return n, fromNull(oldest), nil
}
