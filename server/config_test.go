package server_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/server"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	valid := func() server.Config {
		c := server.DefaultConfig()
		c.Issuer = "https://auth.example.com"
		return c
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("defaults with an issuer: %v", err)
	}
	cases := []struct {
		name  string
		mod   func(*server.Config)
		field string
	}{
		{"no issuer", func(c *server.Config) { c.Issuer = "" }, "Issuer"},
		{"issuer with fragment", func(c *server.Config) { c.Issuer = "https://a.example#x" }, "Issuer"},
		{"no audience", func(c *server.Config) { c.Audience = "" }, "Audience"},
		{"unknown db", func(c *server.Config) { c.DB = "mysql://x" }, "DB"},
		{"postgres without secret", func(c *server.Config) { c.DB = "postgres://u:pw@h/db" }, "KeySecret"},
		{"short key secret", func(c *server.Config) { c.KeySecret = []byte("short") }, "KeySecret"},
		{"zero access ttl", func(c *server.Config) { c.AccessTTL = 0 }, "AccessTTL"},
		{"negative grace", func(c *server.Config) { c.ReuseGrace = -1 }, "ReuseGrace"},
		{"limit without window", func(c *server.Config) { c.LoginLimit = gatehouse.Limit{N: 3} }, "LoginLimit"},
		{"bad alg", func(c *server.Config) { c.SigningAlg = "none" }, "SigningAlg"},
		{"HS256 short secret", func(c *server.Config) { c.SigningAlg, c.HMACSecret = "HS256", []byte("x") }, "HMACSecret"},
		{"hmac without HS256", func(c *server.Config) { c.HMACSecret = []byte(strings.Repeat("x", 32)) }, "HMACSecret"},
		{"argon2 memory", func(c *server.Config) { c.PasswordParams.Memory = 1 }, "PasswordParams"},
		{"negative workers", func(c *server.Config) { c.HashWorkers = -2 }, "HashWorkers"},
		{"zero key reload", func(c *server.Config) { c.KeyReload = 0 }, "KeyReload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mod(&c)
			err := c.Validate()
			var ce *gatehouse.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("Validate() = %v, want a ConfigError on %s", err, tc.field)
			}
		})
	}
	// A zero grace is valid: it turns the grace off.
	c := valid()
	c.ReuseGrace = 0
	if err := c.Validate(); err != nil {
		t.Fatalf("zero grace refused: %v", err)
	}
}

func TestParseDB(t *testing.T) {
	db, err := server.ParseDB("sqlite:/var/lib/g.db")
	if err != nil || db.Postgres() || db.Path != "/var/lib/g.db" {
		t.Fatalf("sqlite: %+v %v", db, err)
	}
	db, err = server.ParseDB("postgres://app:hunter2@db.internal/auth")
	if err != nil || !db.Postgres() {
		t.Fatalf("postgres: %+v %v", db, err)
	}
	if s := db.String(); strings.Contains(s, "hunter2") {
		t.Fatalf("String shows the password: %s", s)
	}
	for _, bad := range []string{"", "sqlite:", "mysql://root@h/x", "gatehouse.db"} {
		if _, err := server.ParseDB(bad); err == nil {
			t.Errorf("ParseDB(%q) accepted", bad)
		}
	}
	_, err = server.ParseDB("mysql://root:hunter2@h/x")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error shows the password: %v", err)
	}
}
