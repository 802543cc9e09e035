package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse"
)

// certCheckEvery is how often, at most, a handshake looks at the
// certificate files' modification times: renewals (certbot, an ACME
// client, a secret mount) replace the files in place, and a stat per
// handshake would be waste.
const certCheckEvery = 2 * time.Second

// certReloader serves the certificate of --tls-cert/--tls-key and loads it
// again when the files change or on SIGHUP, so that a renewal needs no
// restart. A pair that fails to load (say, the certificate was replaced
// but not yet the key) keeps the previous one in service and is tried
// again at the next check.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // modification times and sizes of the loaded files
	checked time.Time
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	for _, f := range []struct{ field, path string }{{"TLSCert", certFile}, {"TLSKey", keyFile}} {
		if _, err := os.Stat(f.path); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is named once
			}
			return nil, &gatehouse.ConfigError{Field: f.field, Err: fmt.Errorf("%s: %w", f.path, err)}
		}
	}
	if err := r.load(); err != nil {
		return nil, &gatehouse.ConfigError{Field: "TLSCert", Err: err}
	}
	return r, nil
}

// tlsConfig is the server side of TLS. TLS 1.2 is the floor (NIST SP
// 800-52r2 §3.1; OWASP ASVS V9.1.2); h2 first so that clients that can
// speak HTTP/2 do (net/http serves it on a TLS listener).
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: r.getCertificate,
	}
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= certCheckEvery {
		r.checked = time.Now()
		if st, err := r.fileStamp(); err == nil && st != r.stamp {
			r.reloadLocked("files changed")
		}
	}
	return r.cert, nil
}

// reload loads the files again whatever their times say (SIGHUP).
func (r *certReloader) reload(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reloadLocked(why)
}

func (r *certReloader) reloadLocked(why string) {
	if err := r.loadLocked(); err != nil {
		r.log.Warn("TLS certificate not reloaded; the previous one stays in service", "reason", why, "err", err)
		return
	}
	r.log.Info("TLS certificate reloaded", "reason", why, "cert", r.certFile)
}

func (r *certReloader) load() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadLocked()
}

func (r *certReloader) loadLocked() error {
	// The stamp is taken before reading, so that a change made while the
	// files are read is noticed at the next check.
	st, err := r.fileStamp()
	if err != nil {
		return err
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	r.cert, r.stamp, r.checked = &c, st, time.Now()
	return nil
}

func (r *certReloader) fileStamp() (string, error) {
	stamp := ""
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f) // follows symbolic links, as renewals often swap them
		if err != nil {
			return "", err
		}
		stamp += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return stamp, nil
}

// reloadOnHUP reloads the certificate on each SIGHUP until ctx ends.
func (r *certReloader) reloadOnHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				r.reload("SIGHUP")
			case <-ctx.Done():
				return
			}
		}
	}()
}
