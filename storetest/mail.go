package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// openMail opens a store through open and returns it as a MailStore too.
func openMail(tb testing.TB, open func(t testing.TB) gatehouse.Store) (gatehouse.Store, gatehouse.MailStore) {
	tb.Helper()
	st := open(tb)
	ms, ok := st.(gatehouse.MailStore)
	if !ok {
		tb.Fatalf("%T does not implement gatehouse.MailStore", st)
	}
	return st, ms
}

// newToken returns a token of purpose for u, bound to email, issued at
// base and expiring an hour later, and the hash the store is asked for.
func newToken(u *gatehouse.User, purpose, email string) (*gatehouse.EmailToken, []byte) {
	h := sha256.Sum256(gatehouse.RandomBytes(32))
	return &gatehouse.EmailToken{
		Hash:      h[:],
		Purpose:   purpose,
		UserID:    u.ID,
		Email:     email,
		CreatedAt: base,
		ExpiresAt: at(time.Hour),
	}, h[:]
}

// mustIssue issues a token of purpose for u, bound to its email, and
// returns its hash.
func mustIssue(tb testing.TB, ms gatehouse.MailStore, u *gatehouse.User, purpose string, mails ...*gatehouse.Mail) []byte {
	tb.Helper()
	t, hash := newToken(u, purpose, u.Email)
	if err := ms.IssueEmailToken(context.Background(), nil, t, mails...); err != nil {
		tb.Fatalf("IssueEmailToken(%s): %v", purpose, err)
	}
	return hash
}

// mustUser loads a user.
func mustUser(tb testing.TB, st gatehouse.Store, id string) *gatehouse.User {
	tb.Helper()
	u, err := st.UserByID(context.Background(), id)
	if err != nil {
		tb.Fatalf("UserByID: %v", err)
	}
	return u
}

// userEntries returns the user ids of the feed's user entries, in order,
// and checks that every entry names a session or a user, never both.
func userEntries(tb testing.TB, st gatehouse.Store) []string {
	tb.Helper()
	var out []string
	for _, r := range feed(tb, st) {
		if (r.SessionID == "") == (r.UserID == "") {
			tb.Errorf("feed entry %+v: want exactly one of SessionID and UserID", r)
		}
		if r.UserID != "" {
			out = append(out, r.UserID)
		}
	}
	return out
}

func testEmailTokens(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()
	now := at(time.Minute)

	t.Run("EmailVerified", func(t *testing.T) {
		t.Parallel()
		st, _ := openMail(t, open)
		if u := mustUser(t, st, mustCreateUser(t, st, "u").ID); u.EmailVerified {
			t.Error("a new user's email is verified")
		}
		v := &gatehouse.User{ID: gatehouse.NewID(), Email: "verified@example.com", EmailVerified: true,
			PasswordHash: "h", CreatedAt: base}
		if err := st.CreateUser(ctx, v); err != nil {
			t.Fatal(err)
		}
		if u, err := st.UserByEmail(ctx, v.Email); err != nil || !u.EmailVerified {
			t.Errorf("UserByEmail = %+v, %v; want EmailVerified", u, err)
		}
	})

	t.Run("Verify", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		u := mustCreateUser(t, st, "u")
		hash := mustIssue(t, ms, u, gatehouse.PurposeVerifyEmail)
		got, err := ms.VerifyEmail(ctx, hash, now)
		if err != nil {
			t.Fatalf("VerifyEmail: %v", err)
		}
		if got.ID != u.ID || got.Email != u.Email || !got.EmailVerified {
			t.Errorf("VerifyEmail = %+v, want %s verified", got, u.ID)
		}
		if !mustUser(t, st, u.ID).EmailVerified {
			t.Error("the stored user is not verified")
		}
		if got := userEntries(t, st); !slices.Equal(got, []string{u.ID}) {
			t.Errorf("user entries of the feed = %v, want [%s]", got, u.ID)
		}
		for _, r := range feed(t, st) {
			wantTime(t, "user entry At", r.At, now) // the now of VerifyEmail
		}
		// Single use.
		_, err = ms.VerifyEmail(ctx, hash, now)
		wantErr(t, "second VerifyEmail", err, gatehouse.ErrEmailTokenInvalid)
		if got := userEntries(t, st); len(got) != 1 {
			t.Errorf("a refused token appended to the feed: %v", got)
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		t.Parallel()
		_, ms := openMail(t, open)
		for _, hash := range [][]byte{nil, {}, make([]byte, 32)} {
			_, err := ms.VerifyEmail(ctx, hash, now)
			wantErr(t, fmt.Sprintf("VerifyEmail(%x)", hash), err, gatehouse.ErrEmailTokenInvalid)
			_, _, err = ms.ResetPassword(ctx, hash, "h", now)
			wantErr(t, "ResetPassword", err, gatehouse.ErrEmailTokenInvalid)
			_, err = ms.ConfirmEmailChange(ctx, hash, now)
			wantErr(t, "ConfirmEmailChange", err, gatehouse.ErrEmailTokenInvalid)
		}
		tok, _ := newToken(&gatehouse.User{ID: gatehouse.NewID()}, gatehouse.PurposeVerifyEmail, "x@example.com")
		wantErr(t, "IssueEmailToken for no user", ms.IssueEmailToken(ctx, nil, tok), gatehouse.ErrNotFound)
	})

	t.Run("NewerKillsOlder", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		old := mustIssue(t, ms, u, gatehouse.PurposeVerifyEmail)
		reset := mustIssue(t, ms, u, gatehouse.PurposeResetPassword)
		othersOld := mustIssue(t, ms, other, gatehouse.PurposeVerifyEmail)
		newer := mustIssue(t, ms, u, gatehouse.PurposeVerifyEmail)

		_, err := ms.VerifyEmail(ctx, old, now)
		wantErr(t, "VerifyEmail with the replaced token", err, gatehouse.ErrEmailTokenInvalid)
		// A token of another purpose is refused, and left good for its own.
		_, err = ms.VerifyEmail(ctx, reset, now)
		wantErr(t, "VerifyEmail with a reset token", err, gatehouse.ErrEmailTokenInvalid)
		if _, err := ms.VerifyEmail(ctx, newer, now); err != nil {
			t.Errorf("VerifyEmail with the newer token: %v", err)
		}
		if _, err := ms.VerifyEmail(ctx, othersOld, now); err != nil {
			t.Errorf("another user's token died with this one's: %v", err)
		}
		if _, _, err := ms.ResetPassword(ctx, reset, "h2", now); err != nil {
			t.Errorf("the reset token died with a verification token: %v", err)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		u := mustCreateUser(t, st, "u")
		hash := mustIssue(t, ms, u, gatehouse.PurposeVerifyEmail) // expires at at(time.Hour)
		_, err := ms.VerifyEmail(ctx, hash, at(time.Hour))
		wantErr(t, "VerifyEmail at its expiry", err, gatehouse.ErrEmailTokenExpired)
		// The expired token was deleted: even a clock that went back finds
		// nothing to use.
		_, err = ms.VerifyEmail(ctx, hash, at(time.Minute))
		wantErr(t, "VerifyEmail after the expired use", err, gatehouse.ErrEmailTokenInvalid)
		if mustUser(t, st, u.ID).EmailVerified {
			t.Error("an expired token verified the email")
		}
		if got := userEntries(t, st); len(got) != 0 {
			t.Errorf("an expired token appended to the feed: %v", got)
		}

		reset := mustIssue(t, ms, u, gatehouse.PurposeResetPassword)
		_, _, err = ms.ResetPassword(ctx, reset, "h", at(time.Hour+time.Microsecond))
		wantErr(t, "ResetPassword past expiry", err, gatehouse.ErrEmailTokenExpired)
		if mustUser(t, st, u.ID).PasswordHash == "h" {
			t.Error("an expired reset token replaced the password")
		}
	})

	t.Run("AddressBinding", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		u := mustCreateUser(t, st, "u")
		verify := mustIssue(t, ms, u, gatehouse.PurposeVerifyEmail)
		reset := mustIssue(t, ms, u, gatehouse.PurposeResetPassword)
		if err := ms.SetUserEmail(ctx, u.ID, "moved@example.com", now); err != nil {
			t.Fatalf("SetUserEmail: %v", err)
		}
		_, err := ms.VerifyEmail(ctx, verify, now)
		wantErr(t, "VerifyEmail of the old address", err, gatehouse.ErrEmailTokenInvalid)
		_, _, err = ms.ResetPassword(ctx, reset, "h", now)
		wantErr(t, "ResetPassword sent to the old address", err, gatehouse.ErrEmailTokenInvalid)
		if got := mustUser(t, st, u.ID); got.EmailVerified || got.PasswordHash == "h" {
			t.Errorf("a token of the old address changed the user: %+v", got)
		}
		// Moving back does not revive them: they were deleted when refused.
		if err := ms.SetUserEmail(ctx, u.ID, u.Email, now); err != nil {
			t.Fatal(err)
		}
		_, err = ms.VerifyEmail(ctx, verify, now)
		wantErr(t, "VerifyEmail after moving back", err, gatehouse.ErrEmailTokenInvalid)

		// A token bound to an address the user never had is no good either.
		tok, hash := newToken(u, gatehouse.PurposeVerifyEmail, "elsewhere@example.com")
		if err := ms.IssueEmailToken(ctx, nil, tok); err != nil {
			t.Fatal(err)
		}
		_, err = ms.VerifyEmail(ctx, hash, now)
		wantErr(t, "VerifyEmail bound to another address", err, gatehouse.ErrEmailTokenInvalid)
	})

	t.Run("ResetPassword", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		live1 := mustCreateSession(t, st, newSession(u.ID, base))
		live2 := mustCreateSession(t, st, newSession(u.ID, base))
		expired := newSession(u.ID, base)
		expired.IdleExpiresAt, expired.ExpiresAt = at(time.Second), at(time.Second)
		mustCreateSession(t, st, expired)
		othersSession := mustCreateSession(t, st, newSession(other.ID, base))
		hash := mustIssue(t, ms, u, gatehouse.PurposeResetPassword)

		got, revoked, err := ms.ResetPassword(ctx, hash, "$new-hash", now)
		if err != nil {
			t.Fatalf("ResetPassword: %v", err)
		}
		if got.ID != u.ID || got.PasswordHash != "$new-hash" {
			t.Errorf("ResetPassword = %+v", got)
		}
		if stored := mustUser(t, st, u.ID); stored.PasswordHash != "$new-hash" {
			t.Errorf("stored hash = %q", stored.PasswordHash)
		}
		if !sameSet(revoked, []string{live1.ID, live2.ID}) {
			t.Errorf("revoked %v, want the live sessions %s %s", revoked, live1.ID, live2.ID)
		}
		for _, id := range []string{live1.ID, live2.ID} {
			s := mustSession(t, st, id)
			wantTime(t, "RevokedAt", s.RevokedAt, now)
			if s.RevokeReason == "" {
				t.Errorf("session %s revoked without a reason", id)
			}
		}
		if mustSession(t, st, othersSession.ID).Revoked() {
			t.Error("another user's session was revoked")
		}
		if !sameSet(nonEmpty(feedIDs(t, st)), revoked) {
			t.Errorf("feed sessions = %v, want %v", feedIDs(t, st), revoked)
		}
		if got := userEntries(t, st); !slices.Equal(got, []string{u.ID}) {
			t.Errorf("user entries = %v, want [%s]", got, u.ID)
		}
		_, _, err = ms.ResetPassword(ctx, hash, "$again", now)
		wantErr(t, "second ResetPassword", err, gatehouse.ErrEmailTokenInvalid)
	})

	t.Run("ConfirmEmailChange", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		u := mustCreateUser(t, st, "u")
		tok, hash := newToken(u, gatehouse.PurposeChangeEmail, "new@example.com")
		if err := ms.IssueEmailToken(ctx, nil, tok); err != nil {
			t.Fatal(err)
		}
		got, err := ms.ConfirmEmailChange(ctx, hash, now)
		if err != nil {
			t.Fatalf("ConfirmEmailChange: %v", err)
		}
		if got.Email != "new@example.com" || !got.EmailVerified {
			t.Errorf("ConfirmEmailChange = %+v, want the new address, verified", got)
		}
		if byEmail, err := st.UserByEmail(ctx, "new@example.com"); err != nil || byEmail.ID != u.ID {
			t.Errorf("UserByEmail(new) = %v, %v", byEmail, err)
		}
		_, err = st.UserByEmail(ctx, u.Email)
		wantErr(t, "UserByEmail(old)", err, gatehouse.ErrNotFound)
		if got := userEntries(t, st); !slices.Equal(got, []string{u.ID}) {
			t.Errorf("user entries = %v, want [%s]", got, u.ID)
		}
		_, err = ms.ConfirmEmailChange(ctx, hash, now)
		wantErr(t, "second ConfirmEmailChange", err, gatehouse.ErrEmailTokenInvalid)

		// The address was taken between the request and the confirmation.
		b := mustCreateUser(t, st, "b")
		tok, hash = newToken(b, gatehouse.PurposeChangeEmail, "contested@example.com")
		if err := ms.IssueEmailToken(ctx, nil, tok); err != nil {
			t.Fatal(err)
		}
		mustCreateUserWithEmail(t, st, "contested@example.com")
		_, err = ms.ConfirmEmailChange(ctx, hash, now)
		wantErr(t, "ConfirmEmailChange to a taken address", err, gatehouse.ErrEmailTaken)
		if got := mustUser(t, st, b.ID); got.Email != b.Email || got.EmailVerified {
			t.Errorf("a refused change changed the user: %+v", got)
		}
		if got := userEntries(t, st); len(got) != 1 {
			t.Errorf("a refused change appended to the feed: %v", got)
		}
	})

	t.Run("Registration", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		nu := &gatehouse.User{ID: gatehouse.NewID(), Email: "new@example.com", Name: "N", PasswordHash: "h", CreatedAt: base}
		tok, hash := newToken(nu, gatehouse.PurposeVerifyEmail, nu.Email)
		if err := ms.IssueEmailToken(ctx, nu, tok, newMail(nu.Email, base)); err != nil {
			t.Fatalf("IssueEmailToken with a new user: %v", err)
		}
		if got := mustUser(t, st, nu.ID); got.Email != nu.Email || got.EmailVerified {
			t.Errorf("the new user = %+v", got)
		}
		if n, _, err := ms.Outbox(ctx); n != 1 || err != nil {
			t.Errorf("Outbox = %d, %v; want the verification mail", n, err)
		}
		if _, err := ms.VerifyEmail(ctx, hash, now); err != nil {
			t.Errorf("VerifyEmail of the new user: %v", err)
		}

		// The email is taken: no user, no token, no mail.
		dup := &gatehouse.User{ID: gatehouse.NewID(), Email: nu.Email, PasswordHash: "h", CreatedAt: base}
		tok, hash = newToken(dup, gatehouse.PurposeVerifyEmail, dup.Email)
		err := ms.IssueEmailToken(ctx, dup, tok, newMail(dup.Email, base))
		wantErr(t, "IssueEmailToken with a taken email", err, gatehouse.ErrEmailTaken)
		_, err = st.UserByID(ctx, dup.ID)
		wantErr(t, "UserByID of the refused user", err, gatehouse.ErrNotFound)
		_, err = ms.VerifyEmail(ctx, hash, now)
		wantErr(t, "VerifyEmail of the refused registration", err, gatehouse.ErrEmailTokenInvalid)
		if n, _, err := ms.Outbox(ctx); n != 1 || err != nil {
			t.Errorf("Outbox after the refused registration = %d, %v; want 1", n, err)
		}
	})

	t.Run("SetUserEmail", func(t *testing.T) {
		t.Parallel()
		st, ms := openMail(t, open)
		u := &gatehouse.User{ID: gatehouse.NewID(), Email: "e\u0301@example.com", EmailVerified: true, PasswordHash: "h", CreatedAt: base}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		other := mustCreateUserWithEmail(t, st, "ü@example.com")
		ascii := mustCreateUser(t, st, "ascii")
		mustCreateUserWithEmail(t, st, "\x7f@example.com") // the highest ASCII byte

		got, err := ms.UsersWithNonASCIIEmail(ctx)
		if err != nil {
			t.Fatalf("UsersWithNonASCIIEmail: %v", err)
		}
		var gotIDs []string
		for _, g := range got {
			gotIDs = append(gotIDs, g.ID)
			if g.ID == u.ID && (g.Email != u.Email || !g.EmailVerified || g.PasswordHash != "h") {
				t.Errorf("UsersWithNonASCIIEmail returned %+v, want %+v", g, u)
			}
		}
		if !sameSet(gotIDs, []string{u.ID, other.ID}) {
			t.Errorf("UsersWithNonASCIIEmail = %v, want %s and %s", gotIDs, u.ID, other.ID)
		}

		if err := ms.SetUserEmail(ctx, u.ID, "\u00e9@example.com", now); err != nil {
			t.Fatalf("SetUserEmail: %v", err)
		}
		if g := mustUser(t, st, u.ID); g.Email != "\u00e9@example.com" || !g.EmailVerified {
			t.Errorf("after SetUserEmail: %+v, want the new email, still verified", g)
		}
		if got := userEntries(t, st); !slices.Equal(got, []string{u.ID}) {
			t.Errorf("user entries = %v, want [%s]", got, u.ID)
		}
		wantErr(t, "SetUserEmail to a taken email", ms.SetUserEmail(ctx, ascii.ID, other.Email, now), gatehouse.ErrEmailTaken)
		if g := mustUser(t, st, ascii.ID); g.Email != ascii.Email {
			t.Errorf("a refused SetUserEmail changed the email to %q", g.Email)
		}
		wantErr(t, "SetUserEmail of no user", ms.SetUserEmail(ctx, gatehouse.NewID(), "x@example.com", now), gatehouse.ErrNotFound)
		if got := userEntries(t, st); len(got) != 1 {
			t.Errorf("refused SetUserEmail calls appended to the feed: %v", got)
		}
	})
}

// mustCreateUserWithEmail stores a new user with the given email.
func mustCreateUserWithEmail(tb testing.TB, st gatehouse.Store, email string) *gatehouse.User {
	tb.Helper()
	u := &gatehouse.User{ID: gatehouse.NewID(), Email: email, PasswordHash: "h", CreatedAt: base}
	if err := st.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("CreateUser(%q): %v", email, err)
	}
	return u
}

// nonEmpty drops the empty strings of ss.
func nonEmpty(ss []string) []string {
	return slices.DeleteFunc(slices.Clone(ss), func(s string) bool { return s == "" })
}
