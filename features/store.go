package features

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/internal/memo"
	"github.com/fusionrank/fusionrank/postgres"
)

// Modality is a named vector space and its dimension.
type Modality struct {
	Name string
	Dim  int
}

// Options configure the feature store. Zero values take the documented defaults.
type Options struct {
	// Modalities are the caller-supplied modalities (for example image:512).
	Modalities []Modality
	// Text encodes items' titles and descriptions into the "text" modality; nil: no
	// text modality.
	Text *text.Encoder
	// Rules shape user profiles. Default half-life 7 days, weights view 1, click 2,
	// add_to_cart 4, purchase 8, 50 recent items.
	Rules ProfileRules
	// MaxFutureSkew is how far in the future an event may be. Default 5 minutes.
	MaxFutureSkew time.Duration
	// ProfileTTL is the TTL of a user profile in Redis. Default 30 days.
	ProfileTTL time.Duration
	// CounterTTL is the TTL of co-visitation sets in Redis. Default 30 days.
	CounterTTL time.Duration
	// CovisWindow bounds the history co-visitation sets are built from, on a miss and
	// at the start-up warm-up, to the events of this last stretch of time (events
	// stored later are added as they arrive). Zero: all history.
	CovisWindow time.Duration
	// ImportStreams is how many chunks of events ImportEvents stores at once, each on
	// its own connection: one Postgres backend per stream parses the COPY and runs the
	// inserts, so streams spread that work over the database server's cores. Default 4.
	ImportStreams int
	// Namespace starts every Redis key (namespace:v2:…). Default "fr".
	Namespace string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives warnings about the cache. Default: discard.
	Logger *slog.Logger
	// OnRedisError, when set, is called with every Redis failure (for metrics).
	OnRedisError func(error)
	// Photos, when set, lets items and queries carry photos, encoded into the "photo"
	// modality by the registry's active image encoder; nil: photos are refused.
	Photos *PhotoOptions
	// LocalCacheTTL is how long profiles and co-visitation sets read from Redis may be
	// served from process memory, kept true by invalidation messages (see RunLocalCache
	// and local.go); 0 (the default) turns the local cache off.
	LocalCacheTTL time.Duration
	// LocalCacheMax bounds the entries of each of the local cache's maps. Default
	// 200,000.
	LocalCacheMax int
	// Replica, when set, is a streaming replica of the database that serves the reads
	// which tolerate its lag or check it (see replica.go): profile and counter
	// rebuilds, the warm-ups, catalogue loads and exports. Writes and the reads that
	// must see them stay on the primary. nil: every read goes to the primary.
	Replica *postgres.DB
	// OnRebuildRead, when set, is called with the pool that served each profile
	// rebuild's read (PoolPrimary, PoolReplica, PoolPrimaryLag, PoolPrimaryError; for
	// metrics).
	OnRebuildRead func(pool string)
}

// Store is the feature store: the catalogue and event history in Postgres (the source
// of truth), and user profiles and counters in Redis (a cache rebuilt from Postgres on a
// miss).
type Store struct {
	db      *postgres.DB
	replica *postgres.DB // nil without a replica
	rdb     redis.UniversalClient
	opt     Options
	catalog *Catalog
	mods    []Modality // all model-independent modalities: text first, then the callers'
	// redisState is the Redis circuit breaker and the users whose cached profile may
	// be stale.
	redisState *redisState
	// rebuilds are the profile and counter rebuilds from Postgres in progress.
	rebuilds *rebuilds
	pop      popCache
	warm     warmState
	hooks    testHooks
	photos   *photos     // nil without photos
	lc       *localCache // nil without a local cache
	parts    partitions
}

// testHooks let a test run code at the moments where concurrent writers race. They are
// nil outside tests.
type testHooks struct {
	afterRebuildRead func(userID string) // a profile rebuild has read Postgres, before it writes Redis
	beforeApply      func()              // events are committed, before their update of Redis
}

// New returns a store. rdb may be shared with other users of the same Redis as long as
// the namespace differs.
func New(db *postgres.DB, rdb redis.UniversalClient, opt Options) *Store {
	if opt.Rules.HalfLife == 0 {
		opt.Rules.HalfLife = 7 * 24 * time.Hour
	}
	if opt.Rules.Weights == nil {
		opt.Rules.Weights = map[fusionrank.EventType]float64{fusionrank.View: 1, fusionrank.Click: 2, fusionrank.AddToCart: 4, fusionrank.Purchase: 8}
	}
	if opt.Rules.MaxRecent == 0 {
		opt.Rules.MaxRecent = 50
	}
	if opt.MaxFutureSkew == 0 {
		opt.MaxFutureSkew = 5 * time.Minute
	}
	if opt.ProfileTTL == 0 {
		opt.ProfileTTL = 30 * 24 * time.Hour
	}
	if opt.CounterTTL == 0 {
		opt.CounterTTL = 30 * 24 * time.Hour
	}
	if opt.ImportStreams <= 0 {
		opt.ImportStreams = 4
	}
	if opt.Namespace == "" {
		opt.Namespace = "fr"
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.LocalCacheMax == 0 {
		opt.LocalCacheMax = 200_000
	}
	s := &Store{db: db, replica: opt.Replica, rdb: rdb, opt: opt, redisState: newRedisState(), rebuilds: newRebuilds()}
	if opt.LocalCacheTTL > 0 {
		s.lc = &localCache{ttl: opt.LocalCacheTTL, profiles: memo.New[*Profile](opt.LocalCacheMax), covis: memo.New[*covisSet](opt.LocalCacheMax)}
	}
	s.redisState.onError = opt.OnRedisError
	if opt.Text != nil {
		s.mods = append(s.mods, Modality{Name: "text", Dim: opt.Text.Dim()})
	}
	s.mods = append(s.mods, opt.Modalities...)
	s.catalog = NewCatalog(s.mods)
	if opt.Photos != nil {
		if opt.Photos.LoadEncoder == nil {
			panic("features: Options.Photos without LoadEncoder")
		}
		s.photos = newPhotos(*opt.Photos)
	}
	return s
}

// Catalog returns the in-memory catalogue. Call Refresh (or Run) to fill it.
func (s *Store) Catalog() *Catalog { return s.catalog }

// Modalities returns the model-independent modalities, text first.
func (s *Store) Modalities() []Modality { return s.mods }

// DB returns the Postgres database.
func (s *Store) DB() *postgres.DB { return s.db }

// Refresh brings the in-memory catalogue up to date with Postgres: from the replica
// when there is one (the primary when the replica fails).
func (s *Store) Refresh(ctx context.Context) (int, error) {
	var n int
	err := s.readLagged(ctx, "catalogue refresh", func(db *postgres.DB) (err error) {
		n, err = s.catalog.Refresh(ctx, db, s.db)
		return err
	})
	return n, err
}

func (s *Store) modality(name string) (Modality, bool) {
	for _, m := range s.mods {
		if m.Name == name {
			return m, true
		}
	}
	return Modality{}, false
}

func (s *Store) modalityNames() []string {
	var ns []string
	for _, m := range s.mods {
		ns = append(ns, m.Name)
	}
	return ns
}

// prepareItem validates an item and computes its vectors: caller vectors are checked and
// L2-normalised; the text vector comes from the encoder unless the caller sent one; a
// photo sent as bytes is decoded and encoded (one given by URL is fetched later).
func (s *Store) prepareItem(it *fusionrank.Item) (*photoWrite, error) {
	if err := s.prepareFields(it); err != nil {
		return nil, err
	}
	return s.preparePhoto(it)
}

// prepareFields validates an item's fields and computes its vectors but the photo's.
func (s *Store) prepareFields(it *fusionrank.Item) error {
	if err := fusionrank.ValidateID("id", it.ID); err != nil {
		return err
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"title", it.Title, fusionrank.MaxTitleLen}, {"description", it.Description, fusionrank.MaxDescriptionLen},
		{"category", it.Category, fusionrank.MaxShortFieldLen}, {"brand", it.Brand, fusionrank.MaxShortFieldLen}} {
		if len(f.v) > f.max {
			return fusionrank.Errorf(fusionrank.Invalid, "%s: longer than %d bytes", f.name, f.max)
		}
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	if it.Price != nil && (math.IsNaN(*it.Price) || math.IsInf(*it.Price, 0) || *it.Price < 0) {
		return fusionrank.Errorf(fusionrank.Invalid, "price: must be a finite number ≥ 0")
	}
	if len(it.Attributes) > fusionrank.MaxAttributes {
		return fusionrank.Errorf(fusionrank.Invalid, "attributes: more than %d attributes", fusionrank.MaxAttributes)
	}
	if err := checkAttributes("attributes", it.Attributes); err != nil {
		return err
	}
	if it.Attributes != nil {
		b, err := json.Marshal(it.Attributes)
		if err != nil || len(b) > 64<<10 {
			return fusionrank.Errorf(fusionrank.Invalid, "attributes: larger than 64 KiB of JSON")
		}
	}
	vecs := map[string][]float32{}
	for name, v := range it.Vectors {
		m, ok := s.modality(name)
		if name == PhotoModality && !ok {
			return fusionrank.Errorf(fusionrank.Invalid, "vectors.%s: computed by the image encoder from the item's photo; send image_url or image instead", name)
		}
		if !ok {
			return fusionrank.Errorf(fusionrank.Invalid, "vectors.%s: unknown modality (known: %v)", name, s.modalityNames())
		}
		if err := fusionrank.ValidateVector("vectors."+name, v, m.Dim); err != nil {
			return err
		}
		c := slices.Clone(v)
		if fusionrank.Normalize(c) == 0 {
			return fusionrank.Errorf(fusionrank.Invalid, "vectors.%s: all zeros", name)
		}
		vecs[name] = c
	}
	if _, given := vecs["text"]; !given && s.opt.Text != nil {
		v := make([]float32, s.opt.Text.Dim())
		if known, _ := s.opt.Text.EncodeTo(v, it.Title, it.Description); known > 0 {
			vecs["text"] = v
		}
	}
	it.Vectors = vecs
	return nil
}

// checkText refuses what Postgres cannot store in a text or jsonb value (a NUL
// character) and text that is not UTF-8.
func checkText(field, v string) error {
	if strings.IndexByte(v, 0) >= 0 {
		return fusionrank.Errorf(fusionrank.Invalid, "%s: contains a NUL character (\\u0000), which text may not hold", field)
	}
	if !utf8.ValidString(v) {
		return fusionrank.Errorf(fusionrank.Invalid, "%s: not valid UTF-8", field)
	}
	return nil
}

// checkAttributes applies checkText to every key and string of an attribute value.
func checkAttributes(field string, v any) error {
	switch v := v.(type) {
	case string:
		return checkText(field, v)
	case map[string]any:
		for k, x := range v {
			if err := checkText(field+" key", k); err != nil {
				return err
			}
			if err := checkAttributes(field+"."+k, x); err != nil {
				return err
			}
		}
	case []any:
		for i, x := range v {
			if err := checkAttributes(fmt.Sprintf("%s[%d]", field, i), x); err != nil {
				return err
			}
		}
	}
	return nil
}

// PutItem creates or replaces an item with its vectors; created reports a new item.
//
// A photo given by URL only is fetched first, for up to PhotoOptions.FetchWait: a
// fetch that fails in that time is the call's error and nothing is stored; one that
// succeeds is stored with the item, encoded; one still running is stored pending and
// completes in the background (the item's image_status says where it is).
func (s *Store) PutItem(ctx context.Context, it fusionrank.Item) (bool, error) {
	w, err := s.prepareItem(&it)
	if err != nil {
		return false, err
	}
	var later <-chan fetchResult
	if w != nil && w.pending {
		keep, err := s.samePendingURL(ctx, it.ID, w.url)
		if err != nil {
			return false, err
		}
		if !keep {
			done, ch, err := s.fetchForPut(ctx, w)
			if err != nil {
				return false, err
			}
			if !done {
				later, w.lease = ch, s.leaseFor()
			}
		}
	}
	var created bool
	var revs map[string]int64
	err = s.db.Transact(ctx, func(tx pgx.Tx) error {
		c, err := upsertItems(ctx, tx, []fusionrank.Item{it})
		if err != nil {
			return err
		}
		created = c[0]
		if s.photos != nil {
			revs, err = s.writePhotos(ctx, tx, []string{it.ID}, []*photoWrite{w})
		}
		return err
	})
	if err != nil {
		return false, err
	}
	if later != nil {
		if rev, ok := revs[it.ID]; ok {
			go s.finishFetch(context.WithoutCancel(ctx), it.ID, rev, later)
		}
	}
	return created, nil
}

// samePendingURL reports whether the item's stored photo comes from url and is ready
// or still pending: a PUT that re-sends it keeps it rather than fetching again.
func (s *Store) samePendingURL(ctx context.Context, id, url string) (bool, error) {
	var status string
	err := s.db.Pool.QueryRow(ctx, `SELECT status FROM item_images WHERE item_id = $1 AND url = $2`, id, url).Scan(&status)
	if err = postgres.Translate(err); fusionrank.ErrorCode(err) == fusionrank.NotFound {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return status != fusionrank.ImageFailed, nil
}

// finishFetch stores the outcome of a fetch that outlived its PUT.
func (s *Store) finishFetch(ctx context.Context, id string, rev int64, ch <-chan fetchResult) {
	r := <-ch
	if err := s.completeFetch(ctx, id, rev, 1, r.data, r.err); err != nil {
		s.opt.Logger.Warn("storing a fetched photo failed; the worker retries when the lease ends", "item_id", id, "err", err)
	}
}

// PutItems validates and stores many items in one transaction; errs[i] is the error of
// items[i]. When an id appears twice, the later item wins. Items are stored all
// together or not at all: a nil error means every item without an error in errs is
// committed; a non-nil error (a store down, the deadline) means none is. Should the
// database refuse the batch for an item that passed validation, the items are stored
// again one by one, each under a savepoint of the same transaction, so that only the
// refused ones are rejected.
func (s *Store) PutItems(ctx context.Context, items []fusionrank.Item) ([]error, error) {
	errs := make([]error, len(items))
	prepared := make([]*photoWrite, len(items))
	// Photos make preparing an item CPU work (decode, encode): it runs on every core.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(items); i = int(next.Add(1) - 1) {
				prepared[i], errs[i] = s.prepareItem(&items[i])
			}
		}()
	}
	wg.Wait()
	var ok []fusionrank.Item
	var ws []*photoWrite
	last := map[string]int{}
	for i := range items {
		w := prepared[i]
		if errs[i] != nil {
			continue
		}
		if j, dup := last[items[i].ID]; dup {
			ok[j], ws[j] = items[i], w
			continue
		}
		last[items[i].ID] = len(ok)
		ok = append(ok, items[i])
		ws = append(ws, w)
	}
	if len(ok) == 0 {
		return errs, nil
	}
	var pending bool
	err := s.db.Transact(ctx, func(tx pgx.Tx) error {
		_, err := upsertItems(ctx, tx, ok)
		if err != nil || s.photos == nil {
			return err
		}
		ids := make([]string, len(ok))
		for i, it := range ok {
			ids[i] = it.ID
		}
		revs, err := s.writePhotos(ctx, tx, ids, ws)
		pending = len(revs) > 0
		return err
	})
	if err == nil && pending {
		s.photos.nudge()
	}
	if err == nil || !refused(err) || ctx.Err() != nil {
		return errs, err
	}
	s.warn("items: the database refused a batch; storing its items one by one", err)
	index := make([]int, len(ok)) // ok[j] is items[index[j]], the last of its id
	for i := range items {
		if errs[i] == nil {
			index[last[items[i].ID]] = i
		}
	}
	refusedAt := map[int]error{}
	err = s.db.Transact(ctx, func(tx pgx.Tx) error {
		clear(refusedAt)
		for j := range ok {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return err
			}
			_, err = upsertItems(ctx, sp, ok[j:j+1])
			if err == nil && s.photos != nil {
				_, err = s.writePhotos(ctx, sp, []string{ok[j].ID}, ws[j:j+1])
			}
			if err != nil {
				if rerr := sp.Rollback(ctx); rerr != nil {
					return rerr
				}
				if !refused(err) {
					return err
				}
				refusedAt[index[j]] = err
				continue
			}
			if err := sp.Commit(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return errs, err
	}
	if s.photos != nil {
		s.photos.nudge()
	}
	for i, e := range refusedAt {
		s.warn("items: the database refused an item", e, "id", items[i].ID)
		errs[i] = fusionrank.Wrap(fusionrank.Invalid, e, "item: the database refused to store it")
		for k := range items { // an earlier line of the same id was replaced by this one
			if k != i && errs[k] == nil && items[k].ID == items[i].ID {
				errs[k] = errs[i]
			}
		}
	}
	return errs, nil
}

// refused reports an error of the database about the data of a statement (rather than
// about the database being away or the request out of time): retrying the items one by
// one isolates the item it is about.
func refused(err error) bool {
	switch fusionrank.ErrorCode(err) {
	case fusionrank.Unavailable:
		return false
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23"))
}

func upsertItems(ctx context.Context, tx pgx.Tx, items []fusionrank.Item) ([]bool, error) {
	n := len(items)
	ids, titles, descs, cats, brands := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	prices := make([]*float64, n)
	attrs := make([]string, n)
	active := make([]bool, n)
	var vItem, vMod []string
	var vDim []int32
	var vData [][]byte
	for i, it := range items {
		ids[i], titles[i], descs[i], cats[i], brands[i], prices[i], active[i] = it.ID, it.Title, it.Description, it.Category, it.Brand, it.Price, it.Active
		a := it.Attributes
		if a == nil {
			a = map[string]any{}
		}
		b, err := json.Marshal(a)
		if err != nil {
			return nil, fusionrank.Errorf(fusionrank.Invalid, "attributes: %v", err)
		}
		attrs[i] = string(b)
		for m, v := range it.Vectors {
			vItem, vMod, vDim = append(vItem, it.ID), append(vMod, m), append(vDim, int32(len(v)))
			vData = append(vData, appendFloats(make([]byte, 0, 4*len(v)), v))
		}
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO items (id, title, description, category, brand, price, attributes, active)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::jsonb[], $8::bool[])
		ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description,
			category = EXCLUDED.category, brand = EXCLUDED.brand, price = EXCLUDED.price,
			attributes = EXCLUDED.attributes, active = EXCLUDED.active, updated_at = now(),
			seq = nextval('item_changes')
		RETURNING id, (xmax = 0)`, ids, titles, descs, cats, brands, prices, attrs, active)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	createdByID := map[string]bool{}
	for rows.Next() {
		var id string
		var c bool
		if err := rows.Scan(&id, &c); err != nil {
			rows.Close()
			return nil, postgres.Translate(err)
		}
		createdByID[id] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, postgres.Translate(err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM item_vectors WHERE model_version = '' AND item_id = ANY($1)`, ids); err != nil {
		return nil, postgres.Translate(err)
	}
	if len(vItem) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO item_vectors (item_id, modality, dim, data)
			SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bytea[])`, vItem, vMod, vDim, vData); err != nil {
			return nil, postgres.Translate(err)
		}
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify('fusionrank_items', '')`); err != nil {
		return nil, postgres.Translate(err)
	}
	created := make([]bool, n)
	for i, id := range ids {
		created[i] = createdByID[id]
	}
	return created, nil
}

// GetItem reads an item from Postgres with the modalities it has.
func (s *Store) GetItem(ctx context.Context, id string) (fusionrank.ItemView, error) {
	var v fusionrank.ItemView
	if err := fusionrank.ValidateID("id", id); err != nil {
		return v, err
	}
	var attrs []byte
	err := s.db.Pool.QueryRow(ctx, `SELECT id, title, description, category, brand, price, attributes, active, created_at, updated_at
		FROM items WHERE id = $1`, id).Scan(&v.ID, &v.Title, &v.Description, &v.Category, &v.Brand, &v.Price, &attrs, &v.Active, &v.CreatedAt, &v.UpdatedAt)
	if err != nil {
		err = postgres.Translate(err)
		if fusionrank.ErrorCode(err) == fusionrank.NotFound {
			return v, fusionrank.Errorf(fusionrank.NotFound, "item %q: not found", id)
		}
		return v, err
	}
	if len(attrs) > 2 {
		_ = json.Unmarshal(attrs, &v.Attributes)
	}
	v.Modalities = map[string]fusionrank.ModalityInfo{}
	rows, err := s.db.Pool.Query(ctx, `SELECT modality, dim FROM item_vectors WHERE item_id = $1 AND model_version = ''`, id)
	if err != nil {
		return v, postgres.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		var d int
		if err := rows.Scan(&m, &d); err != nil {
			return v, postgres.Translate(err)
		}
		v.Modalities[m] = fusionrank.ModalityInfo{Dim: d}
	}
	if err := rows.Err(); err != nil {
		return v, postgres.Translate(err)
	}
	rows.Close()
	return v, s.photoView(ctx, &v)
}

// DeleteItem deactivates an item: it stops being recommended; its events stay.
func (s *Store) DeleteItem(ctx context.Context, id string) error {
	if err := fusionrank.ValidateID("id", id); err != nil {
		return err
	}
	tag, err := s.db.Pool.Exec(ctx, `UPDATE items SET active = false, updated_at = now(), seq = nextval('item_changes') WHERE id = $1`, id)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() == 0 {
		return fusionrank.Errorf(fusionrank.NotFound, "item %q: not found", id)
	}
	_, _ = s.db.Pool.Exec(ctx, `SELECT pg_notify('fusionrank_items', '')`)
	return nil
}

// Redis key names. Every key is versioned (namespace:v2:…). The keys of one user
// share the hash tag {u:<id>} and those of one item {i:<id>}, so that a script or
// transaction on one user's keys (the profile and its floor) touches a single slot of
// a Redis Cluster; the popularity windows are one key each. The same names serve a
// single node.

// key builds a versioned Redis key of no user or item (popularity windows).
func (s *Store) key(parts ...string) string {
	k := s.opt.Namespace + ":v2"
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

// userKey is the key of the user's kind record ("profile", "pfloor").
func (s *Store) userKey(kind, userID string) string {
	return s.opt.Namespace + ":v2:{u:" + userID + "}:" + kind
}

// itemKey is the key of the item's kind record ("covis").
func (s *Store) itemKey(kind, itemID string) string {
	return s.opt.Namespace + ":v2:{i:" + itemID + "}:" + kind
}

func (s *Store) warn(msg string, err error, args ...any) {
	s.opt.Logger.Warn(msg, append(args, "err", fmt.Sprint(err))...)
}

// Text returns the text encoder, or nil when there is none.
func (s *Store) Text() *text.Encoder { return s.opt.Text }

// Now returns the store's clock reading.
func (s *Store) Now() time.Time { return s.opt.Now() }
