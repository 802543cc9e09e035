package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newMail returns a mail to an address, created at created, with no id
// (the store gives it one) and due at creation.
func newMail(to string, created time.Time) *gatehouse.Mail {
	return &gatehouse.Mail{
		Purpose:   gatehouse.PurposeVerifyEmail,
		To:        to,
		Subject:   "Verify your email",
		Text:      "Follow the link: https://app.example/verify-email#token=T",
		HTML:      "<p>Follow <a href=\"https://app.example/verify-email#token=T\">the link</a></p>",
		CreatedAt: created,
	}
}

// mustQueue queues mails with a token for a new user, as the service does.
func mustQueue(tb testing.TB, st gatehouse.Store, ms gatehouse.MailStore, mails ...*gatehouse.Mail) {
	tb.Helper()
	mustIssue(tb, ms, mustCreateUser(tb, st, "mailer"), gatehouse.PurposeVerifyEmail, mails...)
	for _, m := range mails {
		if m.ID == "" {
			tb.Fatal("IssueEmailToken gave a mail no id")
		}
	}
}

// mustClaim claims mails and returns their ids, in order.
func mustClaim(tb testing.TB, ms gatehouse.MailStore, now time.Time, lease time.Duration, limit int) ([]gatehouse.Mail, []string) {
	tb.Helper()
	got, err := ms.ClaimMails(context.Background(), now, lease, limit)
	if err != nil {
		tb.Fatalf("ClaimMails: %v", err)
	}
	var ids []string
	for _, m := range got {
		ids = append(ids, m.ID)
	}
	return got, ids
}

// wantOutbox checks the outbox's count and oldest creation time.
func wantOutbox(tb testing.TB, ms gatehouse.MailStore, n int, oldest time.Time) {
	tb.Helper()
	gotN, gotOldest, err := ms.Outbox(context.Background())
	if err != nil {
		tb.Fatalf("Outbox: %v", err)
	}
	if gotN != n {
		tb.Errorf("Outbox pending = %d, want %d", gotN, n)
	}
	wantTime(tb, "Outbox oldest", gotOldest, oldest)
}

func testOutbox(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("Lease", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		wantOutbox(t, ms, 0, time.Time{})
		m1, m2 := newMail("a@example.com", base), newMail("b@example.com", at(time.Second))
		m2.HTML = ""
		mustQueue(t, st, ms, m2, m1) // queued newest first: claims are oldest first all the same
		wantOutbox(t, ms, 2, base)

		got, ids := mustClaim(t, ms, at(time.Minute), time.Minute, 10)
		if fmt.Sprint(ids) != fmt.Sprint([]string{m1.ID, m2.ID}) {
			t.Fatalf("ClaimMails = %v, want [%s %s]", ids, m1.ID, m2.ID)
		}
		for i, want := range []*gatehouse.Mail{m1, m2} {
			g := got[i]
			if g.Purpose != want.Purpose || g.To != want.To || g.Subject != want.Subject ||
				g.Text != want.Text || g.HTML != want.HTML || g.Attempts != 1 || g.LastError != "" {
				t.Errorf("claimed %+v,\nqueued %+v (want Attempts 1)", g, want)
			}
			wantTime(t, "CreatedAt", g.CreatedAt, want.CreatedAt)
			wantTime(t, "NextAttemptAt", g.NextAttemptAt, want.CreatedAt)
		}
		wantOutbox(t, ms, 2, base) // leased mails still wait

		if _, ids := mustClaim(t, ms, at(90*time.Second), time.Minute, 10); len(ids) != 0 {
			t.Errorf("a claim within the lease got %v", ids)
		}
		// The sender crashed: at the end of the lease the mails are due again.
		got, ids = mustClaim(t, ms, at(2*time.Minute), time.Minute, 10)
		if fmt.Sprint(ids) != fmt.Sprint([]string{m1.ID, m2.ID}) {
			t.Fatalf("ClaimMails after the lease = %v, want both", ids)
		}
		if got[0].Attempts != 2 {
			t.Errorf("Attempts after a second claim = %d, want 2", got[0].Attempts)
		}
	})

	t.Run("DueAndLimit", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		later := newMail("later@example.com", base)
		later.NextAttemptAt = at(10 * time.Minute)
		a, b, c := newMail("a@example.com", at(time.Second)), newMail("b@example.com", at(2*time.Second)), newMail("c@example.com", at(3*time.Second))
		mustQueue(t, st, ms, later, c, a, b)
		wantOutbox(t, ms, 4, base)
		if _, ids := mustClaim(t, ms, at(time.Minute), time.Hour, 0); len(ids) != 0 {
			t.Errorf("limit 0 claimed %v", ids)
		}
		if _, ids := mustClaim(t, ms, at(time.Minute), time.Hour, 2); fmt.Sprint(ids) != fmt.Sprint([]string{a.ID, b.ID}) {
			t.Errorf("ClaimMails(limit 2) = %v, want the two oldest due [%s %s]", ids, a.ID, b.ID)
		}
		if _, ids := mustClaim(t, ms, at(time.Minute), time.Hour, 10); fmt.Sprint(ids) != fmt.Sprint([]string{c.ID}) {
			t.Errorf("ClaimMails = %v, want [%s] (the other is not due)", ids, c.ID)
		}
		if _, ids := mustClaim(t, ms, at(10*time.Minute), time.Hour, 10); fmt.Sprint(ids) != fmt.Sprint([]string{later.ID}) {
			t.Errorf("ClaimMails when due = %v, want [%s]", ids, later.ID)
		}
	})

	t.Run("SentAndFailed", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		sent, retry, dead := newMail("a@example.com", base), newMail("b@example.com", at(time.Second)), newMail("c@example.com", at(2*time.Second))
		mustQueue(t, st, ms, sent, retry, dead)
		now := at(time.Minute)
		if _, ids := mustClaim(t, ms, now, time.Minute, 10); len(ids) != 3 {
			t.Fatalf("claimed %v, want all three", ids)
		}
		if err := ms.MailSent(ctx, sent.ID, now); err != nil {
			t.Fatalf("MailSent: %v", err)
		}
		if err := ms.MailFailed(ctx, retry.ID, "421 try again later", at(10*time.Minute), now); err != nil {
			t.Fatalf("MailFailed(next): %v", err)
		}
		if err := ms.MailFailed(ctx, dead.ID, "550 no such mailbox", time.Time{}, now); err != nil {
			t.Fatalf("MailFailed(give up): %v", err)
		}
		wantOutbox(t, ms, 1, retry.CreatedAt)

		if _, ids := mustClaim(t, ms, at(5*time.Minute), time.Minute, 10); len(ids) != 0 {
			t.Errorf("claimed %v before the retry is due, with the sent and given-up mails out of the queue", ids)
		}
		got, ids := mustClaim(t, ms, at(10*time.Minute), time.Minute, 10)
		if fmt.Sprint(ids) != fmt.Sprint([]string{retry.ID}) {
			t.Fatalf("ClaimMails at the retry = %v, want [%s]", ids, retry.ID)
		}
		if got[0].LastError != "421 try again later" || got[0].Attempts != 2 {
			t.Errorf("retried mail = %+v, want LastError kept and Attempts 2", got[0])
		}
		wantTime(t, "NextAttemptAt", got[0].NextAttemptAt, at(10*time.Minute))

		// A late failure report of a sender whose lease ended, after another
		// sent the mail, leaves it sent.
		if err := ms.MailFailed(ctx, sent.ID, "timeout", time.Time{}, now); err != nil {
			t.Errorf("MailFailed of a sent mail: %v", err)
		}
		if err := ms.MailFailed(ctx, sent.ID, "timeout", at(20*time.Minute), now); err != nil {
			t.Errorf("MailFailed of a sent mail: %v", err)
		}
		wantOutbox(t, ms, 1, retry.CreatedAt)
		if _, ids := mustClaim(t, ms, at(1000*time.Hour), time.Minute, 10); fmt.Sprint(ids) != fmt.Sprint([]string{retry.ID}) {
			t.Errorf("ClaimMails much later = %v, want only [%s]: sent and given-up mails never come back", ids, retry.ID)
		}

		wantErr(t, "MailSent of no mail", ms.MailSent(ctx, gatehouse.NewID(), now), gatehouse.ErrNotFound)
		wantErr(t, "MailFailed of no mail", ms.MailFailed(ctx, gatehouse.NewID(), "x", time.Time{}, now), gatehouse.ErrNotFound)
	})

	t.Run("ConcurrentClaimers", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		const mails, claimers = 200, 8
		var queued []*gatehouse.Mail
		for i := range mails {
			queued = append(queued, newMail(fmt.Sprintf("m%d@example.com", i), at(time.Duration(i)*time.Millisecond)))
		}
		mustQueue(t, st, ms, queued...)
		now := at(time.Minute)
		var (
			mu     sync.Mutex
			claims = map[string]int{}
			wg     sync.WaitGroup
		)
		start := make(chan struct{}) // all claimers at once, to overlap as much as possible
		for range claimers {
			wg.Go(func() {
				<-start
				// Bounded: a store that hands out leased mails again would
				// otherwise keep these loops going for ever.
				for range mails {
					got, err := ms.ClaimMails(ctx, now, time.Hour, 5)
					if err != nil {
						t.Errorf("ClaimMails: %v", err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						claims[m.ID]++
					}
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		for _, m := range queued {
			if n := claims[m.ID]; n != 1 {
				t.Errorf("mail %s claimed %d times during its lease, want once", m.ID, n)
			}
		}
		if _, ids := mustClaim(t, ms, now, time.Hour, mails); len(ids) != 0 {
			t.Errorf("mails left after the claimers stopped: %v", ids)
		}
		wantOutbox(t, ms, mails, base)
	})

	t.Run("Prune", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		u, v := mustCreateUser(t, st, "u"), mustCreateUser(t, st, "v")
		expired := mustIssue(t, ms, u, gatehouse.PurposeVerifyEmail) // expires at at(time.Hour)
		tok, live := newToken(v, gatehouse.PurposeVerifyEmail, v.Email)
		tok.ExpiresAt = at(20 * time.Hour)
		waiting := newMail("w@example.com", base)
		if err := ms.IssueEmailToken(ctx, nil, tok, waiting); err != nil {
			t.Fatal(err)
		}
		if err := st.Prune(ctx, at(10*time.Hour), at(5*time.Hour), at(8*time.Hour), at(6*time.Hour)); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		// Asked as if before its expiry, the pruned token is simply gone.
		_, err := ms.VerifyEmail(ctx, expired, at(time.Minute))
		wantErr(t, "VerifyEmail of a pruned token", err, gatehouse.ErrEmailTokenInvalid)
		if _, err := ms.VerifyEmail(ctx, live, at(10*time.Hour)); err != nil {
			t.Errorf("Prune deleted a live token: %v", err)
		}
		wantOutbox(t, ms, 1, base)
		if _, ids := mustClaim(t, ms, at(10*time.Hour), time.Minute, 10); fmt.Sprint(ids) != fmt.Sprint([]string{waiting.ID}) {
			t.Errorf("after Prune ClaimMails = %v, want the waiting mail", ids)
		}
	})
}
