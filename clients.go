package gatehouse

import (
	"context"
	"time"
)

// Service clients (CONTRACT §10): other services that authenticate as
// themselves with the OAuth client_credentials grant (RFC 6749 §4.4) to
// introspect tokens or follow the revocation feed.

// Scopes a service client may hold.
const (
	ScopeIntrospect  = "introspect"  // POST /api/auth/introspect
	ScopeRevocations = "revocations" // GET /api/auth/revocations
)

// ServiceClient is a registered service. Only a hash of its secret is
// stored: the secret is 256 random bits, shown once at creation, so a
// plain SHA-256 resists search and a database dump yields no credential
// (OWASP ASVS 5.0 V13.3).
type ServiceClient struct {
	ID         string // client_id
	Name       string
	SecretHash []byte // SHA-256 of the secret
	Scopes     []string
	CreatedAt  time.Time
}

// ClientStore is the persistence of service clients.
type ClientStore interface {
	// CreateClient stores a new client; ErrConflict if the id exists.
	CreateClient(ctx context.Context, c *ServiceClient) error
	// Client returns a client, or ErrNotFound.
	Client(ctx context.Context, id string) (*ServiceClient, error)
	// Clients lists every client, oldest first.
	Clients(ctx context.Context) ([]ServiceClient, error)
	// DeleteClient deletes a client; ErrNotFound if there is none.
	DeleteClient(ctx context.Context, id string) error
}
