package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse"
)

// SigningKeys returns every stored signing key, newest first.
func (s *Store) SigningKeys(ctx context.Context) ([]gatehouse.SigningKey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT kid, alg, public_key, sealed_private, created_at, retired_at
        FROM signing_keys ORDER BY created_at DESC, kid DESC`)
	if err != nil {
		return nil, s.wrap(ctx, "signing keys", err)
	}
	defer rows.Close()
	var out []gatehouse.SigningKey
	for rows.Next() {
		var k gatehouse.SigningKey
		var created int64
		var retired sql.NullInt64
		if err := rows.Scan(&k.KID, &k.Alg, &k.PublicKey, &k.SealedPrivate, &created, &retired); err != nil {
			return nil, s.wrap(ctx, "signing keys", err)
		}
		k.CreatedAt, k.RetiredAt = usecs(created), fromMicros(retired)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, "signing keys", err)
	}
	return out, nil
}

// AddSigningKey stores k as the newest key and, in the same transaction,
// retires at k.CreatedAt every key that is not yet retired, so that the
// ring has exactly one signer even when two processes rotate at once; the
// retired keys stay listed (their public halves verify tokens still live).
// The error wraps [gatehouse.ErrConflict], and nothing changes, when the
// kid is taken.
func (s *Store) AddSigningKey(ctx context.Context, k *gatehouse.SigningKey) error {
	return s.writeTx(ctx, "add signing key", func(tx *sql.Tx) error {
		created := k.CreatedAt.UnixMicro()
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL`, created); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, alg, public_key, sealed_private, created_at, retired_at)
            VALUES (?, ?, ?, ?, ?, ?)`,
			k.KID, k.Alg, secretBytes(k.PublicKey), secretBytes(k.SealedPrivate), created, micros(k.RetiredAt))
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
// revoked.
func (s *Store) Prune(ctx context.Context, now, sessionsBefore, feedBefore, keysBefore time.Time) error {
	return s.writeTx(ctx, "prune", func(tx *sql.Tx) error {
		sb, fb := sessionsBefore.UnixMicro(), feedBefore.UnixMicro()
		for _, st := range []struct {
			query string
			args  []any
		}{
			{`DELETE FROM sessions WHERE expires_at < ? OR idle_expires_at < ?`, []any{sb, sb}},
			{`DELETE FROM revocations WHERE revoked_at < ?`, []any{fb}},
			{`DELETE FROM attempts WHERE reset_at <= ?`, []any{now.UnixMicro()}},
			{`DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?`, []any{keysBefore.UnixMicro()}},
			{`DELETE FROM email_tokens WHERE expires_at <= ?`, []any{now.UnixMicro()}},
			{`DELETE FROM mfa_challenges WHERE expires_at <= ?`, []any{now.UnixMicro()}},
			{`DELETE FROM webauthn_challenges WHERE expires_at <= ?`, []any{now.UnixMicro()}},
			{`DELETE FROM outbox WHERE coalesce(sent_at, failed_at) < ?`, []any{fb}},
		} {
			if _, err := tx.ExecContext(ctx, st.query, st.args...); err != nil {
				return err
			}
		}
		return nil
	})
}
