package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/server"
)

// An instance must accept a token signed with a key another instance has
// just started using, at once rather than after its next periodic reload;
// a forged kid is still refused.
func TestUnknownKIDReloadsTheKeyRing(t *testing.T) {
	ctx := context.Background()
	cfg := server.DefaultConfig()
	cfg.DB = "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	cfg.Issuer = "http://gatehouse.test"
	cfg.KeySecret = bytes.Repeat([]byte("s"), 32)
	cfg.KeyReload = time.Hour // only the unknown-kid path can pick up the new key
	a, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	oldKID := a.Tokens().Keys().SignerKID()

	if _, err := server.RotateKey(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	b, err := server.New(ctx, cfg) // starts with the rotated ring
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Tokens().Keys().SignerKID() == oldKID {
		t.Fatal("the second instance does not sign with the rotated key")
	}

	now := time.Now()
	claims := func() *gatehouse.AccessClaims {
		return &gatehouse.AccessClaims{
			Issuer: cfg.Issuer, Subject: gatehouse.NewID(), Audience: []string{"gatehouse"},
			IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(time.Minute),
			ID: gatehouse.NewID(), SessionID: gatehouse.NewID(),
		}
	}
	fromB, err := b.Tokens().Issue(claims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Tokens().Verify(fromB); err != nil {
		t.Fatalf("instance A refuses a token of the key B signs with: %v", err)
	}
	if got := a.Tokens().Keys().SignerKID(); got != b.Tokens().Keys().SignerKID() {
		t.Errorf("after the reload A signs with %s, want the rotated key", got)
	}

	// A forged kid is looked up in the reloaded ring only, and refused.
	forged, err := b.Tokens().Issue(claims())
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(forged, ".")
	forged = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"at+jwt","kid":"forged"}`)) + "." + rest
	for range 100 {
		if _, err := a.Tokens().Verify(forged); err == nil {
			t.Fatal("a token with a forged kid was accepted")
		}
	}
}
