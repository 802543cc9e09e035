package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.PasskeyStore = (*Store)(nil)

// Registering, renaming and deleting a passkey are rare and run alone
// (writeTx). The writes of a login (its challenge, PasskeyUsed) go through
// the group committer like the other per-login writes: each touches one
// challenge or one passkey, the consume with a single DELETE, so a batch
// runs them exactly as it would run them one after another (group.go).

const passkeyColumns = `id, user_id, credential_id, public_key, attestation, aaguid, transports,
    sign_count, backup_eligible, backed_up, name, created_at, last_used_at`

// CreatePasskey stores a new passkey. The error wraps
// [gatehouse.ErrConflict] when its id or credential id is taken, whoever's
// it is, and [gatehouse.ErrNotFound] when there is no such user.
func (s *Store) CreatePasskey(ctx context.Context, p *gatehouse.Passkey) error {
	return s.writeTx(ctx, "create passkey", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO passkeys (`+passkeyColumns+`)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.UserID, secretBytes(p.CredentialID), secretBytes(p.PublicKey), p.Attestation,
			secretBytes(p.AAGUID), joinTransports(p.Transports), int64(p.SignCount),
			p.BackupEligible, p.BackedUp, p.Name, p.CreatedAt.UnixMicro(), micros(p.LastUsedAt))
		return err
	})
}

// Passkeys lists the user's passkeys, oldest first (ties by id).
func (s *Store) Passkeys(ctx context.Context, userID string) ([]gatehouse.Passkey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+passkeyColumns+`
        FROM passkeys WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, s.wrap(ctx, "passkeys", err)
	}
	defer rows.Close()
	var out []gatehouse.Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, s.wrap(ctx, "passkeys", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, "passkeys", err)
	}
	return out, nil
}

// PasskeyByCredentialID returns the passkey of a credential id; the error
// wraps [gatehouse.ErrNotFound] when there is none.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*gatehouse.Passkey, error) {
	p, err := scanPasskey(s.read.QueryRowContext(ctx, `SELECT `+passkeyColumns+`
        FROM passkeys WHERE credential_id = ?`, secretBytes(credentialID)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: passkey by credential id: %w", gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, s.wrap(ctx, "passkey by credential id", err)
	}
	return &p, nil
}

// PasskeyUsed records a sign-in with the passkey id: its new sign count
// and backup state, and LastUsedAt = now. The error wraps
// [gatehouse.ErrNotFound] when the passkey is gone.
func (s *Store) PasskeyUsed(ctx context.Context, id string, signCount uint32, backedUp bool, now time.Time) error {
	return s.groupTx(ctx, "passkey used", func(ctx context.Context, tx *sql.Tx) error {
		// The counter check again, inside the write: of two sign-ins
		// racing with one counter value (a clone), one wins.
		n, err := affected(tx.ExecContext(ctx, `UPDATE passkeys SET sign_count = ?, backed_up = ?, last_used_at = ?
            WHERE id = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`,
			int64(signCount), backedUp, now.UnixMicro(), id, int64(signCount), int64(signCount)))
		if err != nil {
			return err
		}
		if n == 0 {
			var exists int
			err := tx.QueryRowContext(ctx, `SELECT count(*) FROM passkeys WHERE id = ?`, id).Scan(&exists)
			if err != nil {
				return err
			}
			if exists == 0 {
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
	return s.writeTx(ctx, "rename passkey", func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?`,
			name, id, userID))
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("passkey", id)
		}
		return nil
	})
}

// DeletePasskey deletes a passkey of the user; the error wraps
// [gatehouse.ErrNotFound] when the user has no passkey with that id.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	return s.writeTx(ctx, "delete passkey", func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `DELETE FROM passkeys WHERE id = ? AND user_id = ?`, id, userID))
		if err != nil {
			return err
		}
		if n == 0 {
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
	var userID any
	if c.UserID != "" {
		userID = c.UserID
	}
	return s.groupTx(ctx, "create webauthn challenge", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webauthn_challenges (id, ceremony, user_id, session, created_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?)`,
			c.ID, c.Ceremony, userID, secretBytes(c.Session), c.CreatedAt.UnixMicro(), c.ExpiresAt.UnixMicro())
		return err
	})
}

// ConsumeWebAuthnChallenge deletes the challenge id and returns it if it
// was live at now. The DELETE ... RETURNING runs under the write lock, so
// of two concurrent consumers one gets the row and the other finds none. A
// challenge expired at now is deleted all the same (it can never serve
// again) and the error wraps [gatehouse.ErrNotFound], as for one unknown
// or used.
func (s *Store) ConsumeWebAuthnChallenge(ctx context.Context, id string, now time.Time) (*gatehouse.WebAuthnChallenge, error) {
	var c *gatehouse.WebAuthnChallenge
	err := s.groupTx(ctx, "consume webauthn challenge", func(ctx context.Context, tx *sql.Tx) error {
		c = nil // fn may run twice (group.go)
		var (
			got              gatehouse.WebAuthnChallenge
			userID           sql.NullString
			created, expires int64
		)
		err := tx.QueryRowContext(ctx, `DELETE FROM webauthn_challenges WHERE id = ?
            RETURNING id, ceremony, user_id, session, created_at, expires_at`, id).
			Scan(&got.ID, &got.Ceremony, &userID, &got.Session, &created, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return errUnchanged
		}
		if err != nil {
			return err
		}
		got.UserID, got.CreatedAt, got.ExpiresAt = userID.String, usecs(created), usecs(expires)
		c = &got
		// An expired challenge is deleted all the same, without the
		// events of a ceremony that does not go on.
		return unchangedIf(!got.ExpiresAt.After(now))
	})
	if err != nil {
		return nil, err
	}
	// An expired challenge is answered only after its deletion committed:
	// returning the error from inside the transaction would roll it back.
	if c == nil || !c.ExpiresAt.After(now) {
		return nil, fmt.Errorf("sqlite: webauthn challenge %s: %w", id, gatehouse.ErrNotFound)
	}
	return c, nil
}

func scanPasskey(row scanner) (gatehouse.Passkey, error) {
	var (
		p          gatehouse.Passkey
		transports string
		signCount  int64
		created    int64
		used       sql.NullInt64
	)
	err := row.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.PublicKey, &p.Attestation, &p.AAGUID, &transports,
		&signCount, &p.BackupEligible, &p.BackedUp, &p.Name, &created, &used)
	if err != nil {
		return p, err
	}
	// The column's CHECK keeps signCount within uint32.
	p.Transports, p.SignCount = splitTransports(transports), uint32(signCount)
	p.CreatedAt, p.LastUsedAt = usecs(created), fromMicros(used)
	return p, nil
}

// joinTransports stores a passkey's transports as one space-separated
// string: WebAuthn's AuthenticatorTransport values (usb, nfc, ble,
// internal, hybrid) hold no space.
func joinTransports(t []string) string { return strings.Join(t, " ") }

// splitTransports reads what joinTransports stored; none is nil.
func splitTransports(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}
