package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.PasskeyStore = (*Store)(nil)

// Every write below is one statement, so none needs a transaction of its
// own. ConsumeWebAuthnChallenge is a DELETE ... RETURNING: of two
// concurrent consumers, the second waits for the first's row lock and then
// finds the row gone, so one gets the challenge.

const passkeyColumns = `id, user_id, credential_id, public_key, attestation, aaguid, transports,
    sign_count, backup_eligible, backed_up, name, created_at, last_used_at`

// CreatePasskey stores a new passkey. The error wraps
// [gatehouse.ErrConflict] when its id or credential id is taken, whoever's
// it is, and [gatehouse.ErrNotFound] when there is no such user.
func (s *Store) CreatePasskey(ctx context.Context, p *gatehouse.Passkey) error {
	if hasNUL(p.UserID) {
		return notFound("user", p.UserID)
	}
	return s.write(ctx, "create passkey", func(ctx context.Context, q dbtx) error {
		_, err := q.Exec(ctx, `INSERT INTO passkeys (`+passkeyColumns+`)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			p.ID, p.UserID, nonNil(p.CredentialID), nonNil(p.PublicKey), p.Attestation,
			nonNil(p.AAGUID), joinTransports(p.Transports), int64(p.SignCount),
			p.BackupEligible, p.BackedUp, p.Name, p.CreatedAt, nullTime(p.LastUsedAt))
		return err
	})
}

// Passkeys lists the user's passkeys, oldest first (ties by id).
func (s *Store) Passkeys(ctx context.Context, userID string) ([]gatehouse.Passkey, error) {
	if hasNUL(userID) {
		return nil, nil
	}
	var out []gatehouse.Passkey
	err := s.read(ctx, "passkeys", func(ctx context.Context) error {
		out = nil // fn may run again
		rows, err := s.pool.Query(ctx, `SELECT `+passkeyColumns+`
            FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanPasskey(rows)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PasskeyByCredentialID returns the passkey of a credential id; the error
// wraps [gatehouse.ErrNotFound] when there is none.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*gatehouse.Passkey, error) {
	var p gatehouse.Passkey
	err := s.read(ctx, "passkey by credential id", func(ctx context.Context) error {
		var err error
		p, err = scanPasskey(s.pool.QueryRow(ctx, `SELECT `+passkeyColumns+`
            FROM passkeys WHERE credential_id = $1`, nonNil(credentialID)))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: passkey by credential id: %w", gatehouse.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// PasskeyUsed records a sign-in with the passkey id: its new sign count
// and backup state, and LastUsedAt = now. The error wraps
// [gatehouse.ErrNotFound] when the passkey is gone.
func (s *Store) PasskeyUsed(ctx context.Context, id string, signCount uint32, backedUp bool, now time.Time) error {
	if hasNUL(id) {
		return notFound("passkey", id)
	}
	return s.write(ctx, "passkey used", func(ctx context.Context, q dbtx) error {
		// The counter check again, inside the write: of two sign-ins
		// racing with one counter value (a clone), one wins.
		tag, err := q.Exec(ctx, `UPDATE passkeys SET sign_count = $1, backed_up = $2, last_used_at = $3
            WHERE id = $4 AND (sign_count < $1 OR (sign_count = 0 AND $1 = 0))`, int64(signCount), backedUp, now, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var exists bool
			if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM passkeys WHERE id = $1)`, id).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return notFound("passkey", id)
			}
			return fmt.Errorf("passkey %s: the signature counter did not grow: %w", id, gatehouse.ErrConflict)
		}
		return nil
	})
}

// RenamePasskey renames a passkey of the user; the error wraps
// [gatehouse.ErrNotFound] when the user has no passkey with that id, so
// that no user can learn whether another's passkey id exists.
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) error {
	if hasNUL(userID, id) {
		return notFound("passkey", id)
	}
	return s.write(ctx, "rename passkey", func(ctx context.Context, q dbtx) error {
		tag, err := q.Exec(ctx, `UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3`, name, id, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("passkey", id)
		}
		return nil
	})
}

// DeletePasskey deletes a passkey of the user; the error wraps
// [gatehouse.ErrNotFound] when the user has no passkey with that id.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	if hasNUL(userID, id) {
		return notFound("passkey", id)
	}
	return s.write(ctx, "delete passkey", func(ctx context.Context, q dbtx) error {
		tag, err := q.Exec(ctx, `DELETE FROM passkeys WHERE id = $1 AND user_id = $2`, id, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("passkey", id)
		}
		return nil
	})
}

// CreateWebAuthnChallenge stores a challenge; an empty UserID (a
// discoverable login) is stored as NULL. The error wraps
// [gatehouse.ErrConflict] when the id is taken and [gatehouse.ErrNotFound]
// when there is no such user.
func (s *Store) CreateWebAuthnChallenge(ctx context.Context, c *gatehouse.WebAuthnChallenge) error {
	if hasNUL(c.UserID) {
		return notFound("user", c.UserID)
	}
	var userID *string
	if c.UserID != "" {
		userID = &c.UserID
	}
	return s.write(ctx, "create webauthn challenge", func(ctx context.Context, q dbtx) error {
		_, err := q.Exec(ctx, `INSERT INTO webauthn_challenges (id, ceremony, user_id, session, created_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6)`,
			c.ID, c.Ceremony, userID, nonNil(c.Session), c.CreatedAt, c.ExpiresAt)
		return err
	})
}

// ConsumeWebAuthnChallenge deletes the challenge id and returns it if it
// was live at now. A challenge expired at now is deleted all the same (it
// can never serve again) and the error wraps [gatehouse.ErrNotFound], as
// for one unknown or used.
func (s *Store) ConsumeWebAuthnChallenge(ctx context.Context, id string, now time.Time) (*gatehouse.WebAuthnChallenge, error) {
	if hasNUL(id) {
		return nil, notFound("webauthn challenge", id)
	}
	var c *gatehouse.WebAuthnChallenge
	err := s.write(ctx, "consume webauthn challenge", func(ctx context.Context, q dbtx) error {
		c = nil // fn may run again
		var (
			got    gatehouse.WebAuthnChallenge
			userID *string
		)
		err := q.QueryRow(ctx, `DELETE FROM webauthn_challenges WHERE id = $1
            RETURNING id, ceremony, user_id, session, created_at, expires_at`, id).
			Scan(&got.ID, &got.Ceremony, &userID, &got.Session, &got.CreatedAt, &got.ExpiresAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return errUnchanged
		}
		if err != nil {
			return err
		}
		if userID != nil {
			got.UserID = *userID
		}
		got.CreatedAt, got.ExpiresAt = got.CreatedAt.UTC(), got.ExpiresAt.UTC()
		c = &got
		// An expired challenge is deleted all the same, without the
		// events of a ceremony that does not go on.
		return unchangedIf(!got.ExpiresAt.After(now))
	})
	if err != nil {
		return nil, err
	}
	if c == nil || !c.ExpiresAt.After(now) {
		return nil, notFound("webauthn challenge", id)
	}
	return c, nil
}

func scanPasskey(row pgx.Row) (gatehouse.Passkey, error) {
	var (
		p          gatehouse.Passkey
		transports string
		signCount  int64
		used       *time.Time
	)
	err := row.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.PublicKey, &p.Attestation, &p.AAGUID, &transports,
		&signCount, &p.BackupEligible, &p.BackedUp, &p.Name, &p.CreatedAt, &used)
	if err != nil {
		return p, err
	}
	// The column's CHECK keeps signCount within uint32.
	p.Transports, p.SignCount = splitTransports(transports), uint32(signCount)
	p.CreatedAt, p.LastUsedAt = p.CreatedAt.UTC(), fromNull(used)
	return p, nil
}

// joinTransports stores a passkey's transports as one space-separated
// string, as the SQLite store does: WebAuthn's AuthenticatorTransport
// values (usb, nfc, ble, internal, hybrid) hold no space.
func joinTransports(t []string) string { return strings.Join(t, " ") }

// splitTransports reads what joinTransports stored; none is nil.
func splitTransports(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}
