package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/server"
)

// envName is a flag's environment twin: --access-ttl <-> GATEHOUSE_ACCESS_TTL.
func envName(flagName string) string {
	return "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// command is one verb: its flags, its help text and what it does.
type command struct {
	name    string // "serve", "keys rotate", ...
	summary string
	usage   string // argument synopsis after the name
	fs      *flag.FlagSet
	// typedOnly names flags without an environment twin: confirmations
	// (--yes), which a variable left in the environment must not give.
	typedOnly map[string]bool
}

func newCommand(name, summary, usage string) *command {
	fs := flag.NewFlagSet("gatehouse "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &command{name: name, summary: summary, usage: usage, fs: fs}
}

// parse reads args, then fills every flag not given on the command line
// from its environment twin (a flag wins over the environment). It returns
// flag.ErrHelp after printing help for -h/--help.
func (c *command) parse(args []string, getenv func(string) string, stdout io.Writer) error {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.printHelp(stdout)
			return flag.ErrHelp
		}
		return fmt.Errorf("gatehouse %s: %s", c.name, flagMessage(err))
	}
	if c.fs.NArg() > 0 {
		return fmt.Errorf("gatehouse %s: unexpected argument %q (see gatehouse %s --help)", c.name, c.fs.Arg(0), c.name)
	}
	given := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	c.fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] || c.typedOnly[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if e := c.fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("gatehouse %s: %s=%q: %v", c.name, envName(f.Name), redact(f.Name, v), unwrapFlagErr(e))
			}
		}
	})
	return err
}

// set reports whether a flag was given, on the command line or through its
// environment twin.
func (c *command) set(name string) bool {
	found := false
	c.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// flagMessage rewrites the flag package's messages in this CLI's --flag style.
func flagMessage(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + strings.TrimPrefix(name, "-")
	}
	return strings.Replace(msg, "flag -", "flag --", 1)
}

func unwrapFlagErr(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// redact hides the values of secret flags in error messages.
func redact(name, value string) string {
	switch {
	case strings.Contains(name, "secret"):
		return "…"
	case strings.Contains(value, "://"):
		return server.DB{URL: value}.String() // a password in a URL (--db, --smtp-url)
	}
	return value
}

func (c *command) printHelp(w io.Writer) {
	var names []string
	c.fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if len(names) == 0 {
		fmt.Fprintf(w, "Usage: gatehouse %s%s\n\n%s\n", c.name, c.usage, c.summary)
		return
	}
	fmt.Fprintf(w, "Usage: gatehouse %s [flags]%s\n\n%s\n\nFlags (each also read from its environment twin; a flag wins):\n", c.name, c.usage, c.summary)
	sort.Strings(names)
	for _, n := range names {
		f := c.fs.Lookup(n)
		def := ""
		// A usage that says its default itself ("default: the number of
		// CPUs") is not contradicted by the zero value standing for it.
		if f.DefValue != "" && f.DefValue != "0s" && f.DefValue != "false" && !(f.DefValue == "0" && strings.Contains(f.Usage, "default")) {
			def = " (default " + f.DefValue + ")"
		}
		env := envName(n)
		if c.typedOnly[n] {
			env = "no environment twin: type it"
		}
		fmt.Fprintf(w, "  --%-16s %s%s\n      [%s]\n", n, f.Usage, def, env)
	}
}

// limitValue is a --login-limit / --register-limit value: "N/DURATION" or "0".
type limitValue struct{ l *gatehouse.Limit }

func (v limitValue) String() string {
	if v.l == nil || v.l.N == 0 {
		return "0"
	}
	return strconv.Itoa(v.l.N) + "/" + shortDuration(v.l.Window)
}

func (v limitValue) Set(s string) error {
	if s == "0" {
		*v.l = gatehouse.Limit{}
		return nil
	}
	ns, ds, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(ns)
	if !ok || err != nil || n < 1 {
		return fmt.Errorf("want N/DURATION such as 10/15m, or 0 to turn the limit off")
	}
	d, err := time.ParseDuration(ds)
	if err != nil || d <= 0 {
		return fmt.Errorf("want N/DURATION such as 10/15m, or 0 to turn the limit off")
	}
	*v.l = gatehouse.Limit{N: n, Window: d}
	return nil
}

// shortDuration writes d as a person would: 168h, 15m, 10s (not
// 168h0m0s). Only zero minutes and seconds after a larger unit are dropped.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// originsValue is --cors-origins: a comma-separated list of exact origins.
type originsValue struct{ list *[]string }

func (v originsValue) String() string {
	if v.list == nil {
		return ""
	}
	return strings.Join(*v.list, ",")
}

func (v originsValue) Set(s string) error {
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("%q is not an origin such as https://app.example.com", o)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	*v.list = out
	return nil
}

// positiveDuration is a duration flag that refuses zero and negatives.
type positiveDuration struct{ d *time.Duration }

func (v positiveDuration) String() string {
	if v.d == nil {
		return ""
	}
	return shortDuration(*v.d)
}

func (v positiveDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 15m or 168h", s)
	}
	if d <= 0 {
		return fmt.Errorf("must be more than zero")
	}
	*v.d = d
	return nil
}

// nonNegativeDuration allows zero (--reuse-grace 0 turns the grace off).
type nonNegativeDuration struct{ d *time.Duration }

func (v nonNegativeDuration) String() string {
	if v.d == nil {
		return ""
	}
	return shortDuration(*v.d)
}

func (v nonNegativeDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 10s", s)
	}
	if d < 0 {
		return fmt.Errorf("must not be negative")
	}
	*v.d = d
	return nil
}

// uint32Value is an unsigned 32-bit flag (the argon2id parameters).
type uint32Value struct{ v *uint32 }

func (v uint32Value) String() string {
	if v.v == nil {
		return "0"
	}
	return strconv.FormatUint(uint64(*v.v), 10)
}

func (v uint32Value) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return fmt.Errorf("%q is not a whole number from 0 to %d", s, uint32(1<<32-1))
	}
	*v.v = uint32(n)
	return nil
}

// prefixesValue is --trusted-proxies: comma-separated CIDR blocks or
// single addresses.
type prefixesValue struct{ list *[]netip.Prefix }

func (v prefixesValue) String() string {
	if v.list == nil {
		return ""
	}
	parts := make([]string, len(*v.list))
	for i, p := range *v.list {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

func (v prefixesValue) Set(s string) error {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR block such as 10.0.0.0/8 or an address", part)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	*v.list = out
	return nil
}
