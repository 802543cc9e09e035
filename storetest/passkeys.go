package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newPasskey returns a passkey of user created at created, never used,
// with a random credential id.
func newPasskey(userID string, created time.Time) *gatehouse.Passkey {
	return &gatehouse.Passkey{
		ID:           gatehouse.NewID(),
		UserID:       userID,
		CredentialID: gatehouse.RandomBytes(32),
		PublicKey:    gatehouse.RandomBytes(77),
		Attestation:  "none",
		AAGUID:       make([]byte, 16),
		Name:         "Passkey",
		CreatedAt:    created,
	}
}

// mustCreatePasskey stores p and returns it.
func mustCreatePasskey(tb testing.TB, st gatehouse.Store, p *gatehouse.Passkey) *gatehouse.Passkey {
	tb.Helper()
	if err := st.CreatePasskey(context.Background(), p); err != nil {
		tb.Fatalf("CreatePasskey: %v", err)
	}
	return p
}

// mustPasskey loads a passkey by its credential id.
func mustPasskey(tb testing.TB, st gatehouse.Store, credentialID []byte) *gatehouse.Passkey {
	tb.Helper()
	p, err := st.PasskeyByCredentialID(context.Background(), credentialID)
	if err != nil {
		tb.Fatalf("PasskeyByCredentialID: %v", err)
	}
	return p
}

// passkeyIDs returns the ids of the user's passkeys, in the store's order.
func passkeyIDs(tb testing.TB, st gatehouse.Store, userID string) []string {
	tb.Helper()
	ps, err := st.Passkeys(context.Background(), userID)
	if err != nil {
		tb.Fatalf("Passkeys: %v", err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// wantPasskey compares every field of two passkeys; the byte fields must
// come back byte for byte, and no transports must read as nil.
func wantPasskey(tb testing.TB, got, want *gatehouse.Passkey) {
	tb.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.Attestation != want.Attestation ||
		got.SignCount != want.SignCount || got.BackupEligible != want.BackupEligible ||
		got.BackedUp != want.BackedUp || got.Name != want.Name {
		tb.Errorf("passkey = %+v,\nwant %+v", got, want)
	}
	if !slices.Equal(got.Transports, want.Transports) || (len(want.Transports) == 0 && got.Transports != nil) {
		tb.Errorf("passkey %s: Transports = %#v, want %#v", want.ID, got.Transports, want.Transports)
	}
	for _, f := range []struct {
		name      string
		got, want []byte
	}{
		{"CredentialID", got.CredentialID, want.CredentialID},
		{"PublicKey", got.PublicKey, want.PublicKey},
		{"AAGUID", got.AAGUID, want.AAGUID},
	} {
		if !bytes.Equal(f.got, f.want) {
			tb.Errorf("passkey %s: %s = %x, want %x", want.ID, f.name, f.got, f.want)
		}
	}
	wantTime(tb, "CreatedAt", got.CreatedAt, want.CreatedAt)
	wantTime(tb, "LastUsedAt", got.LastUsedAt, want.LastUsedAt)
}

func testPasskeys(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		full := newPasskey(u.ID, base)
		full.Attestation = "packed"
		full.AAGUID = []byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}
		full.PublicKey = append([]byte{0x00, 0xa5}, full.PublicKey...) // a leading NUL byte stays
		full.Transports = []string{"usb", "nfc", "hybrid"}
		full.SignCount = math.MaxUint32 // needs 32 unsigned bits
		full.BackupEligible, full.BackedUp = true, true
		full.Name = "YubiKey 5 «bureau»"
		full.LastUsedAt = at(time.Minute)
		mustCreatePasskey(t, st, full)
		wantPasskey(t, mustPasskey(t, st, full.CredentialID), full)

		// The zero values: no transports, counter 0, flags off, never used.
		bare := newPasskey(u.ID, at(time.Second))
		mustCreatePasskey(t, st, bare)
		got := mustPasskey(t, st, bare.CredentialID)
		wantPasskey(t, got, bare)
		if !got.LastUsedAt.IsZero() {
			t.Errorf("a passkey never used reads LastUsedAt %v, want the zero time", got.LastUsedAt)
		}
		for _, empty := range [][]string{nil, {}} {
			p := newPasskey(u.ID, at(2*time.Second))
			p.Transports = empty
			mustCreatePasskey(t, st, p)
			if got := mustPasskey(t, st, p.CredentialID); got.Transports != nil {
				t.Errorf("Transports %#v read back as %#v, want nil", empty, got.Transports)
			}
		}

		list, err := st.Passkeys(ctx, u.ID)
		if err != nil || len(list) != 4 {
			t.Fatalf("Passkeys = %v, %v; want 4", list, err)
		}
		wantPasskey(t, &list[0], full)
		wantPasskey(t, &list[1], bare)

		_, err = st.PasskeyByCredentialID(ctx, []byte("unknown"))
		wantErr(t, "PasskeyByCredentialID of an unknown credential", err, gatehouse.ErrNotFound)
		_, err = st.PasskeyByCredentialID(ctx, full.CredentialID[:len(full.CredentialID)-1])
		wantErr(t, "PasskeyByCredentialID of a prefix", err, gatehouse.ErrNotFound)
		if ps, err := st.Passkeys(ctx, mustCreateUser(t, st, "none").ID); err != nil || len(ps) != 0 {
			t.Errorf("Passkeys of a user without any = %v, %v; want none", ps, err)
		}
		stranger := newPasskey(gatehouse.NewID(), base)
		wantErr(t, "CreatePasskey of an unknown user", st.CreatePasskey(ctx, stranger), gatehouse.ErrNotFound)
	})

	t.Run("CredentialIDUnique", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		p := mustCreatePasskey(t, st, newPasskey(u.ID, base))

		// The same authenticator credential registered again, by its owner
		// or by anyone else, is refused: a credential id names one passkey.
		for _, owner := range []string{u.ID, other.ID} {
			dup := newPasskey(owner, at(time.Second))
			dup.CredentialID = slices.Clone(p.CredentialID)
			wantErr(t, "CreatePasskey of a taken credential id", st.CreatePasskey(ctx, dup), gatehouse.ErrConflict)
		}
		sameID := newPasskey(u.ID, at(time.Second))
		sameID.ID = p.ID
		wantErr(t, "CreatePasskey of a taken id", st.CreatePasskey(ctx, sameID), gatehouse.ErrConflict)
		if got := passkeyIDs(t, st, other.ID); len(got) != 0 {
			t.Errorf("the refused passkey was stored: %v", got)
		}
		if got := mustPasskey(t, st, p.CredentialID); got.UserID != u.ID {
			t.Errorf("the credential now belongs to %s, want %s", got.UserID, u.ID)
		}
	})

	t.Run("OldestFirst", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		// Stored out of order; two created in the same microsecond sort by id.
		p2 := mustCreatePasskey(t, st, newPasskey(u.ID, at(2*time.Hour)))
		p1 := mustCreatePasskey(t, st, newPasskey(u.ID, at(time.Hour)))
		tieA, tieB := newPasskey(u.ID, at(3*time.Hour)), newPasskey(u.ID, at(3*time.Hour))
		tieA.ID, tieB.ID = "pk-b-"+tieA.ID, "pk-a-"+tieB.ID
		mustCreatePasskey(t, st, tieA)
		mustCreatePasskey(t, st, tieB)
		p0 := mustCreatePasskey(t, st, newPasskey(u.ID, base))
		mustCreatePasskey(t, st, newPasskey(other.ID, at(-time.Hour)))
		want := []string{p0.ID, p1.ID, p2.ID, tieB.ID, tieA.ID}
		if got := passkeyIDs(t, st, u.ID); !slices.Equal(got, want) {
			t.Errorf("Passkeys = %v, want oldest first %v", got, want)
		}
	})

	t.Run("Used", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		p := newPasskey(u.ID, base)
		p.SignCount, p.BackupEligible = 7, true
		mustCreatePasskey(t, st, p)
		other := mustCreatePasskey(t, st, newPasskey(u.ID, base))

		if err := st.PasskeyUsed(ctx, p.ID, 8, true, at(time.Minute)); err != nil {
			t.Fatalf("PasskeyUsed: %v", err)
		}
		p.SignCount, p.BackedUp, p.LastUsedAt = 8, true, at(time.Minute)
		wantPasskey(t, mustPasskey(t, st, p.CredentialID), p)
		// A counter that does not grow is refused, and nothing changes:
		// the same value again, or a lower one (a clone).
		for _, n := range []uint32{8, 5, 0} {
			wantErr(t, fmt.Sprintf("PasskeyUsed with counter %d after 8", n),
				st.PasskeyUsed(ctx, p.ID, n, false, at(2*time.Minute)), gatehouse.ErrConflict)
		}
		wantPasskey(t, mustPasskey(t, st, p.CredentialID), p)
		if err := st.PasskeyUsed(ctx, p.ID, math.MaxUint32, true, at(3*time.Minute)); err != nil {
			t.Fatalf("PasskeyUsed up to the largest counter: %v", err)
		}
		p.SignCount, p.LastUsedAt = math.MaxUint32, at(3*time.Minute)
		wantPasskey(t, mustPasskey(t, st, p.CredentialID), p)
		// A synced passkey reports 0 every time, and may stop being backed up.
		for i := range 2 {
			if err := st.PasskeyUsed(ctx, other.ID, 0, i == 0, at(time.Duration(i)*time.Minute)); err != nil {
				t.Fatalf("PasskeyUsed of a passkey that does not count (%d): %v", i, err)
			}
		}
		other.BackedUp, other.LastUsedAt = false, at(time.Minute)
		wantPasskey(t, mustPasskey(t, st, other.CredentialID), other)

		// Two sign-ins racing with one counter value: one wins.
		racer := mustCreatePasskey(t, st, newPasskey(u.ID, base))
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := st.PasskeyUsed(ctx, racer.ID, 100, false, base)
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, gatehouse.ErrConflict):
					t.Errorf("racing PasskeyUsed: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d racing sign-ins with one counter value were accepted, want 1", wins.Load())
		}

		wantErr(t, "PasskeyUsed of an unknown passkey",
			st.PasskeyUsed(ctx, gatehouse.NewID(), 1, false, base), gatehouse.ErrNotFound)
	})

	t.Run("RenameAndDeleteByOwner", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		p := mustCreatePasskey(t, st, newPasskey(u.ID, base))
		keep := mustCreatePasskey(t, st, newPasskey(u.ID, at(time.Second)))

		// Another user naming this passkey's id finds nothing to change.
		wantErr(t, "RenamePasskey by another user", st.RenamePasskey(ctx, other.ID, p.ID, "mine"), gatehouse.ErrNotFound)
		wantErr(t, "DeletePasskey by another user", st.DeletePasskey(ctx, other.ID, p.ID), gatehouse.ErrNotFound)
		wantErr(t, "RenamePasskey of an unknown id", st.RenamePasskey(ctx, u.ID, gatehouse.NewID(), "x"), gatehouse.ErrNotFound)
		wantPasskey(t, mustPasskey(t, st, p.CredentialID), p)

		if err := st.RenamePasskey(ctx, u.ID, p.ID, "Phone"); err != nil {
			t.Fatalf("RenamePasskey: %v", err)
		}
		if err := st.RenamePasskey(ctx, u.ID, p.ID, "Phone"); err != nil {
			t.Errorf("RenamePasskey to the same name: %v", err)
		}
		p.Name = "Phone"
		wantPasskey(t, mustPasskey(t, st, p.CredentialID), p)
		wantPasskey(t, mustPasskey(t, st, keep.CredentialID), keep)

		if err := st.DeletePasskey(ctx, u.ID, p.ID); err != nil {
			t.Fatalf("DeletePasskey: %v", err)
		}
		_, err := st.PasskeyByCredentialID(ctx, p.CredentialID)
		wantErr(t, "PasskeyByCredentialID after DeletePasskey", err, gatehouse.ErrNotFound)
		wantErr(t, "second DeletePasskey", st.DeletePasskey(ctx, u.ID, p.ID), gatehouse.ErrNotFound)
		wantErr(t, "RenamePasskey after DeletePasskey", st.RenamePasskey(ctx, u.ID, p.ID, "x"), gatehouse.ErrNotFound)
		wantErr(t, "PasskeyUsed after DeletePasskey", st.PasskeyUsed(ctx, p.ID, 1, false, base), gatehouse.ErrNotFound)
		if got := passkeyIDs(t, st, u.ID); !slices.Equal(got, []string{keep.ID}) {
			t.Errorf("Passkeys after DeletePasskey = %v, want [%s]", got, keep.ID)
		}
		// The credential can be registered again once its passkey is gone.
		again := newPasskey(other.ID, at(time.Minute))
		again.CredentialID = p.CredentialID
		mustCreatePasskey(t, st, again)
	})

	t.Run("NUL", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		p := mustCreatePasskey(t, st, newPasskey(u.ID, base))
		if ps, err := st.Passkeys(ctx, u.ID+"\x00"); err != nil || len(ps) != 0 {
			t.Errorf("Passkeys of a NUL user = %v, %v; want none", ps, err)
		}
		wantErr(t, "RenamePasskey", st.RenamePasskey(ctx, u.ID+"\x00", p.ID, "x"), gatehouse.ErrNotFound)
		wantErr(t, "DeletePasskey", st.DeletePasskey(ctx, u.ID, p.ID+"\x00"), gatehouse.ErrNotFound)
		wantErr(t, "PasskeyUsed", st.PasskeyUsed(ctx, p.ID+"\x00", 1, false, base), gatehouse.ErrNotFound)
		_, err := st.ConsumeWebAuthnChallenge(ctx, "c\x00", base)
		wantErr(t, "ConsumeWebAuthnChallenge", err, gatehouse.ErrNotFound)
		wantPasskey(t, mustPasskey(t, st, p.CredentialID), p)
	})

	t.Run("Challenges", func(t *testing.T) { testWebAuthnChallenges(t, open) })
	t.Run("ResetMFA", func(t *testing.T) { testResetPasskeys(t, open) })
}
