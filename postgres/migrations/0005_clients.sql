-- 0005_clients: service clients (CONTRACT §10). Other services that
-- authenticate as themselves with the client_credentials grant (RFC 6749
-- §4.4) to introspect tokens or follow the revocation feed.

-- A service client. Only secret_hash, the SHA-256 of the secret, is kept:
-- the secret is 256 random bits, shown once at creation, so a plain hash
-- resists search, and a copy of the database yields no credential that
-- would let its holder act as the service (OWASP ASVS 5.0 V13.3). scopes
-- is a space-separated list, as in the SQLite schema (scope tokens hold no
-- space: RFC 6749 §3.3). Clients are few and listed whole, oldest first:
-- no index beyond the key.
CREATE TABLE service_clients (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    name        text        NOT NULL,
    secret_hash bytea       NOT NULL,
    scopes      text        NOT NULL,
    created_at  timestamptz NOT NULL
);
