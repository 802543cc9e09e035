// Package client lets a Go program (a CLI, a worker) call APIs protected
// by Gatehouse and stay logged in.
//
// A [Session] logs in with a password through Gatehouse's JSON API, keeps
// the token pair in a [TokenStore] (memory, or a 0600 file so a CLI stays
// logged in across runs), and refreshes the access token shortly before it
// expires: 30 s before, or a tenth of its lifetime when that is shorter.
// Concurrent callers share one refresh (single flight), and every rotated
// refresh token is saved before it is used, since Gatehouse retires the
// old one (RFC 9700 §4.14.2: a retired token presented after the reuse
// grace ends the session).
//
// A [Transport] is an [http.RoundTripper] that adds "Authorization:
// Bearer" to each request, in the spirit of golang.org/x/oauth2's. When
// the API answers 401 token_expired anyway (a clock skew, a token that
// expired in flight), it refreshes once and replays the request, but only
// when the body can be sent again (no body, or req.GetBody set, as
// http.NewRequest does for bytes and strings readers).
//
// # Failures
//
// A refresh that Gatehouse refuses with 401 (refresh_token_invalid,
// refresh_token_expired, refresh_token_reused, session_revoked) means the
// session is over: the stored tokens are cleared and a [*SessionError]
// is returned, for which errors.Is(err, [ErrLoggedOut]) reports true. Any
// other failure, above all a network error or a 5xx, is not a logout: the
// tokens are kept and the error is returned, so the next call tries again.
// Problems from Gatehouse are [*Error] values whose codes map back to the
// root package's sentinels: errors.Is(err, gatehouse.ErrInvalidCredentials)
// works across the wire.
//
// [Session.OAuth2] adapts a Session to golang.org/x/oauth2's TokenSource.
//
// # Operators
//
// A Session logged in as an administrator calls the admin API:
// [Session.ListUsers], [Session.User], [Session.UpdateUser],
// [Session.DeleteUser], [Session.UserSessions], [Session.LogoutUser],
// [Session.ResetUserFactors] and [Session.Events]; any user reads their own
// audit events with [Session.MyEvents].
package client
