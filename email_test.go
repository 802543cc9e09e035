package gatehouse

import (
	"strings"
	"testing"
)

func TestCanonicalEmailUnicode(t *testing.T) {
	composed := "jos\u00e9@example.com"
	decomposed := "jose\u0301@example.com"
	a, err := CanonicalEmail(composed)
	if err != nil {
		t.Fatal(err)
	}
	b, err := CanonicalEmail("  JOSE\u0301@Example.COM ")
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a != composed {
		t.Fatalf("composed %q, decomposed %q: want both %q", a, b, composed)
	}
	if c, _ := CanonicalEmail(decomposed); c != composed {
		t.Fatalf("decomposed: %q", c)
	}
	idn, err := CanonicalEmail("anna@Bücher.Example")
	if err != nil || idn != "anna@xn--bcher-kva.example" {
		t.Fatalf("IDNA domain: %q %v", idn, err)
	}
	if same, _ := CanonicalEmail("anna@xn--bcher-kva.example"); same != idn {
		t.Fatalf("the ASCII form is not its own canonical form: %q", same)
	}
	for _, bad := range []string{
		strings.Repeat("a", 250) + "@b.co", // 255 bytes
		strings.Repeat("a", 1<<20) + "@example.com",
		"a@b@", "@example.com", "a@", "a@.example.com", "Name <a@example.com>", "a\u0000@example.com",
		"a@exa mple.com", "a@\u00ad.com",
	} {
		if got, err := CanonicalEmail(bad); err == nil {
			t.Errorf("CanonicalEmail(%.40q) = %q, want an error", bad, got)
		}
	}
	if got, err := CanonicalEmail(strings.Repeat("a", 240) + "@example.com"); err != nil || len(got) != 252 {
		t.Errorf("a 252-byte address: %v", err)
	}
}
