package e2e

import (
	"context"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/cli"
	"github.com/gatehouse/gatehouse/internal/softauthn"
	"github.com/gatehouse/gatehouse/totp"
)

// Second factors over HTTP, on each store (CONTRACT §8).

// totpCode is the code of secret at the current step plus offset.
func totpCode(t testing.TB, secret string, offset int64) string {
	t.Helper()
	c, err := totp.Code(secret, totp.Step(time.Now())+offset)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP turns TOTP on for the session of access and returns the
// secret, the recovery codes and the session's new (aal2) access token.
func enrolTOTP(t *testing.T, c *client, access string) (secret string, codes []string, aal2 string) {
	t.Helper()
	bearer := []string{"Authorization", "Bearer " + access}
	c.do("POST", "/api/auth/mfa/totp", map[string]string{"current_password": "wrong password"}, bearer...).wantProblem(t, 401, "invalid_credentials")
	r := c.do("POST", "/api/auth/mfa/totp", map[string]string{"current_password": testPassword}, bearer...)
	if r.Status != 200 || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enrol: %s", r)
	}
	secret = r.str(t, "secret")
	u, err := url.Parse(r.str(t, "otpauth_uri"))
	if err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") != secret {
		t.Fatalf("otpauth_uri %q", r.str(t, "otpauth_uri"))
	}
	c.do("POST", "/api/auth/mfa/totp/confirm", map[string]string{"code": wrongCode(t, secret)}, bearer...).wantProblem(t, 400, "mfa_code_invalid")
	r = c.do("POST", "/api/auth/mfa/totp/confirm", map[string]string{"code": totpCode(t, secret, 0)}, bearer...)
	if r.Status != 200 {
		t.Fatalf("confirm: %s", r)
	}
	for _, v := range r.obj(t)["recovery_codes"].([]any) {
		codes = append(codes, v.(string))
	}
	if len(codes) != 10 {
		t.Fatalf("recovery codes %v", codes)
	}
	aal2 = r.str(t, "access_token")
	if claimsOf(t, aal2)["acr"] != "aal2" || sidOf(t, aal2) != sidOf(t, access) {
		t.Fatalf("confirmation's token: %v", claimsOf(t, aal2))
	}
	c.do("POST", "/api/auth/mfa/totp", map[string]string{"current_password": testPassword}, "Authorization", "Bearer "+aal2).wantProblem(t, 409, "already_enrolled")
	return secret, codes, aal2
}

// wrongCode is a well-formed code valid at no step near now.
func wrongCode(t testing.TB, secret string) string {
	for _, w := range []string{"000000", "111111", "222222", "333333"} {
		if !slices.Contains([]string{totpCode(t, secret, -1), totpCode(t, secret, 0), totpCode(t, secret, 1)}, w) {
			return w
		}
	}
	panic("unreachable")
}

func amrOf(t testing.TB, jwt string) string {
	var out []string
	for _, v := range claimsOf(t, jwt)["amr"].([]any) {
		out = append(out, v.(string))
	}
	return strings.Join(out, " ")
}

func TestTOTPOverHTTP(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	email, before := c.newUser("totp")
	if claimsOf(t, before.Access)["acr"] != "aal1" || amrOf(t, before.Access) != "pwd" {
		t.Fatalf("password login: %v", claimsOf(t, before.Access))
	}
	enrolling := c.login(email, testPassword)
	secret, codes, aal2 := enrolTOTP(t, c, enrolling.Access)
	if r := c.get("/api/auth/mfa", aal2); r.Status != 200 || r.obj(t)["totp"] != true || r.obj(t)["recovery_codes_left"] != float64(10) || r.obj(t)["passkeys"] != float64(0) {
		t.Fatalf("status: %s", r)
	}
	if got := c.mustRefresh(enrolling.Refresh); claimsOf(t, got.Access)["acr"] != "aal2" {
		t.Fatal("the enrolling session's refresh lost aal2")
	}

	// A password alone: no token, a challenge.
	r := c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword})
	r.wantProblem(t, 401, "mfa_required")
	m := r.obj(t)
	if m["access_token"] != nil || m["refresh_token"] != nil || len(m["methods"].([]any)) != 2 {
		t.Fatalf("challenge: %s", r)
	}
	mfaToken := m["mfa_token"].(string)
	c.do("POST", "/api/auth/mfa/verify", map[string]string{"mfa_token": mfaToken, "code": wrongCode(t, secret)}).wantProblem(t, 401, "mfa_code_invalid")
	// The confirmation used this step's code: the previous step's, though
	// within the drift allowed, is older than the last step used and is
	// refused; the next step's is accepted (one step of drift).
	c.do("POST", "/api/auth/mfa/verify", map[string]string{"mfa_token": mfaToken, "code": totpCode(t, secret, -1)}).wantProblem(t, 401, "mfa_code_invalid")
	next := totpCode(t, secret, 1)
	r = c.do("POST", "/api/auth/mfa/verify", map[string]string{"mfa_token": mfaToken, "code": next})
	if r.Status != 200 || r.obj(t)["user"] == nil {
		t.Fatalf("second step: %s", r)
	}
	second := r.str(t, "access_token")
	if claimsOf(t, second)["acr"] != "aal2" || amrOf(t, second) != "pwd otp mfa" {
		t.Fatalf("second step's token: %v", claimsOf(t, second))
	}
	refreshed := c.mustRefresh(r.str(t, "refresh_token"))
	if claimsOf(t, refreshed.Access)["acr"] != "aal2" || amrOf(t, refreshed.Access) != "pwd otp mfa" {
		t.Fatal("refresh lost acr/amr")
	}
	c.do("POST", "/api/auth/mfa/verify", map[string]string{"mfa_token": mfaToken, "code": next}).wantProblem(t, 401, "mfa_token_invalid")

	// A true replay: the very code that just succeeded, still within its
	// 30 seconds, answers neither a new login challenge nor a step-up
	// (each code once, RFC 6238 §5.2).
	r = c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword})
	r.wantProblem(t, 401, "mfa_required")
	c.do("POST", "/api/auth/mfa/verify", map[string]string{"mfa_token": r.str(t, "mfa_token"), "code": next}).wantProblem(t, 401, "mfa_code_invalid")
	c.do("POST", "/api/auth/mfa/verify", map[string]string{"code": next}, "Authorization", "Bearer "+before.Access).wantProblem(t, 401, "mfa_code_invalid")
	if claimsOf(t, c.mustRefresh(before.Refresh).Access)["acr"] != "aal1" {
		t.Fatal("a replayed code raised the session")
	}

	// The OAuth password grant: 403 mfa_required with the same challenge.
	r = c.do("POST", "/api/auth/token", url.Values{"grant_type": {"password"}, "username": {email}, "password": {testPassword}}.Encode(),
		"Content-Type", "application/x-www-form-urlencoded")
	if r.Status != 403 || r.str(t, "error") != "mfa_required" || r.obj(t)["access_token"] != nil {
		t.Fatalf("password grant: %s", r)
	}
	r = c.do("POST", "/api/auth/mfa/verify", map[string]string{"mfa_token": r.str(t, "mfa_token"), "recovery_code": codes[0]})
	if r.Status != 200 || amrOf(t, r.str(t, "access_token")) != "pwd otp mfa" {
		t.Fatalf("recovery code: %s", r)
	}

	// The session from before the factor is aal1: sensitive routes refuse
	// it with RFC 9470's challenge until it steps up.
	change := map[string]string{"current_password": testPassword, "new_password": "an even better passphrase 7"}
	r = c.do("POST", "/api/auth/password", change, "Authorization", "Bearer "+before.Access)
	r.wantProblem(t, 403, "insufficient_user_authentication")
	if wa := r.Header.Get("WWW-Authenticate"); !strings.Contains(wa, `error="insufficient_user_authentication"`) || !strings.Contains(wa, `acr_values="aal2"`) {
		t.Fatalf("challenge %q", wa)
	}
	c.do("POST", "/api/auth/mfa/recovery-codes", nil, "Authorization", "Bearer "+before.Access).wantProblem(t, 403, "insufficient_user_authentication")
	c.do("POST", "/api/auth/mfa/verify", map[string]string{"recovery_code": codes[0]}, "Authorization", "Bearer "+before.Access).wantProblem(t, 401, "mfa_code_invalid")
	r = c.do("POST", "/api/auth/mfa/verify", map[string]string{"recovery_code": codes[1]}, "Authorization", "Bearer "+before.Access)
	if r.Status != 200 || r.obj(t)["refresh_token"] != nil {
		t.Fatalf("step-up: %s", r)
	}
	up := r.str(t, "access_token")
	if claimsOf(t, up)["acr"] != "aal2" || sidOf(t, up) != sidOf(t, before.Access) {
		t.Fatalf("step-up token: %v", claimsOf(t, up))
	}
	if r := c.do("POST", "/api/auth/password", change, "Authorization", "Bearer "+up); r.Status != 204 {
		t.Fatalf("password change after step-up: %s", r)
	}
	if c.get("/api/auth/mfa", up).obj(t)["recovery_codes_left"] != float64(8) {
		t.Fatal("two recovery codes used, but not counted")
	}

	// Neither the secret nor a recovery code is in the database.
	dump := databaseText(t, g)
	if !strings.Contains(dump, sidOf(t, up)) {
		t.Fatal("the dump lacks the session: it is not the server's data")
	}
	for _, s := range append([]string{secret, strings.ToLower(secret)}, codes...) {
		if strings.Contains(dump, s) {
			t.Fatalf("the database holds %q", s)
		}
	}
}

// databaseText is every row of the instance's database as text (or, for
// SQLite, the database file and its WAL as bytes).
func databaseText(t *testing.T, g *instance) string {
	t.Helper()
	if store.name == "postgres" {
		return postgresRows(t, g.DB)
	}
	path := strings.TrimPrefix(g.DB, "sqlite:")
	db, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(path + "-wal")
	return string(db) + string(wal)
}

// A password reset by email never removes a factor; an operator's
// "gatehouse mfa reset" does, and ends the sessions.
func TestFactorOutlivesResetUntilOperatorReset(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	g := startGatehouse(t, mailArgs(mail)...)
	c := newClient(t, g)
	email, s := c.newUser("mfareset")
	_, codes, _ := enrolTOTP(t, c, s.Access)
	c.do("POST", "/api/auth/password/forgot", map[string]string{"email": email})
	_, token := linkToken(t, mail, email, "Reset your password")
	const newPassword = "a brand new passphrase 42"
	if r := c.do("POST", "/api/auth/password/reset", map[string]string{"token": token, "new_password": newPassword}); r.Status != 204 {
		t.Fatalf("reset: %s", r)
	}
	r := c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": newPassword})
	r.wantProblem(t, 401, "mfa_required")
	r = c.do("POST", "/api/auth/mfa/verify", map[string]string{"mfa_token": r.str(t, "mfa_token"), "recovery_code": codes[0]})
	if r.Status != 200 {
		t.Fatalf("recovery code after the reset: %s", r)
	}
	later := r.str(t, "access_token")

	var out strings.Builder
	args := []string{"gatehouse", "mfa", "reset", "--email", strings.ToUpper(email), "--db", g.DB}
	if err := cli.Run(context.Background(), args, noEnv, strings.NewReader(""), &out, &out); err != nil {
		t.Fatalf("mfa reset: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "removed the second factors") {
		t.Fatalf("mfa reset said %q", out.String())
	}
	revokedWithin(t, c, later)
	after := c.login(email, newPassword) // no challenge any more
	if claimsOf(t, after.Access)["acr"] != "aal1" {
		t.Fatal("a password login after the reset is not aal1")
	}
	if r := c.get("/api/auth/mfa", after.Access); r.obj(t)["totp"] != false {
		t.Fatalf("status after reset: %s", r)
	}
}

// wantStepUp checks r is RFC 9470's refusal of an aal1 session: 403
// insufficient_user_authentication with the challenge that asks for aal2.
func wantStepUp(t *testing.T, r *response) {
	t.Helper()
	r.wantProblem(t, 403, "insufficient_user_authentication")
	if wa := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer ") ||
		!strings.Contains(wa, `error="insufficient_user_authentication"`) || !strings.Contains(wa, `acr_values="aal2"`) {
		t.Fatalf("challenge %q", wa)
	}
}

// The email and the factors are sensitive too: an aal1 session of a user
// with a factor may change neither until it steps up (RFC 9470).
func TestStepUpGuardsEmailAndFactors(t *testing.T) {
	t.Parallel()
	mail := startSMTP(t)
	g := startGatehouse(t, mailArgs(mail)...)
	c := newClient(t, g)
	email, before := c.newUser("stepup-email") // aal1, from before the factor
	_, codes, _ := enrolTOTP(t, c, c.login(email, testPassword).Access)
	bearer := []string{"Authorization", "Bearer " + before.Access}

	refused := uniqueEmail("refused")
	wantStepUp(t, c.do("POST", "/api/auth/email", map[string]string{"new_email": refused, "current_password": testPassword}, bearer...))
	// Turning the app off, or enrolling it again (which, past the
	// step-up, would answer 409 already_enrolled).
	wantStepUp(t, c.do("DELETE", "/api/auth/mfa/totp", nil, bearer...))
	wantStepUp(t, c.do("POST", "/api/auth/mfa/totp", map[string]string{"current_password": testPassword}, bearer...))
	if r := c.get("/api/auth/mfa", before.Access); r.obj(t)["totp"] != true {
		t.Fatalf("the factor after refused changes: %s", r)
	}

	r := c.do("POST", "/api/auth/mfa/verify", map[string]string{"recovery_code": codes[0]}, bearer...)
	if r.Status != 200 {
		t.Fatalf("step-up: %s", r)
	}
	up := []string{"Authorization", "Bearer " + r.str(t, "access_token")}
	moved := uniqueEmail("moved")
	if r := c.do("POST", "/api/auth/email", map[string]string{"new_email": moved, "current_password": testPassword}, up...); r.Status != 202 {
		t.Fatalf("email change after step-up: %s", r)
	}
	linkToken(t, mail, moved, "Confirm your new email")
	if n := mail.Count(refused); n != 0 {
		t.Fatalf("the refused change mailed %s %d times", refused, n)
	}
	c.do("POST", "/api/auth/mfa/totp", map[string]string{"current_password": testPassword}, up...).wantProblem(t, 409, "already_enrolled")
	if r := c.do("DELETE", "/api/auth/mfa/totp", nil, up...); r.Status != 204 {
		t.Fatalf("turning the app off after step-up: %s", r)
	}
	c.login(email, testPassword) // no factor left: no challenge
}

// A user whose only factor is a passkey must step up with it before an
// aal1 session adds an authenticator app.
func TestStepUpGuardsTOTPEnrolmentOfPasskeyUser(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	origin := passkeyOrigin(t, g)
	_, before := c.newUser("stepup-passkey") // aal1, from before the passkey
	auth := softauthn.New()
	if r := addPasskey(t, c, auth, origin, before.Access, ""); r.Status != 201 {
		t.Fatalf("register: %s", r)
	}
	bearer := []string{"Authorization", "Bearer " + before.Access}
	wantStepUp(t, c.do("POST", "/api/auth/mfa/totp", map[string]string{"current_password": testPassword}, bearer...))
	if r := c.get("/api/auth/mfa", before.Access); r.obj(t)["totp"] != false {
		t.Fatalf("status: %s", r)
	}
	r := c.do("POST", "/api/auth/mfa/verify", passkeyAssertion(t, c, auth, origin), bearer...)
	if r.Status != 200 {
		t.Fatalf("step-up with the passkey: %s", r)
	}
	up := r.str(t, "access_token")
	if r := c.do("POST", "/api/auth/mfa/totp", map[string]string{"current_password": testPassword}, "Authorization", "Bearer "+up); r.Status != 200 {
		t.Fatalf("enrolment after step-up: %s", r)
	}
}
