package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/smtptest"
)

// Accounts by email over HTTP, with a real SMTP server on loopback.

func startSMTP(t *testing.T) *smtptest.Server {
	t.Helper()
	s, err := smtptest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mailArgs point a server at the SMTP server, with quick retries.
func mailArgs(s *smtptest.Server, extra ...string) []string {
	return append([]string{"--smtp-url", s.URL(), "--mail-retry", "100ms", "--app-url", "http://app.test"}, extra...)
}

var tokenInLink = regexp.MustCompile(`http://app\.test(/[a-z-]+)#token=([A-Za-z0-9_-]+)`)

// linkToken waits for the mail to "to" about subject and returns the path
// and token of its link.
func linkToken(t *testing.T, s *smtptest.Server, to, subject string) (string, string) {
	t.Helper()
	m, err := s.WaitFor(to, subject, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	found := tokenInLink.FindStringSubmatch(m.Text)
	if found == nil || !strings.Contains(m.HTML, found[0]) {
		t.Fatalf("no link in the mail (both parts):\n%s\n%s", m.Text, m.HTML)
	}
	if strings.Contains(m.Subject, found[2]) {
		t.Fatal("the token is in the Subject")
	}
	return found[1], found[2]
}

func TestEmailVerification(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	g := startGatehouse(t, mailArgs(mail)...)
	c := newClient(t, g)
	email, tok := c.newUser("verify")
	path, token := linkToken(t, mail, email, "Verify your email")
	if path != "/verify-email" {
		t.Fatalf("link path %s", path)
	}
	if r := c.get("/api/users/me", tok.Access); r.obj(t)["email_verified"] != false {
		t.Fatalf("verified before the link: %s", r)
	}
	r := c.do("POST", "/api/auth/verify-email", map[string]string{"token": token})
	if r.Status != 200 || r.obj(t)["email_verified"] != true {
		t.Fatalf("verify: %s", r)
	}
	c.do("POST", "/api/auth/verify-email", map[string]string{"token": token}).wantProblem(t, 400, "email_token_invalid")
	if r := c.get("/api/users/me", tok.Access); r.obj(t)["email_verified"] != true {
		t.Fatalf("/me after verifying: %s", r)
	}
	c.do("POST", "/api/auth/verify-email/send", map[string]string{}, "Authorization", "Bearer "+tok.Access).wantProblem(t, 409, "already_verified")
	c.do("POST", "/api/auth/verify-email", map[string]string{"token": "not-a-token"}).wantProblem(t, 400, "email_token_invalid")
}

// A newer link of the same purpose kills the older one.
func TestNewerLinkKillsTheOlder(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	g := startGatehouse(t, mailArgs(mail)...)
	c := newClient(t, g)
	email, tok := c.newUser("newer")
	_, first := linkToken(t, mail, email, "Verify your email")
	mail.Clear()
	if r := c.do("POST", "/api/auth/verify-email/send", map[string]string{}, "Authorization", "Bearer "+tok.Access); r.Status != 202 {
		t.Fatalf("send: %s", r)
	}
	_, second := linkToken(t, mail, email, "Verify your email")
	c.do("POST", "/api/auth/verify-email", map[string]string{"token": first}).wantProblem(t, 400, "email_token_invalid")
	if r := c.do("POST", "/api/auth/verify-email", map[string]string{"token": second}); r.Status != 200 {
		t.Fatalf("the newer link: %s", r)
	}
}

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	g := startGatehouse(t, mailArgs(mail)...)
	c := newClient(t, g)
	email, s1 := c.newUser("reset")
	s2 := c.login(email, testPassword)
	if r := c.do("POST", "/api/auth/password/forgot", map[string]string{"email": strings.ToUpper(email)}); r.Status != 202 {
		t.Fatalf("forgot: %s", r)
	}
	path, token := linkToken(t, mail, email, "Reset your password")
	if path != "/reset-password" {
		t.Fatalf("link path %s", path)
	}
	c.do("POST", "/api/auth/password/reset", map[string]string{"token": token, "new_password": "password"}).wantProblem(t, 422, "validation_failed")
	const newPassword = "a brand new passphrase 42"
	if r := c.do("POST", "/api/auth/password/reset", map[string]string{"token": token, "new_password": newPassword}); r.Status != 204 {
		t.Fatalf("reset: %s", r)
	}
	c.do("POST", "/api/auth/password/reset", map[string]string{"token": token, "new_password": newPassword + "!"}).wantProblem(t, 400, "email_token_invalid")
	revokedWithin(t, c, s1.Access)
	revokedWithin(t, c, s2.Access)
	c.refresh(s1.Refresh).wantProblem(t, 401, "session_revoked")
	c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}).wantProblem(t, 401, "invalid_credentials")
	c.login(email, newPassword)
}

// A reset clears the account's login limits, for every address.
func TestResetClearsLoginLimits(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	g := startGatehouse(t, mailArgs(mail, "--login-limit", "3/1h")...)
	c := newClient(t, g)
	email := uniqueEmail("locked")
	c.register(email)
	for range 3 {
		c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": "wrong"}).wantProblem(t, 401, "invalid_credentials")
	}
	c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}).wantProblem(t, 429, "rate_limited")
	c.do("POST", "/api/auth/password/forgot", map[string]string{"email": email})
	_, token := linkToken(t, mail, email, "Reset your password")
	const newPassword = "unlocked by the reset link"
	if r := c.do("POST", "/api/auth/password/reset", map[string]string{"token": token, "new_password": newPassword}); r.Status != 204 {
		t.Fatalf("reset: %s", r)
	}
	c.login(email, newPassword)
}

func TestForgotIsTheSameForUnknownAddresses(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	g := startGatehouse(t, mailArgs(mail, "--mail-limit", "0")...)
	c := newClient(t, g)
	known := uniqueEmail("known")
	c.register(known)
	unknown := uniqueEmail("nobody")
	forgot := func(email string) (time.Duration, string) {
		start := time.Now()
		r := c.do("POST", "/api/auth/password/forgot", map[string]string{"email": email})
		return time.Since(start), fmt.Sprintf("%d %s", r.Status, r.Body)
	}
	const samples = 30
	var knownTimes, unknownTimes []time.Duration
	for range samples {
		dk, ak := forgot(known)
		du, au := forgot(unknown)
		if ak != au {
			t.Fatalf("answers differ:\nknown   %s\nunknown %s", ak, au)
		}
		knownTimes, unknownTimes = append(knownTimes, dk), append(unknownTimes, du)
	}
	mk, mu := median(knownTimes), median(unknownTimes)
	diff := mk - mu
	t.Logf("forgot, median of %d: known %v, unknown %v, difference %v", samples, mk, mu, diff)
	tolerance := max(20*time.Millisecond, max(mk, mu)*15/100) // the machine's noise, not the account
	if diff > tolerance || diff < -tolerance {
		t.Fatalf("known %v vs unknown %v: the time tells them apart", mk, mu)
	}
	linkToken(t, mail, known, "Reset your password") // the requests were resolved
	time.Sleep(300 * time.Millisecond)
	if n := mail.Count(unknown); n != 0 {
		t.Fatalf("%d mails to an address with no account", n)
	}
	c.do("POST", "/api/auth/password/forgot", map[string]string{"email": "not an email"}).wantProblem(t, 422, "validation_failed")
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// Past --mail-limit, forgot answers as usual and sends nothing.
func TestMailLimit(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	g := startGatehouse(t, mailArgs(mail, "--mail-limit", "2/1h")...)
	c := newClient(t, g)
	email := uniqueEmail("limited")
	c.register(email)
	for range 4 {
		if r := c.do("POST", "/api/auth/password/forgot", map[string]string{"email": email}); r.Status != 202 {
			t.Fatalf("forgot: %s", r)
		}
	}
	linkToken(t, mail, email, "Reset your password")
	time.Sleep(500 * time.Millisecond) // room for mails that should not come
	resets := 0
	for _, m := range mail.Messages() {
		if strings.Contains(m.Subject, "Reset") {
			resets++
		}
	}
	if resets != 2 {
		t.Fatalf("%d reset mails, want the limit of 2", resets)
	}
}

func TestEmailChange(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	g := startGatehouse(t, mailArgs(mail)...)
	c := newClient(t, g)
	old, tok := c.newUser("change")
	taken := uniqueEmail("taken")
	c.register(taken)
	bearer := []string{"Authorization", "Bearer " + tok.Access}
	newEmail := uniqueEmail("moved")
	c.do("POST", "/api/auth/email", map[string]string{"new_email": newEmail, "current_password": "wrong"}, bearer...).wantProblem(t, 401, "invalid_credentials")
	c.do("POST", "/api/auth/email", map[string]string{"new_email": taken, "current_password": testPassword}, bearer...).wantProblem(t, 409, "email_taken")
	c.do("POST", "/api/auth/email", map[string]string{"new_email": "nope", "current_password": testPassword}, bearer...).wantProblem(t, 422, "validation_failed")
	if r := c.do("POST", "/api/auth/email", map[string]string{"new_email": newEmail, "current_password": testPassword}, bearer...); r.Status != 202 {
		t.Fatalf("change: %s", r)
	}
	path, token := linkToken(t, mail, newEmail, "Confirm your new email")
	if path != "/confirm-email" {
		t.Fatalf("link path %s", path)
	}
	if _, err := mail.WaitFor(old, "change of your email", 5*time.Second); err != nil {
		t.Fatalf("no notice to the old address: %v", err)
	}
	r := c.do("POST", "/api/auth/email/confirm", map[string]string{"token": token})
	if r.Status != 200 || r.str(t, "email") != newEmail || r.obj(t)["email_verified"] != true {
		t.Fatalf("confirm: %s", r)
	}
	if r := c.get("/api/users/me", tok.Access); r.str(t, "email") != newEmail {
		t.Fatalf("/me after the change (the user cache must have dropped the old copy): %s", r)
	}
	c.do("POST", "/api/auth/login", map[string]string{"email": old, "password": testPassword}).wantProblem(t, 401, "invalid_credentials")
	c.login(newEmail, testPassword)
	c.do("POST", "/api/auth/email/confirm", map[string]string{"token": token}).wantProblem(t, 400, "email_token_invalid")
}

func TestRequireVerifiedEmail(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	g := startGatehouse(t, mailArgs(mail, "--require-verified-email")...)
	c := newClient(t, g)
	email := uniqueEmail("unverified")
	c.register(email)
	c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": "wrong"}).wantProblem(t, 401, "invalid_credentials")
	c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}).wantProblem(t, 403, "email_not_verified")
	_, token := linkToken(t, mail, email, "Verify your email")
	if r := c.do("POST", "/api/auth/verify-email", map[string]string{"token": token}); r.Status != 200 {
		t.Fatalf("verify: %s", r)
	}
	c.login(email, testPassword)
}

// The SMTP server is down when the request comes; the mail waits in the
// database and arrives once the server is back.
func TestMailWaitsForTheSMTPServer(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	addr := mail.Addr
	mail.Close()
	g := startGatehouse(t, "--smtp-url", "smtp://"+addr, "--mail-retry", "100ms", "--app-url", "http://app.test")
	c := newClient(t, g)
	email := uniqueEmail("down")
	c.register(email) // 201 while the SMTP server is down
	time.Sleep(300 * time.Millisecond)
	back, err := smtptest.Start(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	linkToken(t, back, email, "Verify your email")
	time.Sleep(300 * time.Millisecond)
	if n := back.Count(email); n != 1 {
		t.Fatalf("%d mails, want 1", n)
	}
}

// 4xx answers are retried until a 2xx; a 5xx is given up, recorded, and
// not retried.
func TestTemporaryAndPermanentRefusals(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	g := startGatehouse(t, mailArgs(mail)...)
	c := newClient(t, g)
	mail.RefuseNext(451, 421)
	email := uniqueEmail("retried")
	c.register(email)
	linkToken(t, mail, email, "Verify your email")
	if a := mail.Attempts(); a != 3 {
		t.Fatalf("%d attempts, want 3 (two refusals, then the delivery)", a)
	}

	mail.RefuseNext(550)
	before := mail.Attempts()
	refused := uniqueEmail("refused")
	c.register(refused)
	eventually(t, 5*time.Second, func() string {
		if mail.Attempts() == before+1 {
			return ""
		}
		return "no attempt yet"
	})
	time.Sleep(1500 * time.Millisecond) // retries, if any, would come within this
	if a := mail.Attempts(); a != before+1 || mail.Count(refused) != 0 {
		t.Fatalf("a 5xx was retried: %d attempts after it", a-before)
	}
	metrics := getText(t, g.URL+"/metrics")
	for _, want := range []string{`gatehouse_mails_total{result="failed"} 1`, `gatehouse_mails_total{result="retried"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %s:\n%s", want, grepLines(metrics, "gatehouse_mail"))
		}
	}
	if !strings.Contains(g.logs.String(), "mail given up") {
		t.Fatal("the given-up mail is not in the log")
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Two instances on one database share one queue: every mail arrives
// exactly once.
func TestTwoInstancesSendEachMailOnce(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	a, b := startPair(t, mailArgs(mail)...)
	ca, cb := newClient(t, a), newClient(t, b)
	const n = 12
	emails := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		emails[i] = uniqueEmail(fmt.Sprintf("once%d", i))
		c := ca
		if i%2 == 1 {
			c = cb
		}
		wg.Go(func() { c.register(emails[i]) })
	}
	wg.Wait()
	for _, e := range emails {
		linkToken(t, mail, e, "Verify your email")
	}
	time.Sleep(time.Second) // a duplicate would come within this
	for _, e := range emails {
		if k := mail.Count(e); k != 1 {
			t.Fatalf("%s got %d mails, want exactly 1", e, k)
		}
	}
}

// kill -9 right after the 202: the mail is in the database, and the
// restarted server sends it, once.
func TestMailSurvivesKill9(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	mail.RefuseAll(451) // nothing leaves before the kill
	dir := t.TempDir()
	db := store.newDB(t, dir)
	// A mail being tried at the kill stays leased to the dead process:
	// a short lease lets the restarted one take it over within the test.
	args := mailArgs(mail, "--mail-lease", "2s")
	if k := store.env["GATEHOUSE_KEY_SECRET"]; k != "" {
		args = append(args, "--key-secret", k)
	}
	p := startBinary(t, db, args...)
	c := &client{t: t, base: p.url, hc: checkedHTTP(t, 10*time.Second)}
	email := uniqueEmail("killed")
	c.register(email)
	if r := c.do("POST", "/api/auth/password/forgot", map[string]string{"email": email}); r.Status != 202 {
		t.Fatalf("forgot: %s", r)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	mail.RefuseAll(0)
	startBinary(t, db, args...)
	linkToken(t, mail, email, "Reset your password")
	linkToken(t, mail, email, "Verify your email")
	time.Sleep(time.Second)
	if n := mail.Count(email); n != 2 {
		t.Fatalf("%d mails after the restart, want the 2 accepted before the kill, once each", n)
	}
}
