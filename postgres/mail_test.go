package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestOutboxRows checks what the MailStore interface cannot show: a
// given-up mail keeps its reason, a sent one is never marked failed by a
// late report, and Prune deletes sent and given-up mails only once they
// are older than feedBefore.
func TestOutboxRows(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	u := &gatehouse.User{ID: gatehouse.NewID(), Email: "u@example.com", PasswordHash: "h", CreatedAt: t0}
	sent := &gatehouse.Mail{Purpose: gatehouse.PurposeVerifyEmail, To: "a@example.com", Subject: "s", Text: "t", CreatedAt: t0}
	dead, waiting := *sent, *sent
	tok := &gatehouse.EmailToken{Hash: []byte("h1"), Purpose: gatehouse.PurposeVerifyEmail, UserID: u.ID,
		Email: u.Email, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.IssueEmailToken(ctx, u, tok, sent, &dead, &waiting); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimMails(ctx, t0, time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	done := t0.Add(time.Hour)
	if err := s.MailSent(ctx, sent.ID, done); err != nil {
		t.Fatal(err)
	}
	if err := s.MailFailed(ctx, dead.ID, "550 no such mailbox", time.Time{}, done); err != nil {
		t.Fatal(err)
	}
	if err := s.MailFailed(ctx, sent.ID, "late timeout", time.Time{}, done); err != nil {
		t.Fatal(err)
	}
	var reason string
	var failedAt time.Time
	var sentFailed int64
	if err := s.pool.QueryRow(ctx, `SELECT last_error, failed_at FROM outbox WHERE id = $1`, dead.ID).Scan(&reason, &failedAt); err != nil {
		t.Fatal(err)
	}
	if reason != "550 no such mailbox" || !failedAt.Equal(done) {
		t.Errorf("given-up mail: last_error %q, failed_at %v; want the reason and %v", reason, failedAt, done)
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE id = $1 AND failed_at IS NULL AND last_error = ''`,
		sent.ID).Scan(&sentFailed); err != nil || sentFailed != 1 {
		t.Errorf("a late failure report marked the sent mail: %d, %v", sentFailed, err)
	}

	rows := func() (n int) {
		t.Helper()
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	prune := func(feedBefore time.Time) {
		t.Helper()
		if err := s.Prune(ctx, t0, t0, feedBefore, t0); err != nil {
			t.Fatal(err)
		}
	}
	prune(done) // not older than feedBefore yet
	if n := rows(); n != 3 {
		t.Errorf("after Prune(feedBefore = when they left) %d mails, want 3", n)
	}
	prune(done.Add(time.Microsecond))
	if n := rows(); n != 1 {
		t.Errorf("after Prune %d mails, want only the waiting one", n)
	}
	if n, _, err := s.Outbox(ctx); n != 1 || err != nil {
		t.Errorf("Outbox = %d, %v; want the waiting mail", n, err)
	}
}
