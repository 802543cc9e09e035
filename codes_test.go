package gatehouse

import (
	"errors"
	"fmt"
	"testing"
)

// Every code maps back to the sentinel it was made from, and every
// sentinel (wrapped, as the layers do) to its own code: nothing shadows
// an entry.
func TestErrorCodesRoundTrip(t *testing.T) {
	for _, c := range ErrorCodes() {
		wrapped := fmt.Errorf("layer: %w", c.Err)
		got, ok := Code(wrapped)
		if !ok || got.Code != c.Code || got.Status != c.Status {
			t.Errorf("Code(%v) = %+v, %v; want %s %d", wrapped, got, ok, c.Code, c.Status)
		}
		// The inverse names the general sentinel of a code that has a
		// special case (mfa_code_invalid is 400 on confirm, 401 elsewhere).
		if back := ErrorForCode(c.Code); back != c.Err && !errors.Is(c.Err, back) {
			t.Errorf("ErrorForCode(%q) = %v, want %v", c.Code, back, c.Err)
		}
		if c.Status < 400 || c.Status > 599 {
			t.Errorf("%s: status %d is not an error status", c.Code, c.Status)
		}
	}
}

func TestCodeOfTypedErrors(t *testing.T) {
	cases := []struct {
		err  error
		code string
	}{
		{Invalid("email", "bad"), "validation_failed"},
		{&RateLimitError{RetryAfter: 3}, "rate_limited"},
		{ErrEmailTaken, "email_taken"},
		{fmt.Errorf("x: %w", ErrConflict), "conflict"},
		{&MFARequiredError{Token: "t", Methods: []string{MethodTOTP}}, "mfa_required"},
	}
	for _, c := range cases {
		if got, _ := Code(c.err); got.Code != c.code {
			t.Errorf("Code(%v) = %s, want %s", c.err, got.Code, c.code)
		}
	}
	got, ok := Code(errors.New("disk on fire"))
	if ok || got.Code != InternalErrorCode || got.Status != 500 {
		t.Errorf("unknown error: %+v %v", got, ok)
	}
	if ErrorForCode("no_such_code") != nil {
		t.Error("unknown code mapped to an error")
	}
}

func TestMFACodeInvalidStatuses(t *testing.T) {
	if c, _ := Code(errTOTPConfirmCodeInvalid); c.Status != 400 || c.Code != "mfa_code_invalid" {
		t.Errorf("confirm: %+v", c)
	}
	if c, _ := Code(ErrMFACodeInvalid); c.Status != 401 || c.Code != "mfa_code_invalid" {
		t.Errorf("verify: %+v", c)
	}
	if ErrorForCode("mfa_code_invalid") != ErrMFACodeInvalid {
		t.Error("the inverse must name the general sentinel")
	}
}
