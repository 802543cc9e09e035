package password

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// passphrase returns n code points of lower-case words, some of them
// accented, made from a fixed seed: long, not repetitive, not common.
func passphrase(n int) string {
	rng := rand.New(rand.NewPCG(1, 2))
	letters := []rune("abcdefghijklmnopqrstuvwxyzéèüøñ")
	var b strings.Builder
	for count := 0; count < n; count++ {
		if count%7 == 6 && count != n-1 {
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(letters[rng.IntN(len(letters))])
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	h := mustNewHasher(t, Config{})
	long := passphrase(1024)
	if n := utf8.RuneCountInString(long); n != 1024 || len(long) <= 1024 {
		t.Fatalf("passphrase(1024) has %d code points in %d bytes, want 1024 in more bytes", n, len(long))
	}
	tests := []struct {
		name, password, want string
	}{
		// Length, in code points after NFKC (NIST SP 800-63B).
		{"empty", "", "must be at least 8 characters"},
		{"seven", "gq7!vz3", "must be at least 8 characters"},
		{"eight exactly", "gq7!vz3p", ""},
		{"eight multi-byte code points", "ñøüéèñøx", ""},
		{"seven after NFKC composes é", "gq7!vz" + "e\u0301", "must be at least 8 characters"},
		{"eight after NFKC splits the ligature", "\ufb01rewood", ""},
		{"1024 code points", long, ""},
		{"1025 code points", long + "z", "must be at most 1024 characters"},
		{"invalid utf-8", "gq7!vz3p\xff", "must be valid UTF-8 text"},

		// The blocklist, case-insensitively and after NFKC.
		{"common", "password", "is too common"},
		{"common with digit", "password1", "is too common"},
		{"common upper case", "PASSWORD1", "is too common"},
		{"common mixed case", "SunShine", "is too common"},
		{"common fullwidth", "ｉｌｏｖｅｙｏｕ", "is too common"},
		{"common keyboard pattern", "1qaz2wsx", "is too common"},

		// Repetitive.
		{"one character", "aaaaaaaa", "is too repetitive"},
		{"one digit, long", strings.Repeat("7", 40), "is too repetitive"},
		{"two characters", "abababab", "is too repetitive"},
		{"three characters, partial tail", "xq7xq7xq7x", "is too repetitive"},
		{"common word twice", "passwordpassword", "is too repetitive"},
		{"short unit", "k3#ak3#a", "is too repetitive"},

		// Sequential and keyboard walks.
		{"digits up", "23456789", msgSequential},
		{"digits down", "87654321", msgSequential},
		{"digits wrapping", "7890123456", msgSequential},
		{"letters", "abcdefgh", msgSequential},
		{"letters down", "zyxwvuts", msgSequential},
		{"letters wrapping", "xyzabcdef", msgSequential},
		{"greek", "αβγδεζηθ", msgSequential},
		{"keyboard row back", "poiuytrewq", msgSequential},
		{"keyboard row", "asdfghjkl;", msgSequential},
		{"keyboard rows on", "qwertyuiopasdfgh", msgSequential},
		{"shifted digits", "!@#$%^&*", msgSequential},
		{"two runs", "mnbvcxz123", msgSequential},
		{"runs of three", "aaabbbccc", msgSequential},

		// The service's name (NIST SP 800-63B: context-specific words).
		{"service name", "gatehouse", msgServiceName},
		{"service name capitalised", "Gatehouse", msgServiceName},
		{"service name and year", "Gatehouse2024!", msgServiceName},
		{"service name twice", "gatehouse gatehouse", msgServiceName},
		{"service name and a common word", "gatehousepassword", msgServiceName},
		{"service name in a passphrase", "my gatehouse has a red door", ""},
		{"service name nested", strings.Repeat("gate", 50) + "gatehouse" + strings.Repeat("house", 50), msgServiceName},

		// Good ones: no composition rules (NIST SP 800-63B: SHALL NOT).
		{"passphrase", "correct horse battery staple", ""},
		{"lower-case only", "violetlanternmoss", ""},
		{"digits only, random", "90417725386", ""},
		{"cyrillic", "пароль-для-входа", ""},
		{"emoji", "🔑🌵🐙🎻🚲🧭🍋🪁", ""},
		{"nul byte", "pass\x00word-xyz", ""},
		{"sequence inside a passphrase", "abc of the qwerty keyboard", ""},
		{"repeated good unit", "violet lantern moss violet lantern moss", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.Check(tc.password); got != tc.want {
				t.Fatalf("Check(%q) = %q, want %q", tc.password, got, tc.want)
			}
		})
	}
}

func TestCheckLengthConfig(t *testing.T) {
	h := mustNewHasher(t, Config{MinLength: 15, MaxLength: 64})
	tests := []struct {
		password, want string
	}{
		{"violetlanternm", "must be at least 15 characters"},
		{"violetlanternmo", ""},
		{passphrase(64), ""},
		{passphrase(65), "must be at most 64 characters"},
	}
	for _, tc := range tests {
		if got := h.Check(tc.password); got != tc.want {
			t.Errorf("Check(%d code points) = %q, want %q", utf8.RuneCountInString(tc.password), got, tc.want)
		}
	}
}

func TestBlocklistFile(t *testing.T) {
	list := loadBlocklist()
	if len(list) < 3000 {
		t.Fatalf("blocklist has %d entries, want the ~3500 of BLOCKLIST.md", len(list))
	}
	if !slices.IsSorted(list) {
		t.Error("blocklist.txt.gz is not sorted")
	}
	for i, p := range list {
		if i > 0 && list[i-1] == p {
			t.Errorf("duplicate entry %q", p)
		}
		if utf8.RuneCountInString(p) < 8 {
			t.Errorf("entry %q is shorter than 8 code points", p)
		}
		if p != strings.ToLower(norm.NFKC.String(p)) {
			t.Errorf("entry %q is not lower-case NFKC", p)
		}
	}
	for _, p := range []string{"password", "iloveyou", "sunshine", "12345678", "football"} {
		if !blocked(p) {
			t.Errorf("blocked(%q) = false, want true", p)
		}
	}
}

// TestBlocklistMemory measures what a loaded blocklist keeps on the heap,
// averaged over a few copies to smooth out the collector's noise.
func TestBlocklistMemory(t *testing.T) {
	const copies = 8
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	lists := make([][]string, copies)
	for i := range lists {
		lists[i] = loadBlocklist()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / copies
	text := 0
	for _, p := range lists[0] {
		text += len(p) + 1
	}
	t.Logf("blocklist: %d entries, %d bytes of text + %d bytes of string headers; measured ~%d bytes retained, %d allocated while loading",
		len(lists[0]), text, len(lists[0])*16, retained, (after.TotalAlloc-before.TotalAlloc)/copies)
	runtime.KeepAlive(lists)
	// Loose (collector noise): it catches a change of structure that
	// multiplies the footprint, such as a copy or a map entry per password.
	if retained > 512<<10 {
		t.Errorf("blocklist retains %d bytes, want well under 512 KiB", retained)
	}
}

func TestPeriod(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"", 0}, {"a", 0}, {"aa", 1}, {"ab", 0}, {"aaaa", 1}, {"abab", 2},
		{"ababa", 2}, {"abcab", 0}, {"abcabcab", 3}, {"abcdabc", 0},
	}
	for _, tc := range tests {
		if got := period([]rune(tc.s)); got != tc.want {
			t.Errorf("period(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}
