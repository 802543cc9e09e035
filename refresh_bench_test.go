package gatehouse_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// BenchmarkServiceRefresh is one refresh through the service on a real
// SQLite file: parse, session read, rotation (one commit), a signed access
// token. Its CPU profile says where a refresh's time goes:
//
//	go test -run '^$' -bench ServiceRefresh -cpuprofile cpu.out . && go tool pprof -top cpu.out
func BenchmarkServiceRefresh(b *testing.B) {
	ctx := context.Background()
	svc := newService(b, openStore(b, filepath.Join(b.TempDir(), "g.db")), nil)
	if _, err := svc.CreateUser(ctx, "bench@example.com", pw, ""); err != nil {
		b.Fatal(err)
	}
	g, err := svc.Login(ctx, "bench@example.com", pw, gatehouse.ClientInfo{IP: "192.0.2.1"})
	if err != nil {
		b.Fatal(err)
	}
	tok := g.RefreshToken
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		g, err := svc.Refresh(ctx, tok)
		if err != nil {
			b.Fatal(err)
		}
		tok = g.RefreshToken
	}
}
