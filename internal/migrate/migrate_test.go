package migrate

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadOrdersAndRefusesMistakes(t *testing.T) {
	ms, err := Load(fstest.MapFS{
		"m/0002_posts.sql": {Data: []byte("B")},
		"m/0001_init.sql":  {Data: []byte("A")},
	}, "m/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "0001_init" || ms[0].Version != 1 || ms[1].SQL != "B" {
		t.Fatalf("got %+v", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"not NNNN_name":   {"m/init.sql": {}},
		"share a version": {"m/0001_a.sql": {}, "m/001_b.sql": {}},
		"not NNNN_name ":  {"m/0000_zero.sql": {}},
	} {
		if _, err := Load(fsys, "m/*.sql"); err == nil || !strings.Contains(err.Error(), strings.TrimSpace(name)) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
