package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/token"
)

// loadKeys reads the key ring from the store and installs it. At start-up
// (initial) it first creates a signing key when there is none, or when
// Config.SigningAlg names another algorithm than the one in force.
func (s *Core) loadKeys(ctx context.Context, initial bool) (*token.KeySet, error) {
	stored, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	if initial && s.cfg.SigningAlg != token.HS256 {
		if err := checkSecret(stored, s.sealer); err != nil {
			return nil, err
		}
		want := s.cfg.SigningAlg
		if len(stored) == 0 || (want != "" && want != stored[0].Alg) {
			if want == "" {
				want = token.EdDSA
			}
			k, err := token.GenerateKey(want, s.sealer, time.Now())
			if err != nil {
				return nil, err
			}
			if err := s.store.AddSigningKey(ctx, k); err != nil {
				return nil, fmt.Errorf("store signing key: %w", err)
			}
			s.log.InfoContext(ctx, "new signing key", "kid", k.KID, "alg", k.Alg)
			if stored, err = s.store.SigningKeys(ctx); err != nil {
				return nil, fmt.Errorf("signing keys: %w", err)
			}
		}
	}
	sig := keyRingSignature(stored)
	if !initial && sig == s.keysSig {
		return s.tokens.Keys(), nil
	}
	var hmacSecret []byte
	if s.cfg.SigningAlg == token.HS256 {
		hmacSecret = s.cfg.HMACSecret
	}
	ks, err := token.NewKeySet(stored, s.sealer, hmacSecret, time.Now(), s.cfg.AccessTTL+leeway)
	if err != nil {
		return nil, keyErr(err)
	}
	s.keysSig = sig
	if s.tokens != nil {
		s.tokens.SetKeys(ks)
		s.log.InfoContext(ctx, "key ring reloaded", "signer_alg", ks.SignerAlg())
	}
	return ks, nil
}

// keyRingSignature identifies a key ring's contents cheaply.
func keyRingSignature(keys []gatehouse.SigningKey) string {
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s/%d;", k.KID, k.RetiredAt.UnixMicro())
	}
	return b.String()
}

// checkSecret refuses to go on when the key secret cannot open the stored
// keys: minting a new key under a wrong secret would strand the old ones.
func checkSecret(stored []gatehouse.SigningKey, sealer *token.Sealer) error {
	for _, k := range stored {
		if _, err := sealer.Open(k.SealedPrivate, []byte(k.KID)); err != nil {
			return keyErr(err)
		}
	}
	return nil
}

func keyErr(err error) error {
	if errors.Is(err, token.ErrWrongKeySecret) {
		return configErr("KeySecret", "does not decrypt the stored signing keys (is it the secret this database was created with?)")
	}
	return fmt.Errorf("signing keys: %w", err)
}

// RotateKey makes a new signing key at once (gatehouse keys rotate) of
// cfg.SigningAlg, or of the algorithm in force when that is empty. The
// old keys stay in the JWKS until their last token expires; running
// servers pick the new key up within Config.KeyReload.
func RotateKey(ctx context.Context, cfg Config) (*gatehouse.SigningKey, error) {
	if cfg.Issuer == "" {
		cfg.Issuer = "http://localhost" // unused here, but Validate wants one
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.SigningAlg == token.HS256 {
		return nil, configErr("SigningAlg", "HS256 signs with the HMAC secret: rotate by changing that secret")
	}
	db, _ := ParseDB(cfg.DB)
	store, err := OpenStore(ctx, db, cfg.Logger)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	_, sealer, err := openSealer(cfg, db)
	if err != nil {
		return nil, err
	}
	stored, err := store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkSecret(stored, sealer); err != nil {
		return nil, err
	}
	alg := cfg.SigningAlg
	if alg == "" {
		alg = token.EdDSA
		if len(stored) > 0 {
			alg = stored[0].Alg
		}
	}
	k, err := token.GenerateKey(alg, sealer, time.Now())
	if err != nil {
		return nil, err
	}
	if err := store.AddSigningKey(ctx, k); err != nil {
		return nil, fmt.Errorf("store signing key: %w", err)
	}
	return k, nil
}
