package gatehouse

import (
	"fmt"
	"strings"
)

// BearerToken extracts the token of an "Authorization: Bearer" header from
// the request's Authorization values (RFC 6750 §2.1; the scheme is
// case-insensitive, RFC 9110 §11.1). No header, or an empty token, is
// ErrTokenMissing; several headers or another scheme is ErrTokenInvalid.
// Gatehouse and the verify middleware share it, so both refuse alike.
func BearerToken(authorization []string) (string, error) {
	if len(authorization) == 0 {
		return "", ErrTokenMissing
	}
	if len(authorization) > 1 {
		return "", fmt.Errorf("%w: several Authorization headers", ErrTokenInvalid)
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: not a Bearer authorization", ErrTokenInvalid)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", ErrTokenMissing
	}
	return token, nil
}
