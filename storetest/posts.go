package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func testPosts(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("RoundTripAndDelete", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "Author Name")
		p := &gatehouse.Post{
			ID: gatehouse.NewID(), AuthorID: u.ID, AuthorName: "ignored: joined on read",
			Title: "Hello", Body: "multi\nline ✓ body", CreatedAt: at(time.Microsecond),
		}
		if err := st.CreatePost(ctx, p); err != nil {
			t.Fatalf("CreatePost: %v", err)
		}
		got, err := st.Post(ctx, p.ID)
		if err != nil {
			t.Fatalf("Post: %v", err)
		}
		want := *p
		want.AuthorName = u.Name
		if got.ID != want.ID || got.AuthorID != want.AuthorID || got.AuthorName != want.AuthorName ||
			got.Title != want.Title || got.Body != want.Body {
			t.Errorf("Post = %+v, want %+v", got, want)
		}
		wantTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)

		dup := *p
		dup.Title = "other"
		wantErr(t, "CreatePost with a taken id", st.CreatePost(ctx, &dup), gatehouse.ErrConflict)

		if err := st.DeletePost(ctx, p.ID); err != nil {
			t.Fatalf("DeletePost: %v", err)
		}
		_, err = st.Post(ctx, p.ID)
		wantErr(t, "Post after DeletePost", err, gatehouse.ErrNotFound)
		wantErr(t, "DeletePost twice", st.DeletePost(ctx, p.ID), gatehouse.ErrNotFound)
		wantErr(t, "DeletePost(unknown)", st.DeletePost(ctx, gatehouse.NewID()), gatehouse.ErrNotFound)
		if list, err := st.ListPosts(ctx, nil, 10); err != nil || len(list) != 0 {
			t.Errorf("ListPosts after the delete = %v, %v; want none", list, err)
		}
	})

	t.Run("UnknownAuthor", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		p := &gatehouse.Post{ID: gatehouse.NewID(), AuthorID: gatehouse.NewID(), Title: "t", CreatedAt: base}
		if err := st.CreatePost(ctx, p); err == nil {
			t.Errorf("CreatePost by an author that does not exist succeeded")
		}
		if _, err := st.Post(ctx, p.ID); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("the refused post was stored: %v", err)
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		alice := mustCreateUser(t, st, "Alice")
		bob := mustCreateUser(t, st, "Bob")
		names := map[string]string{alice.ID: "Alice", bob.ID: "Bob"}

		// 23 posts on 4 distinct instants: pages must split runs of equal
		// created_at without repeating or skipping a post.
		var all []gatehouse.Post
		for i := range 23 {
			author := alice
			if i%3 == 0 {
				author = bob
			}
			p := gatehouse.Post{
				ID: gatehouse.NewID(), AuthorID: author.ID, Title: fmt.Sprintf("post %d", i),
				Body: "body", CreatedAt: at(time.Duration(i%4) * time.Second),
			}
			if err := st.CreatePost(ctx, &p); err != nil {
				t.Fatalf("CreatePost: %v", err)
			}
			all = append(all, p)
		}
		// Newest first, ties broken by id, descending.
		slices.SortFunc(all, func(a, b gatehouse.Post) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return cmp.Compare(b.ID, a.ID)
		})
		want := make([]string, len(all))
		byID := map[string]gatehouse.Post{}
		for i, p := range all {
			want[i] = p.ID
			byID[p.ID] = p
		}

		for _, size := range []int{1, 2, 5, 7, 22, 23, 24, 100} {
			t.Run(fmt.Sprintf("page size %d", size), func(t *testing.T) {
				var got []string
				var after *gatehouse.PostCursor
				for pages := 0; ; pages++ {
					if pages > len(all)+1 {
						t.Fatalf("pagination does not end")
					}
					page, err := st.ListPosts(ctx, after, size)
					if err != nil {
						t.Fatalf("ListPosts: %v", err)
					}
					if len(page) > size {
						t.Fatalf("ListPosts(limit %d) returned %d posts", size, len(page))
					}
					for _, p := range page {
						got = append(got, p.ID)
						if p.AuthorName != names[p.AuthorID] {
							t.Errorf("post %s: AuthorName %q, want %q", p.ID, p.AuthorName, names[p.AuthorID])
						}
						wantTime(t, "CreatedAt", p.CreatedAt, byID[p.ID].CreatedAt)
					}
					if len(page) < size {
						break
					}
					last := page[len(page)-1]
					after = &gatehouse.PostCursor{CreatedAt: last.CreatedAt, ID: last.ID}
				}
				if !slices.Equal(got, want) {
					t.Errorf("pages joined = %v,\nwant %v", got, want)
				}
			})
		}

		// The cursor is exclusive: after post k comes post k+1.
		for _, k := range []int{0, 4, 5, 21} {
			cur := &gatehouse.PostCursor{CreatedAt: all[k].CreatedAt, ID: all[k].ID}
			page, err := st.ListPosts(ctx, cur, 2)
			if err != nil || len(page) == 0 || page[0].ID != all[k+1].ID {
				t.Errorf("ListPosts after post %d = %v, %v; want it to start at post %d", k, page, err, k+1)
			}
		}
		page, err := st.ListPosts(ctx, &gatehouse.PostCursor{CreatedAt: all[22].CreatedAt, ID: all[22].ID}, 5)
		if err != nil || len(page) != 0 {
			t.Errorf("ListPosts after the oldest post = %v, %v; want none", page, err)
		}
	})
}
