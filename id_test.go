package gatehouse

import (
	"strings"
	"testing"
)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 1000 {
		id := NewID()
		if !ValidID(id) {
			t.Fatalf("NewID() = %q is not ValidID", id)
		}
		if id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("NewID() = %q: not a version 7, variant 10 UUID", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
		if id[:8] < prev[:min(8, len(prev))] {
			t.Fatalf("NewID() went back in time: %q after %q", id, prev)
		}
		prev = id
	}
}

func TestValidID(t *testing.T) {
	for _, bad := range []string{"", "x", "0190aaaa-bbbb-7ccc-8ddd-eeeeffff000", "0190AAAA-BBBB-7CCC-8DDD-EEEEFFFF0000",
		"0190aaaa-bbbb-7ccc-8ddd-eeeeffff00000", "0190aaaabbbb-7ccc-8ddd-eeeeffff00000", "0190aaaa-bbbb-7ccc-8ddd-eeeeffff000g", "' OR 1=1 --"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestCanonicalEmail(t *testing.T) {
	good := map[string]string{
		"alice@example.com":       "alice@example.com",
		"  Alice@Example.COM ":    "alice@example.com",
		"a.b+tag@sub.example.org": "a.b+tag@sub.example.org",
	}
	for in, want := range good {
		got, err := CanonicalEmail(in)
		if err != nil || got != want {
			t.Errorf("CanonicalEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "   ", "alice", "alice@", "@example.com", "Alice <alice@example.com>",
		"alice@example.com\x00", "ali ce@example.com", "alice@.example.com", "alice@example.com.",
		"alice@exa\nmple.com", strings.Repeat("a", 250) + "@example.com", "al\xffice@example.com"} {
		if got, err := CanonicalEmail(bad); err == nil {
			t.Errorf("CanonicalEmail(%q) = %q, want an error", bad, got)
		}
	}
}
