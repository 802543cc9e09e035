package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apitest"
)

// clientFrom returns an HTTP client whose connections leave from a given
// loopback address (127.0.0.2 … are all this machine's on Linux).
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

func postWith(t *testing.T, hc *http.Client, url string, body any, header map[string]string) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	checked := &http.Client{Timeout: hc.Timeout, Transport: apitest.Transport(t, apiSpec, hc.Transport)}
	resp, err := checked.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// Failures from 20 addresses against one account: the per-account delay
// refuses most of them, whatever the address, over real TCP.
func TestAccountLimitAcrossLoopbackAddresses(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	email := uniqueEmail("rotating")
	c.register(email)
	evaluated, limited := 0, 0
	for a := range 20 {
		hc := clientFrom(fmt.Sprintf("127.0.0.%d", a+2))
		for range 3 {
			status, body := postWith(t, hc, g.URL+"/api/auth/login", map[string]string{"email": email, "password": "wrong guess"}, nil)
			switch {
			case status == 401:
				evaluated++
			case status == 429 && strings.Contains(body, `"rate_limited"`):
				limited++
			default:
				t.Fatalf("status %d: %s", status, body)
			}
		}
	}
	if evaluated > 15 || limited < 45 { // 10, then one per doubling delay: a slow machine sees a few more
		t.Fatalf("60 guesses from 20 addresses: %d evaluated, %d refused; want at most 15 evaluated", evaluated, limited)
	}
}

// X-Forwarded-For counts only from a trusted proxy: from any other peer a
// client cannot pick its own address to escape the per-address limit.
func TestForwardedForNeedsATrustedProxy(t *testing.T) {
	t.Parallel()
	for _, trusted := range []bool{false, true} {
		args := []string{"--login-limit", "2/1h", "--account-limit", "0"}
		if trusted {
			args = append(args, "--trusted-proxies", "127.0.0.0/8")
		}
		g := startGatehouse(t, args...)
		c := newClient(t, g)
		email := uniqueEmail("xff")
		c.register(email)
		hc := clientFrom("127.0.0.1")
		codes := []int{}
		for i := range 4 {
			status, _ := postWith(t, hc, g.URL+"/api/auth/login", map[string]string{"email": email, "password": "wrong"},
				map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1)})
			codes = append(codes, status)
		}
		want := []int{401, 401, 429, 429} // one address: the limit of 2 holds
		if trusted {
			want = []int{401, 401, 401, 401} // four clients behind the proxy
		}
		if fmt.Sprint(codes) != fmt.Sprint(want) {
			t.Fatalf("trusted=%v: statuses %v, want %v", trusted, codes, want)
		}
	}
}

// With --metrics-addr, /metrics leaves the public listener.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	g := startGatehouse(t, "--metrics-addr", addr)
	resp, err := http.Get(g.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == 200 && strings.Contains(string(body), "# HELP") {
		t.Fatal("/metrics is still on the public listener")
	}
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "gatehouse_") {
		t.Fatalf("metrics listener: %d %.200s", resp.StatusCode, body)
	}
}
