package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newClient returns a service client created at created, with a random
// secret hash and both scopes.
func newClient(created time.Time) *gatehouse.ServiceClient {
	return &gatehouse.ServiceClient{
		ID:         gatehouse.NewID(),
		Name:       "billing",
		SecretHash: gatehouse.RandomBytes(32),
		Scopes:     []string{gatehouse.ScopeIntrospect, gatehouse.ScopeRevocations},
		CreatedAt:  created,
	}
}

// mustCreateClient stores c and returns it.
func mustCreateClient(tb testing.TB, st gatehouse.Store, c *gatehouse.ServiceClient) *gatehouse.ServiceClient {
	tb.Helper()
	if err := st.CreateClient(context.Background(), c); err != nil {
		tb.Fatalf("CreateClient: %v", err)
	}
	return c
}

// mustClient loads a client.
func mustClient(tb testing.TB, st gatehouse.Store, id string) *gatehouse.ServiceClient {
	tb.Helper()
	c, err := st.Client(context.Background(), id)
	if err != nil {
		tb.Fatalf("Client(%s): %v", id, err)
	}
	return c
}

// clientIDs returns the ids of every client, in the store's order.
func clientIDs(tb testing.TB, st gatehouse.Store) []string {
	tb.Helper()
	cs, err := st.Clients(context.Background())
	if err != nil {
		tb.Fatalf("Clients: %v", err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// wantClient compares every field of two clients; the hash must come back
// byte for byte, and no scopes must read as nil.
func wantClient(tb testing.TB, got, want *gatehouse.ServiceClient) {
	tb.Helper()
	if got.ID != want.ID || got.Name != want.Name {
		tb.Errorf("client = %+v,\nwant %+v", got, want)
	}
	if !slices.Equal(got.SecretHash, want.SecretHash) {
		tb.Errorf("client %s: SecretHash = %x, want %x", want.ID, got.SecretHash, want.SecretHash)
	}
	if !slices.Equal(got.Scopes, want.Scopes) || (len(want.Scopes) == 0 && got.Scopes != nil) {
		tb.Errorf("client %s: Scopes = %#v, want %#v", want.ID, got.Scopes, want.Scopes)
	}
	wantTime(tb, "CreatedAt", got.CreatedAt, want.CreatedAt)
}

func testClients(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		full := newClient(base)
		full.Name = "Facturation «interne»"
		full.SecretHash = append([]byte{0x00, 0xff}, full.SecretHash[2:]...) // a leading NUL byte stays
		mustCreateClient(t, st, full)
		wantClient(t, mustClient(t, st, full.ID), full)

		// No scopes reads as nil, and one scope as itself.
		bare := newClient(at(time.Second))
		bare.Scopes = nil
		mustCreateClient(t, st, bare)
		got := mustClient(t, st, bare.ID)
		wantClient(t, got, bare)
		if got.Scopes != nil {
			t.Errorf("a client without scopes reads Scopes %#v, want nil", got.Scopes)
		}
		one := newClient(at(2 * time.Second))
		one.Scopes = []string{gatehouse.ScopeRevocations}
		mustCreateClient(t, st, one)
		wantClient(t, mustClient(t, st, one.ID), one)

		// Clients returns the same fields as Client.
		all, err := st.Clients(ctx)
		if err != nil || len(all) != 3 {
			t.Fatalf("Clients = %v, %v; want 3", all, err)
		}
		for i, want := range []*gatehouse.ServiceClient{full, bare, one} {
			wantClient(t, &all[i], want)
		}
	})

	t.Run("DuplicateID", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		c := mustCreateClient(t, st, newClient(base))
		dup := newClient(at(time.Minute))
		dup.ID, dup.Name = c.ID, "impostor"
		wantErr(t, "CreateClient of a taken id", st.CreateClient(ctx, dup), gatehouse.ErrConflict)
		wantClient(t, mustClient(t, st, c.ID), c)
		if got := clientIDs(t, st); !slices.Equal(got, []string{c.ID}) {
			t.Errorf("Clients = %v, want [%s] alone", got, c.ID)
		}
	})

	t.Run("ListOrder", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		if got := clientIDs(t, st); len(got) != 0 {
			t.Errorf("Clients of an empty store = %v", got)
		}
		// Created out of order: the list is by CreatedAt, not insertion.
		late := mustCreateClient(t, st, newClient(at(2*time.Hour)))
		early := mustCreateClient(t, st, newClient(at(-time.Hour)))
		mid := mustCreateClient(t, st, newClient(base))
		if got, want := clientIDs(t, st), []string{early.ID, mid.ID, late.ID}; !slices.Equal(got, want) {
			t.Errorf("Clients = %v, want %v (oldest first)", got, want)
		}
	})

	t.Run("UnknownAndDelete", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		_, err := st.Client(ctx, gatehouse.NewID())
		wantErr(t, "Client of an unknown id", err, gatehouse.ErrNotFound)
		wantErr(t, "DeleteClient of an unknown id", st.DeleteClient(ctx, gatehouse.NewID()), gatehouse.ErrNotFound)

		c := mustCreateClient(t, st, newClient(base))
		other := mustCreateClient(t, st, newClient(at(time.Second)))
		// A NUL character (PostgreSQL text cannot hold one) finds nothing.
		_, err = st.Client(ctx, c.ID+"\x00")
		wantErr(t, "Client of a NUL id", err, gatehouse.ErrNotFound)
		wantErr(t, "DeleteClient of a NUL id", st.DeleteClient(ctx, c.ID+"\x00"), gatehouse.ErrNotFound)

		if err := st.DeleteClient(ctx, c.ID); err != nil {
			t.Fatalf("DeleteClient: %v", err)
		}
		_, err = st.Client(ctx, c.ID)
		wantErr(t, "Client after DeleteClient", err, gatehouse.ErrNotFound)
		wantErr(t, "second DeleteClient", st.DeleteClient(ctx, c.ID), gatehouse.ErrNotFound)
		if got := clientIDs(t, st); !slices.Equal(got, []string{other.ID}) {
			t.Errorf("Clients after deleting one = %v, want [%s]", got, other.ID)
		}
		wantClient(t, mustClient(t, st, other.ID), other)
	})
}
