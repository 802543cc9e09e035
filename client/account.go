package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// User is Gatehouse's user as the API answers it.
type User struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	CreatedAt     time.Time `json:"created_at"`
	Role          string    `json:"role"` // "user" or "admin"
}

// Accounts by email. The token of VerifyEmail, ResetPassword and
// ConfirmEmail is what follows "#token=" in the link of the mail.

// ForgotPassword asks for a password-reset mail (POST
// /api/auth/password/forgot). It succeeds the same whether or not the
// address has an account.
func (s *Session) ForgotPassword(ctx context.Context, email string) error {
	return s.expect(ctx, "/api/auth/password/forgot", "", map[string]string{"email": email}, http.StatusAccepted, nil)
}

// ResetPassword sets a new password with the token of a reset mail. Every
// session of the user ends, this one included: log in again.
func (s *Session) ResetPassword(ctx context.Context, token, newPassword string) error {
	return s.expect(ctx, "/api/auth/password/reset", "", map[string]string{"token": token, "new_password": newPassword}, http.StatusNoContent, nil)
}

// VerifyEmail confirms an address with the token of a verification mail.
func (s *Session) VerifyEmail(ctx context.Context, token string) (*User, error) {
	var u User
	err := s.expect(ctx, "/api/auth/verify-email", "", map[string]string{"token": token}, http.StatusOK, &u)
	return &u, err
}

// ConfirmEmail finishes a change of email with the token sent to the new
// address.
func (s *Session) ConfirmEmail(ctx context.Context, token string) (*User, error) {
	var u User
	err := s.expect(ctx, "/api/auth/email/confirm", "", map[string]string{"token": token}, http.StatusOK, &u)
	return &u, err
}

// SendVerification mails a new verification link to the logged-in user.
func (s *Session) SendVerification(ctx context.Context) error {
	t, err := s.Token(ctx)
	if err != nil {
		return err
	}
	return s.expect(ctx, "/api/auth/verify-email/send", t.AccessToken, struct{}{}, http.StatusAccepted, nil)
}

// ChangeEmail asks to move the logged-in account to newEmail; the change
// happens when the link mailed there is followed ([Session.ConfirmEmail]).
func (s *Session) ChangeEmail(ctx context.Context, newEmail, currentPassword string) error {
	t, err := s.Token(ctx)
	if err != nil {
		return err
	}
	return s.expect(ctx, "/api/auth/email", t.AccessToken,
		map[string]string{"new_email": newEmail, "current_password": currentPassword}, http.StatusAccepted, nil)
}

// expect posts body (with a bearer token when access is set) and wants
// status; out, when set, receives the JSON answer.
func (s *Session) expect(ctx context.Context, path, access string, body any, status int, out any) error {
	return s.expectMethod(ctx, http.MethodPost, path, access, body, status, out)
}

func (s *Session) expectMethod(ctx context.Context, method, path, access string, body any, status int, out any) error {
	resp, err := s.send(ctx, method, path, access, body)
	if err != nil {
		return fmt.Errorf("client: %s: %w", path, err)
	}
	if resp.StatusCode != status {
		return readError(resp)
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProblem))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxProblem)).Decode(out); err != nil {
		return fmt.Errorf("client: %s: bad response: %w", path, err)
	}
	return nil
}

// UpdateProfile sets the logged-in user's display name (PATCH
// /api/users/me) and returns the user.
func (s *Session) UpdateProfile(ctx context.Context, name string) (*User, error) {
	t, err := s.Token(ctx)
	if err != nil {
		return nil, err
	}
	var u User
	err = s.expectMethod(ctx, http.MethodPatch, "/api/users/me", t.AccessToken, map[string]string{"name": name}, http.StatusOK, &u)
	return &u, err
}
