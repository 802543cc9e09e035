package mailer

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Outbox delivers the mails the store queued. Any number of instances may
// run one on a shared database: a claim leases each mail to one of them,
// and a lease that a crashed instance left runs out, so another takes the
// mail over. Delivery is at least once: a crash between the relay's
// acceptance and the record of it sends that mail again.
type Outbox struct {
	Store  gatehouse.MailStore
	Sender Sender
	Log    *slog.Logger

	Poll        time.Duration                   // how often the queue is looked at (default 1s)
	Lease       time.Duration                   // how long a claimed mail is this sender's (default 2m)
	Backoff     func(attempt int) time.Duration // wait after the attempt-th failure (default: 10s doubling, at most 1h)
	GiveUpAfter time.Duration                   // a mail this old is given up (default 48h)
	Now         func() time.Time

	// OnResult, when set, is called with "sent", "retried" or "failed"
	// after each attempt, for metrics.
	OnResult func(result string)
	// Resolve, when set, is called before each entry is sent: false means
	// the entry is done without a mail (a request the service resolved);
	// an error is retried like a failed delivery.
	Resolve func(ctx context.Context, m *gatehouse.Mail) (send bool, err error)

	wake chan struct{}
}

func (o *Outbox) defaults() {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Backoff == nil {
		o.Backoff = ExponentialBackoff(10*time.Second, time.Hour)
	}
	if o.GiveUpAfter <= 0 {
		o.GiveUpAfter = 48 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.wake == nil {
		o.wake = make(chan struct{}, 1)
	}
}

// ExponentialBackoff waits first, then twice as long after each failure,
// up to max.
func ExponentialBackoff(first, max time.Duration) func(int) time.Duration {
	return func(attempt int) time.Duration {
		d := first
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		return min(d, max)
	}
}

// Wake makes Run look at the queue now (a mail was just queued).
func (o *Outbox) Wake() {
	o.defaults()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (o *Outbox) Run(ctx context.Context) {
	o.defaults()
	tick := time.NewTicker(o.Poll)
	defer tick.Stop()
	for {
		if _, err := o.Deliver(ctx); err != nil && ctx.Err() == nil {
			o.Log.WarnContext(ctx, "outbox: cannot read the queue", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-o.wake:
		}
	}
}

// Deliver claims the mails that are due and tries each once. It returns
// how many it claimed.
func (o *Outbox) Deliver(ctx context.Context) (int, error) {
	o.defaults()
	total := 0
	for {
		mails, err := o.Store.ClaimMails(ctx, o.Now(), o.Lease, 16)
		if err != nil || len(mails) == 0 {
			return total, err
		}
		total += len(mails)
		for i := range mails {
			o.attempt(ctx, &mails[i])
		}
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

func (o *Outbox) attempt(ctx context.Context, m *gatehouse.Mail) {
	// Half the lease at most: the mail must be recorded before another
	// sender may take it over.
	sendCtx, cancel := context.WithTimeout(ctx, min(time.Minute, o.Lease/2))
	err := o.send(sendCtx, m)
	cancel()
	now := o.Now()
	if errors.Is(err, errResolved) {
		if err := o.Store.MailSent(ctx, m.ID, now); err != nil {
			o.Log.WarnContext(ctx, "outbox: request resolved but not recorded; it may be resolved again", "mail_id", m.ID, "err", err)
		}
		return
	}
	if err == nil {
		if err := o.Store.MailSent(ctx, m.ID, now); err != nil {
			o.Log.WarnContext(ctx, "outbox: mail sent but not recorded; it may be sent again", "mail_id", m.ID, "err", err)
		}
		o.result("sent")
		o.Log.InfoContext(ctx, "mail sent", "mail_id", m.ID, "purpose", m.Purpose)
		return
	}
	attempts := m.Attempts // the claim counted this attempt
	next := now.Add(o.Backoff(attempts))
	if Permanent(err) || next.Sub(m.CreatedAt) > o.GiveUpAfter {
		next = time.Time{}
	}
	if rerr := o.Store.MailFailed(ctx, m.ID, truncate(err.Error(), 500), next, now); rerr != nil {
		o.Log.WarnContext(ctx, "outbox: cannot record a failed attempt", "mail_id", m.ID, "err", rerr)
	}
	if next.IsZero() {
		o.result("failed")
		o.Log.ErrorContext(ctx, "mail given up", "mail_id", m.ID, "purpose", m.Purpose, "attempts", attempts, "err", err)
		return
	}
	o.result("retried")
	o.Log.WarnContext(ctx, "mail not sent; will retry", "mail_id", m.ID, "purpose", m.Purpose, "attempts", attempts, "retry_at", next, "err", err)
}

// errResolved says an entry was resolved without a mail to send.
var errResolved = errors.New("resolved")

func (o *Outbox) send(ctx context.Context, m *gatehouse.Mail) error {
	if o.Resolve != nil {
		send, err := o.Resolve(ctx, m)
		if err != nil {
			return err
		}
		if !send {
			return errResolved
		}
	}
	return o.Sender.Send(ctx, m)
}

func (o *Outbox) result(r string) {
	if o.OnResult != nil {
		o.OnResult(r)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
