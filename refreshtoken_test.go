package gatehouse

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testSession() *Session {
	return &Session{ID: NewID(), Secret: bytes.Repeat([]byte{7}, 32), Generation: 1}
}

func TestRefreshTokenRoundTrip(t *testing.T) {
	c, err := NewRefreshTokenCodec(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	s := testSession()
	tok, err := c.Encode(s, 42)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, RefreshTokenPrefix) || strings.Count(tok, ".") != 0 {
		t.Fatalf("token %q: want the %s prefix and no JWT shape", tok, RefreshTokenPrefix)
	}
	p, err := c.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.SessionID != s.ID || p.Generation != 42 {
		t.Fatalf("parsed %s/%d, want %s/42", p.SessionID, p.Generation, s.ID)
	}
	if !c.Verify(p, s) {
		t.Fatal("a token made for the session does not verify")
	}
}

func TestRefreshTokenRefusals(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	c, _ := NewRefreshTokenCodec(key)
	s := testSession()
	tok, _ := c.Encode(s, 3)
	body, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, RefreshTokenPrefix))

	t.Run("malformed", func(t *testing.T) {
		for _, bad := range []string{"", "gate_rt_", tok + "A", tok[:len(tok)-1], strings.TrimPrefix(tok, RefreshTokenPrefix),
			"eyJhbGciOiJFZERTQSJ9.e30.sig", RefreshTokenPrefix + strings.Repeat("=", 75)} {
			if _, err := c.Parse(bad); !errors.Is(err, ErrRefreshTokenInvalid) {
				t.Errorf("Parse(%q) = %v, want ErrRefreshTokenInvalid", bad, err)
			}
		}
	})
	t.Run("generation zero", func(t *testing.T) {
		b := append([]byte(nil), body...)
		copy(b[16:24], make([]byte, 8))
		if _, err := c.Parse(RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(b)); err == nil {
			t.Fatal("generation 0 parsed")
		}
	})
	mustNotVerify := func(t *testing.T, c *RefreshTokenCodec, b []byte, s *Session) {
		t.Helper()
		p, err := c.Parse(RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(b))
		if err != nil {
			return // refused earlier: fine
		}
		if c.Verify(p, s) {
			t.Fatal("altered token verified")
		}
	}
	t.Run("every byte flipped", func(t *testing.T) {
		for i := range body {
			b := append([]byte(nil), body...)
			b[i] ^= 0x01
			mustNotVerify(t, c, b, s)
		}
	})
	t.Run("other session secret", func(t *testing.T) {
		other := *s
		other.Secret = bytes.Repeat([]byte{8}, 32)
		mustNotVerify(t, c, body, &other)
	})
	t.Run("other server key", func(t *testing.T) {
		c2, _ := NewRefreshTokenCodec(bytes.Repeat([]byte{2}, 32))
		mustNotVerify(t, c2, body, s)
	})
	t.Run("short key refused", func(t *testing.T) {
		if _, err := NewRefreshTokenCodec(key[:31]); err == nil {
			t.Fatal("31-byte key accepted")
		}
	})
}

func FuzzRefreshTokenParse(f *testing.F) {
	c, _ := NewRefreshTokenCodec(bytes.Repeat([]byte{1}, 32))
	s := testSession()
	tok, _ := c.Encode(s, 1)
	f.Add(tok)
	f.Add("gate_rt_")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := c.Parse(in)
		if err != nil {
			return
		}
		if c.Verify(p, s) && in != tok {
			t.Fatalf("a different string %q verified", in)
		}
	})
}
