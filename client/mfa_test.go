package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/ghtest"
	"github.com/gatehouse/gatehouse/totp"
	"github.com/gatehouse/gatehouse/verify"
)

// The Go client through a whole second-factor life against a real server:
// enrol, log in with the challenge, step up an aal1 session for a route
// that demands aal2 (verify.RequireAAL2), turn the factor off.
func TestClientSecondFactor(t *testing.T) {
	ctx := context.Background()
	g := ghtest.Start(t, nil)
	old, email := newSession(t, g, nil) // aal1, from before the factor
	enrolling, err := client.New(client.Config{URL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := enrolling.Login(ctx, email, ghtest.Password); err != nil {
		t.Fatal(err)
	}
	secret, uri, err := enrolling.EnrollTOTP(ctx, ghtest.Password)
	if err != nil || secret == "" || uri == "" {
		t.Fatalf("enrol: %v", err)
	}
	code := func(offset int64) string {
		c, err := totp.Code(secret, totp.Step(time.Now())+offset)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	codes, err := enrolling.ConfirmTOTP(ctx, code(0))
	if err != nil || len(codes) != 10 {
		t.Fatalf("confirm: %v %v", codes, err)
	}
	st, err := enrolling.MFAStatus(ctx)
	if err != nil || !st.TOTP || st.RecoveryCodesLeft != 10 {
		t.Fatalf("status %+v %v", st, err)
	}

	// A route that needs aal2.
	v, err := verify.New(ctx, verify.Config{Issuer: g.URL, Audience: "gatehouse"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin", v.Middleware(v.RequireAAL2(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	srv := ts.URL
	status := func(s *client.Session) int {
		resp, err := (&http.Client{Transport: &client.Transport{Source: s}}).Get(srv + "/admin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(enrolling); got != 200 {
		t.Fatalf("the enrolling session (aal2 since its confirmation): %d", got)
	}
	if got := status(old); got != 403 {
		t.Fatalf("an aal1 session: %d", got)
	}
	if err := old.StepUp(ctx, gatehouse.MFAAnswer{RecoveryCode: codes[0]}); err != nil {
		t.Fatal(err)
	}
	if got := status(old); got != 200 {
		t.Fatalf("after step-up: %d", got)
	}

	// A fresh login meets the challenge and completes it.
	fresh, err := client.New(client.Config{URL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	err = fresh.Login(ctx, email, ghtest.Password)
	var ce *client.Error
	if !errors.Is(err, gatehouse.ErrMFARequired) || !errors.As(err, &ce) || ce.MFAToken == "" || len(ce.Methods) != 2 {
		t.Fatalf("login with a factor: %v", err)
	}
	if err := fresh.CompleteMFA(ctx, ce.MFAToken, gatehouse.MFAAnswer{Code: "00000x"}); !errors.Is(err, gatehouse.ErrMFACodeInvalid) {
		t.Fatalf("wrong code: %v", err)
	}
	if err := fresh.CompleteMFA(ctx, ce.MFAToken, gatehouse.MFAAnswer{Code: code(1)}); err != nil {
		t.Fatal(err)
	}
	if got := status(fresh); got != 200 {
		t.Fatalf("after the second step: %d", got)
	}
	if err := fresh.DisableTOTP(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Login(ctx, email, ghtest.Password); err != nil {
		t.Fatalf("login after the factor was turned off: %v", err)
	}
}
