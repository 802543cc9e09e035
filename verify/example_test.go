package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/gatehouse/gatehouse/internal/ghtest"
	"github.com/gatehouse/gatehouse/verify"
)

// startGatehouse starts a throwaway Gatehouse for the examples.
func startGatehouse() (url string, stop func()) {
	dir, err := os.MkdirTemp("", "verify-example")
	if err != nil {
		log.Fatal(err)
	}
	g, stopG, err := ghtest.Launch(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	return g.URL, func() { stopG(); os.RemoveAll(dir) }
}

// statusOf sends GET url with an optional Authorization header and
// returns the status and Gatehouse's problem code, if any.
func statusOf(url, authorization string) string {
	req, _ := http.NewRequest("GET", url, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var p struct{ Code string }
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		_ = jsonDecode(resp, &p)
	}
	return strings.TrimSpace(fmt.Sprint(resp.StatusCode, " ", p.Code))
}

// A service that trusts Gatehouse: one call to New, then the middleware
// on every protected route.
func ExampleNew() {
	issuer, stop := startGatehouse()
	defer stop()

	v, err := verify.New(context.Background(), verify.Config{Issuer: issuer, Audience: "gatehouse"})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/hello", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims := verify.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s (session %s)", claims.Subject, claims.SessionID)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	fmt.Println(statusOf(srv.URL+"/api/hello", "Bearer "+accessToken(issuer)))
	fmt.Println(statusOf(srv.URL+"/api/hello", ""))
	fmt.Println(statusOf(srv.URL+"/api/hello", "Bearer not-a-token"))
	// Output:
	// 200
	// 401 token_missing
	// 401 token_invalid
}

// frameworkContext stands in for a framework's request context (gin's
// *gin.Context, echo's echo.Context) so that this example needs neither.
type frameworkContext struct {
	Writer  http.ResponseWriter
	Request *http.Request
	aborted bool
}

func (c *frameworkContext) Abort() { c.aborted = true }

// Frameworks whose handlers are not http.Handler use Authenticate and
// WriteError. For gin the adapter is:
//
//	func RequireAuth(v *verify.Verifier) gin.HandlerFunc {
//		return func(c *gin.Context) {
//			r, err := v.Authenticate(c.Request)
//			if err != nil {
//				v.WriteError(c.Writer, c.Request, err)
//				c.Abort()
//				return
//			}
//			c.Request = r // verify.ClaimsFromContext(c.Request.Context()) in handlers
//			c.Next()
//		}
//	}
//
// and echo takes the net/http middleware as it is:
// e.Use(echo.WrapMiddleware(v.Middleware)).
func ExampleVerifier_Authenticate() {
	issuer, stop := startGatehouse()
	defer stop()
	v, err := verify.New(context.Background(), verify.Config{Issuer: issuer, Audience: "gatehouse"})
	if err != nil {
		log.Fatal(err)
	}
	// The adapter, in the stand-in framework.
	requireAuth := func(c *frameworkContext) {
		r, err := v.Authenticate(c.Request)
		if err != nil {
			v.WriteError(c.Writer, c.Request, err)
			c.Abort()
			return
		}
		c.Request = r
	}

	rec := httptest.NewRecorder()
	c := &frameworkContext{Writer: rec, Request: httptest.NewRequest("GET", "/api/hello", nil)}
	requireAuth(c)
	fmt.Println(c.aborted, rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// true 401 Bearer realm="gatehouse"
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

// accessToken registers a user at Gatehouse and logs in, over its JSON API.
func accessToken(issuer string) string {
	body := `{"email":"ada@example.com","password":"correct horse battery staple"}`
	for _, path := range []string{"/api/auth/register", "/api/auth/login"} {
		resp, err := http.Post(issuer+path, "application/json", strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		if path == "/api/auth/login" {
			var t struct {
				AccessToken string `json:"access_token"`
			}
			if err := jsonDecode(resp, &t); err != nil {
				log.Fatal(err)
			}
			return t.AccessToken
		}
	}
	return ""
}
