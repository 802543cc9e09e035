package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// clientIP is the address that limits, the sessions page and the logs
// use. It is the TCP peer, unless the peer is a trusted proxy: then it is
// the right-most address of X-Forwarded-For that is not a trusted proxy.
// Addresses further left were written by the client itself and prove
// nothing (OWASP ASVS 5.0 4.1.3; MDN, "X-Forwarded-For: selecting an IP
// address"). From an untrusted peer the header is ignored, so nobody
// escapes a limit by sending one.
func (a *api) clientIP(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	if len(a.trusted) == 0 || !a.isTrusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := parseHop(hops[i])
		if !ok {
			break // a malformed hop: believe nothing to its left
		}
		client = addr.String()
		if !a.isTrustedAddr(addr) {
			break
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port, possibly in brackets.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap(), true
}

func (a *api) isTrusted(ip string) bool {
	addr, err := netip.ParseAddr(ip)
	return err == nil && a.isTrustedAddr(addr.Unmap())
}

func (a *api) isTrustedAddr(addr netip.Addr) bool {
	for _, p := range a.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func (a *api) clientInfo(r *http.Request) gatehouse.ClientInfo {
	return gatehouse.ClientInfo{IP: a.clientIP(r), UserAgent: r.UserAgent()}
}
