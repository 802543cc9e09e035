package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// The endpoints of accounts by email (CONTRACT §7). A 202 means the mail
// is queued in the database and will be delivered, whatever the SMTP
// server is doing right now.

// accepted answers 202 with a small body that says nothing about the
// account (the same for a known and an unknown address).
func accepted(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted"})
}

func (a *api) handleSendVerification(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	if err := a.svc.SendVerification(r.Context(), c); err != nil {
		a.writeError(w, r, err)
		return
	}
	accepted(w)
}

func (a *api) handleVerifyEmail(w http.ResponseWriter, r *http.Request) {
	f, err := decodeJSON(w, r, false, "token")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	u, err := a.svc.VerifyEmail(r.Context(), f["token"])
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
}

func (a *api) handleForgotPassword(w http.ResponseWriter, r *http.Request) {
	f, err := decodeJSON(w, r, false, "email")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.svc.ForgotPassword(r.Context(), f["email"]); err != nil {
		a.writeError(w, r, err)
		return
	}
	accepted(w)
}

func (a *api) handleResetPassword(w http.ResponseWriter, r *http.Request) {
	f, err := decodeJSON(w, r, false, "token", "new_password")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.svc.ResetPassword(r.Context(), f["token"], f["new_password"]); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) handleChangeEmail(w http.ResponseWriter, r *http.Request, c *gatehouse.AccessClaims) {
	f, err := decodeJSON(w, r, false, "new_email", "current_password")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.svc.ChangeEmail(r.Context(), c, f["new_email"], f["current_password"], a.clientInfo(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	accepted(w)
}

func (a *api) handleConfirmEmail(w http.ResponseWriter, r *http.Request) {
	f, err := decodeJSON(w, r, false, "token")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	u, err := a.svc.ConfirmEmailChange(r.Context(), f["token"])
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
}
