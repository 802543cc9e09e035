package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Passkeys (CONTRACT §8): WebAuthn ceremonies as JSON. The options are
// the WebAuthn Level 3 JSON forms that PublicKeyCredential's
// parse…OptionsFromJSON and @simplewebauthn/browser take; the credential
// is what PublicKeyCredential.toJSON() gives.

type passkeyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Synced     bool       `json:"synced"` // backed up to the user's other devices
}

func toPasskeyJSON(p *gatehouse.Passkey) passkeyJSON {
	out := passkeyJSON{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt.UTC(), Synced: p.BackedUp}
	if !p.LastUsedAt.IsZero() {
		t := p.LastUsedAt.UTC()
		out.LastUsedAt = &t
	}
	return out
}

// ceremonyJSON is the answer of an options route: the challenge to send
// back with the credential, and the options for the browser.
type ceremonyJSON struct {
	ChallengeID string          `json:"challenge_id"`
	PublicKey   json.RawMessage `json:"publicKey"`
}

func (a *api) handlePasskeyRegisterOptions(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	id, options, err := a.svc.PasskeyRegistrationOptions(r.Context(), c)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeNoStore(w, http.StatusOK, ceremonyJSON{ChallengeID: id, PublicKey: options})
}

func (a *api) handlePasskeyRegister(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	f, err := decodeCeremony(w, r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := a.svc.RegisterPasskey(r.Context(), c, f["challenge_id"], []byte(f["credential"]), f["name"])
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toPasskeyJSON(p))
}

// decodeCeremony reads the end of a ceremony: challenge_id and the
// credential object, both required, and the more string members named.
func decodeCeremony(w http.ResponseWriter, r *http.Request, more ...string) (fields, error) {
	f, err := decodeJSON(w, r, false, append([]string{"challenge_id", "credential{}"}, more...)...)
	if err != nil {
		return nil, err
	}
	return f, requireCeremony(f)
}

func requireCeremony(f fields) error {
	var verr *gatehouse.ValidationError
	if f["challenge_id"] == "" {
		verr = verr.Add("challenge_id", "is required")
	}
	if f["credential"] == "" {
		verr = verr.Add("credential", "is required")
	}
	return verr.Err()
}

func (a *api) handlePasskeys(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	ps, err := a.svc.Passkeys(r.Context(), c)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]passkeyJSON, 0, len(ps))
	for i := range ps {
		out = append(out, toPasskeyJSON(&ps[i]))
	}
	writeNoStore(w, http.StatusOK, out)
}

func (a *api) handleRenamePasskey(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	f, err := decodeJSON(w, r, false, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := a.svc.RenamePasskey(r.Context(), c, r.PathValue("id"), f["name"])
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toPasskeyJSON(p))
}

func (a *api) handleDeletePasskey(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	if err := a.svc.DeletePasskey(r.Context(), c, r.PathValue("id")); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) handlePasskeyLoginOptions(w http.ResponseWriter, r *http.Request) {
	id, options, err := a.svc.PasskeyLoginOptions(r.Context(), a.clientInfo(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeNoStore(w, http.StatusOK, ceremonyJSON{ChallengeID: id, PublicKey: options})
}

func (a *api) handlePasskeyLogin(w http.ResponseWriter, r *http.Request) {
	f, err := decodeCeremony(w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	g, err := a.svc.LoginWithPasskey(r.Context(), f["challenge_id"], []byte(f["credential"]), a.clientInfo(r))
	a.metrics.countLogin(err)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeGrant(w, g, wantsCookie(r))
}
