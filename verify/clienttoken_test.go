package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/cli"
	"github.com/gatehouse/gatehouse/internal/ghtest"
	"github.com/gatehouse/gatehouse/verify"
)

// serviceClient creates a service client on g's database with the CLI, as
// an operator does, and returns its id and secret.
func serviceClient(t *testing.T, g *ghtest.Gatehouse, scopes ...string) (id, secret string) {
	t.Helper()
	args := []string{"gatehouse", "clients", "create", "--db", g.Config.DB, "--name", "svc"}
	for _, s := range scopes {
		args = append(args, "--scope", s)
	}
	var out, errs bytes.Buffer
	noEnv := func(string) string { return "" }
	if err := cli.Run(context.Background(), args, noEnv, strings.NewReader(""), &out, &errs); err != nil {
		t.Fatalf("clients create: %v\n%s", err, errs.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "client_id: "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "client_secret: "); ok {
			secret = v
		}
	}
	if id == "" || secret == "" {
		t.Fatalf("clients create printed %q", out.String())
	}
	return id, secret
}

// clientToken is the access token of the client_credentials grant.
func clientToken(t *testing.T, g *ghtest.Gatehouse, id, secret string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", g.URL+"/api/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.AccessToken == "" {
		t.Fatalf("client_credentials: %d %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// TestClientTokenIsNoUserToken: a service client's own token is genuine
// (signed by the issuer, for the audience) but belongs to no user session:
// the middleware refuses it as Gatehouse's user routes do (CONTRACT §10),
// with or without the revocation feed, so that a client with a feed scope
// cannot act as a user of the resource server.
func TestClientTokenIsNoUserToken(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	id, secret := serviceClient(t, g, "revocations")
	tok := clientToken(t, g, id, secret)
	u := user(t, g)

	following := newVerifier(t, g, func(c *verify.Config) { c.ClientID, c.ClientSecret = id, secret })
	t.Cleanup(func() { _ = following.Close() })
	waitLive(t, following)
	want := refusal(t, g.URL+"/api/users/me", []string{"Bearer " + tok})
	if want.Status != 401 || want.Body["code"] != "token_invalid" {
		t.Fatalf("Gatehouse answered %+v, the test expects 401 token_invalid", want)
	}
	for name, v := range map[string]*verify.Verifier{"plain": newVerifier(t, g, nil), "following the feed": following} {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, gatehouse.ErrTokenInvalid) {
			t.Fatalf("%s: Verify of a client token: %v, want token_invalid", name, err)
		}
		rs := service(t, v)
		if got := refusal(t, rs, []string{"Bearer " + tok}); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: middleware:\n%+v\nGatehouse:\n%+v", name, got, want)
		}
		// A user's token passes the same verifier: the refusal is of the
		// client token, not of everything.
		if status, _, body := ghtest.Do(t, "GET", rs, u.AccessToken, nil); status != 200 {
			t.Fatalf("%s: a user's token: %d %s", name, status, body)
		}
	}
}
