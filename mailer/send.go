package mailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/gatehouse/gatehouse"
)

// Sender delivers one mail. An error for which [Permanent] is true means
// retrying cannot help (the server refused the mail for good: 5xx).
type Sender interface {
	Send(ctx context.Context, m *gatehouse.Mail) error
}

// permanentError marks a refusal that no retry will change.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent reports whether err is a refusal for good.
func Permanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// SMTP sends through an SMTP relay.
type SMTP struct {
	from   string
	client func() (*gomail.Client, error)
}

// NewSMTP parses --smtp-url: smtp://[user:pass@]host:port uses STARTTLS
// when the server offers it (?tls=required refuses to send without it),
// smtps:// speaks TLS from the first byte. Every step (dial, each
// command, the data) has a timeout.
func NewSMTP(rawURL, from string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, errors.New("want smtp://[user:pass@]host:port or smtps://…")
	}
	port, _ := strconv.Atoi(u.Port())
	opts := []gomail.Option{gomail.WithTimeout(15 * time.Second)}
	switch u.Scheme {
	case "smtp":
		if port == 0 {
			port = 587
		}
		policy := gomail.TLSOpportunistic
		switch u.Query().Get("tls") {
		case "required":
			policy = gomail.TLSMandatory
		case "", "opportunistic":
		default:
			return nil, errors.New("?tls= must be required or opportunistic")
		}
		opts = append(opts, gomail.WithPort(port), gomail.WithTLSPolicy(policy))
	case "smtps":
		if port == 0 {
			port = 465
		}
		opts = append(opts, gomail.WithPort(port), gomail.WithSSL())
	default:
		return nil, errors.New("the scheme must be smtp or smtps")
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	host := u.Hostname()
	if _, err := gomail.NewClient(host, opts...); err != nil {
		return nil, err
	}
	return &SMTP{from: from, client: func() (*gomail.Client, error) { return gomail.NewClient(host, opts...) }}, nil
}

// Send delivers m: multipart/alternative with the text and HTML parts,
// Date and Message-ID set.
func (s *SMTP) Send(ctx context.Context, m *gatehouse.Mail) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return &permanentError{fmt.Errorf("from %q: %w", s.from, err)}
	}
	if err := msg.To(m.To); err != nil {
		return &permanentError{fmt.Errorf("to: %w", err)}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	c, err := s.client()
	if err != nil {
		return err
	}
	err = c.DialAndSendWithContext(ctx, msg)
	var se *gomail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
		return &permanentError{err}
	}
	return err
}

// Log "sends" by writing the whole mail to the log: development without
// an SMTP server. It is the one place a link token may reach a log.
type Log struct{ Logger *slog.Logger }

func (l Log) Send(ctx context.Context, m *gatehouse.Mail) error {
	l.Logger.WarnContext(ctx, "mail not sent: no SMTP server is configured; its content follows",
		"to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}
