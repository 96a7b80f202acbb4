package keys

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/postgres"
	"github.com/fusionrank/fusionrank/usertoken"
)

// DefaultSecretGrace is how long a rotated user-token secret keeps verifying by
// default: long enough to deploy the new secret to the shop's backends and for the
// tokens signed with the old one to expire.
const DefaultSecretGrace = 24 * time.Hour

// loadSecrets reads the user-token secrets that still verify, and the one that signs
// (the newest without an expiry; zero when there is none).
func loadSecrets(ctx context.Context, db *postgres.DB) (map[int64]secret, usertoken.Secret, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id, secret, expires_at FROM user_token_secrets
		WHERE expires_at IS NULL OR expires_at > now() ORDER BY id`)
	if err != nil {
		return nil, usertoken.Secret{}, postgres.Translate(err)
	}
	defer rows.Close()
	out := map[int64]secret{}
	var signing usertoken.Secret
	for rows.Next() {
		var id int64
		var key []byte
		var exp *time.Time
		if err := rows.Scan(&id, &key, &exp); err != nil {
			return nil, usertoken.Secret{}, postgres.Translate(err)
		}
		sc := secret{key: key}
		if exp != nil {
			sc.expires = *exp
		} else {
			signing = usertoken.Secret{ID: id, Key: key}
		}
		out[id] = sc
	}
	return out, signing, postgres.Translate(rows.Err())
}

// RotateUserSecret creates the secret that signs user tokens from now on and makes the
// secrets before it stop verifying after grace (a grace of 0 ends them at once, for a
// leaked secret). Serving processes take the change within RefreshInterval. The first
// call creates the first secret.
func (s *Store) RotateUserSecret(ctx context.Context, grace time.Duration) (usertoken.Secret, error) {
	if grace < 0 {
		return usertoken.Secret{}, fusionrank.Errorf(fusionrank.Invalid, "grace: must not be negative")
	}
	sec, err := usertoken.NewSecret(0)
	if err != nil {
		return usertoken.Secret{}, err
	}
	err = s.db.Transact(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE user_token_secrets
			SET expires_at = now() + $1 * interval '1 microsecond'
			WHERE expires_at IS NULL OR expires_at > now() + $1 * interval '1 microsecond'`, grace.Microseconds()); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO user_token_secrets (secret) VALUES ($1) RETURNING id`, sec.Key).Scan(&sec.ID)
	})
	if err != nil {
		return usertoken.Secret{}, postgres.Translate(err)
	}
	return sec, nil
}

// errNoSecret is the answer of SignUserToken before any secret exists.
var errNoSecret = fusionrank.Errorf(fusionrank.Conflict, "user tokens: no secret yet; create one with `fusionrank keys user-secret`")

// SignUserToken signs a token for userID valid for ttl with the current secret (as
// loaded by the last Refresh).
func (s *Store) SignUserToken(userID string, ttl time.Duration) (string, time.Time, error) {
	if err := fusionrank.ValidateID("user_id", userID); err != nil {
		return "", time.Time{}, err
	}
	if ttl <= 0 {
		return "", time.Time{}, fusionrank.Errorf(fusionrank.Invalid, "ttl: must be positive")
	}
	s.mu.RLock()
	sec := s.signing
	s.mu.RUnlock()
	if sec.Key == nil {
		return "", time.Time{}, errNoSecret
	}
	exp := time.Now().Add(ttl).Truncate(time.Second)
	return usertoken.Sign(sec, userID, exp), exp, nil
}

// VerifyUserToken returns the user a token vouches for. The error, when the token is
// missing, malformed, expired or signed by a secret unknown or retired, says which,
// for the answer's warning; it carries the code Unauthorized.
func (s *Store) VerifyUserToken(token string) (string, error) {
	if token == "" {
		return "", fusionrank.Errorf(fusionrank.Unauthorized, "user_token: missing")
	}
	now := time.Now()
	c, err := usertoken.Verify(token, func(id int64) ([]byte, bool) {
		s.mu.RLock()
		sc, ok := s.secrets[id]
		s.mu.RUnlock()
		if !ok || (!sc.expires.IsZero() && !now.Before(sc.expires)) {
			return nil, false
		}
		return sc.key, true
	}, now)
	if err != nil {
		return "", fusionrank.Wrap(fusionrank.Unauthorized, err, "user_token: "+err.Error())
	}
	return c.UserID, nil
}
