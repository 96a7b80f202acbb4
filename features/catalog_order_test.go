package features_test

import (
	"context"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/internal/testenv"
)

// TestCatalogueSeesLateCommit: a write that took its seq before another's and commits
// after a refresh has read that other one is still loaded by the next refresh, while
// item writers do not wait for one another; a process's first load waits for the
// writer in flight.
func TestCatalogueSeesLateCommit(t *testing.T) {
	db := testenv.DB(t, "featlate")
	rdb, ns := testenv.Redis(t)
	store := features.New(db, rdb, features.Options{Namespace: ns})
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if _, err := store.PutItem(ctx, fusionrank.Item{ID: id, Title: "first", Active: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	title := func(id string) string {
		c := store.Catalog()
		c.RLock()
		defer c.RUnlock()
		if s, ok := c.Slot(id); ok {
			return c.Meta(s).Title
		}
		return ""
	}
	// A writer takes a's seq and has not committed yet.
	late, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Rollback(ctx)
	if _, err := late.Exec(ctx, `UPDATE items SET title = 'late', seq = nextval('item_changes') WHERE id = 'a'`); err != nil {
		t.Fatal(err)
	}
	// Meanwhile another writes c, with a higher seq, and commits: it does not wait.
	start := time.Now()
	if _, err := store.PutItem(ctx, fusionrank.Item{ID: "c", Title: "first", Active: true}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a write waited %v for another writer", d)
	}
	if _, err := store.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// A process starting now waits for the writer in flight before its first load.
	starting := features.New(db, rdb, features.Options{Namespace: ns + ":starting"})
	loaded := make(chan error, 1)
	go func() {
		_, err := starting.Refresh(ctx)
		loaded <- err
	}()
	select {
	case err := <-loaded:
		t.Fatalf("the first load did not wait for the writer in flight (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := late.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-loaded; err != nil {
		t.Fatal(err)
	}
	c := starting.Catalog()
	c.RLock()
	n, a := c.Len(), ""
	if s, ok := c.Slot("a"); ok {
		a = c.Meta(s).Title
	}
	c.RUnlock()
	if n != 3 || a != "late" {
		t.Errorf("the starting process loaded %d items, a's title %q", n, a)
	}
	if _, err := store.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := title("a"); got != "late" {
		t.Fatalf("item a in the catalogue: %q, want the late commit's title", got)
	}
	if got := title("c"); got != "first" {
		t.Fatalf("item c in the catalogue: %q", got)
	}
}
