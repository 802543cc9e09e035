package httpapi

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Service is what the handlers call: the lifecycle of
// [gatehouse.Service]. The HTTP layer depends on this much and no more,
// so that its tests can answer with any error of the code table.
type Service interface {
	Register(ctx context.Context, email, password, name string, client gatehouse.ClientInfo) (*gatehouse.User, error)
	Login(ctx context.Context, email, password string, client gatehouse.ClientInfo) (*gatehouse.Grant, error)
	Refresh(ctx context.Context, refreshToken string) (*gatehouse.Grant, error)
	Logout(ctx context.Context, refreshToken string) error
	RevokeToken(ctx context.Context, token string) error
	Authenticate(ctx context.Context, bearer string) (*gatehouse.AccessClaims, error)
	Me(ctx context.Context, c *gatehouse.AccessClaims) (*gatehouse.User, error)
	UpdateProfile(ctx context.Context, c *gatehouse.AccessClaims, name string) (*gatehouse.User, error)
	LogoutAll(ctx context.Context, c *gatehouse.AccessClaims) error
	Sessions(ctx context.Context, c *gatehouse.AccessClaims) ([]gatehouse.Session, error)
	DeleteSession(ctx context.Context, c *gatehouse.AccessClaims, id string) error
	ChangePassword(ctx context.Context, c *gatehouse.AccessClaims, current, next string, client gatehouse.ClientInfo) error

	SendVerification(ctx context.Context, c *gatehouse.AccessClaims) error
	VerifyEmail(ctx context.Context, token string) (*gatehouse.User, error)
	ForgotPassword(ctx context.Context, email string) error
	ResetPassword(ctx context.Context, token, newPassword string) error
	ChangeEmail(ctx context.Context, c *gatehouse.AccessClaims, newEmail, currentPassword string, client gatehouse.ClientInfo) error
	ConfirmEmailChange(ctx context.Context, token string) (*gatehouse.User, error)

	MFAStatus(ctx context.Context, c *gatehouse.AccessClaims) (gatehouse.MFAStatus, error)
	EnrollTOTP(ctx context.Context, c *gatehouse.AccessClaims, currentPassword string, client gatehouse.ClientInfo) (secret, uri string, err error)
	ConfirmTOTP(ctx context.Context, c *gatehouse.AccessClaims, code string) ([]string, *gatehouse.Grant, error)
	DisableTOTP(ctx context.Context, c *gatehouse.AccessClaims) error
	RegenerateRecoveryCodes(ctx context.Context, c *gatehouse.AccessClaims) ([]string, error)
	VerifyMFA(ctx context.Context, mfaToken string, answer gatehouse.MFAAnswer, client gatehouse.ClientInfo) (*gatehouse.Grant, error)
	StepUp(ctx context.Context, c *gatehouse.AccessClaims, answer gatehouse.MFAAnswer, client gatehouse.ClientInfo) (*gatehouse.Grant, error)

	PasskeyRegistrationOptions(ctx context.Context, c *gatehouse.AccessClaims) (string, []byte, error)
	RegisterPasskey(ctx context.Context, c *gatehouse.AccessClaims, challengeID string, credential []byte, name string) (*gatehouse.Passkey, error)
	Passkeys(ctx context.Context, c *gatehouse.AccessClaims) ([]gatehouse.Passkey, error)
	RenamePasskey(ctx context.Context, c *gatehouse.AccessClaims, id, name string) (*gatehouse.Passkey, error)
	DeletePasskey(ctx context.Context, c *gatehouse.AccessClaims, id string) error
	PasskeyLoginOptions(ctx context.Context, client gatehouse.ClientInfo) (string, []byte, error)
	LoginWithPasskey(ctx context.Context, challengeID string, credential []byte, client gatehouse.ClientInfo) (*gatehouse.Grant, error)

	ClientCredentials(ctx context.Context, id, secret, scope string, client gatehouse.ClientInfo) (*gatehouse.ClientGrant, error)
	ClientBySecret(ctx context.Context, id, secret, scope string, client gatehouse.ClientInfo) error
	AuthenticateClient(ctx context.Context, bearer, scope string) (*gatehouse.AccessClaims, error)
	Introspect(ctx context.Context, token string) (*gatehouse.Introspection, error)
	RevocationFeed(ctx context.Context, after int64, wait time.Duration) ([]gatehouse.Revocation, int64, error)

	AsAdmin(ctx context.Context, c *gatehouse.AccessClaims) (*gatehouse.Admin, error)
	MyEvents(ctx context.Context, c *gatehouse.AccessClaims, after *gatehouse.EventCursor, limit int) ([]gatehouse.Event, *gatehouse.EventCursor, error)

	CreatePost(ctx context.Context, c *gatehouse.AccessClaims, title, body string) (*gatehouse.Post, error)
	ListPosts(ctx context.Context, after *gatehouse.PostCursor, limit int) ([]gatehouse.Post, *gatehouse.PostCursor, error)
	DeletePost(ctx context.Context, c *gatehouse.AccessClaims, id string) error
}

var _ Service = (*gatehouse.Service)(nil)
