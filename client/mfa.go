package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Second factors (TOTP, recovery codes, passkeys as a second step, step-up).
//
// A [Session.Login] of a user who has a second factor fails with an
// [*Error] whose Code is "mfa_required" (errors.Is(err,
// gatehouse.ErrMFARequired)) and whose MFAToken and Methods say how to go
// on: ask the user for a code and call [Session.CompleteMFA] with the
// token. A request refused with "insufficient_user_authentication" (an
// aal1 session and a sensitive action) is answered by [Session.StepUp].

// MFAStatus says which second factors the logged-in user has.
type MFAStatus struct {
	TOTP              bool `json:"totp"`
	RecoveryCodesLeft int  `json:"recovery_codes_left"`
	Passkeys          int  `json:"passkeys"`
}

// MFAStatus returns the logged-in user's second factors (GET /api/auth/mfa).
func (s *Session) MFAStatus(ctx context.Context) (*MFAStatus, error) {
	t, err := s.Token(ctx)
	if err != nil {
		return nil, err
	}
	var st MFAStatus
	return &st, s.expectMethod(ctx, http.MethodGet, "/api/auth/mfa", t.AccessToken, nil, http.StatusOK, &st)
}

// EnrollTOTP starts setting up an authenticator app and returns its
// secret and otpauth:// URI (show it as a QR code); [Session.ConfirmTOTP]
// with a first code puts it in force.
func (s *Session) EnrollTOTP(ctx context.Context, currentPassword string) (secret, uri string, err error) {
	t, err := s.Token(ctx)
	if err != nil {
		return "", "", err
	}
	var out struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
	}
	err = s.expect(ctx, "/api/auth/mfa/totp", t.AccessToken, map[string]string{"current_password": currentPassword}, http.StatusOK, &out)
	return out.Secret, out.URI, err
}

// ConfirmTOTP puts the authenticator app in force with its current code
// and returns the recovery codes, to show the user once. The session is
// aal2 from then on: the session's new access token replaces the held one.
func (s *Session) ConfirmTOTP(ctx context.Context, code string) ([]string, error) {
	var out struct {
		RecoveryCodes []string `json:"recovery_codes"`
		tokenResponse
	}
	err := s.withNewAccessToken(ctx, "/api/auth/mfa/totp/confirm", map[string]string{"code": code}, &out, &out.tokenResponse)
	return out.RecoveryCodes, err
}

// DisableTOTP turns the authenticator app off (it needs an aal2 session).
func (s *Session) DisableTOTP(ctx context.Context) error {
	t, err := s.Token(ctx)
	if err != nil {
		return err
	}
	return s.expectMethod(ctx, http.MethodDelete, "/api/auth/mfa/totp", t.AccessToken, nil, http.StatusNoContent, nil)
}

// RegenerateRecoveryCodes replaces the recovery codes (the old ones stop
// working) and returns the new ones (it needs an aal2 session).
func (s *Session) RegenerateRecoveryCodes(ctx context.Context) ([]string, error) {
	t, err := s.Token(ctx)
	if err != nil {
		return nil, err
	}
	var out struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	err = s.expect(ctx, "/api/auth/mfa/recovery-codes", t.AccessToken, nil, http.StatusOK, &out)
	return out.RecoveryCodes, err
}

// CompleteMFA answers the challenge of a login that failed with
// "mfa_required" (pass [Error.MFAToken]) with a TOTP code, a recovery
// code, or a passkey assertion, and saves the new token pair as Login
// does. A passkey answer is the challenge_id of POST
// /api/auth/passkeys/login/options and the credential the browser or
// authenticator made for its options (PublicKeyCredential.toJSON(), as
// JSON bytes) in ChallengeID and Credential.
func (s *Session) CompleteMFA(ctx context.Context, mfaToken string, answer gatehouse.MFAAnswer) error {
	return s.signIn(ctx, "/api/auth/mfa/verify", answerBody(answer, map[string]any{"mfa_token": mfaToken}))
}

// StepUp raises the logged-in session to aal2 with a TOTP code, a
// recovery code or a passkey assertion (as for [Session.CompleteMFA];
// RFC 9470), after a request was refused with
// "insufficient_user_authentication"; retry the request afterwards.
func (s *Session) StepUp(ctx context.Context, answer gatehouse.MFAAnswer) error {
	var out tokenResponse
	return s.withNewAccessToken(ctx, "/api/auth/mfa/verify", answerBody(answer, map[string]any{}), &out, &out)
}

// answerBody is the JSON of an answer to POST /api/auth/mfa/verify: a
// recovery code, a passkey assertion (challenge_id and the credential
// object, sent as JSON, not as base64 bytes), or a TOTP code.
func answerBody(a gatehouse.MFAAnswer, body map[string]any) map[string]any {
	switch {
	case a.RecoveryCode != "":
		body["recovery_code"] = a.RecoveryCode
	case a.ChallengeID != "" || len(a.Credential) > 0:
		body["challenge_id"] = a.ChallengeID
		body["credential"] = json.RawMessage(a.Credential)
	default:
		body["code"] = a.Code
	}
	return body
}

// withNewAccessToken posts body with the session's access token to a route
// that answers a new access token for the same session (tr, part of out),
// and keeps it with the session's refresh token.
func (s *Session) withNewAccessToken(ctx context.Context, path string, body, out any, tr *tokenResponse) error {
	if _, err := s.Token(ctx); err != nil {
		return err
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	t, err := s.loadLocked(ctx)
	if err != nil {
		return err
	}
	if t == nil {
		return ErrLoggedOut
	}
	start := s.cfg.Now()
	if err := s.expect(ctx, path, t.AccessToken, body, http.StatusOK, out); err != nil {
		return err
	}
	if tr.AccessToken == "" || tr.ExpiresIn <= 0 || !strings.EqualFold(tr.TokenType, "bearer") {
		return fmt.Errorf("client: %s: response lacks a bearer access token", path)
	}
	next := &Token{
		AccessToken: tr.AccessToken, RefreshToken: t.RefreshToken,
		Expiry: start.Add(time.Duration(tr.ExpiresIn) * time.Second), ExpiresIn: tr.ExpiresIn,
	}
	if err := s.cfg.Store.Save(ctx, next); err != nil {
		return errors.Join(fmt.Errorf("client: %s: token not saved", path), err)
	}
	s.set(next)
	return nil
}
