package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/server"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newCommand("serve", "Run the Gatehouse server: the HTTP API, the JWKS and the demo app.", "")
	o := newOptions()
	o.register(c, true)
	cfg := &o.cfg
	addr := c.fs.String("addr", "127.0.0.1:8080", "listen address")
	c.fs.StringVar(&cfg.Issuer, "issuer", "", "iss of every token and base of the metadata URLs (default http:// + the listen address; https:// with --tls-cert)")
	c.fs.StringVar(&cfg.Audience, "audience", cfg.Audience, "aud of every access token")
	c.fs.Var(positiveDuration{&cfg.AccessTTL}, "access-ttl", "access token lifetime")
	c.fs.Var(positiveDuration{&cfg.RefreshTTL}, "refresh-ttl", "idle lifetime of a refresh token; each rotation starts it again")
	c.fs.Var(positiveDuration{&cfg.SessionTTL}, "session-ttl", "absolute lifetime of a session from login")
	c.fs.Var(nonNegativeDuration{&cfg.ReuseGrace}, "reuse-grace", "how long a rotated refresh token may be presented again and get the session's current one; 0 turns the grace off")
	c.fs.Var(nonNegativeDuration{&cfg.AuditRetention}, "audit-retention", "how long audit events are kept before they are pruned; 0 keeps them for ever")
	c.fs.Var(originsValue{&cfg.CORSOrigins}, "cors-origins", "comma-separated exact origins allowed to call the API with credentials")
	c.fs.StringVar(&cfg.WebAuthnRPID, "webauthn-rp-id", "", "domain passkeys are bound to (default: the issuer's host; localhost for a loopback issuer)")
	c.fs.Var(originsValue{&cfg.WebAuthnOrigins}, "webauthn-origins", "comma-separated origins passkey sign-ins may come from (default: the issuer's origin and --cors-origins on the RP ID)")
	c.fs.Var(prefixesValue{&cfg.TrustedProxies}, "trusted-proxies", "comma-separated CIDR blocks of the reverse proxies in front; from them only, X-Forwarded-For names the client")
	c.fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate chain: serve HTTPS (HTTP/2 on) with it; reloaded when the file changes or on SIGHUP")
	c.fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	metricsAddr := c.fs.String("metrics-addr", "", "serve /metrics on this address only (e.g. 127.0.0.1:9090), not on the public listener")
	c.fs.Var(limitValue{&cfg.LoginLimit}, "login-limit", "failed logins allowed per account and client address in a window (N/DURATION), then 429; 0 turns it off")
	c.fs.Var(limitValue{&cfg.AccountLimit}, "account-limit", "failed logins allowed per account from any address in a window (N/DURATION); past 10 each attempt waits a delay that doubles, up to 15m; 0 turns it off")
	c.fs.Var(limitValue{&cfg.RegisterLimit}, "register-limit", "registrations allowed per client address in a window (N/DURATION); 0 turns it off")
	c.fs.StringVar(&cfg.SMTPURL, "smtp-url", "", "SMTP relay for mails: smtp://[user:pass@]host:port (STARTTLS when offered; ?tls=required insists) or smtps://host:port; unset: mails are written to the log (development)")
	c.fs.StringVar(&cfg.SMTPFrom, "smtp-from", "", "From of every mail (default Gatehouse <no-reply@ + the issuer's host + >)")
	c.fs.StringVar(&cfg.AppURL, "app-url", "", "base of the links in mails (default: the issuer)")
	c.fs.Var(positiveDuration{&cfg.VerifyTTL}, "verify-ttl", "lifetime of an email-verification or email-change link")
	c.fs.Var(positiveDuration{&cfg.ResetTTL}, "reset-ttl", "lifetime of a password-reset link")
	c.fs.Var(limitValue{&cfg.MailLimit}, "mail-limit", "mails of one purpose to one address in a window (N/DURATION); past it requests answer as usual but send nothing; 0 turns it off")
	c.fs.BoolVar(&cfg.Signup, "signup", true, "let anyone register; false: only administrators create users (gatehouse user create) and register answers 403 signup_disabled")
	c.fs.BoolVar(&cfg.Demo, "demo", true, "serve the demo app and /api/posts; false: / answers a status page and other paths outside the API 404")
	c.fs.BoolVar(&cfg.RequireVerifiedEmail, "require-verified-email", false, "refuse login (403 email_not_verified) until the email is verified")
	c.fs.StringVar(&cfg.MailTemplates, "mail-templates", "", "directory of mail templates that replace the embedded ones of the same name")
	c.fs.Var(positiveDuration{&cfg.MailRetry}, "mail-retry", "wait after a mail's first failed delivery; it doubles after each further failure, up to 1h")
	c.fs.Var(positiveDuration{&cfg.MailLease}, "mail-lease", "how long an instance holds a mail it is sending before another (or itself, restarted after a crash) may take it over; at least 2s")
	c.fs.Var(positiveDuration{&cfg.MailGiveUp}, "mail-give-up", "how long a mail is retried before it is given up (and kept with the reason)")
	c.fs.Var(uint32Value{&cfg.PasswordParams.Memory}, "argon2-memory", "argon2id memory in KiB (OWASP minimum 19456; lower only in tests)")
	c.fs.Var(uint32Value{&cfg.PasswordParams.Time}, "argon2-time", "argon2id passes (OWASP: 2 with 19 MiB)")
	c.fs.IntVar(&cfg.HashWorkers, "hash-workers", 0, "most password hashes computed at once (default: the number of CPUs); fewer when that many would hold more than 64 MiB of argon2id memory (--argon2-memory each), and always at least one")
	if err := c.parse(args, getenv, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	run, err := o.config(stderr)
	if err != nil {
		return commandError("serve", err)
	}
	scheme := "http://"
	if run.TLSCert != "" {
		scheme = "https://"
	}
	if run.Issuer == "" {
		run.Issuer = scheme + "localhost" // replaced by the bound address below
	}
	if err := run.Validate(); err != nil {
		return commandError("serve", err)
	}

	var certs *certReloader
	if run.TLSCert != "" {
		if certs, err = newCertReloader(run.TLSCert, run.TLSKey, run.Logger); err != nil {
			return commandError("serve", err)
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("gatehouse serve: --addr %s: %w", *addr, err)
	}
	defer ln.Close()
	if !c.set("issuer") {
		run.Issuer = scheme + ln.Addr().String()
	}
	var metricsLn net.Listener
	if *metricsAddr != "" {
		run.PrivateMetrics = true
		if metricsLn, err = net.Listen("tcp", *metricsAddr); err != nil {
			return fmt.Errorf("gatehouse serve: --metrics-addr %s: %w", *metricsAddr, err)
		}
		defer metricsLn.Close()
	}
	if run.PasswordParams.Memory < password.OWASP.Memory {
		run.Logger.Warn("argon2id memory below the OWASP minimum: for tests only", "memory_kib", run.PasswordParams.Memory)
	}

	gh, err := server.New(ctx, run)
	if err != nil {
		return commandError("serve", err)
	}
	defer gh.Close()

	srv := &http.Server{
		Handler:           gh,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(run.Logger.Handler(), slog.LevelWarn),
	}
	// Followers of the revocation feed wait up to a minute: answer them at
	// once when the shutdown begins, rather than holding it up.
	srv.RegisterOnShutdown(gh.Service().DrainFeed)
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	go gh.Run(runCtx)

	serveErr := make(chan error, 2)
	if certs != nil {
		srv.TLSConfig = certs.tlsConfig()
		certs.reloadOnHUP(runCtx)
		go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { serveErr <- srv.Serve(ln) }()
	}
	if metricsLn != nil {
		metricsSrv := &http.Server{Handler: gh.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { serveErr <- metricsSrv.Serve(metricsLn) }()
		defer metricsSrv.Close()
	}
	db, _ := server.ParseDB(run.DB)
	fmt.Fprintf(stdout, "gatehouse %s listening on %s%s (issuer %s, database %s)\n", version(), scheme, ln.Addr(), run.Issuer, db)
	run.Logger.Info("listening", "addr", ln.Addr().String(), "issuer", run.Issuer, "db", db.String())
	if metricsLn != nil {
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", metricsLn.Addr())
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("gatehouse serve: %w", err)
	case <-ctx.Done():
	}
	run.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("gatehouse serve: shutdown: %w", err)
	}
	return nil
}
