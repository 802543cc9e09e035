package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// SigningKeys returns every stored signing key, newest first.
func (s *Store) SigningKeys(ctx context.Context) ([]gatehouse.SigningKey, error) {
	var out []gatehouse.SigningKey
	err := s.read(ctx, "signing keys", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT kid, alg, public_key, sealed_private, created_at, retired_at
            FROM signing_keys ORDER BY created_at DESC, kid DESC`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (gatehouse.SigningKey, error) {
			var k gatehouse.SigningKey
			var retired *time.Time
			err := r.Scan(&k.KID, &k.Alg, &k.PublicKey, &k.SealedPrivate, &k.CreatedAt, &retired)
			k.CreatedAt, k.RetiredAt = k.CreatedAt.UTC(), fromNull(retired)
			return k, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AddSigningKey stores k as the newest key and, in the same transaction,
// retires at k.CreatedAt every key that is not yet retired, so that the
// ring has exactly one signer even when two processes rotate at once (the
// second UPDATE waits for the first transaction's row locks, then retires
// the key it added); the retired keys stay listed (their public halves
// verify tokens still live). The error wraps [gatehouse.ErrConflict], and
// nothing changes, when the kid is taken.
func (s *Store) AddSigningKey(ctx context.Context, k *gatehouse.SigningKey) error {
	return s.tx(ctx, "add signing key", func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL`, k.CreatedAt); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO signing_keys (kid, alg, public_key, sealed_private, created_at, retired_at)
            VALUES ($1, $2, $3, $4, $5, $6)`,
			k.KID, k.Alg, nonNil(k.PublicKey), nonNil(k.SealedPrivate), k.CreatedAt, nullTime(k.RetiredAt))
		return err
	})
}

// Prune deletes what can no longer matter, in one transaction: sessions
// whose absolute or idle lifetime ended before sessionsBefore,
// revocation-feed entries older than feedBefore, attempt counters whose
// window ended by now, signing keys retired before keysBefore, email
// tokens, MFA and WebAuthn challenges expired by now, and mails sent or
// given up before feedBefore. Revoked sessions that have not expired
// stay, so that a late access token of theirs is still refused as
// revoked. The feed's head is never pruned, so
// no seq is handed out twice.
func (s *Store) Prune(ctx context.Context, now, sessionsBefore, feedBefore, keysBefore time.Time) error {
	return s.tx(ctx, "prune", func(ctx context.Context, tx pgx.Tx) error {
		for _, st := range []struct {
			query string
			arg   time.Time
		}{
			{`DELETE FROM sessions WHERE expires_at < $1 OR idle_expires_at < $1`, sessionsBefore},
			{`DELETE FROM revocations WHERE revoked_at < $1`, feedBefore},
			{`DELETE FROM attempts WHERE reset_at <= $1`, now},
			{`DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1`, keysBefore},
			{`DELETE FROM email_tokens WHERE expires_at <= $1`, now},
			{`DELETE FROM mfa_challenges WHERE expires_at <= $1`, now},
			{`DELETE FROM webauthn_challenges WHERE expires_at <= $1`, now},
			{`DELETE FROM outbox WHERE coalesce(sent_at, failed_at) < $1`, feedBefore},
		} {
			if _, err := tx.Exec(ctx, st.query, st.arg); err != nil {
				return err
			}
		}
		return nil
	})
}
