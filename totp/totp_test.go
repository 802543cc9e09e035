package totp

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// rfcSecret is the SHA-1 seed of RFC 6238 Appendix B ("12345678901234567890")
// in base32.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

// The RFC's test vectors, cut to 6 digits (RFC 4226 §5.3 truncation keeps
// the low digits).
func TestRFC6238Vectors(t *testing.T) {
	for _, v := range []struct {
		unix int64
		code string
	}{{59, "287082"}, {1111111109, "081804"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		got, err := Code(rfcSecret, Step(time.Unix(v.unix, 0)))
		if err != nil || got != v.code {
			t.Errorf("T=%d: %q %v, want %s", v.unix, got, err, v.code)
		}
	}
}

func TestMatchDrift(t *testing.T) {
	now := time.Unix(1234567890, 0)
	cur := Step(now)
	for d := int64(-3); d <= 3; d++ {
		code, _ := Code(rfcSecret, cur+d)
		step, ok := TOTP{}.Match(rfcSecret, code, now)
		want := d >= -1 && d <= 1
		if ok != want || (ok && step != cur+d) {
			t.Errorf("drift %d: step %d ok %v, want ok %v", d, step, ok, want)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := (TOTP{}).Match(rfcSecret, bad, now); ok {
			t.Errorf("%q matched", bad)
		}
	}
}

func TestNewSecret(t *testing.T) {
	secret, uri, err := TOTP{}.NewSecret("auth.example.com", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 32 { // 20 bytes in base32
		t.Errorf("secret %q: want 160 bits", secret)
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("uri %q", uri)
	}
	q := u.Query()
	if q.Get("secret") != secret || q.Get("issuer") != "auth.example.com" || q.Get("digits") != "6" ||
		q.Get("period") != "30" || !strings.EqualFold(q.Get("algorithm"), "SHA1") || !strings.Contains(u.Path, "ada@example.com") {
		t.Errorf("uri %q", uri)
	}
	other, _, _ := TOTP{}.NewSecret("x", "y")
	if other == secret {
		t.Error("two secrets alike")
	}
	code, _ := Code(secret, Step(time.Now()))
	if _, ok := (TOTP{}).Match(secret, code, time.Now()); !ok {
		t.Error("a fresh secret's current code does not match")
	}
}
