package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse"
)

// pending is the condition of a mail still in the queue.
const pending = `sent_at IS NULL AND failed_at IS NULL`

// ClaimMails leases up to limit mails due at now, and not leased by
// another sender, until now+lease, oldest first; each claim counts as an
// attempt (Attempts includes it), so that a mail whose sending crashes the
// sender is still given up after the sender's maximum. The claim is one
// write transaction, and SQLite has one writer at a time: two claimers,
// in this process or another, never lease the same mail.
func (s *Store) ClaimMails(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]gatehouse.Mail, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []gatehouse.Mail
	err := s.writeTx(ctx, "claim mails", func(tx *sql.Tx) error {
		out = nil
		t := now.UnixMicro()
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET lease_until = ?, attempts = attempts + 1
            WHERE id IN (
                SELECT id FROM outbox
                WHERE `+pending+` AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
                ORDER BY created_at, id LIMIT ?)
            RETURNING id, purpose, to_addr, subject, text_body, html_body, created_at, attempts, next_attempt_at, last_error`,
			now.Add(lease).UnixMicro(), t, t, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m gatehouse.Mail
			var created, next int64
			if err := rows.Scan(&m.ID, &m.Purpose, &m.To, &m.Subject, &m.Text, &m.HTML,
				&created, &m.Attempts, &next, &m.LastError); err != nil {
				return err
			}
			m.CreatedAt, m.NextAttemptAt = usecs(created), usecs(next)
			out = append(out, m)
		}
		if err := rows.Err(); err != nil {
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
	return s.updateMail(ctx, "mail sent", id, `sent_at = ?, lease_until = NULL`, now.UnixMicro())
}

// MailFailed records a failed attempt and its reason: with next non-zero
// the mail is due again at next; with next zero it is given up and kept,
// out of the queue, for the operator. A mail already sent (by a sender
// that took it over after this one's lease ended) stays sent. The error
// wraps [gatehouse.ErrNotFound] when there is no such mail.
func (s *Store) MailFailed(ctx context.Context, id, reason string, next, now time.Time) error {
	if next.IsZero() {
		return s.updateMail(ctx, "mail failed", id, `failed_at = ?, last_error = ?, lease_until = NULL`,
			now.UnixMicro(), reason)
	}
	return s.updateMail(ctx, "mail failed", id, `next_attempt_at = ?, last_error = ?, lease_until = NULL`,
		next.UnixMicro(), reason)
}

// updateMail applies set to a mail not yet sent; it does nothing to a sent
// one, and returns ErrNotFound for a mail that does not exist.
func (s *Store) updateMail(ctx context.Context, op, id, set string, args ...any) error {
	return s.writeTx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET `+set+` WHERE id = ? AND sent_at IS NULL`, append(args, id)...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM outbox WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("mail", id)
		}
		return unchangedUnless(err) // sent already: left alone
	})
}

// Outbox returns how many mails wait to be sent, leased ones included, and
// the creation time of the oldest (zero when none wait).
func (s *Store) Outbox(ctx context.Context) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	if err := s.read.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE `+pending).
		Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, s.wrap(ctx, "outbox", err)
	}
	return n, fromMicros(oldest), nil
}
