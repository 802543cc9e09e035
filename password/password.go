package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse/gatehouse"
)

// Params are argon2id parameters (RFC 9106 §3.1). The zero value stands for
// [OWASP] in a [Config].
type Params struct {
	Memory  uint32 // KiB (RFC 9106's m)
	Time    uint32 // passes over the memory (t)
	Threads uint8  // lanes (p)
	SaltLen uint32 // bytes of random salt
	KeyLen  uint32 // bytes of derived key (the tag length T)
}

// OWASP is the OWASP Password Storage Cheat Sheet's minimum configuration
// for argon2id: m = 19 MiB, t = 2, p = 1, with RFC 9106 §3.1's 128-bit salt
// and a 256-bit tag.
var OWASP = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits on parameters, both the configured ones and those read back from a
// stored hash, so that a tampered database row cannot make one login
// allocate gigabytes or spin for minutes (SECURITY.md §7; OWASP ASVS 5.0
// 15.2.2).
const (
	maxMemory  = 4 << 20 // KiB: 4 GiB
	maxTime    = 100
	minSaltLen = 8  // RFC 9106 §3.1: the salt is at least 8 bytes
	maxSaltLen = 64 // PHC string format: at most 64 bytes
	minKeyLen  = 16 // 128 bits; RFC 9106 allows 4, too few to compare on
	maxKeyLen  = 128
)

// Validate reports parameters out of the ranges argon2id and this package accept.
func (p Params) Validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d out of range 1..%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		// RFC 9106 §3.1: m is at least 8*p KiB.
		return fmt.Errorf("memory %d KiB out of range %d..%d", p.Memory, 8*uint32(p.Threads), maxMemory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d out of range %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d out of range %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// Config configures a [Hasher]. Zero fields take the defaults noted.
type Config struct {
	// Params are the argon2id parameters of new hashes; zero means [OWASP].
	// Lower them only in tests (STYLE.md: the hash cost is a config field).
	Params Params
	// Workers bounds the hashes computed at once; 0 means
	// runtime.GOMAXPROCS(0). Each one holds Params.Memory KiB, so
	// MaxMemory lowers it further.
	Workers int
	// MaxMemory bounds the memory, in KiB like Params.Memory, of the
	// hashes computed at once: at most MaxMemory / Params.Memory run
	// together, and always at least one. 0 means [DefaultMaxMemory]
	// (64 MiB: three hashes at the OWASP parameters).
	MaxMemory uint32
	// MaxQueue bounds the callers waiting for a worker; 0 means 64 *
	// Workers. Callers beyond it get ErrServerBusy at once.
	MaxQueue int
	// MaxWait bounds a caller's wait for a worker; 0 means 2s.
	MaxWait time.Duration
	// MinLength is the shortest password Check accepts, in code points
	// after NFKC; 0 means 8 (NIST SP 800-63B allows 8 where the password is
	// one factor of several; the project's decision, SECURITY.md head).
	MinLength int
	// MaxLength is the longest password Check accepts, in code points
	// after NFKC; 0 means 1024 (NIST SP 800-63B: permit at least 64).
	MaxLength int
}

// Hasher hashes and verifies passwords with argon2id and checks new ones
// against NIST SP 800-63B's rules. It implements [gatehouse.Passwords] and
// is safe for concurrent use.
type Hasher struct {
	params Params
	minLen int
	maxLen int
	pool   *pool
	dummy  string // hash of a random password, for CompareDummy
}

var _ gatehouse.Passwords = (*Hasher)(nil)

// New returns a Hasher for cfg. It computes, once, the hash of a random
// password that [Hasher.CompareDummy] compares against.
func New(cfg Config) (*Hasher, error) {
	if cfg.Params == (Params{}) {
		cfg.Params = OWASP
	}
	if err := cfg.Params.Validate(); err != nil {
		return nil, fmt.Errorf("password: params: %w", err)
	}
	if cfg.Workers < 0 || cfg.MaxQueue < 0 || cfg.MaxWait < 0 || cfg.MinLength < 0 || cfg.MaxLength < 0 {
		return nil, errors.New("password: negative Workers, MaxQueue, MaxWait, MinLength or MaxLength")
	}
	if cfg.MaxMemory == 0 {
		cfg.MaxMemory = DefaultMaxMemory
	}
	cfg.Workers = workersFor(cfg.Workers, cfg.MaxMemory, cfg.Params.Memory)
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = 64 * cfg.Workers
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 2 * time.Second
	}
	if cfg.MinLength == 0 {
		cfg.MinLength = 8
	}
	if cfg.MaxLength == 0 {
		cfg.MaxLength = 1024
	}
	if cfg.MaxLength < cfg.MinLength {
		return nil, fmt.Errorf("password: MaxLength %d below MinLength %d", cfg.MaxLength, cfg.MinLength)
	}
	h := &Hasher{
		params: cfg.Params,
		minLen: cfg.MinLength,
		maxLen: cfg.MaxLength,
		pool:   newPool(cfg.Workers, cfg.MaxQueue, cfg.MaxWait, cfg.Params.Memory),
	}
	// The dummy password is random and forgotten at once: nobody can log
	// in with it, and CompareDummy does the same work as a real Compare
	// (CONTRACT §4; SECURITY.md §7).
	h.dummy = h.derive(gatehouse.RandomBytes(32))
	if _, err := parsePHC(h.dummy); err != nil {
		return nil, fmt.Errorf("password: dummy hash: %w", err)
	}
	return h, nil
}

// Hash returns the PHC string of password's argon2id hash, with a fresh
// random salt. The password is NFKC-normalised first (NIST SP 800-63B) and
// never truncated. It returns an error wrapping [gatehouse.ErrServerBusy]
// when no hashing worker is free in time, or ctx's error.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	release, err := h.pool.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return h.derive(normalize(password)), nil
}

// derive hashes an already normalised password with h's parameters.
func (h *Hasher) derive(password []byte) string {
	p := &phc{params: h.params, salt: make([]byte, h.params.SaltLen)}
	_, _ = rand.Read(p.salt) // crypto/rand.Read never fails (Go ≥ 1.24)
	p.key = argon2.IDKey(password, p.salt, p.params.Time, p.params.Memory, p.params.Threads, p.params.KeyLen)
	return p.String()
}

// Compare reports whether password matches the PHC string encoded, and
// whether encoded should be replaced by a new [Hasher.Hash] because its
// parameters differ from h's (OWASP Password Storage CS: upgrade the work
// factor at the next login). A malformed or out-of-range encoded string is
// an error, never a match. Other errors wrap [gatehouse.ErrServerBusy]
// when no hashing worker is free in time, or ctx's error.
func (h *Hasher) Compare(ctx context.Context, encoded, password string) (match, rehash bool, err error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return false, false, fmt.Errorf("password: stored hash: %w", err)
	}
	match, err = h.compare(ctx, p, password)
	if err != nil {
		return false, false, err
	}
	return match, p.params != h.params, nil
}

// CompareDummy does what [Hasher.Compare] does against a hash of a random
// password, through the same worker pool and at the same cost, so that a
// login for an unknown email takes as long as a wrong password (CONTRACT
// §4; OWASP ASVS 5.0 6.3.8). It returns only pool or ctx errors.
func (h *Hasher) CompareDummy(ctx context.Context, password string) error {
	// The very same path as Compare, parsing included; New made sure the
	// dummy parses, so only the pool or ctx can fail here.
	_, _, err := h.Compare(ctx, h.dummy, password)
	return err
}

func (h *Hasher) compare(ctx context.Context, p *phc, password string) (bool, error) {
	release, err := h.pool.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	key := argon2.IDKey(normalize(password), p.salt, p.params.Time, p.params.Memory, p.params.Threads, p.params.KeyLen)
	// Constant time, so that the time taken does not tell how many
	// leading bytes matched (SECURITY.md §7).
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// Stats is a snapshot of the hashing pool, for metrics.
type Stats struct {
	Busy     int    // workers hashing now
	Waiting  int    // callers waiting for a worker now
	Rejected uint64 // calls refused with ErrServerBusy since New
}

// Stats returns a snapshot of the hashing pool.
func (h *Hasher) Stats() Stats { return h.pool.stats() }

// Workers returns how many hashes h computes at once: Config.Workers,
// lowered to fit Config.MaxMemory.
func (h *Hasher) Workers() int { return cap(h.pool.sem) }

// normalize returns the NFKC form of password, which is what is hashed, so
// that the same password typed on different keyboards or input methods
// (composed or decomposed é, the ligature ﬁ) matches (NIST SP 800-63B).
func normalize(password string) []byte {
	return norm.NFKC.Bytes([]byte(password))
}
