package server

import (
	"net"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/passkey"
)

// relyingParty builds the WebAuthn relying party of cfg (CONTRACT §8:
// --webauthn-rp-id defaults to the issuer's host, --webauthn-origins to the
// issuer's origin and --cors-origins).
func relyingParty(cfg Config) (*passkey.RelyingParty, error) {
	issuer, err := url.Parse(cfg.Issuer)
	if err != nil {
		return nil, &gatehouse.ConfigError{Field: "Issuer", Err: err}
	}
	rpID := cfg.WebAuthnRPID
	if rpID == "" {
		rpID = issuer.Hostname()
		if ip := net.ParseIP(rpID); ip != nil && ip.IsLoopback() {
			// An RP ID is a domain (WebAuthn §5.1.2); browsers treat
			// localhost as a secure context, so development works at
			// http://localhost:PORT.
			rpID = "localhost"
		}
	}
	origins := cfg.WebAuthnOrigins
	field := "WebAuthnOrigins"
	if len(origins) == 0 {
		field = "WebAuthnRPID"
		candidates := append([]string{issuer.Scheme + "://" + issuer.Host}, cfg.CORSOrigins...)
		if rpID == "localhost" && issuer.Hostname() != "localhost" {
			candidates = append(candidates, issuer.Scheme+"://localhost:"+issuer.Port())
		}
		for _, o := range candidates {
			if u, err := url.Parse(o); err == nil && (u.Hostname() == rpID || strings.HasSuffix(u.Hostname(), "."+rpID)) {
				origins = append(origins, strings.TrimSuffix(o, ":"))
			}
		}
	}
	rp, err := passkey.New(passkey.Config{RPID: rpID, Origins: origins})
	if err != nil {
		return nil, &gatehouse.ConfigError{Field: field, Err: err}
	}
	return rp, nil
}
