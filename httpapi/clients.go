package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Service clients (CONTRACT §10): the client_credentials grant, token
// introspection (RFC 7662) and the revocation feed for remote verifiers.

// clientCredentials returns the client's id and secret from HTTP Basic
// (RFC 6749 §2.3.1: each form-urlencoded first) or the form, and whether
// Basic was used. Both at once is refused (RFC 6749 §2.3).
func clientCredentials(r *http.Request, f fields) (id, secret string, basic bool, err error) {
	if u, p, ok := r.BasicAuth(); ok {
		if f["client_id"] != "" || f["client_secret"] != "" {
			return "", "", true, badRequest("send the client credentials in the Authorization header or in the body, not both")
		}
		id, err1 := url.QueryUnescape(u)
		secret, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil {
			return "", "", true, gatehouse.ErrInvalidClient
		}
		return id, secret, true, nil
	}
	return f["client_id"], f["client_secret"], false, nil
}

func (a *api) handleClientCredentials(w http.ResponseWriter, r *http.Request, f fields) {
	id, secret, basic, err := clientCredentials(r, f)
	if err == nil {
		var g *gatehouse.ClientGrant
		g, err = a.svc.ClientCredentials(r.Context(), id, secret, f["scope"], a.clientInfo(r))
		if err == nil {
			writeNoStore(w, http.StatusOK, map[string]any{
				"access_token": g.AccessToken, "token_type": "bearer", "expires_in": g.ExpiresIn, "scope": g.Scope})
			return
		}
	}
	if basic && errors.Is(err, gatehouse.ErrInvalidClient) {
		// RFC 6749 §5.2: a failed Basic authentication is answered with
		// the scheme the client used.
		w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
	}
	a.writeOAuthError(w, r, err)
}

// handleIntrospect is RFC 7662. The caller is a service client with the
// introspect scope: by its credentials (Basic or form) or its bearer token.
func (a *api) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	f, err := decodeForm(w, r, "token", "token_type_hint", "client_id", "client_secret")
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	if bearer, berr := gatehouse.BearerToken(r.Header.Values("Authorization")); berr == nil {
		_, err = a.svc.AuthenticateClient(r.Context(), bearer, gatehouse.ScopeIntrospect)
	} else {
		id, secret, basic, cerr := clientCredentials(r, f)
		err = cerr
		if err == nil {
			err = a.svc.ClientBySecret(r.Context(), id, secret, gatehouse.ScopeIntrospect, a.clientInfo(r))
		}
		if basic && errors.Is(err, gatehouse.ErrInvalidClient) {
			w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
		}
	}
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	if f["token"] == "" {
		a.writeOAuthError(w, r, badRequest("token is required"))
		return
	}
	in, err := a.svc.Introspect(r.Context(), f["token"])
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	writeNoStore(w, http.StatusOK, introspectionJSON(in))
}

func introspectionJSON(in *gatehouse.Introspection) map[string]any {
	if !in.Active {
		return map[string]any{"active": false} // RFC 7662 §2.2: nothing else
	}
	out := map[string]any{
		"active": true, "token_type": in.TokenType, "sub": in.Subject, "iss": in.Issuer,
		"exp": in.ExpiresAt.Unix(), "iat": in.IssuedAt.Unix(),
	}
	if len(in.Audience) == 1 {
		out["aud"] = in.Audience[0]
	} else {
		out["aud"] = in.Audience
	}
	for k, v := range map[string]string{"sid": in.SessionID, "client_id": in.ClientID, "scope": in.Scope, "acr": in.ACR} {
		if v != "" {
			out[k] = v
		}
	}
	if len(in.AMR) > 0 {
		out["amr"] = in.AMR
	}
	return out
}

type feedEntryJSON struct {
	Seq int64     `json:"seq"`
	SID string    `json:"sid"`
	At  time.Time `json:"at"`
}

// handleRevocations is the long-poll revocation feed for remote verifiers.
func (a *api) handleRevocations(w http.ResponseWriter, r *http.Request) {
	bearer, err := gatehouse.BearerToken(r.Header.Values("Authorization"))
	if err == nil {
		_, err = a.svc.AuthenticateClient(r.Context(), bearer, gatehouse.ScopeRevocations)
	}
	if err != nil {
		a.writeClientBearerError(w, r, err)
		return
	}
	q := r.URL.Query()
	after, err := queryInt(q, "after", 0, 1<<62)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	wait, err := queryInt(q, "wait", 0, int64(gatehouse.MaxFeedWait/time.Second))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// The long poll may outlast the server's write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Duration(wait)*time.Second + 10*time.Second))
	entries, last, err := a.svc.RevocationFeed(r.Context(), after, time.Duration(wait)*time.Second)
	var gap *gatehouse.FeedGapError
	if errors.As(err, &gap) {
		p, _ := problemFor(err)
		p.FirstSeq, p.Since = gap.FirstSeq, gap.Since.UTC().Format(time.RFC3339Nano)
		writeProblem(w, p)
		return
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]feedEntryJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, feedEntryJSON{Seq: e.Seq, SID: e.SessionID, At: e.At.UTC()})
	}
	writeNoStore(w, http.StatusOK, map[string]any{"entries": out, "last_seq": last})
}

// writeClientBearerError answers a refused client bearer token: 401 with
// RFC 6750's invalid_token challenge, or 403 insufficient_scope.
func (a *api) writeClientBearerError(w http.ResponseWriter, r *http.Request, err error) {
	switch p, _ := problemFor(err); {
	case errors.Is(err, gatehouse.ErrInsufficientScope):
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="insufficient_scope", scope="revocations"`)
	case p.Status == http.StatusUnauthorized:
		challenge := `Bearer realm="gatehouse"`
		if r.Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	a.writeError(w, r, err)
}

// queryInt reads an integer query parameter within [min, max], def when absent.
func queryInt(q url.Values, name string, def, max int64) (int64, error) {
	vs, ok := q[name]
	if !ok {
		return def, nil
	}
	if len(vs) > 1 {
		return 0, badRequest(name + " appears twice")
	}
	n, err := strconv.ParseInt(vs[0], 10, 64)
	if err != nil || n < 0 || n > max {
		return 0, gatehouse.Invalid(name, "must be an integer from 0 to "+strconv.FormatInt(max, 10))
	}
	return n, nil
}
