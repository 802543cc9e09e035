package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// TokenStore keeps a [Session]'s tokens. Implementations must be safe for
// concurrent use. Load returns nil, nil when there are none.
type TokenStore interface {
	Load(ctx context.Context) (*Token, error)
	Save(ctx context.Context, t *Token) error
	Clear(ctx context.Context) error
}

// MemoryStore keeps tokens in memory: they last as long as the process.
// The zero value is ready to use.
type MemoryStore struct {
	mu  sync.Mutex
	tok *Token
}

// Load returns the saved token, or nil.
func (m *MemoryStore) Load(context.Context) (*Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tok == nil {
		return nil, nil
	}
	t := *m.tok
	return &t, nil
}

// Save keeps a copy of t.
func (m *MemoryStore) Save(_ context.Context, t *Token) error {
	c := *t
	m.mu.Lock()
	m.tok = &c
	m.mu.Unlock()
	return nil
}

// Clear forgets the token.
func (m *MemoryStore) Clear(context.Context) error {
	m.mu.Lock()
	m.tok = nil
	m.mu.Unlock()
	return nil
}

// ErrInsecureFile is returned by [FileStore.Load] for a token file that
// other users could read or that is not a regular file.
var ErrInsecureFile = errors.New("client: token file is readable by other users or not a regular file")

// FileStore keeps tokens in a JSON file readable only by its owner (mode
// 0600), so that a CLI stays logged in across runs. Each Save writes a
// temporary file beside it and renames it into place, so a crash never
// leaves a half-written token file (and so never loses the only copy of a
// rotated refresh token). It refuses to read a file that group or others
// may read: that token may have leaked, and the refresh token in it is a
// long-lived credential (OWASP ASVS 5.0 V14, Data Protection).
// On Windows, where Unix modes mean nothing, the mode is not checked.
//
// One FileStore is safe for concurrent use by one process; two processes
// sharing a file may both refresh, and Gatehouse's reuse grace (10 s by
// default) is then all that keeps the slower one logged in.
type FileStore struct {
	Path string
}

const maxTokenFile = 64 << 10

// Load reads the token file; nil, nil when it does not exist.
func (f FileStore) Load(context.Context) (*Token, error) {
	file, err := os.Open(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("client: token file: %w", err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("client: token file: %w", err)
	}
	if !st.Mode().IsRegular() || (runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0) {
		return nil, fmt.Errorf("%w: %s has mode %v (want 0600; chmod 600 it or log in again)", ErrInsecureFile, f.Path, st.Mode())
	}
	b, err := io.ReadAll(io.LimitReader(file, maxTokenFile+1))
	if err != nil {
		return nil, fmt.Errorf("client: token file: %w", err)
	}
	if len(b) > maxTokenFile {
		return nil, fmt.Errorf("client: token file %s: larger than 64 KiB", f.Path)
	}
	var t Token
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("client: token file %s: %w", f.Path, err)
	}
	if t.AccessToken == "" || t.RefreshToken == "" {
		return nil, fmt.Errorf("client: token file %s: no tokens in it", f.Path)
	}
	return &t, nil
}

// Save writes t atomically with mode 0600, creating the directory (0700)
// when it is missing.
func (f FileStore) Save(_ context.Context, t *Token) error {
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("client: token file: %w", err)
	}
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("client: token file: %w", err)
	}
	// CreateTemp makes the file 0600 from the start: the tokens are never
	// on disk with a wider mode, not even for an instant.
	tmp, err := os.CreateTemp(dir, ".tokens-*.tmp")
	if err != nil {
		return fmt.Errorf("client: token file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("client: token file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("client: token file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("client: token file: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("client: token file: %w", err)
	}
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Clear removes the token file.
func (f FileStore) Clear(context.Context) error {
	if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("client: token file: %w", err)
	}
	return nil
}
