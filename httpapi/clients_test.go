package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/apitest"
)

func (f *fakeService) ClientCredentials(_ context.Context, id, secret, scope string, _ gatehouse.ClientInfo) (*gatehouse.ClientGrant, error) {
	f.calls = append(f.calls, "cc "+id+":"+secret+" "+scope)
	if f.err != nil {
		return nil, f.err
	}
	return &gatehouse.ClientGrant{AccessToken: "client-access", ExpiresIn: 900, Scope: "revocations"}, nil
}
func (f *fakeService) ClientBySecret(_ context.Context, id, secret, scope string, _ gatehouse.ClientInfo) error {
	f.calls = append(f.calls, "basic "+id+":"+secret+" "+scope)
	return f.err
}
func (f *fakeService) AuthenticateClient(_ context.Context, bearer, scope string) (*gatehouse.AccessClaims, error) {
	f.calls = append(f.calls, "bearer "+bearer+" "+scope)
	var gap *gatehouse.FeedGapError
	if f.err != nil && !errors.As(f.err, &gap) {
		return nil, f.err
	}
	return &gatehouse.AccessClaims{ClientID: "svc"}, nil
}
func (f *fakeService) Introspect(_ context.Context, tok string) (*gatehouse.Introspection, error) {
	if tok == "dead" {
		return &gatehouse.Introspection{}, nil
	}
	return &gatehouse.Introspection{Active: true, TokenType: "Bearer", Subject: "u1", SessionID: "s1", Issuer: testIssuer,
		Audience: []string{"gatehouse"}, ExpiresAt: time.Unix(2000, 0), IssuedAt: time.Unix(1000, 0), ACR: "aal1", AMR: []string{"pwd"}}, nil
}
func (f *fakeService) RevocationFeed(_ context.Context, after int64, wait time.Duration) ([]gatehouse.Revocation, int64, error) {
	f.calls = append(f.calls, "feed "+time.Duration(after).String()+" "+wait.String())
	if f.err != nil {
		return nil, 0, f.err
	}
	return []gatehouse.Revocation{{Seq: after + 1, SessionID: "s9", At: time.Unix(1500, 0)}}, after + 2, nil
}

func TestClientCredentialsGrant(t *testing.T) {
	f := &fakeService{}
	h := newTestHandler(f)
	r := httptest.NewRequest("POST", testIssuer+"/api/auth/token", strings.NewReader("grant_type=client_credentials&scope=revocations"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape("gh_id"), url.QueryEscape("s3cr+t"))
	a := do(t, h, r)
	if a.status != 200 || !strings.Contains(a.body, `"scope":"revocations"`) || strings.Contains(a.body, "refresh_token") || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("grant: %d %s", a.status, a.body)
	}
	if f.calls[0] != "cc gh_id:s3cr+t revocations" {
		t.Fatalf("calls %q", f.calls)
	}
	// Wrong secret over Basic: 401 invalid_client with a Basic challenge.
	f.err = gatehouse.ErrInvalidClient
	r = httptest.NewRequest("POST", testIssuer+"/api/auth/token", strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("gh_id", "wrong")
	a = do(t, h, r)
	if a.status != 401 || !strings.Contains(a.body, `"error":"invalid_client"`) || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("wrong secret: %d %s %v", a.status, a.body, a.header)
	}
	f.err = gatehouse.ErrInvalidScope
	r = httptest.NewRequest("POST", testIssuer+"/api/auth/token", strings.NewReader("grant_type=client_credentials&client_id=a&client_secret=b&scope=admin"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if a = do(t, h, r); a.status != 400 || !strings.Contains(a.body, `"error":"invalid_scope"`) {
		t.Fatalf("bad scope: %d %s", a.status, a.body)
	}
	// Basic and form credentials at once are refused.
	f.err = nil
	r = httptest.NewRequest("POST", testIssuer+"/api/auth/token", strings.NewReader("grant_type=client_credentials&client_id=a&client_secret=b"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("a", "b")
	if a = do(t, h, r); a.status != 400 {
		t.Fatalf("both: %d %s", a.status, a.body)
	}
}

func TestIntrospectionAnswers(t *testing.T) {
	f := &fakeService{}
	h := newTestHandler(f)
	post := func(body string) answer {
		r := httptest.NewRequest("POST", testIssuer+"/api/auth/introspect", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("gh_id", "secret")
		return do(t, h, r)
	}
	a := post("token=dead")
	if a.status != 200 || strings.TrimSpace(a.body) != `{"active":false}` {
		t.Fatalf("inactive: %d %s", a.status, a.body)
	}
	a = post("token=live")
	var m map[string]any
	_ = json.Unmarshal([]byte(a.body), &m)
	if m["active"] != true || m["sid"] != "s1" || m["aud"] != "gatehouse" || m["exp"] != float64(2000) || m["client_id"] != nil {
		t.Fatalf("active: %s", a.body)
	}
	if f.calls[0] != "basic gh_id:secret introspect" {
		t.Fatalf("calls %q", f.calls)
	}
	f.err = gatehouse.ErrInsufficientScope
	if a = post("token=live"); a.status != 403 || !strings.Contains(a.body, "insufficient_scope") {
		t.Fatalf("no scope: %d %s", a.status, a.body)
	}
}

func TestRevocationsRoute(t *testing.T) {
	f := &fakeService{}
	h := newTestHandler(f)
	request := func(query string) *http.Request {
		r := httptest.NewRequest("GET", testIssuer+"/api/auth/revocations"+query, nil)
		r.Header.Set("Authorization", "Bearer client-tok")
		return r
	}
	get := func(query string) answer { return do(t, h, request(query)) }
	a := get("?after=41&wait=5")
	if a.status != 200 || a.body != `{"entries":[{"seq":42,"sid":"s9","at":"1970-01-01T00:25:00Z"}],"last_seq":43}`+"\n" {
		t.Fatalf("feed: %d %s", a.status, a.body)
	}
	for _, bad := range []string{"?after=-1", "?wait=61", "?after=x", "?after=1&after=2"} {
		if a := do(t, h, apitest.Malformed(request(bad), "out-of-range query")); a.status != 422 && a.status != 400 {
			t.Fatalf("%s: %d %s", bad, a.status, a.body)
		}
	}
	f.err = &gatehouse.FeedGapError{FirstSeq: 100, Since: time.Unix(3000, 0)}
	a = get("?after=3")
	if a.status != 410 || a.problem.Code != "feed_gap" || a.problem.FirstSeq != 100 || a.problem.Since != "1970-01-01T00:50:00Z" {
		t.Fatalf("gap: %d %s", a.status, a.body)
	}
	f.err = gatehouse.ErrInsufficientScope
	if a := get(""); a.status != 403 || !strings.Contains(a.header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Fatalf("scope: %d %v", a.status, a.header)
	}
	f.err = gatehouse.ErrTokenInvalid
	if a := get(""); a.status != 401 || !strings.Contains(a.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("user token: %d %v", a.status, a.header)
	}
}
