package gatehouse_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/token"
	"github.com/gatehouse/gatehouse/totp"
)

// mfaEnv is a service on a real SQLite file with a clock the test moves,
// and a user who has turned TOTP on.
type mfaEnv struct {
	t      *testing.T
	svc    *gatehouse.Service
	path   string
	clock  *atomic.Pointer[time.Time]
	email  string
	secret string
	codes  []string
	// enrolled is the session that enrolled: aal2 from its confirmation.
	enrolled      *gatehouse.AccessClaims
	enrolledToken string
	// before is a session that logged in before the enrolment: aal1.
	before      *gatehouse.AccessClaims
	beforeToken string
	client      gatehouse.ClientInfo
}

// wrong is a well-formed code that is not valid now.
func (e *mfaEnv) wrong() string {
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if c != e.code(-1) && c != e.code(0) && c != e.code(1) {
			return c
		}
	}
	panic("unreachable")
}

func (e *mfaEnv) now() time.Time { return *e.clock.Load() }

func (e *mfaEnv) advance(d time.Duration) {
	next := e.now().Add(d)
	e.clock.Store(&next)
}

// code is the TOTP code of the step at offset steps from now.
func (e *mfaEnv) code(offset int64) string {
	c, err := totp.Code(e.secret, totp.Step(e.now())+offset)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *mfaEnv) claims(g *gatehouse.Grant) *gatehouse.AccessClaims {
	e.t.Helper()
	c, err := e.svc.Authenticate(context.Background(), g.AccessToken)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func newMFAEnv(t *testing.T, mods ...func(*gatehouse.Config)) *mfaEnv {
	t.Helper()
	ctx := context.Background()
	e := &mfaEnv{t: t, path: filepath.Join(t.TempDir(), "g.db"), clock: &atomic.Pointer[time.Time]{},
		email: "mfa@example.com", client: gatehouse.ClientInfo{IP: "192.0.2.7"}}
	start := time.Now().Truncate(30 * time.Second).Add(5 * time.Second) // the start of a step
	e.clock.Store(&start)
	mods = append([]func(*gatehouse.Config){func(c *gatehouse.Config) {
		// The service and the token verifier share the test's clock.
		c.Now = e.now
		tk, err := token.New(token.Config{Issuer: c.Issuer, Audience: c.Audience, Now: e.now}, c.Tokens.(*token.Tokens).Keys())
		if err != nil {
			t.Fatal(err)
		}
		c.Tokens = tk
	}}, mods...)
	e.svc = newService(t, openStore(t, e.path), nil, mods...)
	if _, err := e.svc.CreateUser(ctx, e.email, pw, "Ada"); err != nil {
		t.Fatal(err)
	}
	before, err := e.svc.Login(ctx, e.email, pw, e.client)
	if err != nil {
		t.Fatal(err)
	}
	e.before, e.beforeToken = e.claims(before), before.AccessToken
	g, err := e.svc.Login(ctx, e.email, pw, e.client)
	if err != nil {
		t.Fatal(err)
	}
	c := e.claims(g)
	if c.ACR != gatehouse.AAL1 || !slices.Equal(c.AMR, []string{gatehouse.AMRPassword}) {
		t.Fatalf("password login: acr %q amr %v", c.ACR, c.AMR)
	}
	if _, _, err := e.svc.EnrollTOTP(ctx, c, "wrong password", e.client); !errors.Is(err, gatehouse.ErrInvalidCredentials) {
		t.Fatalf("enrol with a wrong password: %v", err)
	}
	secret, uri, err := e.svc.EnrollTOTP(ctx, c, pw, e.client)
	if err != nil || secret == "" || !bytes.Contains([]byte(uri), []byte(secret)) {
		t.Fatalf("enrol: %q %q %v", secret, uri, err)
	}
	e.secret = secret
	if st, _ := e.svc.MFAStatus(ctx, c); st.TOTP {
		t.Fatal("a pending enrolment is in force before its first code")
	}
	if _, _, err := e.svc.ConfirmTOTP(ctx, c, e.wrong()); !errors.Is(err, gatehouse.ErrMFACodeInvalid) {
		t.Fatalf("confirm with a wrong code: %v", err)
	}
	codes, access, err := e.svc.ConfirmTOTP(ctx, c, e.code(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	e.codes = codes
	e.enrolled, e.enrolledToken = e.claims(access), access.AccessToken
	if !e.enrolled.AAL2() || e.enrolled.SessionID != c.SessionID {
		t.Fatalf("after confirmation: %+v", e.enrolled)
	}
	// The refresh token of the enrolling session now yields aal2 tokens.
	r, err := e.svc.Refresh(ctx, g.RefreshToken)
	if err != nil || !e.claims(r).AAL2() {
		t.Fatalf("refresh after confirmation: %v", err)
	}
	e.advance(30 * time.Second) // the confirming code's step is used
	return e
}

// challenge logs in with the password and returns the mfa_token.
func (e *mfaEnv) challenge() string {
	e.t.Helper()
	tok := e.challenge2()
	if tok == "" {
		e.t.Fatal("login with a factor: rate limited, want mfa_required")
	}
	return tok
}

func TestTOTPLoginChallenge(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	tok := e.challenge()
	g, err := e.svc.VerifyMFA(ctx, tok, gatehouse.MFAAnswer{Code: e.code(0)}, e.client)
	if err != nil {
		t.Fatal(err)
	}
	c := e.claims(g)
	if !c.AAL2() || !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || g.User == nil || g.RefreshToken == "" {
		t.Fatalf("after the second step: acr %q amr %v", c.ACR, c.AMR)
	}
	r, err := e.svc.Refresh(ctx, g.RefreshToken)
	if err != nil || !e.claims(r).AAL2() || !slices.Equal(e.claims(r).AMR, c.AMR) {
		t.Fatalf("refresh keeps acr and amr: %v", err)
	}
	// The token is single-use.
	if _, err := e.svc.VerifyMFA(ctx, tok, gatehouse.MFAAnswer{Code: e.code(1)}, e.client); !errors.Is(err, gatehouse.ErrMFATokenInvalid) {
		t.Fatalf("second use of the mfa_token: %v", err)
	}
	// The same code again, on a new challenge, is a replay.
	used := e.code(0)
	if _, err := e.svc.VerifyMFA(ctx, e.challenge(), gatehouse.MFAAnswer{Code: used}, e.client); !errors.Is(err, gatehouse.ErrMFACodeInvalid) {
		t.Fatalf("replayed code: %v", err)
	}
	// So is the code of the step before the one used (drift may not reach back).
	if _, err := e.svc.VerifyMFA(ctx, e.challenge(), gatehouse.MFAAnswer{Code: e.code(-1)}, e.client); !errors.Is(err, gatehouse.ErrMFACodeInvalid) {
		t.Fatalf("older step: %v", err)
	}
}

func TestTOTPDrift(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	e.advance(5 * time.Minute)
	if _, err := e.svc.VerifyMFA(ctx, e.challenge(), gatehouse.MFAAnswer{Code: e.code(2)}, e.client); !errors.Is(err, gatehouse.ErrMFACodeInvalid) {
		t.Fatalf("two steps ahead: %v", err)
	}
	if _, err := e.svc.VerifyMFA(ctx, e.challenge(), gatehouse.MFAAnswer{Code: e.code(-1)}, e.client); err != nil {
		t.Fatalf("one step behind: %v", err)
	}
	if _, err := e.svc.VerifyMFA(ctx, e.challenge(), gatehouse.MFAAnswer{Code: e.code(1)}, e.client); err != nil {
		t.Fatalf("one step ahead: %v", err)
	}
	// After the +1 step was used, the current step's code is stale.
	if _, err := e.svc.VerifyMFA(ctx, e.challenge(), gatehouse.MFAAnswer{Code: e.code(0)}, e.client); !errors.Is(err, gatehouse.ErrMFACodeInvalid) {
		t.Fatalf("a step before the last used: %v", err)
	}
}

func TestMFATokenBounds(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	// Another client address: the token is no use there.
	if _, err := e.svc.VerifyMFA(ctx, e.challenge(), gatehouse.MFAAnswer{Code: e.code(0)}, gatehouse.ClientInfo{IP: "198.51.100.9"}); !errors.Is(err, gatehouse.ErrMFATokenInvalid) {
		t.Fatalf("other address: %v", err)
	}
	// Five wrong codes kill it, even for the right code after.
	tok := e.challenge()
	for i := range 5 {
		if _, err := e.svc.VerifyMFA(ctx, tok, gatehouse.MFAAnswer{Code: e.wrong()}, e.client); !errors.Is(err, gatehouse.ErrMFACodeInvalid) {
			t.Fatalf("wrong code %d: %v", i, err)
		}
	}
	if _, err := e.svc.VerifyMFA(ctx, tok, gatehouse.MFAAnswer{Code: e.code(0)}, e.client); !errors.Is(err, gatehouse.ErrMFATokenInvalid) {
		t.Fatalf("after 5 wrong codes: %v", err)
	}
	// Five minutes and it is gone.
	tok = e.challenge()
	e.advance(5*time.Minute + time.Second)
	if _, err := e.svc.VerifyMFA(ctx, tok, gatehouse.MFAAnswer{Code: e.code(0)}, e.client); !errors.Is(err, gatehouse.ErrMFATokenInvalid) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := e.svc.VerifyMFA(ctx, "gate_mfa_forged", gatehouse.MFAAnswer{Code: e.code(0)}, e.client); !errors.Is(err, gatehouse.ErrMFATokenInvalid) {
		t.Fatalf("forged: %v", err)
	}
}

// Wrong codes count on the account's login counters, across challenges:
// knowing the password buys no fresh guesses (NIST SP 800-63B §5.2.2).
// After 10 failures the account's doubling delay starts, though every
// password typed was right.
func TestWrongCodesCountTowardTheLoginLimit(t *testing.T) {
	e := newMFAEnv(t, func(c *gatehouse.Config) { c.LoginLimit = gatehouse.Limit{N: 1000, Window: time.Hour} })
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		tok := e.challenge2()
		if tok == "" {
			if i < 10 {
				t.Fatalf("limited after only %d wrong codes", i)
			}
			return
		}
		_, err := e.svc.VerifyMFA(ctx, tok, gatehouse.MFAAnswer{Code: e.wrong()}, e.client)
		if errors.Is(err, gatehouse.ErrRateLimited) {
			return
		}
		if !errors.Is(err, gatehouse.ErrMFACodeInvalid) {
			t.Fatal(err)
		}
	}
	t.Fatal("20 challenges answered with wrong codes and no limit")
}

// challenge2 logs in with the password and returns the mfa_token, or ""
// when the password step is rate limited.
func (e *mfaEnv) challenge2() string {
	e.t.Helper()
	_, err := e.svc.Login(context.Background(), e.email, pw, e.client)
	var mfa *gatehouse.MFARequiredError
	if errors.As(err, &mfa) {
		if !slices.Equal(mfa.Methods, []string{gatehouse.MethodTOTP, gatehouse.MethodRecoveryCode}) || mfa.Token == "" {
			e.t.Fatalf("challenge %+v", mfa)
		}
		return mfa.Token
	}
	if !errors.Is(err, gatehouse.ErrRateLimited) {
		e.t.Fatalf("login with a factor: %v, want mfa_required", err)
	}
	return ""
}

func TestRecoveryCodesOnceEach(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	g, err := e.svc.VerifyMFA(ctx, e.challenge(), gatehouse.MFAAnswer{RecoveryCode: e.codes[0]}, e.client)
	if err != nil || !e.claims(g).AAL2() {
		t.Fatalf("recovery code: %v", err)
	}
	if _, err := e.svc.VerifyMFA(ctx, e.challenge(), gatehouse.MFAAnswer{RecoveryCode: e.codes[0]}, e.client); !errors.Is(err, gatehouse.ErrMFACodeInvalid) {
		t.Fatalf("the same recovery code again: %v", err)
	}
	// Typed loosely: capitals and spaces instead of dashes.
	loose := bytes.ToUpper(bytes.ReplaceAll([]byte(e.codes[1]), []byte("-"), []byte(" ")))
	if _, err := e.svc.VerifyMFA(ctx, e.challenge(), gatehouse.MFAAnswer{RecoveryCode: string(loose)}, e.client); err != nil {
		t.Fatalf("recovery code typed loosely: %v", err)
	}
	st, _ := e.svc.MFAStatus(ctx, e.enrolled)
	if st.RecoveryCodesLeft != 8 {
		t.Fatalf("%d left, want 8", st.RecoveryCodesLeft)
	}
	fresh, err := e.svc.RegenerateRecoveryCodes(ctx, e.enrolled)
	if err != nil || len(fresh) != 10 || slices.Contains(fresh, e.codes[2]) {
		t.Fatalf("regenerate: %v %v", fresh, err)
	}
	if _, err := e.svc.VerifyMFA(ctx, e.challenge(), gatehouse.MFAAnswer{RecoveryCode: e.codes[2]}, e.client); !errors.Is(err, gatehouse.ErrMFACodeInvalid) {
		t.Fatalf("an old code after regeneration: %v", err)
	}
}

// Two right answers racing on one challenge make one session.
func TestMFAVerifyRace(t *testing.T) {
	e := newMFAEnv(t)
	tok := e.challenge()
	var wg sync.WaitGroup
	var wins atomic.Int32
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.svc.VerifyMFA(context.Background(), tok, gatehouse.MFAAnswer{RecoveryCode: e.codes[i]}, e.client); err == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d sessions from one challenge", wins.Load())
	}
}

// A session from before the factor is aal1: it may not make sensitive
// changes until it steps up; the step-up keeps the session and raises it.
func TestStepUp(t *testing.T) {
	ctx := context.Background()
	e := newMFAEnv(t)
	aal1 := e.before
	if aal1.AAL2() {
		t.Fatal("the session from before the enrolment is aal2")
	}
	for name, action := range map[string]func() error{
		"change password": func() error { return e.svc.ChangePassword(ctx, aal1, pw, pw+" 2", e.client) },
		"disable TOTP":    func() error { return e.svc.DisableTOTP(ctx, aal1) },
		"recovery codes":  func() error { _, err := e.svc.RegenerateRecoveryCodes(ctx, aal1); return err },
		"enrol again":     func() error { _, _, err := e.svc.EnrollTOTP(ctx, aal1, pw, e.client); return err },
	} {
		if err := action(); !errors.Is(err, gatehouse.ErrInsufficientAuth) {
			t.Fatalf("%s at aal1: %v", name, err)
		}
	}
	if _, err := e.svc.StepUp(ctx, aal1, gatehouse.MFAAnswer{Code: e.wrong()}, e.client); !errors.Is(err, gatehouse.ErrMFACodeInvalid) {
		t.Fatalf("step-up with a wrong code: %v", err)
	}
	up, err := e.svc.StepUp(ctx, aal1, gatehouse.MFAAnswer{Code: e.code(0)}, e.client)
	if err != nil {
		t.Fatal(err)
	}
	raised := e.claims(up)
	if !raised.AAL2() || raised.SessionID != aal1.SessionID || !slices.Equal(raised.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("after step-up: %+v", raised)
	}
	if err := e.svc.ChangePassword(ctx, raised, pw, pw+" 2", e.client); err != nil {
		t.Fatalf("change password at aal2: %v", err)
	}
	// The factor outlives the password change: the next login still asks.
	if _, err := e.svc.Login(ctx, e.email, pw+" 2", e.client); !errors.Is(err, gatehouse.ErrMFARequired) {
		t.Fatalf("login after a password change: %v", err)
	}
	// At aal2, TOTP can be turned off; then the password is enough again.
	if err := e.svc.DisableTOTP(ctx, raised); err != nil {
		t.Fatal(err)
	}
	if g, err := e.svc.Login(ctx, e.email, pw+" 2", e.client); err != nil || e.claims(g).AAL2() {
		t.Fatalf("login after TOTP was turned off: %v", err)
	}
}

// An operator's reset removes the factors and ends the sessions.
func TestResetMFA(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	n, err := e.svc.ResetMFAByEmail(ctx, " MFA@example.com ")
	if err != nil || n < 1 {
		t.Fatalf("reset: %d %v", n, err)
	}
	if _, err := e.svc.Authenticate(ctx, e.enrolledToken); !errors.Is(err, gatehouse.ErrSessionRevoked) {
		t.Fatalf("a session after the reset: %v", err)
	}
	g, err := e.svc.Login(ctx, e.email, pw, e.client)
	if err != nil || e.claims(g).AAL2() {
		t.Fatalf("login after the reset: %v", err)
	}
	if _, err := e.svc.ResetMFAByEmail(ctx, "nobody@example.com"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

// The database file holds neither the TOTP secret nor a recovery code.
func TestTOTPSecretSealedAtRest(t *testing.T) {
	e := newMFAEnv(t)
	db, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(e.path + "-wal")
	dump := append(db, wal...)
	if len(dump) < 4096 {
		t.Fatal("no database read")
	}
	for _, secret := range append([]string{e.secret}, e.codes...) {
		if bytes.Contains(dump, []byte(secret)) || bytes.Contains(bytes.ToLower(dump), bytes.ToLower([]byte(secret))) {
			t.Fatalf("the database file holds %q", secret)
		}
	}
}
