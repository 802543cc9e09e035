package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// testNUL pins what a key holding a NUL character does. Such keys come
// from clients (an email typed at login, a cursor), SQLite text can hold
// NUL and PostgreSQL text cannot; both stores must answer alike: nothing
// is found, nothing fails, and attempt counters keyed by them count.
func testNUL(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("Lookups", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		s := mustCreateSession(t, st, newSession(u.ID, base))
		nul := u.ID + "\x00"
		_, err := st.UserByID(ctx, nul)
		wantErr(t, "UserByID", err, gatehouse.ErrNotFound)
		_, err = st.UserByEmail(ctx, u.Email+"\x00")
		wantErr(t, "UserByEmail", err, gatehouse.ErrNotFound)
		wantErr(t, "SetPasswordHash", st.SetPasswordHash(ctx, nul, "h"), gatehouse.ErrNotFound)
		_, err = st.ChangePassword(ctx, nul, "h", "", base)
		wantErr(t, "ChangePassword", err, gatehouse.ErrNotFound)
		_, err = st.Session(ctx, s.ID+"\x00")
		wantErr(t, "Session", err, gatehouse.ErrNotFound)
		_, err = st.RetiredAt(ctx, s.ID+"\x00", 1)
		wantErr(t, "RetiredAt", err, gatehouse.ErrNotFound)
		ok, err := Rotated(st.RotateSession(ctx, s.ID+"\x00", 1, base, at(time.Hour)))
		wantErr(t, "RotateSession", err, gatehouse.ErrNotFound)
		if ok {
			t.Error("RotateSession of a NUL id rotated")
		}
		_, err = st.RevokeSession(ctx, s.ID+"\x00", gatehouse.ReasonLogout, base)
		wantErr(t, "RevokeSession", err, gatehouse.ErrNotFound)
		if live, err := st.LiveSessions(ctx, nul, base); err != nil || len(live) != 0 {
			t.Errorf("LiveSessions = %v, %v; want none", live, err)
		}
		if ids, err := st.RevokeUserSessions(ctx, nul, "", gatehouse.ReasonAdmin, base); err != nil || len(ids) != 0 {
			t.Errorf("RevokeUserSessions of a NUL user = %v, %v; want none", ids, err)
		}
		_, err = st.Post(ctx, nul)
		wantErr(t, "Post", err, gatehouse.ErrNotFound)
		wantErr(t, "DeletePost", st.DeletePost(ctx, nul), gatehouse.ErrNotFound)
		if mustSession(t, st, s.ID).Revoked() {
			t.Fatal("a call with a NUL id revoked the real session")
		}
		// An exception no session matches excepts none.
		ids, err := st.RevokeUserSessions(ctx, u.ID, s.ID+"\x00", gatehouse.ReasonAdmin, at(time.Minute))
		if err != nil || len(ids) != 1 || ids[0] != s.ID {
			t.Errorf("RevokeUserSessions except a NUL id = %v, %v; want [%s]", ids, err, s.ID)
		}
	})

	t.Run("AttemptKeys", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		for _, key := range []string{"login|\x00|ip", "login|\x00|ip", "login|"} {
			if _, _, err := st.AddAttempt(ctx, key, base, time.Hour); err != nil {
				t.Fatalf("AddAttempt(%q): %v", key, err)
			}
		}
		if n, _, err := st.Attempts(ctx, "login|\x00|ip", base); n != 2 || err != nil {
			t.Errorf("Attempts of a NUL key = %d, %v; want 2", n, err)
		}
		if n, _, _ := st.Attempts(ctx, "login|", base); n != 1 {
			t.Errorf("the key before the NUL counted %d, want 1 (keys are whole)", n)
		}
		if err := st.ClearAttempts(ctx, "login|\x00|ip"); err != nil {
			t.Fatal(err)
		}
		if n, _, _ := st.Attempts(ctx, "login|\x00|ip", base); n != 0 {
			t.Errorf("a cleared NUL key counts %d", n)
		}
	})

	t.Run("Cursor", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		var ps []gatehouse.Post
		for i := range 3 {
			p := gatehouse.Post{ID: gatehouse.NewID(), AuthorID: u.ID, Title: "t", CreatedAt: at(time.Duration(-i) * time.Second)}
			if err := st.CreatePost(ctx, &p); err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		// p.ID sorts before p.ID+"\x00" (a prefix sorts first): the page
		// after that cursor starts with p itself.
		page, err := st.ListPosts(ctx, &gatehouse.PostCursor{CreatedAt: ps[1].CreatedAt, ID: ps[1].ID + "\x00"}, 10)
		if err != nil || len(page) != 2 || page[0].ID != ps[1].ID || page[1].ID != ps[2].ID {
			t.Errorf("ListPosts after a NUL cursor = %v, %v; want posts 1 and 2", page, err)
		}
	})
}
