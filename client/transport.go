package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// TokenSource supplies access tokens. [*Session] implements it.
type TokenSource interface {
	Token(ctx context.Context) (*Token, error)
}

// Refresher is a [TokenSource] that can renew a token an API refused; see
// [Session.Refresh]. [Transport] uses it when its Source implements it.
type Refresher interface {
	Refresh(ctx context.Context, rejected string) (*Token, error)
}

// Transport is an [http.RoundTripper] that sends each request with
// "Authorization: Bearer" and a token of Source. When the answer is 401
// token_expired and Source is a [Refresher], it refreshes once and, when
// the body can be sent again (none, or req.GetBody set), replays the
// request with the new token; a request whose body cannot be replayed
// gets the 401 (the next request carries the new token). When Source
// fails (logged out, session ended, Gatehouse unreachable) the request is
// not sent and its error is returned; http.Client wraps it in a
// *url.Error, which errors.Is and errors.As see through.
//
// When http.Client follows a redirect to another scheme, host or port,
// the redirected request is sent without the token (RFC 6750 §5.3: bearer
// tokens must not leak to unintended parties), as http.Client itself does
// for an Authorization header set on the request. Give the Transport to a
// client that calls only the APIs meant to see the token.
type Transport struct {
	// Source supplies the tokens. Required.
	Source TokenSource
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// RoundTrip authorizes and sends req. It does not change req (it sends a
// clone), as the RoundTripper contract asks.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if crossOriginRedirect(req) {
		return t.base().RoundTrip(req)
	}
	tok, err := t.Source.Token(ctx)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.base().RoundTrip(authorized(req, tok.AccessToken, nil))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	r, ok := t.Source.(Refresher)
	if !ok {
		return resp, nil
	}
	code, resp := problemCode(resp)
	if code != "token_expired" {
		return resp, nil
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	nt, err := r.Refresh(ctx, tok.AccessToken)
	if err != nil {
		discard(resp)
		return nil, err
	}
	if !replayable {
		return resp, nil
	}
	var body io.ReadCloser
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		if body, err = req.GetBody(); err != nil {
			discard(resp)
			return nil, err
		}
	}
	discard(resp)
	return t.base().RoundTrip(authorized(req, nt.AccessToken, body))
}

// crossOriginRedirect reports whether req is a redirect that http.Client
// follows to another origin than the request the caller made.
func crossOriginRedirect(req *http.Request) bool {
	orig := req
	for orig.Response != nil && orig.Response.Request != nil {
		orig = orig.Response.Request
	}
	return orig != req && (orig.URL.Scheme != req.URL.Scheme || orig.URL.Host != req.URL.Host)
}

// authorized clones req with the bearer token and, when body is not nil,
// that body.
func authorized(req *http.Request, token string, body io.ReadCloser) *http.Request {
	r := req.Clone(req.Context())
	if body != nil {
		r.Body = body
	}
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// problemCode reads the code of a problem+json response, and returns the
// response with its body intact for the caller.
func problemCode(resp *http.Response) (string, *http.Response) {
	if !isProblem(resp.Header) {
		return "", resp
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxProblem))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	if err != nil {
		return "", resp
	}
	var p struct{ Code string }
	if json.Unmarshal(b, &p) != nil {
		return "", resp
	}
	return p.Code, resp
}

type readCloser struct {
	io.Reader
	io.Closer
}

// discard drains a little of an unwanted response so that its connection
// can be reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}

// closeBody closes a request body the transport will not send, as the
// RoundTripper contract asks even on errors.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

var _ http.RoundTripper = (*Transport)(nil)
var _ Refresher = (*Session)(nil)
