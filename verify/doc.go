// Package verify lets a Go service trust Gatehouse's access tokens: it is
// the resource-server half of CONTRACT §3, §6 and §10, as net/http middleware.
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
// A remote verifier sees only the token, so without more a session ended
// at Gatehouse (logout, password change, reuse detection) keeps its access
// tokens accepted here until they expire, bounded by Gatehouse's
// --access-ttl (RFC 9700 §4.14, RFC 9068 §4). That is what [New] does
// without [Config.ClientID] and [Config.ClientSecret]. A service that
// embeds Gatehouse (library mode, see package server) can use [Local]
// instead, which asks Gatehouse's own Service.
//
// Given the credentials of a service client with scope revocations
// (gatehouse clients create --scope revocations), [New] also starts a
// follower of Gatehouse's revocation feed, and Verify refuses the tokens of
// a revoked session with 401 session_revoked about one round trip after
// the revocation. The follower, a goroutine of its own, runs until
// [Verifier.Close] (New's ctx bounds only New's own fetches):
//
//   - It gets a client token with the client-credentials grant (RFC 6749
//     §4.4, credentials in HTTP Basic, §2.3.1) and renews it at three
//     quarters of its life, and at once after a 401 from the feed.
//   - It reads GET /api/auth/revocations?after=SEQ from SEQ 0, page after
//     page, until a page comes back empty: it is then caught up, "live".
//     Afterwards it long-polls (wait = FeedStaleAfter/2, at most 25 s,
//     whole seconds): Gatehouse answers as soon as a revocation is made.
//   - It keeps each revoked sid until the entry's time plus
//     [Config.MaxTokenLifetime] (1 h by default; it must be at least
//     Gatehouse's --access-ttl): by then every token of the session has
//     expired. Expired sids are pruned once a minute. The set is checked
//     on every Verify after the signature and claims, cached or not, so the
//     verified-token cache never serves a revoked session's token.
//   - Errors are retried with a backoff from 100 ms doubling to 5 s.
//
// It fails closed. Before it has caught up, and whenever no feed answer
// has come for longer than [Config.FeedStaleAfter] (10 s by default),
// Verify refuses every token with 503 unavailable (and Retry-After): a
// revocation the follower cannot see would otherwise go unenforced for up
// to the access-token lifetime. FeedStaleAfter is therefore the bound on
// how long a revocation may go unseen; the long poll is kept at half of
// it so that a healthy feed always answers in time. When answers come
// again the follower catches up by seq and nothing else is needed. A
// service should therefore report itself ready only once
// [Verifier.FeedReady] is true ([Verifier.FeedHealth] is a probe handler
// for that), and may watch [Verifier.FeedStatus] or the Prometheus
// metrics of [Verifier.FeedCollector].
//
// When Gatehouse answers 410 feed_gap, the entries the follower asked for
// were pruned (or the feed starts below them, after a database restore):
// it may have missed revocations. The answer says that every revocation
// made at or after its since is still held, from first_seq on. The
// follower re-reads from there (and refuses every token until it has
// caught up again), and from then on refuses with 401 token_expired every
// token issued before since plus 1 s (a margin for clock skew between
// Gatehouse instances). That is enough: a session revoked before since
// was revoked before any token issued at or after since, so such a
// token's session, if revoked, was revoked at or after since, which the
// follower sees. The refused clients refresh; a revoked session's refresh
// fails, a live one's gets a token issued after since.
//
// A service client's own token (client credentials) has no sid: it is not
// a user's token, and Verify refuses it with token_invalid, as Gatehouse's
// user routes do.
//
// # Errors
//
// Refusals are the same RFC 9457 problems as Gatehouse's own protected
// routes: 401 with code token_missing, token_invalid, token_expired or
// (with [Local] or the feed) session_revoked, 503 unavailable (see
// Revocation), Content-Type application/problem+json,
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
