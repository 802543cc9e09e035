package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func newKey(kid string, created time.Time) *gatehouse.SigningKey {
	return &gatehouse.SigningKey{
		KID:           kid,
		Alg:           "EdDSA",
		PublicKey:     append([]byte{0x30, 0x2a, 0x00}, gatehouse.RandomBytes(41)...),
		SealedPrivate: append([]byte{0x00, 0xff}, gatehouse.RandomBytes(70)...),
		CreatedAt:     created,
	}
}

// wantKeys compares a key ring with the expected one, field by field.
func wantKeys(tb testing.TB, got []gatehouse.SigningKey, want []*gatehouse.SigningKey) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("SigningKeys returned %d keys, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.KID != w.KID || g.Alg != w.Alg || !slices.Equal(g.PublicKey, w.PublicKey) || !slices.Equal(g.SealedPrivate, w.SealedPrivate) {
			tb.Errorf("key %d = %s/%s, want %s/%s (or its bytes differ)", i, g.KID, g.Alg, w.KID, w.Alg)
		}
		wantTime(tb, w.KID+" CreatedAt", g.CreatedAt, w.CreatedAt)
		wantTime(tb, w.KID+" RetiredAt", g.RetiredAt, w.RetiredAt)
	}
}

func testSigningKeys(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("Ring", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		keys, err := st.SigningKeys(ctx)
		if err != nil || len(keys) != 0 {
			t.Fatalf("SigningKeys of an empty store = %v, %v", keys, err)
		}
		k1 := newKey("k1", at(1*time.Hour))
		k2 := newKey("k2", at(2*time.Hour))
		k3 := newKey("k3", at(3*time.Hour))
		k3.Alg = "ES256"

		add := func(k *gatehouse.SigningKey) {
			t.Helper()
			if err := st.AddSigningKey(ctx, k); err != nil {
				t.Fatalf("AddSigningKey(%s): %v", k.KID, err)
			}
		}
		load := func() []gatehouse.SigningKey {
			t.Helper()
			keys, err := st.SigningKeys(ctx)
			if err != nil {
				t.Fatalf("SigningKeys: %v", err)
			}
			return keys
		}

		add(k1)
		wantKeys(t, load(), []*gatehouse.SigningKey{k1})

		add(k2)
		k1.RetiredAt = k2.CreatedAt
		wantKeys(t, load(), []*gatehouse.SigningKey{k2, k1})

		add(k3)
		k2.RetiredAt = k3.CreatedAt // k1 keeps its first retirement
		wantKeys(t, load(), []*gatehouse.SigningKey{k3, k2, k1})

		// A taken kid changes nothing: k3 is not retired by the failure.
		dup := newKey("k3", at(4*time.Hour))
		wantErr(t, "AddSigningKey with a taken kid", st.AddSigningKey(ctx, dup), gatehouse.ErrConflict)
		wantKeys(t, load(), []*gatehouse.SigningKey{k3, k2, k1})
	})

	t.Run("NewestFirstIsByCreation", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		// kids that sort against creation order: the ring is ordered by
		// CreatedAt, not by kid.
		a := newKey("zzz", at(1*time.Hour))
		b := newKey("aaa", at(2*time.Hour))
		for _, k := range []*gatehouse.SigningKey{a, b} {
			if err := st.AddSigningKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		keys, err := st.SigningKeys(ctx)
		if err != nil || len(keys) != 2 || keys[0].KID != "aaa" || keys[1].KID != "zzz" {
			t.Errorf("SigningKeys = %v, %v; want aaa then zzz", keys, err)
		}
	})
}
