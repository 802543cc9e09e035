package client

import (
	"context"

	"golang.org/x/oauth2"
)

// OAuth2 returns the session as an [oauth2.TokenSource], for code written
// against golang.org/x/oauth2 (oauth2.NewClient and the many SDKs that
// take a TokenSource). Its tokens carry the access token, type Bearer and
// expiry, never the refresh token, which stays with the Session.
//
// oauth2.TokenSource's Token method takes no context (x/oauth2 issue
// #262), so the adapter keeps ctx for the refreshes it triggers: pass one
// that lives as long as the adapter is used.
func (s *Session) OAuth2(ctx context.Context) oauth2.TokenSource {
	return oauth2Source{ctx: ctx, s: s}
}

type oauth2Source struct {
	ctx context.Context // see Session.OAuth2: the interface leaves no other place for it
	s   *Session
}

func (o oauth2Source) Token() (*oauth2.Token, error) {
	t, err := o.s.Token(o.ctx)
	if err != nil {
		return nil, err
	}
	// Expiry is when the Session wants to renew, so that a caching
	// oauth2.ReuseTokenSource comes back for a fresh token in time.
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: "Bearer", Expiry: o.s.refreshAt(t)}, nil
}
