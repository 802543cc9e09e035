package jwtlibs

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/token"
)

// matrixCase is one token from SECURITY.md §10 (and a few more), each
// validly signed with the real key over exactly the crafted bytes unless
// the case is about the encoding.
type matrixCase struct {
	name  string
	token string
}

func matrixCases(tb testing.TB, s *setup) []matrixCase {
	header := `{"alg":"EdDSA","typ":"at+jwt","kid":"` + kid + `"}`
	hdr := func(h string) string { return s.sign(tb, h, claims("")) }
	pay := func(p string) string { return s.sign(tb, header, p) }
	valid := claims("")
	without := func(name string) string { // drop one claim
		i := strings.Index(valid, `"`+name+`":`)
		end := i + strings.IndexAny(valid[i:], ",}")
		if valid[end] == ',' {
			end++
		}
		return strings.Replace(valid[:i]+valid[end:], ",}", "}", 1)
	}
	replace := func(old, new string) string { return strings.Replace(valid, old, new, 1) }
	h, p, sig := split(s.token)
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
	nonCanonical := h + "." + p + "." + sig[:len(sig)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])
	noneHeader, _, _ := split(hdr(`{"alg":"none","typ":"at+jwt","kid":"` + kid + `"}`))
	exp, iat, nbf := unix(now.Add(15*time.Minute)), unix(now), unix(now)
	return []matrixCase{
		{"valid token", s.token},
		{"alg none, empty signature", noneHeader + "." + p + "."},
		{"alg NONE, signed", hdr(`{"alg":"NONE","typ":"at+jwt","kid":"` + kid + `"}`)},
		{"HS256 keyed with the public key", hmacWithPublicKey(s)},
		{"non-canonical last signature character", nonCanonical},
		{"newline inside the signature", h + "." + p + "." + sig[:20] + "\n" + sig[20:]},
		{"padding after the signature", s.token + "=="},
		{"JSON serialization", `{"protected":"` + h + `","payload":"` + p + `","signature":"` + sig + `"}`},
		{"5 segments", s.token + ".AAAA.AAAA"},
		{"9 KiB token", pay(claims(`"pad":"` + strings.Repeat("x", 9<<10) + `"`))},
		{"typ JWT", hdr(`{"alg":"EdDSA","typ":"JWT","kid":"` + kid + `"}`)},
		{"typ missing", hdr(`{"alg":"EdDSA","kid":"` + kid + `"}`)},
		{`crit ["exp"]`, hdr(`{"alg":"EdDSA","typ":"at+jwt","kid":"` + kid + `","crit":["exp"],"exp":1}`)},
		{"jku header", hdr(`{"alg":"EdDSA","typ":"at+jwt","kid":"` + kid + `","jku":"https://evil.example/jwks"}`)},
		{"duplicate alg header (none, then EdDSA)", hdr(`{"alg":"none","alg":"EdDSA","typ":"at+jwt","kid":"` + kid + `"}`)},
		{"kid a number", hdr(`{"alg":"EdDSA","typ":"at+jwt","kid":1}`)},
		{"exp a JSON string", pay(replace(`"exp":`+exp, `"exp":"`+exp+`"`))},
		{"iat missing", pay(without("iat"))},
		{"nbf missing", pay(without("nbf"))},
		{"sid missing", pay(without("sid"))},
		{"sub a number", pay(replace(`"sub":"0192a3b4-c5d6-7e8f-9012-3456789abcde"`, `"sub":42`))},
		{"aud a number", pay(replace(`"aud":"`+audience+`"`, `"aud":42`))},
		{"duplicate sub", pay(claims(`"sub":"admin"`))},
		{`"SUB" beside "sub"`, pay(claims(`"SUB":"admin"`))},
		{"invalid UTF-8 in sub", pay(replace(`"sub":"0192`, "\"sub\":\"\xff0192"))},
		{"lone surrogate escape in sub", pay(replace(`"sub":"0192`, `"sub":"\ud8000192`))},
		{"exp 6 s ago (leeway 5 s)", pay(replace(`"exp":`+exp, `"exp":`+unix(now.Add(-6*time.Second))))},
		{"nbf 6 s ahead", pay(replace(`"nbf":`+nbf, `"nbf":`+unix(now.Add(6*time.Second))))},
		{"iat 6 s ahead", pay(replace(`"iat":`+iat, `"iat":`+unix(now.Add(6*time.Second))))},
		{"iss with a trailing slash", pay(replace(`"iss":"`+issuer+`"`, `"iss":"`+issuer+`/"`))},
		{"wrong aud", pay(replace(`"aud":"`+audience+`"`, `"aud":"other"`))},
	}
}

func split(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	return parts[0], parts[1], parts[2]
}

// TestMatrix runs every matrix token through every library and checks
// that README.md shows the resulting table, so that the README cannot
// drift from what the libraries do: after a library upgrade changes a
// row, update README.md with the table this test prints.
//
// "refused (wrapper)" means the library let the token through and only
// the strict checks added around it in libs_test.go refused it.
func TestMatrix(t *testing.T) {
	s := newSetup(t, token.EdDSA)
	cases := matrixCases(t, s)
	libs := libraries(t, s)
	var b strings.Builder
	b.WriteString("| token |")
	for _, l := range libs {
		b.WriteString(" " + l.name + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(libs)) + "\n")
	for _, c := range cases {
		b.WriteString("| " + c.name + " |")
		for _, l := range libs {
			err := l.verify(c.token)
			var mark string
			switch {
			case err == nil && c.name == "valid token":
				mark = "accepted"
			case err == nil:
				mark = "**accepted**"
			case errors.Is(err, errStrict):
				mark = "refused (wrapper)"
			default:
				mark = "refused"
			}
			if l.name == "gatehouse token" && (err == nil) != (c.name == "valid token") {
				t.Errorf("gatehouse token, %s: %v", c.name, err)
			}
			b.WriteString(" " + mark + " |")
		}
		b.WriteString("\n")
	}
	table := b.String()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), table) {
		t.Errorf("README.md does not show the current table; replace it with:\n%s", table)
	}
}
