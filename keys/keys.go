package keys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/postgres"
	"github.com/fusionrank/fusionrank/usertoken"
)

// Prefix starts every key, so leaked keys are recognisable by scanners.
const Prefix = "frk_"

// RefreshInterval is how often a serving process reloads the active keys: a quarter of
// the one-second revocation promise, so that a loaded machine that runs the reload late
// still keeps it.
const RefreshInterval = 250 * time.Millisecond

// Key describes a stored key (never the key itself).
type Key struct {
	ID        int64      `json:"id"`
	Prefix    string     `json:"prefix"`
	Scope     string     `json:"scope"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// ExpiresAt is when the key stops working; nil: never.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// MaxLookupsPerSecond caps how often keys missing from the in-memory copy are looked up
// in Postgres (burst: one second's worth). The lookup only serves keys created since
// the last refresh; without a cap, a flood of made-up keys would be a flood of queries.
// Over the cap an unknown key is refused at once; a genuinely new key is then accepted
// after the next refresh (RefreshInterval).
const MaxLookupsPerSecond = 50

// Store keeps API keys in Postgres.
type Store struct {
	db *postgres.DB

	// refreshMu makes each Refresh's read and store one step, so a Refresh that read
	// the keys before a revocation cannot store them after a later Refresh stored the
	// revocation.
	refreshMu sync.Mutex

	mu     sync.RWMutex
	active map[[32]byte]entry
	loaded bool
	// The user-token secrets that still verify (by id), and the one that signs.
	secrets map[int64]secret
	signing usertoken.Secret

	lookupMu     sync.Mutex
	lookupTokens float64
	lookupLast   time.Time
	lookups      int // how many fallback queries ran (tests read it)
}

type entry struct {
	hash    [32]byte
	scope   fusionrank.Scope
	id      string
	expires time.Time // zero: never
}

// live reports whether the key still works at now.
func (e entry) live(now time.Time) bool { return e.expires.IsZero() || now.Before(e.expires) }

type secret struct {
	key     []byte
	expires time.Time // zero: never
}

// New returns a store over db.
func New(db *postgres.DB) *Store {
	return &Store{db: db, active: map[[32]byte]entry{}, secrets: map[int64]secret{}}
}

// Create makes a new key with the scope that never expires and returns it; it cannot be
// read again.
func (s *Store) Create(ctx context.Context, scope fusionrank.Scope, name string) (string, Key, error) {
	return s.CreateExpiring(ctx, scope, name, time.Time{})
}

// CreateExpiring is Create for a key that stops working at expires (zero: never).
func (s *Store) CreateExpiring(ctx context.Context, scope fusionrank.Scope, name string, expires time.Time) (string, Key, error) {
	if scope <= fusionrank.ScopeNone || scope > fusionrank.ScopeAdmin {
		return "", Key{}, fusionrank.Errorf(fusionrank.Invalid, "scope: must be public, read, write or admin")
	}
	if !expires.IsZero() && !expires.After(time.Now()) {
		return "", Key{}, fusionrank.Errorf(fusionrank.Invalid, "expires: %s is not in the future", expires.Format(time.RFC3339))
	}
	var k Key
	var key string
	err := s.db.Transact(ctx, func(tx pgx.Tx) error {
		var err error
		key, k, err = insertKey(ctx, tx, scope, name, expires)
		return err
	})
	return key, k, err
}

// insertKey stores a new random key and returns it.
func insertKey(ctx context.Context, tx pgx.Tx, scope fusionrank.Scope, name string, expires time.Time) (string, Key, error) {
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Key{}, err
	}
	key := Prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	h := sha256.Sum256([]byte(key))
	k := Key{Prefix: key[:len(Prefix)+6], Scope: scope.String(), Name: name}
	var exp *time.Time
	if !expires.IsZero() {
		exp = &expires
	}
	err := tx.QueryRow(ctx,
		`INSERT INTO api_keys (hash, prefix, scope, name, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at, expires_at`,
		h[:], k.Prefix, k.Scope, name, exp).Scan(&k.ID, &k.CreatedAt, &k.ExpiresAt)
	if err != nil {
		return "", Key{}, postgres.Translate(err)
	}
	return key, k, nil
}

// List returns every key, newest first.
func (s *Store) List(ctx context.Context) ([]Key, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id, prefix, scope, name, created_at, revoked_at, expires_at FROM api_keys ORDER BY id DESC`)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var ks []Key
	for rows.Next() {
		var k Key
		if err := rows.Scan(&k.ID, &k.Prefix, &k.Scope, &k.Name, &k.CreatedAt, &k.RevokedAt, &k.ExpiresAt); err != nil {
			return nil, postgres.Translate(err)
		}
		ks = append(ks, k)
	}
	return ks, postgres.Translate(rows.Err())
}

// Rotate replaces the active key with the id or printed prefix without downtime: it
// creates a key of the same scope and name (expiring at expires; zero: never) and makes
// the old one expire after grace (or keeps its earlier expiry), in one transaction.
// Deploy the new key within grace; the old one then stops working by itself. A grace of
// 0 ends the old key at once (a leaked key).
func (s *Store) Rotate(ctx context.Context, idOrPrefix string, grace time.Duration, expires time.Time) (string, Key, Key, error) {
	if grace < 0 {
		return "", Key{}, Key{}, fusionrank.Errorf(fusionrank.Invalid, "grace: must not be negative")
	}
	if !expires.IsZero() && !expires.After(time.Now().Add(grace)) {
		return "", Key{}, Key{}, fusionrank.Errorf(fusionrank.Invalid, "expires: the new key must outlive the old one's grace period")
	}
	var key string
	var nk, old Key
	err := s.db.Transact(ctx, func(tx pgx.Tx) error {
		id, _ := strconv.ParseInt(idOrPrefix, 10, 64)
		err := tx.QueryRow(ctx, `
			UPDATE api_keys SET expires_at = least(coalesce(expires_at, 'infinity'), now() + $3 * interval '1 microsecond')
			WHERE (id = $1 OR prefix = $2) AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
			RETURNING id, prefix, scope, name, created_at, revoked_at, expires_at`,
			id, idOrPrefix, grace.Microseconds()).Scan(&old.ID, &old.Prefix, &old.Scope, &old.Name, &old.CreatedAt, &old.RevokedAt, &old.ExpiresAt)
		if err != nil {
			err = postgres.Translate(err)
			if fusionrank.ErrorCode(err) == fusionrank.NotFound {
				return fusionrank.Errorf(fusionrank.NotFound, "key %q: no such active key", idOrPrefix)
			}
			return err
		}
		sc, err := fusionrank.ParseScope(old.Scope)
		if err != nil {
			return err
		}
		key, nk, err = insertKey(ctx, tx, sc, old.Name, expires)
		return err
	})
	if err != nil {
		return "", Key{}, Key{}, err
	}
	if old.ExpiresAt != nil {
		s.mu.Lock()
		for h, e := range s.active {
			if e.id == strconv.FormatInt(old.ID, 10) {
				e.expires = *old.ExpiresAt
				s.active[h] = e
			}
		}
		s.mu.Unlock()
	}
	return key, nk, old, nil
}

// Revoke revokes the key with the id or the printed prefix.
func (s *Store) Revoke(ctx context.Context, idOrPrefix string) (Key, error) {
	var k Key
	id, _ := strconv.ParseInt(idOrPrefix, 10, 64)
	err := s.db.Pool.QueryRow(ctx,
		`UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 OR prefix = $2
		 RETURNING id, prefix, scope, name, created_at, revoked_at`, id, idOrPrefix).
		Scan(&k.ID, &k.Prefix, &k.Scope, &k.Name, &k.CreatedAt, &k.RevokedAt)
	if err != nil {
		err = postgres.Translate(err)
		if fusionrank.ErrorCode(err) == fusionrank.NotFound {
			return k, fusionrank.Errorf(fusionrank.NotFound, "key %q: no such key", idOrPrefix)
		}
		return k, err
	}
	s.mu.Lock()
	for h, e := range s.active {
		if e.id == strconv.FormatInt(k.ID, 10) {
			delete(s.active, h)
		}
	}
	s.mu.Unlock()
	return k, nil
}

// Refresh reloads the active keys and the user-token secrets from Postgres.
func (s *Store) Refresh(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	rows, err := s.db.Pool.Query(ctx, `SELECT id, hash, scope, expires_at FROM api_keys
		WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`)
	if err != nil {
		return postgres.Translate(err)
	}
	defer rows.Close()
	next := map[[32]byte]entry{}
	for rows.Next() {
		var id int64
		var hash []byte
		var scope string
		var exp *time.Time
		if err := rows.Scan(&id, &hash, &scope, &exp); err != nil {
			return postgres.Translate(err)
		}
		sc, err := fusionrank.ParseScope(scope)
		if err != nil || len(hash) != 32 {
			continue
		}
		var h [32]byte
		copy(h[:], hash)
		e := entry{hash: h, scope: sc, id: strconv.FormatInt(id, 10)}
		if exp != nil {
			e.expires = *exp
		}
		next[h] = e
	}
	if err := rows.Err(); err != nil {
		return postgres.Translate(err)
	}
	rows.Close()
	secrets, signing, err := loadSecrets(ctx, s.db)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.active, s.loaded = next, true
	s.secrets, s.signing = secrets, signing
	s.mu.Unlock()
	return nil
}

// Run refreshes the active keys every RefreshInterval until ctx ends.
func (s *Store) Run(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(RefreshInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := s.Refresh(ctx)
			if err != nil && !failing && ctx.Err() == nil {
				log.Warn("api keys: refresh failed; using the last known keys", "err", err)
			}
			failing = err != nil
		}
	}
}

// Authenticate returns the scope of key and a stable id for rate limiting.
func (s *Store) Authenticate(ctx context.Context, key string) (fusionrank.Scope, string, error) {
	unknown := fusionrank.Errorf(fusionrank.Unauthorized, "Authorization: unknown or revoked key")
	if !strings.HasPrefix(key, Prefix) || len(key) > 200 {
		return fusionrank.ScopeNone, "", unknown
	}
	h := sha256.Sum256([]byte(key))
	now := time.Now()
	s.mu.RLock()
	e, ok := s.active[h]
	s.mu.RUnlock()
	if ok && subtle.ConstantTimeCompare(e.hash[:], h[:]) == 1 {
		if !e.live(now) {
			return fusionrank.ScopeNone, "", expired(e.expires)
		}
		return e.scope, e.id, nil
	}
	// Not in the copy: perhaps created since the last refresh.
	if !s.mayLookUp(time.Now()) {
		return fusionrank.ScopeNone, "", unknown
	}
	var id int64
	var hash []byte
	var scope string
	var exp *time.Time
	err := s.db.Pool.QueryRow(ctx, `SELECT id, hash, scope, expires_at FROM api_keys WHERE hash = $1 AND revoked_at IS NULL`, h[:]).Scan(&id, &hash, &scope, &exp)
	if err != nil {
		err = postgres.Translate(err)
		if fusionrank.ErrorCode(err) == fusionrank.NotFound {
			return fusionrank.ScopeNone, "", unknown
		}
		return fusionrank.ScopeNone, "", err
	}
	if subtle.ConstantTimeCompare(hash, h[:]) != 1 {
		return fusionrank.ScopeNone, "", unknown
	}
	sc, err := fusionrank.ParseScope(scope)
	if err != nil {
		return fusionrank.ScopeNone, "", unknown
	}
	e = entry{hash: h, scope: sc, id: strconv.FormatInt(id, 10)}
	if exp != nil {
		e.expires = *exp
	}
	if !e.live(now) {
		return fusionrank.ScopeNone, "", expired(e.expires)
	}
	s.mu.Lock()
	s.active[h] = e
	s.mu.Unlock()
	return sc, e.id, nil
}

// expired is the error of a key used at or after its expiry.
func expired(at time.Time) error {
	return fusionrank.Errorf(fusionrank.Unauthorized, "Authorization: the key expired at %s", at.UTC().Format(time.RFC3339))
}

// mayLookUp takes a token from the bucket of Postgres lookups.
func (s *Store) mayLookUp(now time.Time) bool {
	s.lookupMu.Lock()
	defer s.lookupMu.Unlock()
	if s.lookupLast.IsZero() {
		s.lookupTokens = MaxLookupsPerSecond
	} else {
		s.lookupTokens = min(MaxLookupsPerSecond, s.lookupTokens+now.Sub(s.lookupLast).Seconds()*MaxLookupsPerSecond)
	}
	s.lookupLast = now
	if s.lookupTokens < 1 {
		return false
	}
	s.lookupTokens--
	s.lookups++
	return true
}
