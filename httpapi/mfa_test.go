package httpapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/apitest"
)

func (f *fakeService) MFAStatus(context.Context, *gatehouse.AccessClaims) (gatehouse.MFAStatus, error) {
	return gatehouse.MFAStatus{TOTP: true, RecoveryCodesLeft: 7}, f.err
}
func (f *fakeService) EnrollTOTP(context.Context, *gatehouse.AccessClaims, string, gatehouse.ClientInfo) (string, string, error) {
	return "SECRET", "otpauth://totp/x?secret=SECRET", f.err
}
func (f *fakeService) ConfirmTOTP(context.Context, *gatehouse.AccessClaims, string) ([]string, *gatehouse.Grant, error) {
	if f.err != nil {
		return nil, nil, f.err
	}
	return []string{"aaaa-bbbb"}, f.grant(), nil
}
func (f *fakeService) DisableTOTP(context.Context, *gatehouse.AccessClaims) error { return f.err }
func (f *fakeService) RegenerateRecoveryCodes(context.Context, *gatehouse.AccessClaims) ([]string, error) {
	return []string{"cccc-dddd"}, f.err
}
func (f *fakeService) VerifyMFA(_ context.Context, token string, a gatehouse.MFAAnswer, _ gatehouse.ClientInfo) (*gatehouse.Grant, error) {
	f.calls = append(f.calls, "verify "+token+" "+a.Code+a.RecoveryCode)
	if f.err != nil {
		return nil, f.err
	}
	return f.grant(), nil
}
func (f *fakeService) StepUp(_ context.Context, _ *gatehouse.AccessClaims, a gatehouse.MFAAnswer, _ gatehouse.ClientInfo) (*gatehouse.Grant, error) {
	f.calls = append(f.calls, "stepup "+a.Code+a.RecoveryCode)
	if f.err != nil {
		return nil, f.err
	}
	g := f.grant()
	g.RefreshToken = "" // step-up hands out an access token only
	return g, nil
}

// A right password of a user with a factor: the JSON API's 401 carries
// the challenge; the OAuth password grant answers 403 mfa_required with it
// (CONTRACT §8); neither carries a token.
func TestMFARequiredOverHTTP(t *testing.T) {
	challenge := &gatehouse.MFARequiredError{Token: "gate_mfa_x", Methods: []string{gatehouse.MethodTOTP, gatehouse.MethodRecoveryCode}}
	h := newTestHandler(&fakeService{err: challenge})
	a := do(t, h, jsonRequest("POST", "/api/auth/login", `{"email":"a@example.com","password":"pw"}`))
	if a.status != 401 || a.problem.Code != "mfa_required" || a.problem.MFAToken != "gate_mfa_x" ||
		strings.Join(a.problem.Methods, ",") != "totp,recovery_code" || strings.Contains(a.body, "access_token") {
		t.Fatalf("login: %d %s", a.status, a.body)
	}
	r := httptest.NewRequest("POST", testIssuer+"/api/auth/token", strings.NewReader(url.Values{
		"grant_type": {"password"}, "username": {"a@example.com"}, "password": {"pw"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	a = do(t, h, r)
	var body map[string]string
	_ = json.Unmarshal([]byte(a.body), &body)
	if a.status != 403 || body["error"] != "mfa_required" || body["mfa_token"] != "gate_mfa_x" || body["access_token"] != "" {
		t.Fatalf("password grant: %d %s", a.status, a.body)
	}
}

// /api/auth/mfa/verify is the second step of a login without a bearer
// token, and step-up with one; both at once is refused.
func TestMFAVerifyRouting(t *testing.T) {
	f := &fakeService{}
	h := newTestHandler(f)
	a := do(t, h, jsonRequest("POST", "/api/auth/mfa/verify", `{"mfa_token":"gate_mfa_x","code":"123456"}`))
	if a.status != 200 || !strings.Contains(a.body, `"refresh_token":"refresh-new"`) || !strings.Contains(a.body, `"user"`) {
		t.Fatalf("login step: %d %s", a.status, a.body)
	}
	r := jsonRequest("POST", "/api/auth/mfa/verify", `{"recovery_code":"aaaa-bbbb"}`)
	r.Header.Set("Authorization", "Bearer x.y.z")
	a = do(t, h, r)
	if a.status != 200 || !strings.Contains(a.body, `"access_token":"access"`) || strings.Contains(a.body, "refresh_token") {
		t.Fatalf("step-up: %d %s", a.status, a.body)
	}
	r = jsonRequest("POST", "/api/auth/mfa/verify", `{"mfa_token":"gate_mfa_x","code":"123456"}`)
	r.Header.Set("Authorization", "Bearer x.y.z")
	if a = do(t, h, r); a.status != 400 || a.problem.Code != "invalid_request" {
		t.Fatalf("both: %d %s", a.status, a.body)
	}
	if a = do(t, h, jsonRequest("POST", "/api/auth/mfa/verify", `{"code":"123456"}`)); a.status != 422 {
		t.Fatalf("neither: %d %s", a.status, a.body)
	}
	if want := "verify gate_mfa_x 123456,stepup aaaa-bbbb"; strings.Join(f.calls, ",") != want {
		t.Fatalf("calls %q, want %q", f.calls, want)
	}
}

// An aal1 session refused by a sensitive route gets RFC 9470's challenge.
func TestInsufficientAuthChallenge(t *testing.T) {
	h := newTestHandler(&fakeService{err: nil})
	for _, route := range []struct{ method, path, body string }{
		{"DELETE", "/api/auth/mfa/totp", ""},
		{"POST", "/api/auth/mfa/recovery-codes", ""},
	} {
		svc := &stepUpRefuser{}
		h = newTestHandler(svc)
		r := jsonRequest(route.method, route.path, route.body)
		r.Header.Set("Authorization", "Bearer x.y.z")
		a := do(t, h, r)
		wa := a.header.Get("WWW-Authenticate")
		if a.status != 403 || a.problem.Code != "insufficient_user_authentication" ||
			!strings.Contains(wa, `error="insufficient_user_authentication"`) || !strings.Contains(wa, `acr_values="aal2"`) {
			t.Fatalf("%s %s: %d %q %s", route.method, route.path, a.status, wa, a.body)
		}
	}
}

// stepUpRefuser authenticates every token and refuses every sensitive
// action as an aal1 session of a user with a factor.
type stepUpRefuser struct{ fakeService }

func (s *stepUpRefuser) DisableTOTP(context.Context, *gatehouse.AccessClaims) error {
	return gatehouse.ErrInsufficientAuth
}
func (s *stepUpRefuser) RegenerateRecoveryCodes(context.Context, *gatehouse.AccessClaims) ([]string, error) {
	return nil, gatehouse.ErrInsufficientAuth
}

// The secret and the recovery codes are never cached.
func TestMFASecretsNotCached(t *testing.T) {
	h := newTestHandler(&fakeService{})
	for _, route := range []struct{ method, path, body string }{
		{"POST", "/api/auth/mfa/totp", `{"current_password":"pw"}`},
		{"POST", "/api/auth/mfa/totp/confirm", `{"code":"123456"}`},
		{"POST", "/api/auth/mfa/recovery-codes", ""},
		{"GET", "/api/auth/mfa", ""},
	} {
		r := jsonRequest(route.method, route.path, route.body)
		r.Header.Set("Authorization", "Bearer x.y.z")
		a := do(t, h, r)
		if a.status != 200 || a.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s %s: %d %q %s", route.method, route.path, a.status, a.header.Get("Cache-Control"), a.body)
		}
	}
}

func (f *fakeService) PasskeyRegistrationOptions(context.Context, *gatehouse.AccessClaims) (string, []byte, error) {
	return "ch_1", []byte(`{"challenge":"abc"}`), f.err
}
func (f *fakeService) RegisterPasskey(_ context.Context, _ *gatehouse.AccessClaims, id string, cred []byte, name string) (*gatehouse.Passkey, error) {
	f.calls = append(f.calls, "register "+id+" "+string(cred)+" "+name)
	if f.err != nil {
		return nil, f.err
	}
	return &gatehouse.Passkey{ID: "pk_1", Name: name}, nil
}
func (f *fakeService) Passkeys(context.Context, *gatehouse.AccessClaims) ([]gatehouse.Passkey, error) {
	return []gatehouse.Passkey{{ID: "pk_1", Name: "Laptop"}}, f.err
}
func (f *fakeService) RenamePasskey(_ context.Context, _ *gatehouse.AccessClaims, id, name string) (*gatehouse.Passkey, error) {
	return &gatehouse.Passkey{ID: id, Name: name}, f.err
}
func (f *fakeService) DeletePasskey(context.Context, *gatehouse.AccessClaims, string) error {
	return f.err
}
func (f *fakeService) PasskeyLoginOptions(context.Context, gatehouse.ClientInfo) (string, []byte, error) {
	return "ch_2", []byte(`{"challenge":"def"}`), f.err
}
func (f *fakeService) LoginWithPasskey(_ context.Context, id string, cred []byte, _ gatehouse.ClientInfo) (*gatehouse.Grant, error) {
	f.calls = append(f.calls, "login "+id+" "+string(cred))
	if f.err != nil {
		return nil, f.err
	}
	return f.grant(), nil
}

// The passkey routes carry the WebAuthn JSON through untouched: options
// out as publicKey, the credential in as an object.
func TestPasskeyRoutes(t *testing.T) {
	f := &fakeService{}
	h := newTestHandler(f)
	r := jsonRequest("POST", "/api/auth/passkeys/register/options", "")
	r.Header.Set("Authorization", "Bearer x.y.z")
	if a := do(t, h, r); a.status != 200 || a.body != `{"challenge_id":"ch_1","publicKey":{"challenge":"abc"}}`+"\n" {
		t.Fatalf("register options: %d %s", a.status, a.body)
	}
	r = jsonRequest("POST", "/api/auth/passkeys/register", `{"challenge_id":"ch_1","credential":{"id":"x","type":"public-key"},"name":"Laptop"}`)
	r.Header.Set("Authorization", "Bearer x.y.z")
	if a := do(t, h, r); a.status != 201 || !strings.Contains(a.body, `"name":"Laptop"`) || !strings.Contains(a.body, `"last_used_at":null`) {
		t.Fatalf("register: %d %s", a.status, a.body)
	}
	r = apitest.Malformed(jsonRequest("POST", "/api/auth/passkeys/register", `{"challenge_id":"ch_1","credential":"not an object"}`), "a string credential")
	r.Header.Set("Authorization", "Bearer x.y.z")
	if a := do(t, h, r); a.status != 422 || a.problem.Errors[0].Field != "credential" {
		t.Fatalf("credential as a string: %d %s", a.status, a.body)
	}
	if a := do(t, h, jsonRequest("POST", "/api/auth/passkeys/login/options", "")); a.status != 200 || !strings.Contains(a.body, `"challenge_id":"ch_2"`) {
		t.Fatalf("login options: %d %s", a.status, a.body)
	}
	if a := do(t, h, jsonRequest("POST", "/api/auth/passkeys/login", `{"challenge_id":"ch_2","credential":{"id":"y"}}`)); a.status != 200 || !strings.Contains(a.body, `"refresh_token"`) {
		t.Fatalf("login: %d %s", a.status, a.body)
	}
	if a := do(t, h, apitest.Malformed(jsonRequest("POST", "/api/auth/passkeys/login", `{"challenge_id":"ch_2"}`), "no credential")); a.status != 422 {
		t.Fatalf("login without a credential: %d %s", a.status, a.body)
	}
	r = jsonRequest("PUT", "/api/auth/passkeys/pk_1", "")
	r.Header.Set("Authorization", "Bearer x.y.z")
	if a := do(t, h, r); a.status != 405 || a.header.Get("Allow") != "PATCH, DELETE" {
		t.Fatalf("PUT: %d %v", a.status, a.header)
	}
	want := `register ch_1 {"id":"x","type":"public-key"} Laptop,login ch_2 {"id":"y"}`
	if strings.Join(f.calls, ",") != want {
		t.Fatalf("calls %q, want %q", f.calls, want)
	}
	// A failed login ceremony is 401 passkey_invalid; a failed registration 400.
	f.err = gatehouse.ErrPasskeyInvalid
	if a := do(t, h, jsonRequest("POST", "/api/auth/passkeys/login", `{"challenge_id":"ch_2","credential":{"id":"y"}}`)); a.status != 401 || a.problem.Code != "passkey_invalid" {
		t.Fatalf("refused login: %d %s", a.status, a.body)
	}
}
