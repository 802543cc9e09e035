package password

import (
	"context"
	"strings"
	"testing"
)

// Salts and keys for hand-made PHC strings: 16 and 32 zero bytes in
// unpadded standard base64.
var (
	salt16 = strings.Repeat("A", 22)
	key32  = strings.Repeat("A", 43)
)

func phcString(alg, version, params, salt, key string) string {
	return "$" + alg + "$" + version + "$" + params + "$" + salt + "$" + key
}

func TestParsePHCRoundTrip(t *testing.T) {
	h := mustNewHasher(t, Config{})
	encoded := mustHash(t, h, "correct horse battery staple")
	p, err := parsePHC(encoded)
	if err != nil {
		t.Fatal(err)
	}
	if p.params != tiny {
		t.Errorf("params = %+v, want %+v", p.params, tiny)
	}
	if got := p.String(); got != encoded {
		t.Errorf("String() = %q, want %q", got, encoded)
	}
	// The largest parameters, salt and key allowed still parse.
	maxKey := make([]byte, 128)
	maxSalt := make([]byte, 64)
	edge := phcString("argon2id", "v=19", "m=4194304,t=100,p=255", b64.EncodeToString(maxSalt), b64.EncodeToString(maxKey))
	if _, err := parsePHC(edge); err != nil {
		t.Errorf("parsePHC(largest allowed) = %v", err)
	}
}

// TestCompareMalformed feeds Compare strings that a tampered or corrupt
// database row could hold: each must be an error, never a match, never a
// panic, and never an expensive hash.
func TestCompareMalformed(t *testing.T) {
	h := mustNewHasher(t, Config{})
	valid := mustHash(t, h, "pw")
	tests := []struct {
		name, encoded string
	}{
		{"empty", ""},
		{"garbage", "not a hash"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", phcString("argon2i", "v=19", "m=64,t=1,p=1", salt16, key32)},
		{"argon2d", phcString("argon2d", "v=19", "m=64,t=1,p=1", salt16, key32)},
		{"upper-case algorithm", phcString("ARGON2ID", "v=19", "m=64,t=1,p=1", salt16, key32)},
		{"version 16", phcString("argon2id", "v=16", "m=64,t=1,p=1", salt16, key32)},
		{"version 20", phcString("argon2id", "v=20", "m=64,t=1,p=1", salt16, key32)},
		{"version with leading zero", phcString("argon2id", "v=019", "m=64,t=1,p=1", salt16, key32)},
		{"version missing", "$argon2id$m=64,t=1,p=1$" + salt16 + "$" + key32},
		{"key missing", "$argon2id$v=19$m=64,t=1,p=1$" + salt16},
		{"key empty", "$argon2id$v=19$m=64,t=1,p=1$" + salt16 + "$"},
		{"salt empty", "$argon2id$v=19$m=64,t=1,p=1$$" + key32},
		{"extra field", valid + "$" + key32},
		{"trailing dollar", valid + "$"},
		{"no leading dollar", valid[1:]},
		{"leading space", " " + valid},
		{"trailing newline", valid + "\n"},
		{"params missing", "$argon2id$v=19$" + salt16 + "$" + key32},
		{"p missing", phcString("argon2id", "v=19", "m=64,t=1", salt16, key32)},
		{"params reordered", phcString("argon2id", "v=19", "t=1,m=64,p=1", salt16, key32)},
		{"extra param", phcString("argon2id", "v=19", "m=64,t=1,p=1,keyid=abc", salt16, key32)},
		{"data param", phcString("argon2id", "v=19", "m=64,t=1,p=1,data=abc", salt16, key32)},
		{"leading zero", phcString("argon2id", "v=19", "m=064,t=1,p=1", salt16, key32)},
		{"plus sign", phcString("argon2id", "v=19", "m=+64,t=1,p=1", salt16, key32)},
		{"negative", phcString("argon2id", "v=19", "m=-64,t=1,p=1", salt16, key32)},
		{"space in number", phcString("argon2id", "v=19", "m=64 ,t=1,p=1", salt16, key32)},
		{"empty number", phcString("argon2id", "v=19", "m=,t=1,p=1", salt16, key32)},
		{"hex number", phcString("argon2id", "v=19", "m=0x40,t=1,p=1", salt16, key32)},
		{"underscore number", phcString("argon2id", "v=19", "m=6_4,t=1,p=1", salt16, key32)},
		{"uint32 overflow", phcString("argon2id", "v=19", "m=4294967296,t=1,p=1", salt16, key32)},
		{"memory above 4 GiB", phcString("argon2id", "v=19", "m=4194305,t=1,p=1", salt16, key32)},
		{"memory max uint32", phcString("argon2id", "v=19", "m=4294967295,t=1,p=1", salt16, key32)},
		{"memory below 8p", phcString("argon2id", "v=19", "m=15,t=1,p=2", salt16, key32)},
		{"memory 0", phcString("argon2id", "v=19", "m=0,t=1,p=1", salt16, key32)},
		{"time 0", phcString("argon2id", "v=19", "m=64,t=0,p=1", salt16, key32)},
		{"time 101", phcString("argon2id", "v=19", "m=64,t=101,p=1", salt16, key32)},
		{"time huge", phcString("argon2id", "v=19", "m=64,t=4000000000,p=1", salt16, key32)},
		{"lanes 0", phcString("argon2id", "v=19", "m=64,t=1,p=0", salt16, key32)},
		{"lanes 256", phcString("argon2id", "v=19", "m=4096,t=1,p=256", salt16, key32)},
		{"padded salt", phcString("argon2id", "v=19", "m=64,t=1,p=1", salt16+"==", key32)},
		{"padded key", phcString("argon2id", "v=19", "m=64,t=1,p=1", salt16, key32+"=")},
		{"url-safe alphabet", phcString("argon2id", "v=19", "m=64,t=1,p=1", strings.Repeat("-", 21)+"A", key32)},
		{"invalid character", phcString("argon2id", "v=19", "m=64,t=1,p=1", salt16[:21]+"*", key32)},
		{"newline inside salt", phcString("argon2id", "v=19", "m=64,t=1,p=1", salt16[:10]+"\n"+salt16[10:], key32)},
		{"carriage return inside key", phcString("argon2id", "v=19", "m=64,t=1,p=1", salt16, key32[:10]+"\r"+key32[10:])},
		{"non-canonical trailing bits", phcString("argon2id", "v=19", "m=64,t=1,p=1", salt16[:21]+"B", key32)},
		{"impossible length", phcString("argon2id", "v=19", "m=64,t=1,p=1", "A", key32)},
		{"salt 4 bytes", phcString("argon2id", "v=19", "m=64,t=1,p=1", "AAAAAA", key32)},
		{"salt 65 bytes", phcString("argon2id", "v=19", "m=64,t=1,p=1", b64.EncodeToString(make([]byte, 65)), key32)},
		{"key 8 bytes", phcString("argon2id", "v=19", "m=64,t=1,p=1", salt16, "AAAAAAAAAAA")},
		{"key 129 bytes", phcString("argon2id", "v=19", "m=64,t=1,p=1", salt16, b64.EncodeToString(make([]byte, 129)))},
		{"too long", phcString("argon2id", "v=19", "m=64,t=1,p=1", salt16, strings.Repeat("A", 600))},
		{"truncated", valid[:len(valid)-6]}, // 37 key characters: no base64 length
		{"nul inside", strings.Replace(valid, "$v=19", "$v=19\x00", 1)},
		{"invalid utf-8", "$argon2id$v=19$m=64,t=1,p=1$\xff\xfe$" + key32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			match, rehash, err := h.Compare(context.Background(), tc.encoded, "pw")
			if err == nil || match || rehash {
				t.Fatalf("Compare = %v, %v, %v; want false, false, an error", match, rehash, err)
			}
		})
	}
}
