package mailer_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/smtptest"
	"github.com/gatehouse/gatehouse/mailer"
)

func startSMTP(t *testing.T) *smtptest.Server {
	t.Helper()
	s, err := smtptest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func compose(t *testing.T, c *mailer.Composer, purpose string) *gatehouse.Mail {
	t.Helper()
	m, err := c.Compose(purpose, "ada@example.com", gatehouse.MailData{
		Link: "https://app.example.com/reset-password#token=SECRET-TOKEN", Email: "ada@example.com", ExpiresIn: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A mail reaches a real SMTP server as multipart/alternative with both
// parts, a Date and a Message-ID, and no token in its Subject.
func TestSMTPDelivery(t *testing.T) {
	srv := startSMTP(t)
	c, err := mailer.NewComposer("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := mailer.NewSMTP(srv.URL(), "Gatehouse <no-reply@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	m := compose(t, c, gatehouse.PurposeResetPassword)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got, err := srv.WaitFor("ada@example.com", "Reset your password", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Header["Content-Type"], "multipart/alternative") {
		t.Fatalf("Content-Type %q", got.Header["Content-Type"])
	}
	if got.Header["Date"] == "" || got.Header["Message-Id"] == "" {
		t.Fatalf("no Date or Message-ID: %v", got.Header)
	}
	if strings.Contains(got.Subject, "SECRET-TOKEN") {
		t.Fatal("the token is in the Subject")
	}
	if !strings.Contains(got.Text, "#token=SECRET-TOKEN") || !strings.Contains(got.HTML, `href="https://app.example.com/reset-password#token=SECRET-TOKEN"`) {
		t.Fatalf("the link is missing from a part:\ntext: %s\nhtml: %s", got.Text, got.HTML)
	}
	if !strings.Contains(got.Text, "1 hour") {
		t.Fatalf("the lifetime is missing: %s", got.Text)
	}
}

// A 4xx is worth a retry; a 5xx is a refusal for good.
func TestSMTPErrorsAreClassified(t *testing.T) {
	srv := startSMTP(t)
	c, _ := mailer.NewComposer("")
	s, err := mailer.NewSMTP(srv.URL(), "no-reply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	m := compose(t, c, gatehouse.PurposeVerifyEmail)
	srv.RefuseNext(451, 550)
	if err := s.Send(context.Background(), m); err == nil || mailer.Permanent(err) {
		t.Fatalf("451: %v (permanent %v)", err, mailer.Permanent(err))
	}
	if err := s.Send(context.Background(), m); err == nil || !mailer.Permanent(err) {
		t.Fatalf("550: %v (permanent %v)", err, mailer.Permanent(err))
	}
	srv.Close()
	if err := s.Send(context.Background(), m); err == nil || mailer.Permanent(err) {
		t.Fatalf("server down: %v (permanent %v)", err, mailer.Permanent(err))
	}
}

func TestTemplatesCanBeOverridden(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "verify_email.subject.tmpl"), []byte("Welcome to Acme, {{.Email}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := mailer.NewComposer(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := compose(t, c, gatehouse.PurposeVerifyEmail)
	if m.Subject != "Welcome to Acme, ada@example.com" || !strings.Contains(m.Text, "#token=") {
		t.Fatalf("override: %q / %q", m.Subject, m.Text)
	}
	// The HTML part escapes what it inserts.
	m, err = c.Compose(gatehouse.MailPurposeEmailChanged, "ada@example.com", gatehouse.MailData{Email: "ada@example.com", NewEmail: `"<script>"@evil.example`})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") {
		t.Fatal("the HTML part did not escape an address")
	}
	if err := os.WriteFile(filepath.Join(dir, "reset_password.html.tmpl"), []byte("{{.Nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := mailer.NewComposer(dir); err == nil {
		t.Fatal("a broken template was accepted")
	}
}

func TestBadSMTPURLs(t *testing.T) {
	for _, u := range []string{"", "mail.example.com:25", "http://mail.example.com", "smtp://h:25?tls=maybe"} {
		if _, err := mailer.NewSMTP(u, "a@example.com"); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	for _, u := range []string{"smtp://h:587", "smtps://u:p@h:465", "smtp://h:25?tls=required"} {
		if _, err := mailer.NewSMTP(u, "a@example.com"); err != nil {
			t.Errorf("%q: %v", u, err)
		}
	}
}
