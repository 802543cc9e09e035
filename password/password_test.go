package password

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// tiny are parameters cheap enough for tests (STYLE.md: the hash cost is a
// config field, lowered in tests). Only TestNewDefaultsToOWASP and the
// benchmarks pay for OWASP.
var tiny = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// mustNewHasher returns a Hasher with tiny params unless cfg sets others.
func mustNewHasher(tb testing.TB, cfg Config) *Hasher {
	tb.Helper()
	if cfg.Params == (Params{}) {
		cfg.Params = tiny
	}
	h, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return h
}

func mustHash(tb testing.TB, h *Hasher, password string) string {
	tb.Helper()
	encoded, err := h.Hash(context.Background(), password)
	if err != nil {
		tb.Fatalf("Hash: %v", err)
	}
	return encoded
}

func TestHashCompareRoundTrip(t *testing.T) {
	h := mustNewHasher(t, Config{})
	ctx := context.Background()
	tests := []struct {
		name, password string
	}{
		{"ascii", "correct horse battery staple"},
		{"unicode", "пароль-для-входа 🔑"},
		{"nul bytes", "pass\x00word\x00\x00end"},
		{"only nul", "\x00"},
		{"empty", ""},
		{"1000 code points", strings.Repeat("é", 500) + strings.Repeat("x", 499) + "!"},
		{"invalid utf-8", "\xff\xfe\xfd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			encoded := mustHash(t, h, tc.password)
			if !strings.HasPrefix(encoded, "$argon2id$v=19$m=64,t=1,p=1$") {
				t.Fatalf("encoded = %q, want the PHC form of tiny params", encoded)
			}
			match, rehash, err := h.Compare(ctx, encoded, tc.password)
			if err != nil || !match || rehash {
				t.Fatalf("Compare(right password) = %v, %v, %v; want true, false, nil", match, rehash, err)
			}
			match, _, err = h.Compare(ctx, encoded, tc.password+"x")
			if err != nil || match {
				t.Fatalf("Compare(password+x) = %v, %v; want false, nil", match, err)
			}
		})
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	h := mustNewHasher(t, Config{})
	a, b := mustHash(t, h, "same password"), mustHash(t, h, "same password")
	if a == b {
		t.Fatalf("two hashes of one password are equal (%q): the salt is not random", a)
	}
}

func TestCompareWrongPassword(t *testing.T) {
	h := mustNewHasher(t, Config{})
	encoded := mustHash(t, h, "correct horse battery staple")
	for _, wrong := range []string{
		"", "correct horse battery stapl", "Correct horse battery staple",
		"correct horse battery staple ", "correct horse battery staple\x00",
	} {
		match, rehash, err := h.Compare(context.Background(), encoded, wrong)
		if err != nil || match || rehash {
			t.Errorf("Compare(%q) = %v, %v, %v; want false, false, nil", wrong, match, rehash, err)
		}
	}
}

func TestCompareNFKCEquivalents(t *testing.T) {
	h := mustNewHasher(t, Config{})
	tests := []struct {
		name, set, login string
	}{
		{"ligature fi", "\ufb01rewood-lantern", "firewood-lantern"},
		{"fi ligature back", "firewood-lantern", "\ufb01rewood-lantern"},
		{"composed vs decomposed é", "caf\u00e9 au lait", "cafe\u0301 au lait"},
		{"decomposed vs composed é", "cafe\u0301 au lait", "caf\u00e9 au lait"},
		{"fullwidth", "ｐａｓｓｐｈｒａｓｅ", "passphrase"},
		{"superscript two", "x\u00b2-squared", "x2-squared"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			encoded := mustHash(t, h, tc.set)
			match, _, err := h.Compare(context.Background(), encoded, tc.login)
			if err != nil || !match {
				t.Fatalf("Compare = %v, %v; want a match", match, err)
			}
		})
	}
}

func TestCompareNeverTruncates(t *testing.T) {
	h := mustNewHasher(t, Config{})
	long := strings.Repeat("ab", 600) // 1200 bytes, beyond bcrypt's 72
	encoded := mustHash(t, h, long)
	match, _, err := h.Compare(context.Background(), encoded, long[:len(long)-1]+"X")
	if err != nil || match {
		t.Fatalf("Compare(last byte changed) = %v, %v; want no match", match, err)
	}
	encoded = mustHash(t, h, "before\x00after")
	match, _, err = h.Compare(context.Background(), encoded, "before\x00other")
	if err != nil || match {
		t.Fatalf("Compare(change after NUL) = %v, %v; want no match", match, err)
	}
}

func TestCompareRehash(t *testing.T) {
	old := mustNewHasher(t, Config{})
	encoded := mustHash(t, old, "correct horse battery staple")
	tests := []struct {
		name   string
		params Params
		rehash bool
	}{
		{"same params", tiny, false},
		{"more memory", Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"more passes", Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"more lanes", Params{Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}, true},
		{"longer salt", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32}, true},
		{"longer key", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := mustNewHasher(t, Config{Params: tc.params})
			match, rehash, err := h.Compare(context.Background(), encoded, "correct horse battery staple")
			if err != nil || !match || rehash != tc.rehash {
				t.Fatalf("Compare = %v, %v, %v; want true, %v, nil", match, rehash, err, tc.rehash)
			}
			// The rehash is verified with the new params.
			again := mustHash(t, h, "correct horse battery staple")
			if match, rehash, err := h.Compare(context.Background(), again, "correct horse battery staple"); err != nil || !match || rehash {
				t.Fatalf("Compare(rehashed) = %v, %v, %v; want true, false, nil", match, rehash, err)
			}
		})
	}
}

func TestCompareDummy(t *testing.T) {
	h := mustNewHasher(t, Config{})
	if !strings.HasPrefix(h.dummy, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("dummy = %q, want a hash with the Hasher's params", h.dummy)
	}
	for _, pw := range []string{"", "correct horse battery staple", "\x00"} {
		if err := h.CompareDummy(context.Background(), pw); err != nil {
			t.Errorf("CompareDummy(%q) = %v", pw, err)
		}
	}
	other := mustNewHasher(t, Config{})
	if h.dummy == other.dummy {
		t.Fatal("two Hashers share a dummy hash; it should come from a random password")
	}
}

func TestNewDefaultsToOWASP(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if h.params != OWASP {
		t.Errorf("params = %+v, want OWASP %+v", h.params, OWASP)
	}
	if OWASP.Memory != 19456 || OWASP.Time != 2 || OWASP.Threads != 1 {
		t.Errorf("OWASP = %+v, want the cheat sheet's m=19456 KiB, t=2, p=1", OWASP)
	}
	encoded := mustHash(t, h, "correct horse battery staple")
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("encoded = %q, want OWASP's parameters in it", encoded)
	}
	p, err := parsePHC(encoded)
	if err != nil || len(p.salt) != 16 || len(p.key) != 32 {
		t.Fatalf("parsePHC = %+v, %v; want a 16-byte salt and a 32-byte key", p, err)
	}
	workers := runtime.GOMAXPROCS(0)
	if cap(h.pool.sem) != workers || h.pool.maxQueue != int64(64*workers) || h.pool.maxWait != 2*time.Second {
		t.Errorf("pool = %d workers, %d queue, %v wait; want %d, %d, 2s", cap(h.pool.sem), h.pool.maxQueue, h.pool.maxWait, workers, 64*workers)
	}
	if h.minLen != 8 || h.maxLen != 1024 {
		t.Errorf("lengths = %d..%d, want 8..1024", h.minLen, h.maxLen)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"time 0", Config{Params: Params{Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}}},
		{"time 101", Config{Params: Params{Memory: 64, Time: 101, Threads: 1, SaltLen: 16, KeyLen: 32}}},
		{"threads 0", Config{Params: Params{Memory: 64, Time: 1, SaltLen: 16, KeyLen: 32}}},
		{"memory below 8p", Config{Params: Params{Memory: 15, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}}},
		{"memory above 4 GiB", Config{Params: Params{Memory: 4<<20 + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}},
		{"salt 4 bytes", Config{Params: Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}}},
		{"key 8 bytes", Config{Params: Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8}}},
		{"negative workers", Config{Params: tiny, Workers: -1}},
		{"negative queue", Config{Params: tiny, MaxQueue: -1}},
		{"negative wait", Config{Params: tiny, MaxWait: -time.Second}},
		{"max below min", Config{Params: tiny, MinLength: 20, MaxLength: 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if h, err := New(tc.cfg); err == nil {
				t.Fatalf("New = %+v, nil; want an error", h)
			}
		})
	}
}

func TestErrorsDoNotLeakSecrets(t *testing.T) {
	h := mustNewHasher(t, Config{Workers: 1, MaxQueue: 1, MaxWait: time.Millisecond})
	const secret = "hunter2-but-longer"
	encoded := mustHash(t, h, secret)
	tampered := encoded[:len(encoded)-1] + "*"
	_, _, err := h.Compare(context.Background(), tampered, secret)
	if err == nil {
		t.Fatal("Compare(tampered) = nil error")
	}
	key := encoded[strings.LastIndexByte(encoded, '$')+1:]
	if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, key[:10]) {
		t.Fatalf("error %q quotes the password or the stored hash", msg)
	}
	// A busy pool's error says nothing about the password either.
	release, err := h.pool.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	_, err = h.Hash(context.Background(), secret)
	if !errors.Is(err, gatehouse.ErrServerBusy) || strings.Contains(err.Error(), secret) {
		t.Fatalf("Hash on a busy pool = %v; want ErrServerBusy without the password", err)
	}
}
