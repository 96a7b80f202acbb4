package features

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/internal/touch"
	"github.com/fusionrank/fusionrank/postgres"
)

// Block holds one modality's vectors for every item slot, contiguous: the vector of slot
// s is Data[s*Dim : (s+1)*Dim]. Has[s] is false where the item lacks the modality.
type Block struct {
	Name string
	Dim  int
	// Version is the version of the encoder that wrote the vectors, for modalities
	// whose encoder can change while the service runs (the image encoder of
	// PhotoModality); "" for the others.
	Version string
	Data    []float32
	Has     []bool
}

// Vector returns slot's vector, or nil when the item lacks the modality.
func (b *Block) Vector(slot int32) []float32 {
	if int(slot) >= len(b.Has) || !b.Has[slot] {
		return nil
	}
	return b.Data[int(slot)*b.Dim : int(slot+1)*b.Dim]
}

// ItemMeta is what serving needs of an item besides its vectors.
type ItemMeta struct {
	ID       string
	Title    string
	Category string
	Brand    string
	Price    float64 // NaN when unknown
	Active   bool
	// ImageURL is the address a page shows the item's photo at ("" without one).
	ImageURL string
	// TitleStems is Title prepared for the match features (text.NewTitleStems).
	TitleStems text.TitleStems
}

// Catalog is the serving process's copy of the catalogue: item metadata and the
// model-independent modality vectors, each modality in one contiguous block. Slots are
// dense and never reused; an item keeps its slot for the life of the process.
//
// Readers take RLock for as long as they use slices of it; Refresh takes the write lock
// only to apply a batch of changes.
type Catalog struct {
	// rmu serialises refreshes and swaps of the photo block, so a refresh never
	// applies vectors of one encoder version to a block of another.
	rmu    sync.Mutex
	mu     sync.RWMutex
	slots  *idIndex
	items  []ItemMeta
	ids    []string // items[s].ID, dense: see ID
	active []bool   // items[s].Active
	blocks []*Block
	seq    int64
	loaded bool
	// readFrom says which database the last refresh read: "primary", "replica" or
	// "primary (the replica is behind)".
	readFrom string

	lmu       sync.Mutex
	listeners []func(changed []int32)
	swapping  []func(b *Block) (commit func())
}

// NewCatalog returns an empty catalogue with the given modalities.
func NewCatalog(mods []Modality) *Catalog {
	c := &Catalog{}
	c.slots = newIDIndex(func(slot int32) string { return c.ids[slot] })
	for _, m := range mods {
		c.blocks = append(c.blocks, &Block{Name: m.Name, Dim: m.Dim})
	}
	return c
}

// OnChange registers fn to be called (outside the lock) with the slots each refresh
// changed.
func (c *Catalog) OnChange(fn func(changed []int32)) {
	c.lmu.Lock()
	c.listeners = append(c.listeners, fn)
	c.lmu.Unlock()
}

// RLock locks the catalogue for reading.
func (c *Catalog) RLock() { c.mu.RLock() }

// RUnlock undoes RLock.
func (c *Catalog) RUnlock() { c.mu.RUnlock() }

// Seq returns the items.seq up to which the catalogue holds every change (the next
// refresh asks for those above it). Callers hold RLock.
func (c *Catalog) Seq() int64 { return c.seq }

// ReadFrom says which database the last refresh that read the items read them from:
// "primary", "replica", or "primary (the replica is behind)". Callers hold RLock.
func (c *Catalog) ReadFrom() string { return c.readFrom }

// Len returns the number of slots (items ever seen, active or not). Callers hold RLock.
func (c *Catalog) Len() int { return len(c.items) }

// Slot returns the slot of an item id. Callers hold RLock.
func (c *Catalog) Slot(id string) (int32, bool) {
	s, ok := c.slots.get(id)
	return s, ok
}

// SlotsOf calls found(i, slot, ok, active) for each i in [0, n), in order, with the
// slot of id(i) (ok false when the catalogue has no such item) and whether the item is
// active. It gives what Slot and Active would, with their cache misses overlapped: the
// ids are looked up (idIndex.getAll), then their flags read in a look-ahead loop
// (package touch), a few dozen at a time. Callers hold RLock; found must not call into
// the catalogue's locks.
func (c *Catalog) SlotsOf(n int, id func(int) string, found func(i int, slot int32, ok, active bool)) {
	var slots [lookAhead]int32
	var known [lookAhead]bool
	for i0 := 0; i0 < n; i0 += lookAhead {
		k := min(lookAhead, n-i0)
		c.slots.getAll(k, func(j int) string { return id(i0 + j) }, func(j int, slot int32, ok bool) {
			slots[j], known[j] = slot, ok
		})
		var t uint64
		for j := range k {
			if known[j] && c.active[slots[j]] {
				t++
			}
		}
		touch.Keep(t)
		for j := range k {
			found(i0+j, slots[j], known[j], known[j] && c.active[slots[j]])
		}
	}
}

// Meta returns the metadata of slot. Callers hold RLock.
func (c *Catalog) Meta(slot int32) *ItemMeta { return &c.items[slot] }

// ID returns the id of the item of slot: Meta(slot).ID, from a dense array of string
// headers (16 bytes a slot, 1.6 MB at 100k items, against a whole metadata record of
// about 150 bytes), which candidate gathering reads for every candidate it keeps.
// Callers hold RLock.
func (c *Catalog) ID(slot int32) string { return c.ids[slot] }

// Active reports whether the item of slot is active: Meta(slot).Active, from a dense
// array a byte per slot, which the retrieval indexes' filters read for every item they
// visit (an item's metadata is a cache miss of its own). Callers hold RLock.
func (c *Catalog) Active(slot int32) bool { return c.active[slot] }

// Blocks returns the modality blocks. Callers hold RLock.
func (c *Catalog) Blocks() []*Block { return c.blocks }

// Block returns the block of a modality, or nil. Callers hold RLock.
func (c *Catalog) Block(name string) *Block {
	for _, b := range c.blocks {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// Loaded reports whether the first refresh has completed.
func (c *Catalog) Loaded() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.loaded
}

// ItemVectors calls visit with each vector the item has in the modalities whose
// encoder never changes while the service runs (every one but PhotoModality). User
// profiles are built from these: a profile cached in Redis must not hold a mean of
// photo vectors from an image encoder that is no longer active. It takes RLock
// itself.
func (c *Catalog) ItemVectors(id string, visit func(modality string, v []float32)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.slots.get(id)
	if !ok {
		return
	}
	for _, b := range c.blocks {
		if b.Version != "" {
			continue
		}
		if v := b.Vector(s); v != nil {
			visit(b.Name, v)
		}
	}
}

// OnPhotoSwap registers fn to prepare for a new photo block: SwapPhoto calls it with
// the new block before the swap, without the catalogue's lock held (it may take
// RLock; refreshes wait meanwhile), and calls the commit it returns under the write
// lock, together with the swap, so that what fn built (an index of the new vectors)
// replaces the old one at the same instant as the block.
func (c *Catalog) OnPhotoSwap(fn func(b *Block) (commit func())) {
	c.lmu.Lock()
	c.swapping = append(c.swapping, fn)
	c.lmu.Unlock()
}

// PhotoVersion returns the encoder version of the photo block ("" without one).
// Callers hold RLock.
func (c *Catalog) PhotoVersion() string {
	if b := c.Block(PhotoModality); b != nil {
		return b.Version
	}
	return ""
}

// SwapPhoto replaces the photo block with the vectors of encoder version of dim
// numbers that load returns for the items of the catalogue (by id; load is called
// with the ids of every slot, without the catalogue's lock held). Refreshes wait
// meanwhile, so the block never mixes versions. The preparations of OnPhotoSwap run
// before the swap and commit with it; the listeners of OnChange are told afterwards.
func (c *Catalog) SwapPhoto(ctx context.Context, version string, dim int, load func(ctx context.Context, ids []string) (map[string][]float32, error)) error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.mu.RLock()
	ids := slices.Clone(c.ids)
	c.mu.RUnlock()
	vecs, err := load(ctx, ids)
	if err != nil {
		return err
	}
	b := &Block{Name: PhotoModality, Dim: dim, Version: version, Data: make([]float32, len(ids)*dim), Has: make([]bool, len(ids))}
	for s, id := range ids {
		if v, ok := vecs[id]; ok && len(v) == dim {
			copy(b.Data[s*dim:(s+1)*dim], v)
			b.Has[s] = true
		}
	}
	c.lmu.Lock()
	sw := append([]func(*Block) func(){}, c.swapping...)
	ls := append([]func([]int32){}, c.listeners...)
	c.lmu.Unlock()
	var commits []func()
	for _, fn := range sw {
		if commit := fn(b); commit != nil {
			commits = append(commits, commit)
		}
	}
	c.mu.Lock()
	replaced := false
	for i, old := range c.blocks {
		if old.Name == PhotoModality {
			c.blocks[i], replaced = b, true
		}
	}
	if !replaced {
		c.blocks = append(c.blocks, b)
	}
	for _, commit := range commits {
		commit()
	}
	c.mu.Unlock()
	all := make([]int32, len(ids))
	for i := range all {
		all[i] = int32(i)
	}
	for _, fn := range ls {
		fn(all)
	}
	return nil
}

// ResidentBytes estimates the bytes the catalogue holds per item slot: vectors, masks and
// metadata strings.
func (c *Catalog) ResidentBytes() (total int64, perItem float64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, b := range c.blocks {
		total += int64(cap(b.Data))*4 + int64(cap(b.Has))
	}
	for _, it := range c.items {
		total += int64(len(it.ID)*2+len(it.Title)+len(it.Category)+len(it.Brand)+8*cap(it.TitleStems.Hashes)) + 128 + 16 // meta struct, map entry
	}
	if n := len(c.items); n > 0 {
		perItem = float64(total) / float64(n)
	}
	return total, perItem
}

// itemChangeLock is the advisory lock every statement that writes items takes shared
// (a trigger, sql/011_item_change_order.sql) before it takes a seq.
const itemChangeLock = 7310414

// itemChangeWait bounds how long a refresh waits for the item writers in flight; past
// it the refresh loads nothing and the next one tries again (writers that arrive while
// it waits queue behind it, so it must not wait long).
const itemChangeWait = 50 * time.Millisecond

// committedSeq returns the highest item seq on the primary below which every seq is
// committed, and the primary's WAL position then: it takes itemChangeLock exclusively,
// which waits for the writers in flight. ok is false when they did not finish within
// itemChangeWait.
func committedSeq(ctx context.Context, primary *postgres.DB) (seq int64, lsn string, ok bool, err error) {
	err = primary.Transact(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", itemChangeWait.Milliseconds())); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(itemChangeLock)); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0), pg_current_wal_lsn()::text FROM items`).Scan(&seq, &lsn)
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "55P03" { // lock_not_available: writers still in flight
		return 0, "", false, nil
	}
	return seq, lsn, err == nil, err
}

// replicaWait bounds how long a refresh waits for a replica to replay the primary's WAL
// up to the committed seq's position before it reads the primary instead. Streaming
// replicas are usually milliseconds behind; the primary's WAL position moves with every
// write to any of its databases, so the wait must cover a busy moment's lag too.
const replicaWait = time.Second

// replayed reports whether the replica db has replayed the primary's WAL up to lsn (so
// that what was committed there then is visible in it), waiting up to replicaWait.
func replayed(ctx context.Context, db *postgres.DB, lsn string) (bool, error) {
	deadline := time.Now().Add(replicaWait)
	for {
		var ok bool
		err := db.Pool.QueryRow(ctx, `SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, true)`, lsn).Scan(&ok)
		if err != nil || ok || time.Now().After(deadline) {
			return ok, postgres.Translate(err)
		}
		sleep(ctx, 10*time.Millisecond)
	}
}

// Refresh loads the items that changed in Postgres since the last refresh (all of them
// the first time) and tells the listeners which slots changed. It reads from db (the
// primary or a replica of it) and finds on the primary up to which seq every change is
// committed: it reads no further, so a writer that took a lower seq and commits later
// is not passed over.
func (c *Catalog) Refresh(ctx context.Context, db, primary *postgres.DB) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.mu.RLock()
	since := c.seq
	photoVersion := c.PhotoVersion()
	c.mu.RUnlock()
	// Most refreshes find nothing new. max(seq) comes from the end of the items_seq
	// index whatever the table's statistics say; the change query below, planned
	// without statistics (after a bulk import, or with autovacuum off), scans every item.
	if c.loaded {
		var latest int64
		if err := db.Pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM items`).Scan(&latest); err != nil {
			return 0, postgres.Translate(err)
		}
		if latest <= since {
			return 0, nil
		}
	}
	upTo, lsn, ok, err := committedSeq(ctx, primary)
	for err == nil && !ok && !c.loaded {
		// The first load waits for the writers in flight (an import's batch, say): a
		// server starts from the whole catalogue, not from none of it.
		if sleep(ctx, itemChangeWait); ctx.Err() != nil {
			return 0, fusionrank.Wrap(fusionrank.Unavailable, ctx.Err(), "catalogue: item writes still in flight")
		}
		upTo, lsn, ok, err = committedSeq(ctx, primary)
	}
	if err != nil || !ok {
		return 0, err
	}
	from := "primary"
	if db != primary {
		from = "replica"
		if caught, err := replayed(ctx, db, lsn); err != nil {
			return 0, err
		} else if !caught {
			// A replica behind the primary could hold a later change but not an earlier one.
			db, from = primary, "primary (the replica is behind)"
		}
	}
	rows, err := db.Pool.Query(ctx, `SELECT i.id, i.title, i.category, i.brand, i.price, i.active, g.url, g.sha256
		FROM items i LEFT JOIN item_images g ON g.item_id = i.id WHERE i.seq > $1 AND i.seq <= $2 ORDER BY i.seq`, since, upTo)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	var metas []ItemMeta
	for rows.Next() {
		var m ItemMeta
		var price *float64
		var url, sha *string
		if err := rows.Scan(&m.ID, &m.Title, &m.Category, &m.Brand, &price, &m.Active, &url, &sha); err != nil {
			rows.Close()
			return 0, postgres.Translate(err)
		}
		m.Price = math.NaN()
		if price != nil {
			m.Price = *price
		}
		if url != nil && sha != nil {
			m.ImageURL = DisplayURL(*url, *sha)
		}
		m.TitleStems = text.NewTitleStems(m.Title)
		metas = append(metas, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, postgres.Translate(err)
	}
	if len(metas) == 0 {
		c.mu.Lock()
		c.seq = upTo
		c.loaded = true
		c.readFrom = from
		c.mu.Unlock()
		return 0, nil
	}
	ids := make([]string, len(metas))
	for i, m := range metas {
		ids[i] = m.ID
	}
	type vec struct {
		id, mod string
		data    []byte
	}
	var vecs []vec
	q := `SELECT item_id, modality, data FROM item_vectors WHERE model_version = '' AND item_id = ANY($1)`
	args := []any{ids}
	if since == 0 {
		q, args = `SELECT item_id, modality, data FROM item_vectors WHERE model_version = ''`, nil
	}
	vrows, err := db.Pool.Query(ctx, q, args...)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	for vrows.Next() {
		var v vec
		if err := vrows.Scan(&v.id, &v.mod, &v.data); err != nil {
			vrows.Close()
			return 0, postgres.Translate(err)
		}
		vecs = append(vecs, v)
	}
	vrows.Close()
	if err := vrows.Err(); err != nil {
		return 0, postgres.Translate(err)
	}
	if photoVersion != "" {
		q := `SELECT item_id, data FROM item_photo_vectors WHERE encoder_version = $1 AND item_id = ANY($2)`
		args := []any{photoVersion, ids}
		if since == 0 {
			q, args = `SELECT item_id, data FROM item_photo_vectors WHERE encoder_version = $1`, []any{photoVersion}
		}
		prows, err := db.Pool.Query(ctx, q, args...)
		if err != nil {
			return 0, postgres.Translate(err)
		}
		for prows.Next() {
			v := vec{mod: PhotoModality}
			if err := prows.Scan(&v.id, &v.data); err != nil {
				prows.Close()
				return 0, postgres.Translate(err)
			}
			vecs = append(vecs, v)
		}
		prows.Close()
		if err := prows.Err(); err != nil {
			return 0, postgres.Translate(err)
		}
	}

	c.mu.Lock()
	changed := make([]int32, 0, len(metas))
	for _, m := range metas {
		s, ok := c.slots.get(m.ID)
		if !ok {
			s = int32(len(c.items))
			c.items = append(c.items, m)
			c.ids = append(c.ids, m.ID)
			c.active = append(c.active, m.Active)
			c.slots.put(m.ID, s)
			for _, b := range c.blocks {
				b.Data = append(b.Data, make([]float32, b.Dim)...)
				b.Has = append(b.Has, false)
			}
		} else {
			c.items[s] = m
			c.active[s] = m.Active
			for _, b := range c.blocks {
				b.Has[s] = false
			}
		}
		changed = append(changed, s)
	}
	for _, v := range vecs {
		s, ok := c.slots.get(v.id)
		if !ok {
			continue
		}
		for _, b := range c.blocks {
			if b.Name == v.mod && len(v.data) == 4*b.Dim {
				readFloats(b.Data[int(s)*b.Dim:int(s+1)*b.Dim], v.data)
				b.Has[s] = true
			}
		}
	}
	c.seq = upTo
	c.loaded = true
	c.readFrom = from
	c.mu.Unlock()

	c.lmu.Lock()
	ls := append([]func([]int32){}, c.listeners...)
	c.lmu.Unlock()
	for _, fn := range ls {
		fn(changed)
	}
	return len(changed), nil
}

// RunCatalogue keeps the in-memory catalogue fresh until ctx ends: it listens for the
// item change notifications (NOTIFY fusionrank_items, sent by every item write) and
// also refreshes every interval (default 500ms), so a lost notification delays a
// change by one interval at most. Serving processes run it.
func (s *Store) RunCatalogue(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	wake := make(chan struct{}, 1)
	go func() {
		for ctx.Err() == nil {
			conn, err := s.db.Pool.Acquire(ctx)
			if err != nil {
				sleep(ctx, time.Second)
				continue
			}
			if _, err := conn.Exec(ctx, "LISTEN fusionrank_items"); err == nil {
				for ctx.Err() == nil {
					if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
						break
					}
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			}
			conn.Release()
			sleep(ctx, time.Second)
		}
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		if _, err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			s.opt.Logger.Warn("catalogue refresh failed", "err", err)
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
