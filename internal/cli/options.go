package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/server"
)

// flagOf maps the fields of server.Config to the flags that set them, so
// that a configuration error names what the operator typed. Flag names
// live only in this package.
var flagOf = map[string]string{
	"DB":              "db",
	"Issuer":          "issuer",
	"Audience":        "audience",
	"AccessTTL":       "access-ttl",
	"RefreshTTL":      "refresh-ttl",
	"SessionTTL":      "session-ttl",
	"ReuseGrace":      "reuse-grace",
	"AuditRetention":  "audit-retention",
	"LoginLimit":      "login-limit",
	"RegisterLimit":   "register-limit",
	"SigningAlg":      "signing-alg",
	"HMACSecret":      "hmac-secret",
	"KeySecret":       "key-secret",
	"CORSOrigins":     "cors-origins",
	"PasswordParams":  "argon2-memory/--argon2-time",
	"HashWorkers":     "hash-workers",
	"TrustedProxies":  "trusted-proxies",
	"AccountLimit":    "account-limit",
	"SMTPURL":         "smtp-url",
	"SMTPFrom":        "smtp-from",
	"AppURL":          "app-url",
	"VerifyTTL":       "verify-ttl",
	"ResetTTL":        "reset-ttl",
	"MailLimit":       "mail-limit",
	"MailTemplates":   "mail-templates",
	"MailRetry":       "mail-retry",
	"MailGiveUp":      "mail-give-up",
	"MailLease":       "mail-lease",
	"TLSCert":         "tls-cert",
	"TLSKey":          "tls-key",
	"WebAuthnRPID":    "webauthn-rp-id",
	"WebAuthnOrigins": "webauthn-origins",
}

// commandError prefixes err with the command, and a configuration error
// with the flag of its field.
//
// Errors of the domain are said as a user would: "email already in use",
// not the layers they passed through (the chain stays for errors.Is).
func commandError(verb string, err error) error {
	var ce *gatehouse.ConfigError
	if errors.As(err, &ce) {
		if f, ok := flagOf[ce.Field]; ok {
			return fmt.Errorf("gatehouse %s: --%s: %w", verb, f, ce.Err)
		}
	}
	var ve *gatehouse.ValidationError
	if errors.As(err, &ve) {
		return &userError{msg: fmt.Sprintf("gatehouse %s: %s", verb, strings.TrimPrefix(ve.Error(), "invalid input: ")), err: err}
	}
	for _, m := range userMessages {
		if errors.Is(err, m.err) {
			return &userError{msg: fmt.Sprintf("gatehouse %s: %s", verb, m.msg), err: err}
		}
	}
	return fmt.Errorf("gatehouse %s: %w", verb, err)
}

// userMessages are what the CLI says for the errors an operator causes.
var userMessages = []struct {
	err error
	msg string
}{
	{gatehouse.ErrEmailTaken, "email already in use"},
	{gatehouse.ErrNotFound, "no such user"},
	{gatehouse.ErrUnavailable, "the database cannot be reached"},
	{gatehouse.ErrServerBusy, "password hashing is busy; try again"},
	{gatehouse.ErrLastAdmin, "this would leave no enabled administrator: make another user admin first (gatehouse user set-role --email E --role admin)"},
}

// userError is an error said plainly, keeping its cause for errors.Is.
type userError struct {
	msg string
	err error
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.err }

// options are the flags shared by the verbs that open the database; they
// write into a server.Config that starts from server.DefaultConfig.
type options struct {
	cfg        server.Config
	keySecret  secretValue
	hmacSecret secretValue
	logFormat  string
	logLevel   string
}

func newOptions() *options { return &options{cfg: server.DefaultConfig()} }

func (o *options) register(c *command, withSigning bool) {
	c.fs.StringVar(&o.cfg.DB, "db", o.cfg.DB, "database: sqlite:PATH (embedded) or a postgres:// URL")
	c.fs.Var(&o.keySecret, "key-secret", "secret that encrypts the private signing keys at rest; with SQLite, generated into DB-PATH.key when unset")
	if withSigning {
		c.fs.StringVar(&o.cfg.SigningAlg, "signing-alg", "", "access-token signing algorithm: EdDSA, ES256, RS256 or HS256 (unset: the algorithm in force, EdDSA for a new database)")
		c.fs.Var(&o.hmacSecret, "hmac-secret", "HS256 only: the signing secret, at least 32 bytes")
	}
	c.fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	c.fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

func (o *options) logger(stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: must be debug, info, warn or error", o.logLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(stderr, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: must be text or json", o.logFormat)
}

// config returns the server.Config the flags describe.
func (o *options) config(stderr io.Writer) (server.Config, error) {
	log, err := o.logger(stderr)
	if err != nil {
		return server.Config{}, err
	}
	cfg := o.cfg
	cfg.Logger = log
	cfg.KeySecret, cfg.HMACSecret = []byte(o.keySecret), []byte(o.hmacSecret)
	return cfg, nil
}

// secretValue is a flag holding a secret: help and errors never print it.
type secretValue string

func (v *secretValue) String() string     { return "" }
func (v *secretValue) Set(s string) error { *v = secretValue(s); return nil }
