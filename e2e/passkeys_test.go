package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/softauthn"
)

// Passkeys over HTTP on each store, with a software authenticator that
// signs real attestations and assertions (CONTRACT §8).

// passkeyOrigin is where the browser would run: WebAuthn takes no IP
// address as RP ID, so a loopback issuer's passkeys live on localhost.
func passkeyOrigin(t *testing.T, g *instance) string {
	u, err := url.Parse(g.URL)
	if err != nil {
		t.Fatal(err)
	}
	return "http://localhost:" + u.Port()
}

// ceremony asks an options route and returns the challenge id and options.
func ceremony(t *testing.T, c *client, path, access string) (string, []byte) {
	t.Helper()
	var r *response
	if access == "" {
		r = c.do("POST", path, nil)
	} else {
		r = c.do("POST", path, nil, "Authorization", "Bearer "+access)
	}
	if r.Status != 200 {
		t.Fatalf("%s: %s", path, r)
	}
	var out struct {
		ChallengeID string          `json:"challenge_id"`
		PublicKey   json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil || out.ChallengeID == "" || len(out.PublicKey) == 0 {
		t.Fatalf("%s: %s", path, r)
	}
	return out.ChallengeID, out.PublicKey
}

func addPasskey(t *testing.T, c *client, auth *softauthn.Authenticator, origin, access, name string) *response {
	t.Helper()
	id, options := ceremony(t, c, "/api/auth/passkeys/register/options", access)
	if !strings.Contains(string(options), `"residentKey":"required"`) || !strings.Contains(string(options), `"userVerification":"required"`) {
		t.Fatalf("creation options ask for no discoverable, verified credential: %s", options)
	}
	cred, err := auth.Register(options, origin)
	if err != nil {
		t.Fatal(err)
	}
	return c.do("POST", "/api/auth/passkeys/register", map[string]any{"challenge_id": id, "credential": json.RawMessage(cred), "name": name},
		"Authorization", "Bearer "+access)
}

// passkeyAssertion runs a login ceremony's browser half and returns the
// body to post (challenge_id and credential).
func passkeyAssertion(t *testing.T, c *client, auth *softauthn.Authenticator, origin string) map[string]any {
	t.Helper()
	id, options := ceremony(t, c, "/api/auth/passkeys/login/options", "")
	if strings.Contains(string(options), "allowCredentials") {
		t.Fatalf("discoverable login options name credentials: %s", options)
	}
	cred, err := auth.Login(options, origin)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"challenge_id": id, "credential": json.RawMessage(cred)}
}

func TestPasskeys(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	origin := passkeyOrigin(t, g)
	email, before := c.newUser("passkey") // aal1, from before the passkey
	auth := softauthn.New()

	// Adding one, from the aal1 session of a user with no factor yet.
	r := addPasskey(t, c, auth, origin, before.Access, "Laptop")
	if r.Status != 201 || r.str(t, "name") != "Laptop" || r.obj(t)["last_used_at"] != nil {
		t.Fatalf("register: %s", r)
	}
	passkeyID := r.str(t, "id")
	if r := c.get("/api/auth/passkeys", before.Access); r.Status != 200 || !strings.Contains(string(r.Body), passkeyID) {
		t.Fatalf("list: %s", r)
	}
	if r := c.get("/api/auth/mfa", before.Access); r.obj(t)["passkeys"] != float64(1) {
		t.Fatalf("status: %s", r)
	}

	// Signing in with it alone: aal2, amr hwk.
	body := passkeyAssertion(t, c, auth, origin)
	r = c.do("POST", "/api/auth/passkeys/login", body)
	if r.Status != 200 || r.obj(t)["user"].(map[string]any)["email"] != email {
		t.Fatalf("passkey login: %s", r)
	}
	aal2 := r.str(t, "access_token")
	if claimsOf(t, aal2)["acr"] != "aal2" || amrOf(t, aal2) != "hwk mfa" {
		t.Fatalf("passkey login token: %v", claimsOf(t, aal2))
	}
	// The same response again: the challenge was used.
	c.do("POST", "/api/auth/passkeys/login", body).wantProblem(t, 401, "passkey_invalid")

	// Attacks: another origin (phishing), another RP's credential, no user
	// verification, a cloned authenticator whose counter does not grow.
	wrongOrigin := passkeyAssertion(t, c, auth, "http://login.attacker.example")
	c.do("POST", "/api/auth/passkeys/login", wrongOrigin).wantProblem(t, 401, "passkey_invalid")
	auth.RPIDOverride = "attacker.example"
	c.do("POST", "/api/auth/passkeys/login", passkeyAssertion(t, c, auth, origin)).wantProblem(t, 401, "passkey_invalid")
	auth.RPIDOverride = ""
	auth.UserVerified = false
	c.do("POST", "/api/auth/passkeys/login", passkeyAssertion(t, c, auth, origin)).wantProblem(t, 401, "passkey_invalid")
	auth.UserVerified = true
	clone := auth.Clone()
	if r := c.do("POST", "/api/auth/passkeys/login", passkeyAssertion(t, c, auth, origin)); r.Status != 200 {
		t.Fatalf("the original after the clone: %s", r)
	}
	c.do("POST", "/api/auth/passkeys/login", passkeyAssertion(t, c, clone, origin)).wantProblem(t, 401, "passkey_invalid")

	// A password login now needs the passkey as its second step; another
	// user's passkey does not answer it.
	other := softauthn.New()
	_, otherTok := c.newUser("passkey-other")
	if r := addPasskey(t, c, other, origin, otherTok.Access, ""); r.Status != 201 || r.str(t, "name") != "Passkey 1" {
		t.Fatalf("other user's passkey: %s", r)
	}
	r = c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword})
	r.wantProblem(t, 401, "mfa_required")
	if methods := r.obj(t)["methods"].([]any); len(methods) != 1 || methods[0] != "passkey" {
		t.Fatalf("methods %v", methods)
	}
	mfaToken := r.str(t, "mfa_token")
	answer := passkeyAssertion(t, c, other, origin)
	answer["mfa_token"] = mfaToken
	c.do("POST", "/api/auth/mfa/verify", answer).wantProblem(t, 401, "passkey_invalid")
	answer = passkeyAssertion(t, c, auth, origin)
	answer["mfa_token"] = mfaToken
	r = c.do("POST", "/api/auth/mfa/verify", answer)
	if r.Status != 200 || amrOf(t, r.str(t, "access_token")) != "pwd hwk mfa" {
		t.Fatalf("password + passkey: %s", r)
	}

	// The aal1 session must step up (with the passkey) before it removes
	// a factor or adds another.
	c.do("DELETE", "/api/auth/passkeys/"+passkeyID, nil, "Authorization", "Bearer "+before.Access).wantProblem(t, 403, "insufficient_user_authentication")
	c.do("POST", "/api/auth/passkeys/register/options", nil, "Authorization", "Bearer "+before.Access).wantProblem(t, 403, "insufficient_user_authentication")
	r = c.do("POST", "/api/auth/mfa/verify", passkeyAssertion(t, c, auth, origin), "Authorization", "Bearer "+before.Access)
	if r.Status != 200 {
		t.Fatalf("step-up with a passkey: %s", r)
	}
	up := r.str(t, "access_token")
	if claimsOf(t, up)["acr"] != "aal2" || amrOf(t, up) != "pwd hwk mfa" {
		t.Fatalf("step-up token: %v", claimsOf(t, up))
	}
	if r := c.do("PATCH", "/api/auth/passkeys/"+passkeyID, map[string]string{"name": "Old laptop"}, "Authorization", "Bearer "+up); r.Status != 200 || r.str(t, "name") != "Old laptop" || r.obj(t)["last_used_at"] == nil {
		t.Fatalf("rename: %s", r)
	}
	c.do("DELETE", "/api/auth/passkeys/"+passkeyID, nil, "Authorization", "Bearer "+otherTok.Access).wantProblem(t, 403, "insufficient_user_authentication")
	// At aal2 the other user still cannot touch it: it is not theirs.
	r = c.do("POST", "/api/auth/passkeys/login", passkeyAssertion(t, c, other, origin))
	if r.Status != 200 || claimsOf(t, r.str(t, "access_token"))["acr"] != "aal2" {
		t.Fatalf("the other user's passkey login: %s", r)
	}
	otherAAL2 := []string{"Authorization", "Bearer " + r.str(t, "access_token")}
	c.do("DELETE", "/api/auth/passkeys/"+passkeyID, nil, otherAAL2...).wantProblem(t, 404, "not_found")
	c.do("PATCH", "/api/auth/passkeys/"+passkeyID, map[string]string{"name": "Mine now"}, otherAAL2...).wantProblem(t, 404, "not_found")
	if r := c.get("/api/auth/passkeys", up); !strings.Contains(string(r.Body), passkeyID) || !strings.Contains(string(r.Body), "Old laptop") {
		t.Fatalf("the passkey after the other user's attempts: %s", r)
	}
	if r := c.do("DELETE", "/api/auth/passkeys/"+passkeyID, nil, "Authorization", "Bearer "+up); r.Status != 204 {
		t.Fatalf("delete: %s", r)
	}
	c.do("POST", "/api/auth/passkeys/login", passkeyAssertion(t, c, auth, origin)).wantProblem(t, 401, "passkey_invalid")
	c.login(email, testPassword) // the password alone again: no factor left
}

// Registration refuses a credential made for another origin, and one
// made without user verification.
func TestPasskeyRegistrationChecks(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	_, tok := c.newUser("passkey-reg")
	addPasskey(t, c, softauthn.New(), "http://localhost.attacker.example", tok.Access, "").wantProblem(t, 400, "passkey_invalid")
	noUV := softauthn.New()
	noUV.UserVerified = false
	addPasskey(t, c, noUV, passkeyOrigin(t, g), tok.Access, "").wantProblem(t, 400, "passkey_invalid")
	// A challenge of a login ceremony does not finish a registration.
	id, _ := ceremony(t, c, "/api/auth/passkeys/login/options", "")
	_, options := ceremony(t, c, "/api/auth/passkeys/register/options", tok.Access)
	cred, err := softauthn.New().Register(options, passkeyOrigin(t, g))
	if err != nil {
		t.Fatal(err)
	}
	c.do("POST", "/api/auth/passkeys/register", map[string]any{"challenge_id": id, "credential": json.RawMessage(cred)},
		"Authorization", "Bearer "+tok.Access).wantProblem(t, 400, "passkey_invalid")
	if r := c.get("/api/auth/passkeys", tok.Access); string(r.Body) != "[]\n" {
		t.Fatalf("refused registrations left passkeys: %s", r)
	}
}

// withCredentialID rewrites a registration response so that it registers
// the credential id want: in id, rawId, and the attested credential data
// of authenticatorData and of the attestation object (fmt "none": nothing
// signs them). It plays an authenticator that reuses a credential id.
func withCredentialID(t *testing.T, cred, want []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(cred, &m); err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	have, err := b64.DecodeString(m["rawId"].(string))
	if err != nil || len(have) != len(want) {
		t.Fatalf("rawId %q: %v (want %d bytes)", m["rawId"], err, len(want))
	}
	m["id"], m["rawId"] = b64.EncodeToString(want), b64.EncodeToString(want)
	resp := m["response"].(map[string]any)
	for _, k := range []string{"authenticatorData", "attestationObject"} {
		b, err := b64.DecodeString(resp[k].(string))
		if err != nil || !bytes.Contains(b, have) {
			t.Fatalf("%s lacks the credential id: %v", k, err)
		}
		resp[k] = b64.EncodeToString(bytes.ReplaceAll(b, have, want))
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A registration belongs to the user who began it, and a credential id
// to one passkey: another user cannot finish a registration with someone
// else's challenge, nor register a credential id already registered
// (whoever's), and neither can its owner register it twice.
func TestPasskeyRegistrationOwnership(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	origin := passkeyOrigin(t, g)
	email, a := c.newUser("passkey-owner")
	_, b := c.newUser("passkey-intruder")
	register := func(access, challengeID string, cred []byte) *response {
		return c.do("POST", "/api/auth/passkeys/register", map[string]any{"challenge_id": challengeID, "credential": json.RawMessage(cred)},
			"Authorization", "Bearer "+access)
	}
	noPasskeys := func(access string) {
		t.Helper()
		if r := c.get("/api/auth/passkeys", access); string(r.Body) != "[]\n" {
			t.Fatalf("passkeys: %s", r)
		}
	}

	// B with A's registration challenge, answered for A's options.
	idA, optsA := ceremony(t, c, "/api/auth/passkeys/register/options", a.Access)
	cred, err := softauthn.New().Register(optsA, origin)
	if err != nil {
		t.Fatal(err)
	}
	register(b.Access, idA, cred).wantProblem(t, 400, "passkey_invalid")
	noPasskeys(b.Access)
	noPasskeys(a.Access)

	// A registers a passkey; its credential id then registers nowhere
	// else, not for B and not for A again.
	auth := softauthn.New()
	if r := addPasskey(t, c, auth, origin, a.Access, "Phone"); r.Status != 201 {
		t.Fatalf("register: %s", r)
	}
	taken := auth.Credentials()[0].ID
	idB, optsB := ceremony(t, c, "/api/auth/passkeys/register/options", b.Access)
	cred, err = softauthn.New().Register(optsB, origin)
	if err != nil {
		t.Fatal(err)
	}
	register(b.Access, idB, withCredentialID(t, cred, taken)).wantProblem(t, 400, "passkey_invalid")
	noPasskeys(b.Access)
	// A's session, now that A has a factor, steps up to add another.
	r := c.do("POST", "/api/auth/mfa/verify", passkeyAssertion(t, c, auth, origin), "Authorization", "Bearer "+a.Access)
	if r.Status != 200 {
		t.Fatalf("step-up: %s", r)
	}
	aAAL2 := r.str(t, "access_token")
	idA, optsA = ceremony(t, c, "/api/auth/passkeys/register/options", aAAL2)
	if !strings.Contains(string(optsA), base64.RawURLEncoding.EncodeToString(taken)) {
		t.Fatalf("creation options do not exclude the user's passkey: %s", optsA)
	}
	cred, err = softauthn.New().Register(optsA, origin)
	if err != nil {
		t.Fatal(err)
	}
	register(aAAL2, idA, withCredentialID(t, cred, taken)).wantProblem(t, 400, "passkey_invalid")
	var list []any
	if r := c.get("/api/auth/passkeys", a.Access); r.Status != 200 || json.Unmarshal(r.Body, &list) != nil || len(list) != 1 {
		t.Fatalf("A's passkeys: %s", r)
	}
	// The passkey still signs in its owner, and only them.
	r = c.do("POST", "/api/auth/passkeys/login", passkeyAssertion(t, c, auth, origin))
	if r.Status != 200 || r.obj(t)["user"].(map[string]any)["email"] != email {
		t.Fatalf("the owner's passkey login: %s", r)
	}

	// Unmodified, the same kind of response is accepted: what was refused
	// above was the id, not the rewriting.
	idB, optsB = ceremony(t, c, "/api/auth/passkeys/register/options", b.Access)
	other := softauthn.New()
	cred, err = other.Register(optsB, origin)
	if err != nil {
		t.Fatal(err)
	}
	fresh := bytes.Repeat([]byte{7}, len(other.Credentials()[0].ID))
	if r := register(b.Access, idB, withCredentialID(t, cred, fresh)); r.Status != 201 {
		t.Fatalf("a rewritten response with an unused id: %s", r)
	}
}
