// Package verify lets a Go service trust Gatehouse's access tokens: it is
// the resource-server half of CONTRACT §3 and §6, as net/http middleware.
//
//	v, err := verify.New(ctx, verify.Config{Issuer: "https://auth.example.com", Audience: "gatehouse"})
//	...
//	mux.Handle("GET /api/hello", v.Middleware(hello))
//	// in hello: claims := verify.ClaimsFromContext(r.Context())
//
// [New] reads the issuer's RFC 8414 metadata, insists that its issuer is
// exactly the configured one (RFC 8414 §3.3), and fetches the JWK Set its
// jwks_uri names. Tokens are then verified locally by the [token] package,
// exactly as Gatehouse verifies them: each key bound to the one algorithm
// it is published with (RFC 8725 §3.1), typ at+jwt, the configured iss and
// aud, exp and nbf with at most 5 s of leeway (RFC 9068 §4), and a header
// of alg, typ and kid only. Nothing a token names is ever fetched: jku,
// jwk, x5u and x5c are refused, never followed (RFC 8725 §3.10); a kid
// only selects among keys this package fetched itself from the issuer.
//
// # Key rotation
//
// A token whose kid is not in the fetched set makes the verifier fetch the
// JWK Set again, at most once per [Config.RefetchInterval] (10 s by
// default) and one fetch at a time, so a flood of tokens with forged kids
// costs Gatehouse one request per interval, not one per token. While that
// budget is spent, tokens with an unknown kid are refused with 401 token_invalid.
// Gatehouse publishes a new key in its JWKS the moment it starts signing
// with it, so after a rotation the first token of the new key triggers the
// refetch. The bound: if forged kids spent the budget just before a real
// rotation, tokens of the new key are refused for at most one interval.
//
// # Cache
//
// Verified tokens are cached by their exact bytes (the [token] package's
// bounded cache), so a client repeating a token skips the signature check;
// an entry is dropped at exp (plus leeway), and when its key leaves the
// fetched set.
//
// # Revocation
//
// A remote verifier sees only the token, so a session ended at Gatehouse
// (logout, password change, reuse detection) keeps its access tokens
// accepted here until they expire: the bound is Gatehouse's --access-ttl
// (15 min by default). Keep that short when it matters (RFC 9700 §4.14,
// RFC 9068 §4). A service that embeds Gatehouse (library mode, see
// package server) should use [Local] instead: it asks Gatehouse's own
// Service, which refuses a revoked session's tokens within a second.
//
// A subscription for remote verifiers is designed but not built, since it
// needs an endpoint Gatehouse does not serve yet: GET
// /api/auth/revocations?after=SEQ, answering the store's ordered feed
// (gatehouse.Revocation: seq and sid) from SEQ on, held open until there
// is news or 25 s pass. The verifier would start from the current SEQ,
// keep each revoked sid until the longest access-token lifetime has passed
// (then its tokens are expired anyway), refuse tokens of those sids with
// session_revoked, and evict them from the cache. Its bound would be one
// feed round trip plus Gatehouse's own poll (250 ms); while the feed is
// unreachable the bound falls back to the access-token TTL, and the
// verifier would have to choose between failing open (that bound) or
// closed (refusing every token), a choice to leave to the operator.
//
// # Errors
//
// Refusals are the same RFC 9457 problems as Gatehouse's own protected
// routes: 401 with code token_missing, token_invalid, token_expired (or,
// with [Local], session_revoked), Content-Type application/problem+json,
// and WWW-Authenticate: Bearer with error="invalid_token" when a token
// was sent (RFC 6750 §3.1).
//
// # Library mode
//
// The issue asks for gatehouse.New(config) returning an http.Handler: the
// root package gatehouse cannot import the HTTP API without an import
// cycle, so that entry point is [github.com/gatehouse/gatehouse/server.New],
// whose *Server is an http.Handler; see its example.
package verify
