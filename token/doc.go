// Package token issues and verifies Gatehouse's access tokens: JWTs in
// the RFC 9068 profile, signed with EdDSA (the default), ES256, RS256 or,
// when configured with a shared secret, HS256.
//
// # Keys
//
// Signing keys live in the database. [GenerateKey] names each key by its
// RFC 7638 JWK thumbprint and seals the PKCS#8 private half with a
// [Sealer] (AES-256-GCM under a key derived from --key-secret by HKDF,
// RFC 5869), binding it to its kid, so that a database dump can neither
// mint tokens nor move a sealed key to another kid (CONTRACT §3).
// [NewKeySet] turns the stored rows into an immutable ring: the newest
// unretired key signs, and retired keys verify until the last token they
// signed has expired. [KeySet.JWKS] publishes the public halves as an
// RFC 7517 JWK Set with alg and use on every key; HMAC secrets and private
// members never appear. [ParseJWKS] reads such a set strictly, for a
// resource server that fetches keys remotely.
//
// # Verification
//
// Each [Key] is bound to exactly one algorithm (RFC 8725 §3.1): the kid in
// the header selects a key from a configured [KeyLookup], never from the
// token (jku, jwk, x5u and x5c are refused, RFC 8725 §3.10), and the
// header alg must equal that key's alg, exactly. So the allowlist is per
// key, which lets a ring hold an old EdDSA key and a new ES256 key during
// an algorithm change, and "none", case variants of it, and HS256 signed
// with a public key all fail. The signature arithmetic is golang-jwt/jwt
// v5's (its SigningMethod Verify and Sign); everything golang-jwt lets
// through (SECURITY.md §10) is checked here, before or after it:
//
//   - length (8 KiB), exactly three non-empty segments, only the base64url
//     alphabet (RFC 8725bis §3.14), canonical unpadded base64url
//     (RFC 7515 §2; what golang-jwt's WithStrictDecoding does);
//   - a header of exactly alg, typ and kid, each a string, none repeated,
//     typ at+jwt or application/at+jwt in any case (RFC 9068 §2.1, §4;
//     RFC 8725 §3.11); crit and every other member are refused;
//   - claims read by a strict JSON reader: exact, case-sensitive names,
//     no duplicates, valid UTF-8 with no lone surrogates (RFC 8725 §3.7),
//     each claim of its JSON type, and iss, sub, aud, exp, iat, nbf, jti
//     and sid all required (CONTRACT §3); names that differ from a
//     registered claim only in case are refused, because encoding/json
//     would fold them onto the real one;
//   - iss exactly the configured issuer, aud containing the configured
//     audience, nbf and iat not in the future and exp not past, with a
//     leeway of at most 5 s (RFC 9068 §4).
//
// The signature is checked before the claims are read, and "expired"
// ([gatehouse.ErrTokenExpired]) is reported only for a token that passed
// every other check; anything else is [gatehouse.ErrTokenInvalid] with a
// short reason that never quotes the token.
//
// # Cache
//
// A [Verifier] keeps a bounded, sharded cache from the exact token string
// to its verified claims, so that a client calling the API repeatedly
// with one token pays for the signature once. A hit still refuses a token
// whose exp (plus leeway) has passed, or whose key has left the ring, and
// hands out a copy of the claims.
//
// [Tokens] joins the two halves over a ring that [Tokens.SetKeys] swaps
// atomically after a rotation; [Verifier] alone serves a resource server
// whose keys come from elsewhere.
package token
