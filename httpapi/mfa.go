package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// Second factors (CONTRACT §8): TOTP enrolment, recovery codes, the second
// step of a login, and step-up.

type mfaStatusJSON struct {
	TOTP              bool `json:"totp"`
	RecoveryCodesLeft int  `json:"recovery_codes_left"`
	Passkeys          int  `json:"passkeys"`
}

func (a *api) handleMFAStatus(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	st, err := a.svc.MFAStatus(r.Context(), c)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeNoStore(w, http.StatusOK, mfaStatusJSON{TOTP: st.TOTP, RecoveryCodesLeft: st.RecoveryCodesLeft, Passkeys: st.Passkeys})
}

func (a *api) handleEnrollTOTP(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	f, err := decodeJSON(w, r, false, "current_password")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	secret, uri, err := a.svc.EnrollTOTP(r.Context(), c, f["current_password"], a.clientInfo(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeNoStore(w, http.StatusOK, map[string]string{"secret": secret, "otpauth_uri": uri})
}

// recoveryCodesJSON answers a confirmation (with the session's new aal2
// access token, an extension of CONTRACT §8 so that the client need not
// refresh) or a regeneration (codes only).
type recoveryCodesJSON struct {
	RecoveryCodes []string `json:"recovery_codes"`
	AccessToken   string   `json:"access_token,omitempty"`
	TokenType     string   `json:"token_type,omitempty"`
	ExpiresIn     int      `json:"expires_in,omitempty"`
}

func (a *api) handleConfirmTOTP(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	f, err := decodeJSON(w, r, false, "code")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if f["code"] == "" {
		a.writeError(w, r, gatehouse.Invalid("code", "is required"))
		return
	}
	codes, g, err := a.svc.ConfirmTOTP(r.Context(), c, f["code"])
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeNoStore(w, http.StatusOK, recoveryCodesJSON{RecoveryCodes: codes, AccessToken: g.AccessToken, TokenType: "bearer", ExpiresIn: g.ExpiresIn})
}

func (a *api) handleDisableTOTP(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	if err := a.svc.DisableTOTP(r.Context(), c); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) handleRecoveryCodes(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	codes, err := a.svc.RegenerateRecoveryCodes(r.Context(), c)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeNoStore(w, http.StatusOK, recoveryCodesJSON{RecoveryCodes: codes})
}

// handleMFAVerify is both the second step of a login (with mfa_token, no
// bearer) and step-up (with a bearer token, no mfa_token).
func (a *api) handleMFAVerify(w http.ResponseWriter, r *http.Request) {
	if len(r.Header.Values("Authorization")) > 0 {
		a.authenticated(a.handleStepUp).ServeHTTP(w, r)
		return
	}
	f, err := decodeJSON(w, r, false, "mfa_token", "code", "recovery_code")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if f["mfa_token"] == "" {
		a.writeError(w, r, gatehouse.Invalid("mfa_token", "is required (or send a bearer token to step up)"))
		return
	}
	answer := gatehouse.MFAAnswer{Code: f["code"], RecoveryCode: f["recovery_code"]}
	g, err := a.svc.VerifyMFA(r.Context(), f["mfa_token"], answer, a.clientInfo(r))
	a.metrics.countLogin(err)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeGrant(w, g, wantsCookie(r))
}

func (a *api) handleStepUp(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	f, err := decodeJSON(w, r, false, "code", "recovery_code", "mfa_token")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if f["mfa_token"] != "" {
		a.writeError(w, r, badRequest("send an mfa_token without a bearer token, or a bearer token without an mfa_token"))
		return
	}
	g, err := a.svc.StepUp(r.Context(), c, gatehouse.MFAAnswer{Code: f["code"], RecoveryCode: f["recovery_code"]}, a.clientInfo(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeNoStore(w, http.StatusOK, tokensJSON{AccessToken: g.AccessToken, TokenType: "bearer", ExpiresIn: g.ExpiresIn})
}

// writeNoStore answers JSON that holds secrets or tokens: no cache may
// keep it (RFC 6749 §5.1).
func writeNoStore(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, v)
}

// insufficientAuthChallenge is the RFC 9470 §3 challenge of a route that
// needs aal2.
const insufficientAuthChallenge = `Bearer realm="gatehouse", error="insufficient_user_authentication", ` +
	`error_description="a second factor is required for this action", acr_values="aal2"`
