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

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/postgres"
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

	mu     sync.RWMutex
	active map[[32]byte]entry
	loaded bool

	lookupMu     sync.Mutex
	lookupTokens float64
	lookupLast   time.Time
	lookups      int // how many fallback queries ran (tests read it)
}

type entry struct {
	hash  [32]byte
	scope fusionrank.Scope
	id    string
}

// New returns a store over db.
func New(db *postgres.DB) *Store { return &Store{db: db, active: map[[32]byte]entry{}} }

// Create makes a new key with the scope and returns it; it cannot be read again.
func (s *Store) Create(ctx context.Context, scope fusionrank.Scope, name string) (string, Key, error) {
	if scope <= fusionrank.ScopeNone || scope > fusionrank.ScopeAdmin {
		return "", Key{}, fusionrank.Errorf(fusionrank.Invalid, "scope: must be public, read, write or admin")
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Key{}, err
	}
	key := Prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	h := sha256.Sum256([]byte(key))
	k := Key{Prefix: key[:len(Prefix)+6], Scope: scope.String(), Name: name}
	err := s.db.Pool.QueryRow(ctx,
		`INSERT INTO api_keys (hash, prefix, scope, name) VALUES ($1, $2, $3, $4) RETURNING id, created_at`,
		h[:], k.Prefix, k.Scope, name).Scan(&k.ID, &k.CreatedAt)
	if err != nil {
		return "", Key{}, postgres.Translate(err)
	}
	return key, k, nil
}

// List returns every key, newest first.
func (s *Store) List(ctx context.Context) ([]Key, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id, prefix, scope, name, created_at, revoked_at FROM api_keys ORDER BY id DESC`)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var ks []Key
	for rows.Next() {
		var k Key
		if err := rows.Scan(&k.ID, &k.Prefix, &k.Scope, &k.Name, &k.CreatedAt, &k.RevokedAt); err != nil {
			return nil, postgres.Translate(err)
		}
		ks = append(ks, k)
	}
	return ks, postgres.Translate(rows.Err())
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

// Refresh reloads the active keys from Postgres.
func (s *Store) Refresh(ctx context.Context) error {
	rows, err := s.db.Pool.Query(ctx, `SELECT id, hash, scope FROM api_keys WHERE revoked_at IS NULL`)
	if err != nil {
		return postgres.Translate(err)
	}
	defer rows.Close()
	next := map[[32]byte]entry{}
	for rows.Next() {
		var id int64
		var hash []byte
		var scope string
		if err := rows.Scan(&id, &hash, &scope); err != nil {
			return postgres.Translate(err)
		}
		sc, err := fusionrank.ParseScope(scope)
		if err != nil || len(hash) != 32 {
			continue
		}
		var h [32]byte
		copy(h[:], hash)
		next[h] = entry{hash: h, scope: sc, id: strconv.FormatInt(id, 10)}
	}
	if err := rows.Err(); err != nil {
		return postgres.Translate(err)
	}
	s.mu.Lock()
	s.active, s.loaded = next, true
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
	s.mu.RLock()
	e, ok := s.active[h]
	s.mu.RUnlock()
	if ok && subtle.ConstantTimeCompare(e.hash[:], h[:]) == 1 {
		return e.scope, e.id, nil
	}
	// Not in the copy: perhaps created since the last refresh.
	if !s.mayLookUp(time.Now()) {
		return fusionrank.ScopeNone, "", unknown
	}
	var id int64
	var hash []byte
	var scope string
	err := s.db.Pool.QueryRow(ctx, `SELECT id, hash, scope FROM api_keys WHERE hash = $1 AND revoked_at IS NULL`, h[:]).Scan(&id, &hash, &scope)
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
	s.mu.Lock()
	s.active[h] = entry{hash: h, scope: sc, id: strconv.FormatInt(id, 10)}
	s.mu.Unlock()
	return sc, strconv.FormatInt(id, 10), nil
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
