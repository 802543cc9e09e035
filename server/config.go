package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/mailer"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/token"
)

// Config configures a Gatehouse. Start from [DefaultConfig]; [New]
// validates it ([Config.Validate]) and names the field that is wrong.
type Config struct {
	// DB is "sqlite:PATH" (embedded) or a postgres:// URL; see [ParseDB].
	DB string
	// Issuer is the iss of every token and the base of the metadata URLs;
	// required.
	Issuer   string
	Audience string

	// Policy holds the token lifetimes, the reuse grace and the attempt
	// limits.
	gatehouse.Policy

	// SigningAlg is EdDSA, ES256, RS256 or HS256. Empty means the algorithm
	// in force: the newest stored key's, or EdDSA when there is none.
	SigningAlg string
	HMACSecret []byte // HS256 only; at least 32 bytes
	// KeySecret protects the private signing keys at rest. With SQLite and
	// none given, one is generated into KeySecretFile (default: the
	// database path + ".key", mode 0600) on first start.
	KeySecret     []byte
	KeySecretFile string

	CORSOrigins []string

	// WebAuthnRPID is the domain passkeys are bound to; empty means the
	// issuer's host ("localhost" when the issuer is a loopback address,
	// since WebAuthn takes no IP address). WebAuthnOrigins are the origins
	// passkey ceremonies may come from; empty means the issuer's origin and
	// CORSOrigins, those of them on the RP ID.
	WebAuthnRPID    string
	WebAuthnOrigins []string

	// Mail: SMTPURL is smtp://[user:pass@]host:port (STARTTLS when offered;
	// ?tls=required insists) or smtps://host:port. Empty: mails are written
	// to the log instead (development). SMTPFrom defaults to
	// "Gatehouse <no-reply@ISSUER-HOST>"; AppURL, the base of the links in
	// mails, to the issuer; MailTemplates is a directory whose templates
	// replace the embedded ones of the same name.
	SMTPURL       string
	SMTPFrom      string
	AppURL        string
	MailTemplates string
	// MailRetry is the wait after a mail's first failed attempt; it doubles
	// after each further one, up to an hour. MailGiveUp is how long a mail
	// is retried before it is given up (and kept, with the reason).
	MailRetry  time.Duration
	MailGiveUp time.Duration
	// MailLease is how long an instance holds a mail it is sending; after
	// a crash, another instance (or the restarted one) takes the mail over
	// when the lease runs out. A delivery gets half of it at most.
	MailLease time.Duration
	// TrustedProxies are the reverse proxies in front of Gatehouse: from
	// them, and only them, X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	// TLSCert and TLSKey are the PEM certificate chain and private key
	// files whoever serves the handler (the gatehouse CLI) speaks HTTPS
	// with; both or neither. With them the issuer must be https://.
	TLSCert string
	TLSKey  string
	// PrivateMetrics keeps /metrics off the public handler; serve
	// [Server.MetricsHandler] on a listener of its own.
	PrivateMetrics bool

	// Password hashing: the argon2id parameters, and how many hashes run
	// at once at most (0: as many as the CPUs); the hasher lowers it so that
	// no more than 64 MiB of argon2id memory is held at once.
	PasswordParams password.Params
	HashWorkers    int

	// KeyReload is how often the key ring is re-read from the database, so
	// that a rotation made by another process takes effect.
	KeyReload time.Duration
	// RevocationPoll is how often the revocation feed is read.
	RevocationPoll time.Duration

	Logger *slog.Logger // nil: discard
	// App serves the demo single-page app; nil serves a placeholder.
	App http.Handler
	// Demo serves the demo app and its /api/posts; false leaves both out
	// and / answers a short status page (production, where the API is
	// all that is wanted).
	Demo bool
}

// DefaultConfig returns the defaults of every field but Issuer.
func DefaultConfig() Config {
	return Config{
		DB:             "sqlite:gatehouse.db",
		Audience:       "gatehouse",
		Policy:         gatehouse.DefaultPolicy(),
		PasswordParams: password.OWASP,
		KeyReload:      2 * time.Second,
		MailRetry:      10 * time.Second,
		MailGiveUp:     48 * time.Hour,
		MailLease:      2 * time.Minute,
		RevocationPoll: 250 * time.Millisecond,
		Demo:           true,
	}
}

func configErr(field string, format string, args ...any) error {
	return &gatehouse.ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate reports the first field that is wrong, as a
// *gatehouse.ConfigError naming it.
func (c Config) Validate() error {
	db, err := ParseDB(c.DB)
	if err != nil {
		return err
	}
	if db.Postgres() && len(c.KeySecret) == 0 {
		// Instances behind one load balancer must share the secret, so
		// none may invent its own.
		return configErr("KeySecret", "is required with PostgreSQL: every instance must share it")
	}
	if len(c.KeySecret) > 0 && len(c.KeySecret) < 32 {
		return configErr("KeySecret", "must be at least 32 bytes")
	}
	if c.Issuer == "" {
		return configErr("Issuer", "is required")
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return configErr("Issuer", "%q: must be an http(s) URL without query or fragment", c.Issuer)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		if c.TLSCert == "" {
			return configErr("TLSCert", "is required with the TLS key: give both files or neither")
		}
		return configErr("TLSKey", "is required with the TLS certificate: give both files or neither")
	}
	if c.TLSCert != "" && u.Scheme != "https" {
		// Tokens would name an origin the server does not answer on, and
		// clients would fetch the JWKS over a scheme it does not speak.
		return configErr("Issuer", "%q: TLS is on, so the issuer must be https://", c.Issuer)
	}
	if c.Audience == "" {
		return configErr("Audience", "is required")
	}
	if err := c.Policy.Validate(); err != nil {
		return err
	}
	switch c.SigningAlg {
	case "", token.EdDSA, token.ES256, token.RS256:
		if len(c.HMACSecret) > 0 {
			return configErr("HMACSecret", "is only used with the HS256 signing algorithm")
		}
	case token.HS256:
		if len(c.HMACSecret) < 32 {
			return configErr("HMACSecret", "HS256 needs a secret of at least 32 bytes (RFC 7518 §3.2)")
		}
	default:
		return configErr("SigningAlg", "%q: must be EdDSA, ES256, RS256 or HS256", c.SigningAlg)
	}
	if c.SMTPURL != "" {
		if _, err := mailer.NewSMTP(c.SMTPURL, "x@example.com"); err != nil {
			return configErr("SMTPURL", "%s: %v", redactDSN(c.SMTPURL), err)
		}
	}
	if c.SMTPFrom != "" {
		if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
			return configErr("SMTPFrom", "%q: not an address such as \"Gatehouse <no-reply@example.com>\"", c.SMTPFrom)
		}
	}
	if c.AppURL != "" {
		u, err := url.Parse(c.AppURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return configErr("AppURL", "%q: must be an http(s) URL without query or fragment", c.AppURL)
		}
	}
	if err := c.PasswordParams.Validate(); err != nil {
		return &gatehouse.ConfigError{Field: "PasswordParams", Err: err}
	}
	if c.HashWorkers < 0 {
		return configErr("HashWorkers", "must not be negative")
	}
	if c.MailRetry <= 0 {
		return configErr("MailRetry", "must be positive")
	}
	if c.MailLease < 2*time.Second {
		return configErr("MailLease", "must be at least 2s")
	}
	if c.MailGiveUp <= 0 {
		return configErr("MailGiveUp", "must be positive")
	}
	if c.KeyReload <= 0 {
		return configErr("KeyReload", "must be positive")
	}
	if c.RevocationPoll <= 0 {
		return configErr("RevocationPoll", "must be positive")
	}
	return nil
}

// DB is a parsed database setting: a SQLite file or a PostgreSQL URL.
type DB struct {
	Path string // SQLite file, when not PostgreSQL
	URL  string // postgres:// or postgresql:// URL
}

// ParseDB parses "sqlite:PATH" or a postgres:// URL. Errors name the DB
// field and never show a password.
func ParseDB(s string) (DB, error) {
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		path := strings.TrimPrefix(s, "sqlite:")
		if path == "" {
			return DB{}, configErr("DB", "sqlite:PATH: the path is empty")
		}
		return DB{Path: path}, nil
	case strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			return DB{}, configErr("DB", "%s: not a URL", redactDSN(s))
		}
		return DB{URL: s}, nil
	case s == "":
		return DB{}, configErr("DB", "is required")
	}
	return DB{}, configErr("DB", "%q: must be sqlite:PATH or a postgres:// URL", redactDSN(s))
}

// Postgres reports whether db is PostgreSQL.
func (db DB) Postgres() bool { return db.URL != "" }

// String names the database without any password.
func (db DB) String() string {
	if db.Postgres() {
		return redactDSN(db.URL)
	}
	return "sqlite:" + db.Path
}

// redactDSN hides a password in a connection URL, for messages.
func redactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return dsn
	}
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return dsn
}
