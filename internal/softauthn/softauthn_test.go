package softauthn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

const testOrigin = "http://localhost:8080"

// testUser is the Relying Party's account record, holding the credential
// records the server stored.
type testUser struct {
	id    []byte
	name  string
	creds []webauthn.Credential
}

func (u *testUser) WebAuthnID() []byte                         { return u.id }
func (u *testUser) WebAuthnName() string                       { return u.name }
func (u *testUser) WebAuthnDisplayName() string                { return u.name }
func (u *testUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// save stores a credential record as the server would after a ceremony.
func (u *testUser) save(c *webauthn.Credential) {
	for i := range u.creds {
		if bytes.Equal(u.creds[i].ID, c.ID) {
			u.creds[i] = *c
			return
		}
	}
	u.creds = append(u.creds, *c)
}

func newUser(name string) *testUser {
	return &testUser{id: []byte("user-handle-" + name), name: name}
}

func newRP(t *testing.T) *webauthn.WebAuthn {
	t.Helper()
	rp, err := webauthn.New(&webauthn.Config{
		RPID:          "localhost",
		RPDisplayName: "Test",
		RPOrigins:     []string{testOrigin},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

var uvRequired = webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
	ResidentKey:      protocol.ResidentKeyRequirementRequired,
	UserVerification: protocol.VerificationRequired,
})

// beginReg starts a registration and returns the options JSON the browser
// would receive (the publicKey member).
func beginReg(t *testing.T, rp *webauthn.WebAuthn, u *testUser, opts ...webauthn.RegistrationOption) ([]byte, *webauthn.SessionData) {
	t.Helper()
	creation, session, err := rp.BeginRegistration(u, opts...)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(creation.Response)
	if err != nil {
		t.Fatal(err)
	}
	return js, session
}

func finishReg(rp *webauthn.WebAuthn, u *testUser, session *webauthn.SessionData, resp []byte) (*webauthn.Credential, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(resp))
	if err != nil {
		return nil, err
	}
	return rp.CreateCredential(u, *session, parsed)
}

// register runs a whole registration that must succeed and stores the result.
func register(t *testing.T, rp *webauthn.WebAuthn, a *Authenticator, u *testUser) *webauthn.Credential {
	t.Helper()
	opts, session := beginReg(t, rp, u, uvRequired)
	resp, err := a.Register(opts, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := finishReg(rp, u, session, resp)
	if err != nil {
		t.Fatalf("CreateCredential: %v (%s)", err, devInfo(err))
	}
	u.save(cred)
	return cred
}

func beginPasskeyLogin(t *testing.T, rp *webauthn.WebAuthn) ([]byte, *webauthn.SessionData) {
	t.Helper()
	assertion, session, err := rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(assertion.Response)
	if err != nil {
		t.Fatal(err)
	}
	return js, session
}

// finishPasskeyLogin validates a discoverable assertion, finding the user by
// user handle among users; on success it stores the updated record.
func finishPasskeyLogin(rp *webauthn.WebAuthn, session *webauthn.SessionData, resp []byte, users ...*testUser) (*testUser, *webauthn.Credential, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(resp))
	if err != nil {
		return nil, nil, err
	}
	var found *testUser
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		for _, u := range users {
			if bytes.Equal(u.id, userHandle) {
				found = u
				return u, nil
			}
		}
		return nil, errors.New("no such user")
	}
	_, cred, err := rp.ValidatePasskeyLogin(handler, *session, parsed)
	if err != nil {
		return nil, nil, err
	}
	found.save(cred)
	return found, cred, nil
}

// passkeyLogin runs a whole discoverable login with a.
func passkeyLogin(t *testing.T, rp *webauthn.WebAuthn, a *Authenticator, users ...*testUser) (*testUser, *webauthn.Credential, error) {
	t.Helper()
	opts, session := beginPasskeyLogin(t, rp)
	resp, err := a.Login(opts, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return finishPasskeyLogin(rp, session, resp, users...)
}

// devInfo digs out go-webauthn's detail text, which Error() leaves out.
func devInfo(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Details + ": " + pe.DevInfo
	}
	return ""
}

// wantRejected fails unless err is a go-webauthn error whose details mention want.
func wantRejected(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("go-webauthn accepted it; want an error mentioning %q", want)
	}
	if got := err.Error() + " " + devInfo(err); !strings.Contains(got, want) {
		t.Fatalf("error %q does not mention %q", got, want)
	}
}

func TestRegisterThenPasskeyLogin(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser("alice")
	cred := register(t, rp, a, u)

	held := a.Credentials()
	if len(held) != 1 || !bytes.Equal(held[0].ID, cred.ID) || !bytes.Equal(held[0].UserHandle, u.id) || held[0].RPID != "localhost" {
		t.Fatalf("authenticator holds %v, server stored credential %x", held, cred.ID)
	}
	if cred.AttestationFormat != "none" || !cred.Flags.UserPresent || !cred.Flags.UserVerified || cred.Flags.BackupEligible {
		t.Fatalf("stored credential: format %q flags %+v", cred.AttestationFormat, cred.Flags)
	}
	if cred.Authenticator.Attachment != protocol.Platform || len(cred.Transport) != 1 || cred.Transport[0] != protocol.Internal {
		t.Fatalf("attachment %q transports %v", cred.Authenticator.Attachment, cred.Transport)
	}
	if cred.Authenticator.SignCount != 0 {
		t.Fatalf("registration sign count %d, want 0", cred.Authenticator.SignCount)
	}

	for want := uint32(1); want <= 2; want++ {
		who, got, err := passkeyLogin(t, rp, a, newUser("bob"), u)
		if err != nil {
			t.Fatalf("login %d: %v (%s)", want, err, devInfo(err))
		}
		if who != u || !bytes.Equal(got.ID, cred.ID) || got.Authenticator.SignCount != want || got.Authenticator.CloneWarning {
			t.Fatalf("login %d: user %s, sign count %d, clone warning %v", want, who.name, got.Authenticator.SignCount, got.Authenticator.CloneWarning)
		}
	}
}

// The server sends the whole CredentialCreation / CredentialAssertion in
// practice; both forms are accepted.
func TestAcceptsWrappedOptions(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser("alice")
	creation, session, err := rp.BeginRegistration(u, uvRequired)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(creation)
	resp, err := a.Register(js, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := finishReg(rp, u, session, resp)
	if err != nil {
		t.Fatalf("%v (%s)", err, devInfo(err))
	}
	u.save(cred)

	assertion, lsession, err := rp.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		t.Fatal(err)
	}
	js, _ = json.Marshal(assertion)
	resp, err = a.Login(js, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(resp))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.ValidateLogin(u, *lsession, parsed); err != nil {
		t.Fatalf("ValidateLogin with allowCredentials: %v (%s)", err, devInfo(err))
	}
}

func TestPicksCredentialByIDOrFirst(t *testing.T) {
	rp, a := newRP(t), New()
	alice, bob := newUser("alice"), newUser("bob")
	register(t, rp, a, alice)
	bobCred := register(t, rp, a, bob)

	who, _, err := passkeyLogin(t, rp, a, alice, bob)
	if err != nil || who != alice {
		t.Fatalf("discoverable login picked %v, err %v; want the first credential (alice)", who, err)
	}

	opts, session := beginPasskeyLogin(t, rp)
	resp, err := a.LoginWith(bobCred.ID, opts, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if who, _, err = finishPasskeyLogin(rp, session, resp, alice, bob); err != nil || who != bob {
		t.Fatalf("LoginWith(bob's id) logged in %v, err %v", who, err)
	}

	// With allowCredentials, only a listed credential is used.
	assertion, lsession, err := rp.BeginLogin(bob)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(assertion.Response)
	if resp, err = a.Login(js, testOrigin); err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(resp))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.ValidateLogin(bob, *lsession, parsed); err != nil {
		t.Fatalf("%v (%s)", err, devInfo(err))
	}
	if _, err := New().Login(js, testOrigin); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("empty authenticator: err %v, want ErrNoCredential", err)
	}
}

func TestRefusesExcludedCredential(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser("alice")
	cred := register(t, rp, a, u)
	opts, _ := beginReg(t, rp, u, uvRequired, webauthn.WithExclusions([]protocol.CredentialDescriptor{cred.Descriptor()}))
	if _, err := a.Register(opts, testOrigin); !errors.Is(err, ErrExcluded) {
		t.Fatalf("err %v, want ErrExcluded", err)
	}
	// Another authenticator does not hold it, so it may register.
	if _, err := New().Register(opts, testOrigin); err != nil {
		t.Fatal(err)
	}
}

func TestRefusesUnsupportedAlgorithm(t *testing.T) {
	rp, u := newRP(t), newUser("alice")
	opts, _ := beginReg(t, rp, u, webauthn.WithCredentialParameters([]protocol.CredentialParameter{
		{Type: protocol.PublicKeyCredentialType, Algorithm: -257}, // RS256 only
	}))
	if _, err := New().Register(opts, testOrigin); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Fatalf("err %v, want ErrUnsupportedAlgorithm", err)
	}
	if _, err := New().Register(opts, ""); err == nil {
		t.Fatal("empty origin accepted")
	}
}

func TestServerRejectsWrongOrigin(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser("alice")
	opts, session := beginReg(t, rp, u, uvRequired)
	resp, err := a.Register(opts, "https://evil.example")
	if err != nil {
		t.Fatal(err)
	}
	_, err = finishReg(rp, u, session, resp)
	wantRejected(t, err, "Error validating origin")

	register(t, rp, a, u)
	lopts, lsession := beginPasskeyLogin(t, rp)
	resp, err = a.Login(lopts, "http://localhost:8081")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = finishPasskeyLogin(rp, lsession, resp, u)
	wantRejected(t, err, "Error validating origin")
}

func TestServerRejectsOtherRPIDHash(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser("alice")
	register(t, rp, a, u)

	a.RPIDOverride = "evil.example"
	_, _, err := passkeyLogin(t, rp, a, u)
	wantRejected(t, err, "RP Hash mismatch")

	opts, session := beginReg(t, rp, newUser("bob"), uvRequired)
	resp, err := a.Register(opts, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	_, err = finishReg(rp, newUser("bob"), session, resp)
	wantRejected(t, err, "RP Hash mismatch")
}

func TestServerRejectsChallengeOfAnotherCeremony(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser("alice")
	register(t, rp, a, u)

	opts1, session1 := beginPasskeyLogin(t, rp)
	_, session2 := beginPasskeyLogin(t, rp)
	resp, err := a.Login(opts1, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = finishPasskeyLogin(rp, session2, resp, u)
	wantRejected(t, err, "Error validating challenge")

	// go-webauthn keeps no record of spent challenges: the same response
	// against the same SessionData passes again. Only a counter that the
	// server stored in between flags it, and only as CloneWarning.
	_, first, err := finishPasskeyLogin(rp, session1, resp, u)
	if err != nil || first.Authenticator.CloneWarning {
		t.Fatalf("first use: err %v, clone warning %v", err, first.Authenticator.CloneWarning)
	}
	_, again, err := finishPasskeyLogin(rp, session1, resp, u)
	if err != nil {
		t.Fatalf("replay against the same session: %v; go-webauthn changed, update the package doc", err)
	}
	if !again.Authenticator.CloneWarning {
		t.Fatal("replay with an already stored counter raised no CloneWarning")
	}

	// A registration response against another registration's session.
	ropts, _ := beginReg(t, rp, newUser("bob"), uvRequired)
	_, rsession2 := beginReg(t, rp, newUser("bob"), uvRequired)
	rresp, err := New().Register(ropts, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	_, err = finishReg(rp, newUser("bob"), rsession2, rresp)
	wantRejected(t, err, "Error validating challenge")
}

func TestServerRejectsMissingUserVerification(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser("alice")
	register(t, rp, a, u)

	a.UserVerified = false
	_, _, err := passkeyLogin(t, rp, a, u)
	wantRejected(t, err, "User verification required but flag not set")

	opts, session := beginReg(t, rp, newUser("bob"), uvRequired)
	resp, err := a.Register(opts, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	_, err = finishReg(rp, newUser("bob"), session, resp)
	wantRejected(t, err, "User verification required but flag not set")

	// When the RP only prefers UV, UV=0 passes: the check is the RP's policy.
	assertion, lsession, err := rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(assertion.Response)
	if resp, err = a.Login(js, testOrigin); err != nil {
		t.Fatal(err)
	}
	if _, _, err = finishPasskeyLogin(rp, lsession, resp, u); err != nil {
		t.Fatalf("UV preferred, UV=0: %v (%s)", err, devInfo(err))
	}
}

func TestServerRejectsMissingUserPresence(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser("alice")
	register(t, rp, a, u)
	a.NoUserPresence = true
	_, _, err := passkeyLogin(t, rp, a, u)
	wantRejected(t, err, "User presence required but flag not set")
}

// A clone whose counter does not go forward is NOT an error in go-webauthn:
// it returns the credential with Authenticator.CloneWarning set and the
// stored SignCount unchanged.
func TestClonedAuthenticatorOnlyWarns(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser("alice")
	register(t, rp, a, u)
	clone := a.Clone()

	if _, c, err := passkeyLogin(t, rp, a, u); err != nil || c.Authenticator.SignCount != 1 || c.Authenticator.CloneWarning {
		t.Fatalf("original: err %v cred %+v", err, c)
	}
	// The clone has the same key and still counter 0, so it reports 1 again.
	_, c, err := passkeyLogin(t, rp, clone, u)
	if err != nil {
		t.Fatalf("clone: %v; go-webauthn changed, update the package doc", err)
	}
	if !c.Authenticator.CloneWarning || c.Authenticator.SignCount != 1 {
		t.Fatalf("clone: clone warning %v, stored count %d; want true, 1", c.Authenticator.CloneWarning, c.Authenticator.SignCount)
	}

	// Going backwards explicitly: server has 1, authenticator jumps to 10,
	// then is set back to 3 (reports 4).
	id := a.Credentials()[0].ID
	if err := a.SetSignCount(id, 9); err != nil {
		t.Fatal(err)
	}
	u.creds[0].Authenticator.CloneWarning = false // the RP decided to carry on
	if _, c, err = passkeyLogin(t, rp, a, u); err != nil || c.Authenticator.SignCount != 10 || c.Authenticator.CloneWarning {
		t.Fatalf("count 10: err %v cred %+v", err, c.Authenticator)
	}
	if err := a.SetSignCount(id, 3); err != nil {
		t.Fatal(err)
	}
	if _, c, err = passkeyLogin(t, rp, a, u); err != nil || c.Authenticator.SignCount != 10 || !c.Authenticator.CloneWarning {
		t.Fatalf("count back to 4: err %v cred %+v", err, c.Authenticator)
	}
	if a.Credentials()[0].SignCount != 4 || clone.Credentials()[0].SignCount != 1 {
		t.Fatalf("clone shares state with the original: %v / %v", a.Credentials(), clone.Credentials())
	}
	if err := a.SetSignCount([]byte("nope"), 1); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("SetSignCount on unknown id: %v", err)
	}
}

// Synced passkeys report 0 every time; go-webauthn raises no warning then.
func TestFixedCounterRaisesNoWarning(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser("alice")
	a.FixedCounter = true
	a.BackupEligible, a.BackedUp = true, true
	cred := register(t, rp, a, u)
	if !cred.Flags.BackupEligible || !cred.Flags.BackupState {
		t.Fatalf("flags %+v, want BE and BS", cred.Flags)
	}
	for i := 0; i < 3; i++ {
		_, c, err := passkeyLogin(t, rp, a, u)
		if err != nil || c.Authenticator.SignCount != 0 || c.Authenticator.CloneWarning {
			t.Fatalf("login %d: err %v authenticator %+v", i, err, c)
		}
	}
	// BE may not change over a credential's life (WebAuthn §6.1.3).
	a.BackupEligible, a.BackedUp = false, false
	_, _, err := passkeyLogin(t, rp, a, u)
	wantRejected(t, err, "Backup Eligible flag inconsistency")
}

func ExampleAuthenticator() {
	rp, _ := webauthn.New(&webauthn.Config{RPID: "localhost", RPDisplayName: "Test", RPOrigins: []string{testOrigin}})
	user := newUser("alice")
	a := New()

	creation, session, _ := rp.BeginRegistration(user)
	opts, _ := json.Marshal(creation.Response)
	resp, _ := a.Register(opts, testOrigin)
	parsed, _ := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(resp))
	cred, err := rp.CreateCredential(user, *session, parsed)
	fmt.Println(err == nil && bytes.Equal(cred.ID, a.Credentials()[0].ID))
	// Output: true
}
