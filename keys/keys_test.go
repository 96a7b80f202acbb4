package keys

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
)

func TestCreateAuthenticateRevoke(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t, "keys")
	s, other := New(db), New(db)
	for _, sc := range []fusionrank.Scope{fusionrank.ScopePublic, fusionrank.ScopeRead, fusionrank.ScopeWrite, fusionrank.ScopeAdmin} {
		key, k, err := s.Create(ctx, sc, "t-"+sc.String())
		if err != nil {
			t.Fatal(err)
		}
		var hash []byte
		if err := db.Pool.QueryRow(ctx, `SELECT hash FROM api_keys WHERE id = $1`, k.ID).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256([]byte(key)); string(hash) != string(sum[:]) || strings.Contains(k.Prefix, key[len(Prefix)+8:]) {
			t.Fatalf("stored %x / prefix %q for key %q", hash, k.Prefix, key)
		}
		// Another replica that has not refreshed yet still accepts the new key.
		got, id, err := other.Authenticate(ctx, key)
		if err != nil || got != sc || id != fmt.Sprint(k.ID) {
			t.Fatalf("authenticate %s: %v %q %v", sc, got, id, err)
		}
		if _, err := s.Revoke(ctx, fmt.Sprint(k.ID)); err != nil {
			t.Fatal(err)
		}
		if err := other.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := other.Authenticate(ctx, key); fusionrank.ErrorCode(err) != fusionrank.Unauthorized {
			t.Fatalf("revoked key: %v", err)
		}
	}
	for _, bad := range []string{"", "frk_", "nope", Prefix + strings.Repeat("a", 300)} {
		if _, _, err := s.Authenticate(ctx, bad); fusionrank.ErrorCode(err) != fusionrank.Unauthorized {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, _, err := s.Create(ctx, fusionrank.ScopeNone, "x"); fusionrank.ErrorCode(err) != fusionrank.Invalid {
		t.Errorf("scope none: %v", err)
	}
}

// TestUnknownKeyFloodIsCapped: made-up keys cost at most MaxLookupsPerSecond queries a
// second, known keys keep working during the flood, and a key created during the flood
// is accepted after the next refresh.
func TestUnknownKeyFloodIsCapped(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t, "keys")
	s := New(db)
	known, _, err := s.Create(ctx, fusionrank.ScopeRead, "flood-known")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Authenticate(ctx, known); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.lookupMu.Lock()
	before := s.lookups
	s.lookupMu.Unlock()
	for i := range 2000 {
		if _, _, err := s.Authenticate(ctx, fmt.Sprintf("%sflood%08d%s", Prefix, i, strings.Repeat("x", 24))); fusionrank.ErrorCode(err) != fusionrank.Unauthorized {
			t.Fatalf("made-up key %d: %v", i, err)
		}
		if i%500 == 0 {
			if sc, _, err := s.Authenticate(ctx, known); err != nil || sc != fusionrank.ScopeRead {
				t.Fatalf("known key during the flood: %v", err)
			}
		}
	}
	s.lookupMu.Lock()
	ran := s.lookups - before
	s.lookupMu.Unlock()
	if limit := MaxLookupsPerSecond * (1 + time.Since(start).Seconds()); float64(ran) > limit+1 {
		t.Fatalf("%d lookups for 2000 made-up keys in %s; the cap allows %.0f", ran, time.Since(start), limit)
	}
	// The bucket is empty now: a brand-new key is refused by lookup but accepted once
	// the copy is refreshed.
	fresh, _, err := New(db).Create(ctx, fusionrank.ScopeWrite, "flood-fresh")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if sc, _, err := s.Authenticate(ctx, fresh); err != nil || sc != fusionrank.ScopeWrite {
		t.Fatalf("new key after refresh: %v %v", sc, err)
	}
	t.Logf("2000 made-up keys cost %d Postgres lookups in %s", ran, time.Since(start).Round(time.Millisecond))
}
