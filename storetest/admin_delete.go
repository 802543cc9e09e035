package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// testDeleteUser: DeleteUser revokes the user's live sessions into the
// feed, then removes the user and everything of theirs, and nothing of
// anyone else's; their audit events stay.
func testDeleteUser(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	t.Parallel()
	ctx := context.Background()
	st := open(t)
	u := mustCreateUser(t, st, "doomed")
	other := mustCreateUser(t, st, "other")

	// Everything a user can own, for both users.
	type owned struct {
		live          []string
		ended         string
		mfa           *gatehouse.MFAChallenge
		webauthn      *gatehouse.WebAuthnChallenge
		verifyHash    []byte
		post          string
		credentialID  []byte
		rotatedSessID string
	}
	own := func(u *gatehouse.User) owned {
		var o owned
		s1 := mustCreateSession(t, st, newSession(u.ID, base))
		s2 := mustCreateSession(t, st, newSession(u.ID, base))
		if ok, err := Rotated(st.RotateSession(ctx, s1.ID, 1, at(time.Minute), at(time.Hour))); !ok || err != nil {
			t.Fatalf("RotateSession = %v, %v", ok, err)
		}
		o.live, o.rotatedSessID = []string{s1.ID, s2.ID}, s1.ID
		ended := mustCreateSession(t, st, newSession(u.ID, base))
		if _, err := st.RevokeSession(ctx, ended.ID, gatehouse.ReasonLogout, base); err != nil {
			t.Fatal(err)
		}
		o.ended = ended.ID
		mustEnrol(t, st, u.ID, 1, "code-"+u.ID)
		o.credentialID = mustCreatePasskey(t, st, newPasskey(u.ID, base)).CredentialID
		o.mfa = mustCreateChallenge(t, st, u.ID)
		o.webauthn = mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyRegister, u.ID)
		o.verifyHash = mustIssue(t, st, u, gatehouse.PurposeVerifyEmail)
		p := &gatehouse.Post{ID: gatehouse.NewID(), AuthorID: u.ID, Title: "t", Body: "b", CreatedAt: base}
		if err := st.CreatePost(ctx, p); err != nil {
			t.Fatal(err)
		}
		o.post = p.ID
		if err := st.AppendEvents(ctx, newEvent(gatehouse.EventLoginSucceeded, u.ID, base)); err != nil {
			t.Fatal(err)
		}
		return o
	}
	mine, theirs := own(u), own(other)
	feedLen := len(feed(t, st))

	now := at(2 * time.Minute)
	revoked, err := st.DeleteUser(ctx, u.ID, now)
	if err != nil || !sameSet(revoked, mine.live) {
		t.Fatalf("DeleteUser = %v, %v; want %v", revoked, err, mine.live)
	}
	var sessions, users []string
	for _, r := range feed(t, st)[feedLen:] {
		if r.SessionID != "" {
			sessions = append(sessions, r.SessionID)
		} else {
			users = append(users, r.UserID)
		}
		wantTime(t, "feed entry At", r.At, now)
	}
	if !sameSet(sessions, mine.live) || !slices.Equal(users, []string{u.ID}) {
		t.Errorf("the feed after DeleteUser: sessions %v, users %v; want %v and the user", sessions, users, mine.live)
	}

	_, err = st.UserByID(ctx, u.ID)
	wantErr(t, "UserByID", err, gatehouse.ErrNotFound)
	_, err = st.UserByEmail(ctx, u.Email)
	wantErr(t, "UserByEmail", err, gatehouse.ErrNotFound)
	for _, id := range append(slices.Clone(mine.live), mine.ended) {
		_, err := st.Session(ctx, id)
		wantErr(t, "Session of a deleted user", err, gatehouse.ErrNotFound)
	}
	_, err = st.RetiredAt(ctx, mine.rotatedSessID, 1)
	wantErr(t, "RetiredAt of a deleted user's session", err, gatehouse.ErrNotFound)
	_, err = st.TOTP(ctx, u.ID)
	wantErr(t, "TOTP", err, gatehouse.ErrNotFound)
	if n := codesLeft(t, st, u.ID); n != 0 {
		t.Errorf("%d recovery codes left", n)
	}
	_, err = st.PasskeyByCredentialID(ctx, mine.credentialID)
	wantErr(t, "PasskeyByCredentialID", err, gatehouse.ErrNotFound)
	challengeGone(t, st, "MFAChallenge", mine.mfa.Hash, at(time.Minute))
	webauthnGone(t, st, "ConsumeWebAuthnChallenge", mine.webauthn.ID, at(time.Minute))
	_, err = st.VerifyEmail(ctx, mine.verifyHash, at(time.Minute))
	wantErr(t, "VerifyEmail", err, gatehouse.ErrEmailTokenInvalid)
	_, err = st.Post(ctx, mine.post)
	wantErr(t, "Post", err, gatehouse.ErrNotFound)
	if evs := allEvents(t, st, gatehouse.EventFilter{UserID: u.ID}); len(evs) != 1 {
		t.Errorf("the deleted user's events = %v, want the one kept", eventIDs(evs))
	}

	// The other user keeps everything.
	mustUser(t, st, other.ID)
	for _, id := range theirs.live {
		if mustSession(t, st, id).Revoked() {
			t.Errorf("DeleteUser revoked another user's session %s", id)
		}
	}
	if _, err := st.RetiredAt(ctx, theirs.rotatedSessID, 1); err != nil {
		t.Errorf("RetiredAt of another user's session: %v", err)
	}
	if _, err := st.TOTP(ctx, other.ID); err != nil || codesLeft(t, st, other.ID) != 1 {
		t.Errorf("another user's factors: %v", err)
	}
	mustPasskey(t, st, theirs.credentialID)
	if _, err := st.MFAChallenge(ctx, theirs.mfa.Hash, at(time.Minute)); err != nil {
		t.Errorf("another user's MFA challenge: %v", err)
	}
	if _, err := st.ConsumeWebAuthnChallenge(ctx, theirs.webauthn.ID, at(time.Minute)); err != nil {
		t.Errorf("another user's WebAuthn challenge: %v", err)
	}
	if _, err := st.VerifyEmail(ctx, theirs.verifyHash, at(time.Minute)); err != nil {
		t.Errorf("another user's email token: %v", err)
	}
	if _, err := st.Post(ctx, theirs.post); err != nil {
		t.Errorf("another user's post: %v", err)
	}

	_, err = st.DeleteUser(ctx, u.ID, now)
	wantErr(t, "DeleteUser again", err, gatehouse.ErrNotFound)
}
