package e2e

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/cli"
)

// testCert is a self-signed certificate for 127.0.0.1 with the serial
// given, so that a handshake tells which one the server holds. Ed25519
// keys and one-byte serials make every such pair exactly the same size,
// which the SIGHUP test needs.
type testCert struct {
	certPEM, keyPEM []byte
	x509            *x509.Certificate
}

func newTestCert(t testing.TB, serial int64) testCert {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	notBefore := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "gatehouse e2e"},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(30, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
		x509:    c,
	}
}

// install replaces the files at certFile and keyFile as a renewal does:
// written aside, then renamed over, so the server never reads half a file.
// A non-zero mtime is given to both files before the rename.
func (c testCert) install(t testing.TB, certFile, keyFile string, mtime time.Time) {
	t.Helper()
	for _, f := range []struct {
		path string
		data []byte
	}{{certFile, c.certPEM}, {keyFile, c.keyPEM}} {
		tmp := f.path + ".new"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if !mtime.IsZero() {
			if err := os.Chtimes(tmp, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
}

// startTLS runs "gatehouse serve" with args and returns the URL and issuer
// of its first line; the server stops when the test ends.
func startTLS(t *testing.T, args ...string) (url, issuer string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	full := append([]string{"gatehouse", "serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(dir, "g.db")}, fastArgs...)
	go func() {
		err := cli.Run(ctx, append(full, args...), noEnv, strings.NewReader(""), w, logs)
		w.CloseWithError(fmt.Errorf("server exited: %v", err))
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gatehouse exited with %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("gatehouse did not shut down within 15s")
		}
	})
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("gatehouse did not start: %v\n%s", err, logs)
	}
	go io.Copy(io.Discard, r) //nolint:errcheck // keep the server's writes from blocking
	_, rest, ok := strings.Cut(line, "listening on ")
	if !ok {
		t.Fatalf("unexpected first line %q", line)
	}
	url, rest, _ = strings.Cut(rest, " ")
	_, rest, _ = strings.Cut(rest, "(issuer ")
	issuer, _, _ = strings.Cut(rest, ",")
	return url, issuer
}

// servedSerial makes a fresh handshake with addr and returns the serial of
// the certificate the server presents.
func servedSerial(t testing.TB, addr string) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // the serial is all this looks at
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestTLSServesHTTP2AndReloads(t *testing.T) {
	onlyOn(t, "sqlite", "TLS does not depend on the store")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	// Explicit, distinct times: the SIGHUP case below needs files whose
	// times it can give again.
	renewed := time.Now().Add(-time.Hour).Truncate(time.Second)
	first := newTestCert(t, 1)
	first.install(t, certFile, keyFile, renewed.Add(-time.Hour))

	url, issuer := startTLS(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("listening on %q, want https://127.0.0.1:PORT", url)
	}
	if issuer != url {
		t.Fatalf("default issuer %q, want the https listen address %q", issuer, url)
	}

	// A client that trusts only the test certificate: the handshake is a
	// verified one, and HTTP/2 is negotiated over it.
	roots := x509.NewCertPool()
	roots.AddCert(first.x509)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
	}}
	resp, err := hc.Get(url + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatalf("HTTPS request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || resp.TLS == nil {
		t.Fatalf("status %d over %s (TLS %v), want 200 over HTTP/2", resp.StatusCode, resp.Proto, resp.TLS != nil)
	}
	var meta struct{ Issuer string }
	if err := json.Unmarshal(body, &meta); err != nil || meta.Issuer != url {
		t.Fatalf("metadata issuer %q (%v), want %q", meta.Issuer, err, url)
	}
	// Plain HTTP on the TLS port gets no API answer.
	if r, err := http.Get("http://" + strings.TrimPrefix(url, "https://") + "/healthz"); err == nil {
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Fatal("plain HTTP on the TLS listener answered 200")
		}
	}

	addr := strings.TrimPrefix(url, "https://")
	if s := servedSerial(t, addr); s != 1 {
		t.Fatalf("serial %d served, want 1", s)
	}

	// Renewal: the files are replaced; the next handshakes get the new
	// certificate without a restart.
	second := newTestCert(t, 2)
	second.install(t, certFile, keyFile, renewed)
	eventually(t, 15*time.Second, func() string {
		if s := servedSerial(t, addr); s != 2 {
			return fmt.Sprintf("serial %d still served after the files were replaced", s)
		}
		return ""
	})

	// SIGHUP: a pair the modification-time check cannot tell from the
	// served one (same sizes, same times) is loaded on the signal alone.
	third := newTestCert(t, 3)
	if len(third.certPEM) != len(second.certPEM) || len(third.keyPEM) != len(second.keyPEM) {
		t.Fatalf("test certificates differ in size (%d, %d): the SIGHUP case would not isolate the signal", len(third.certPEM), len(second.certPEM))
	}
	third.install(t, certFile, keyFile, renewed)
	time.Sleep(3 * time.Second) // more than one check interval
	if s := servedSerial(t, addr); s != 2 {
		t.Fatalf("serial %d served before SIGHUP, want 2: the stamp check saw the change, so this case proves nothing", s)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() string {
		if s := servedSerial(t, addr); s != 3 {
			return fmt.Sprintf("serial %d still served after SIGHUP", s)
		}
		return ""
	})
}

func TestTLSRefusals(t *testing.T) {
	onlyOn(t, "sqlite", "TLS does not depend on the store")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	newTestCert(t, 1).install(t, certFile, keyFile, time.Time{})
	db := "sqlite:" + filepath.Join(dir, "g.db")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"certificate without key", []string{"--tls-cert", certFile}, "gatehouse serve: --tls-key: is required"},
		{"key without certificate", []string{"--tls-key", keyFile}, "gatehouse serve: --tls-cert: is required"},
		{"http issuer with TLS", []string{"--tls-cert", certFile, "--tls-key", keyFile, "--issuer", "http://auth.example.com"}, "gatehouse serve: --issuer: \"http://auth.example.com\": TLS is on, so the issuer must be https://"},
		{"missing certificate file", []string{"--tls-cert", certFile + ".missing", "--tls-key", keyFile}, "gatehouse serve: --tls-cert: "},
		{"missing key file", []string{"--tls-cert", certFile, "--tls-key", keyFile + ".missing"}, "gatehouse serve: --tls-key: "},
		{"key of another certificate", []string{"--tls-cert", certFile, "--tls-key", writeOtherKey(t, dir)}, "gatehouse serve: --tls-cert: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCLI(t, nil, "", append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, tc.args...)...)
			if err == nil {
				t.Fatalf("serve started; output:\n%s", out)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q, want one line starting %q", msg, tc.want)
			}
		})
	}
	// An https issuer without TLS is the normal setup behind a proxy.
	url, issuer := startTLS(t, "--issuer", "https://auth.example.com")
	if !strings.HasPrefix(url, "http://") || issuer != "https://auth.example.com" {
		t.Fatalf("behind a proxy: listening on %q with issuer %q", url, issuer)
	}
}

// writeOtherKey writes the key of a different certificate and returns its path.
func writeOtherKey(t *testing.T, dir string) string {
	p := filepath.Join(dir, "other.key")
	if err := os.WriteFile(p, newTestCert(t, 9).keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
