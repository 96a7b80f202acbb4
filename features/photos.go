package features

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features/photo"
	"github.com/fusionrank/fusionrank/postgres"
)

// PhotoModality names the modality of item and query photos, encoded by the active
// image encoder. Its dimension is the encoder's and changes with it; caller-supplied
// vectors (FUSIONRANK_MODALITIES, "image" by default) are a separate modality.
const PhotoModality = "photo"

// EncoderRecord is one row of the image encoder registry: what LoadEncoder needs to
// build the encoder.
type EncoderRecord struct {
	Version string
	Kind    string // descriptor, cnn or onnx
	Dim     int
	Weights []byte         // the safetensors file of a cnn encoder
	Config  map[string]any // kind-specific settings (an onnx model's path)
	Metrics map[string]float64
}

// The kinds of image encoder the registry holds.
const (
	EncoderDescriptor = "descriptor"
	EncoderCNN        = "cnn"
	EncoderONNX       = "onnx"
)

// PhotoOptions configure item and query photos. The zero value of each field takes its
// default.
type PhotoOptions struct {
	// Limits bound every photo (bytes, pixels).
	Limits photo.Limits
	// Fetcher downloads photos given by URL.
	Fetcher *photo.Fetcher
	// FetchWait is how long PUT /v1/items/{id} waits for a photo given by URL before
	// it stores the item with the photo pending and lets the fetch finish in the
	// background. A fetch that fails within the wait is the request's 400. It is
	// capped at half of what is left of the request's deadline. Default 1s.
	FetchWait time.Duration
	// FetchWorkers is how many pending photos one process fetches at once. Default 4.
	FetchWorkers int
	// MaxAttempts is how often a photo is fetched before it is marked failed (only
	// timeouts, 5xx answers and failed connections are retried). Default 3.
	MaxAttempts int
	// LoadEncoder builds an encoder from a registry row. Required.
	LoadEncoder func(ctx context.Context, rec EncoderRecord) (photo.Encoder, error)
	// Pinned, when set, is the one encoder version this process serves (a shop's ONNX
	// model named in its configuration): the process re-encodes the catalogue with it
	// and never follows the registry's active version elsewhere.
	Pinned string
}

func (o *PhotoOptions) defaults() {
	o.Limits = o.Limits.WithDefaults()
	if o.Fetcher == nil {
		o.Fetcher = photo.NewFetcher(photo.FetchOptions{MaxBytes: o.Limits.MaxBytes})
	}
	if o.FetchWait == 0 {
		o.FetchWait = time.Second
	}
	if o.FetchWorkers == 0 {
		o.FetchWorkers = 4
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 3
	}
}

// space is one image encoder loaded in the process.
type space struct {
	version string
	enc     photo.Encoder
}

// photos is the feature store's photo state: the loaded encoders, the active one and
// the target of a switch.
type photos struct {
	opt    PhotoOptions
	active atomic.Pointer[space]
	target atomic.Pointer[space]

	mu     sync.Mutex
	loaded map[string]photo.Encoder
	// wake nudges the background worker (a pending photo or a switch to work on).
	wake chan struct{}
}

func newPhotos(opt PhotoOptions) *photos {
	opt.defaults()
	return &photos{opt: opt, loaded: map[string]photo.Encoder{}, wake: make(chan struct{}, 1)}
}

func (p *photos) nudge() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// PhotosEnabled reports whether the store takes photos.
func (s *Store) PhotosEnabled() bool { return s.photos != nil }

// PhotoLimits returns the limits every photo is checked against.
func (s *Store) PhotoLimits() photo.Limits {
	if s.photos == nil {
		return photo.Limits{}.WithDefaults()
	}
	return s.photos.opt.Limits
}

// PhotoEncoder returns the active image encoder and its version (nil before the first
// SyncEncoders, or without photos).
func (s *Store) PhotoEncoder() (photo.Encoder, string) {
	if s.photos == nil {
		return nil, ""
	}
	if sp := s.photos.active.Load(); sp != nil {
		return sp.enc, sp.version
	}
	return nil, ""
}

// EncodePhoto decodes a query photo (checked against the limits; errors name field)
// and encodes it with the active image encoder. It returns the vector and the
// encoder's version.
func (s *Store) EncodePhoto(field string, data []byte) ([]float32, string, error) {
	if s.photos == nil {
		return nil, "", fusionrank.Errorf(fusionrank.Invalid, "%s: this service takes no photos (FUSIONRANK_IMAGE_ENCODER=off)", field)
	}
	sp := s.photos.active.Load()
	if sp == nil {
		return nil, "", fusionrank.Errorf(fusionrank.Unavailable, "%s: the image encoder is not loaded yet", field)
	}
	img, _, err := photo.Decode(field, data, s.photos.opt.Limits)
	if err != nil {
		return nil, "", err
	}
	v := make([]float32, sp.enc.Dim())
	sp.enc.EncodeTo(v, img)
	return v, sp.version, nil
}

// EncodePhotoWith encodes a query photo again with the encoder of version, when this
// process has it loaded (a request that started before an encoder switch and scores
// after it). ok is false when the version is not loaded.
func (s *Store) EncodePhotoWith(version string, data []byte) (v []float32, ok bool) {
	if s.photos == nil {
		return nil, false
	}
	s.photos.mu.Lock()
	enc := s.photos.loaded[version]
	s.photos.mu.Unlock()
	if enc == nil {
		return nil, false
	}
	img, _, err := photo.Decode("query.image", data, s.photos.opt.Limits)
	if err != nil {
		return nil, false
	}
	v = make([]float32, enc.Dim())
	enc.EncodeTo(v, img)
	return v, true
}

// DisplayURL is the address a page shows a photo at: the shop's URL, or the service's
// /images/{sha256} for a photo the shop sent as bytes.
func DisplayURL(url, sha string) string {
	if url != "" {
		return url
	}
	if sha != "" {
		return "/images/" + sha
	}
	return ""
}

// photoWrite is what an item's write does to its photo.
type photoWrite struct {
	url     string
	data    []byte
	info    photo.Info
	vectors map[string][]float32 // encoder version → vector
	pending bool                 // fetch url in the background
	// lease is how long the writing process keeps the pending fetch to itself (it
	// fetches now); 0 lets any process's worker take it at once.
	lease time.Duration
}

// preparePhoto validates an item's photo fields and, for bytes, decodes and encodes
// them with the loaded encoders. A URL without bytes becomes a pending fetch.
func (s *Store) preparePhoto(it *fusionrank.Item) (*photoWrite, error) {
	if it.ImageURL == "" && it.Image == nil {
		return nil, nil
	}
	if s.photos == nil {
		field := "image"
		if it.Image == nil {
			field = "image_url"
		}
		return nil, fusionrank.Errorf(fusionrank.Invalid, "%s: this service takes no photos (FUSIONRANK_IMAGE_ENCODER=off)", field)
	}
	w := &photoWrite{url: it.ImageURL}
	if it.ImageURL != "" {
		if err := s.photos.opt.Fetcher.CheckURL("image_url", it.ImageURL); err != nil {
			return nil, err
		}
	}
	if it.Image == nil {
		w.pending = true
		return w, nil
	}
	if err := s.encodeInto(w, "image", it.Image); err != nil {
		return nil, err
	}
	return w, nil
}

// encodeInto decodes data and encodes it with the active encoder and the target of a
// switch (when loaded).
func (s *Store) encodeInto(w *photoWrite, field string, data []byte) error {
	img, info, err := photo.Decode(field, data, s.photos.opt.Limits)
	if err != nil {
		return err
	}
	w.data, w.info, w.pending = data, info, false
	w.vectors = s.photos.encodeAll(img)
	return nil
}

// encodeAll encodes img with the active encoder and the target of a switch.
func (p *photos) encodeAll(img image.Image) map[string][]float32 {
	out := map[string][]float32{}
	for _, sp := range []*space{p.active.Load(), p.target.Load()} {
		if sp == nil {
			continue
		}
		if _, done := out[sp.version]; done {
			continue
		}
		v := make([]float32, sp.enc.Dim())
		sp.enc.EncodeTo(v, img)
		out[sp.version] = v
	}
	return out
}

// fetchForPut fetches an item's photo for PUT /v1/items/{id}, waiting at most the
// fetch wait (and half of what is left of ctx's deadline). done is true when the
// fetch ended in that time (err is its 400, or w now holds the encoded photo); when
// it is false, the fetch goes on and result delivers its outcome later.
func (s *Store) fetchForPut(ctx context.Context, w *photoWrite) (done bool, result <-chan fetchResult, err error) {
	wait := s.photos.opt.FetchWait
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)/2)
	}
	ch := make(chan fetchResult, 1)
	go func() {
		// The fetch outlives the request when it is slow: its own timeout bounds it.
		fctx := context.WithoutCancel(ctx)
		data, err := s.photos.opt.Fetcher.Fetch(fctx, "image_url", w.url)
		ch <- fetchResult{data: data, err: err}
	}()
	t := time.NewTimer(max(wait, 0))
	defer t.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return true, nil, r.err
		}
		return true, nil, s.encodeInto(w, "image_url", r.data)
	case <-t.C:
		return false, ch, nil
	}
}

type fetchResult struct {
	data []byte
	err  error
}

// writePhotos applies the items' photo writes in tx: items without a photo lose theirs;
// an unchanged photo (same URL, same bytes) is kept with its vectors; a new one is
// stored ready (bytes) or pending (URL). It returns the new revision of every photo
// stored pending, by item id.
func (s *Store) writePhotos(ctx context.Context, tx pgx.Tx, ids []string, ws []*photoWrite) (map[string]int64, error) {
	var none, pendID, pendURL, readyID, readyURL, readySHA, readyType []string
	var pendLease []time.Duration
	var readyData [][]byte
	var readyW, readyH []int32
	var readyAt []int // index into ws of each ready write
	for i, w := range ws {
		switch {
		case w == nil:
			none = append(none, ids[i])
		case w.pending:
			pendID, pendURL, pendLease = append(pendID, ids[i]), append(pendURL, w.url), append(pendLease, w.lease)
		default:
			readyID, readyURL, readySHA, readyType = append(readyID, ids[i]), append(readyURL, w.url), append(readySHA, w.info.SHA256), append(readyType, w.info.ContentType)
			readyData, readyW, readyH = append(readyData, w.data), append(readyW, int32(w.info.Width)), append(readyH, int32(w.info.Height))
			readyAt = append(readyAt, i)
		}
	}
	if len(none) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM item_images WHERE item_id = ANY($1)`, none); err != nil {
			return nil, postgres.Translate(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM item_photo_vectors WHERE item_id = ANY($1)`, none); err != nil {
			return nil, postgres.Translate(err)
		}
	}
	if len(pendID) == 0 && len(readyID) == 0 {
		return nil, nil
	}
	// The encoders a vector is needed for, read under a share lock: a switch commits
	// only after this transaction, and then sees its vectors.
	reg, err := lockEncoderVersions(ctx, tx)
	if err != nil {
		return nil, err
	}
	revisions := map[string]int64{}
	if len(pendID) > 0 {
		leases := make([]float64, len(pendLease))
		for i, l := range pendLease {
			leases[i] = l.Seconds()
		}
		// A pending photo whose URL did not change keeps what it has (a re-sent
		// catalogue does not fetch every photo again); a failed one is tried again.
		rows, err := tx.Query(ctx, `
			INSERT INTO item_images (item_id, url, status, lease_until)
			SELECT id, url, 'pending', now() + make_interval(secs => lease) FROM unnest($1::text[], $2::text[], $3::float8[]) AS t(id, url, lease)
			ON CONFLICT (item_id) DO UPDATE SET url = EXCLUDED.url, data = NULL, sha256 = '', content_type = '',
				width = 0, height = 0, status = 'pending', error = '', attempts = 0, lease_until = EXCLUDED.lease_until,
				revision = item_images.revision + 1, updated_at = now()
			WHERE item_images.url <> EXCLUDED.url OR item_images.status = 'failed'
			RETURNING item_id, revision`, pendID, pendURL, leases)
		if err != nil {
			return nil, postgres.Translate(err)
		}
		var changed []string
		for rows.Next() {
			var id string
			var rev int64
			if err := rows.Scan(&id, &rev); err != nil {
				rows.Close()
				return nil, postgres.Translate(err)
			}
			revisions[id] = rev
			changed = append(changed, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, postgres.Translate(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM item_photo_vectors WHERE item_id = ANY($1)`, changed); err != nil {
			return nil, postgres.Translate(err)
		}
	}
	if len(readyID) > 0 {
		rows, err := tx.Query(ctx, `
			INSERT INTO item_images (item_id, url, data, sha256, content_type, width, height, status)
			SELECT *, 'ready' FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::int[], $7::int[])
			ON CONFLICT (item_id) DO UPDATE SET url = EXCLUDED.url, data = EXCLUDED.data, sha256 = EXCLUDED.sha256,
				content_type = EXCLUDED.content_type, width = EXCLUDED.width, height = EXCLUDED.height, status = 'ready',
				error = '', attempts = 0, revision = item_images.revision + 1, updated_at = now()
			WHERE item_images.sha256 <> EXCLUDED.sha256 OR item_images.url <> EXCLUDED.url OR item_images.status <> 'ready'
			RETURNING item_id`, readyID, readyURL, readyData, readySHA, readyType, readyW, readyH)
		if err != nil {
			return nil, postgres.Translate(err)
		}
		changed := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, postgres.Translate(err)
			}
			changed[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, postgres.Translate(err)
		}
		var ids []string
		for id := range changed {
			ids = append(ids, id)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM item_photo_vectors WHERE item_id = ANY($1)`, ids); err != nil {
			return nil, postgres.Translate(err)
		}
		var vItem, vVer []string
		var vDim []int32
		var vData [][]byte
		for i, id := range readyID {
			if !changed[id] {
				continue
			}
			for ver, v := range s.vectorsOf(ws[readyAt[i]], reg) {
				vItem, vVer, vDim = append(vItem, id), append(vVer, ver), append(vDim, int32(len(v)))
				vData = append(vData, AppendFloats(make([]byte, 0, 4*len(v)), v))
			}
		}
		if len(vItem) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO item_photo_vectors (item_id, encoder_version, dim, data)
				SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bytea[]) ON CONFLICT DO NOTHING`, vItem, vVer, vDim, vData); err != nil {
				return nil, postgres.Translate(err)
			}
		}
	}
	return revisions, nil
}

// registry is the encoder registry as a photo write reads it under encoderLock: every
// registered version, and the active one and the target of a switch, whose vectors a
// ready photo must have.
type registry struct {
	versions map[string]bool
	need     []string
}

// vectorsOf returns w's vectors for the registered encoder versions (a vector for an
// encoder that was deleted meanwhile is dropped). A needed version that w was not
// encoded with is encoded now when this process has that encoder loaded: a write
// encodes before its transaction, so a switch can complete in between, and the photo
// must not then go in without the newly active encoder's vector. A version this
// process has not loaded is left to ReencodeStep.
func (s *Store) vectorsOf(w *photoWrite, reg registry) map[string][]float32 {
	out := map[string][]float32{}
	for v, vec := range w.vectors {
		if reg.versions[v] {
			out[v] = vec
		}
	}
	var img image.Image
	for _, v := range reg.need {
		sp := s.photos.spaceOf(v)
		if _, ok := out[v]; ok || sp == nil {
			continue
		}
		if img == nil {
			var err error
			if img, _, err = photo.Decode("image", w.data, s.photos.opt.Limits); err != nil {
				return out // the bytes decoded before the transaction; nothing to add
			}
		}
		vec := make([]float32, sp.enc.Dim())
		sp.enc.EncodeTo(vec, img)
		out[v] = vec
	}
	return out
}

// spaceOf returns the active encoder or the target of a switch when its version is v,
// nil when this process has neither.
func (p *photos) spaceOf(v string) *space {
	for _, sp := range []*space{p.active.Load(), p.target.Load()} {
		if sp != nil && sp.version == v {
			return sp
		}
	}
	return nil
}

// encoderLock is the advisory lock key of the encoder registry. A transaction that
// changes which encoder is active or the target takes it exclusively, first; a photo
// write takes it shared before it reads the registry. A switch therefore waits for
// every write that read the old state to commit (and counts its vectors), and a
// write whose transaction starts after the switch reads the new state and adds the
// vectors it needs (vectorsOf). Being one lock taken before any row lock of the
// registry, it cannot close a cycle with them (row locks of the registry taken in
// different orders by a write and a switch can).
const encoderLock = 7005

// lockEncoderVersions takes the encoder registry's lock shared (see encoderLock) and
// reads the registry.
func lockEncoderVersions(ctx context.Context, tx pgx.Tx) (registry, error) {
	reg := registry{versions: map[string]bool{}}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, encoderLock); err != nil {
		return reg, postgres.Translate(err)
	}
	rows, err := tx.Query(ctx, `SELECT version, active OR target FROM image_encoders`)
	if err != nil {
		return reg, postgres.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		var needed bool
		if err := rows.Scan(&v, &needed); err != nil {
			return reg, postgres.Translate(err)
		}
		reg.versions[v] = true
		if needed {
			reg.need = append(reg.need, v)
		}
	}
	return reg, postgres.Translate(rows.Err())
}

// PutItemImage replaces the photo of an existing item with data (PUT
// /v1/items/{id}/image). The photo is shown from the service (/images/{sha256}).
func (s *Store) PutItemImage(ctx context.Context, id string, data []byte) (fusionrank.ItemView, error) {
	if err := fusionrank.ValidateID("id", id); err != nil {
		return fusionrank.ItemView{}, err
	}
	if s.photos == nil {
		return fusionrank.ItemView{}, fusionrank.Errorf(fusionrank.Invalid, "image: this service takes no photos (FUSIONRANK_IMAGE_ENCODER=off)")
	}
	w := &photoWrite{}
	if err := s.encodeInto(w, "image", data); err != nil {
		return fusionrank.ItemView{}, err
	}
	err := s.db.Transact(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE items SET updated_at = now(), seq = nextval('item_changes') WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fusionrank.Errorf(fusionrank.NotFound, "item %q: not found", id)
		}
		if _, err := s.writePhotos(ctx, tx, []string{id}, []*photoWrite{w}); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify('fusionrank_items', '')`)
		return err
	})
	if err != nil {
		return fusionrank.ItemView{}, err
	}
	return s.GetItem(ctx, id)
}

// Image returns a stored photo by the SHA-256 of its bytes, for GET /images/{sha256}.
func (s *Store) Image(ctx context.Context, sha string) ([]byte, string, error) {
	if len(sha) != 64 || strings.Trim(sha, "0123456789abcdef") != "" {
		return nil, "", fusionrank.Errorf(fusionrank.NotFound, "image %q: not found", sha)
	}
	var data []byte
	var ct string
	err := s.db.Pool.QueryRow(ctx, `SELECT data, content_type FROM item_images WHERE sha256 = $1 AND data IS NOT NULL LIMIT 1`, sha).Scan(&data, &ct)
	if err != nil {
		err = postgres.Translate(err)
		if fusionrank.ErrorCode(err) == fusionrank.NotFound {
			return nil, "", fusionrank.Errorf(fusionrank.NotFound, "image %q: not found", sha)
		}
		return nil, "", err
	}
	return data, ct, nil
}

// photoView fills the photo fields of an item view.
func (s *Store) photoView(ctx context.Context, v *fusionrank.ItemView) error {
	var url, sha, ct, status, msg string
	var w, h, n int
	err := s.db.Pool.QueryRow(ctx, `SELECT url, sha256, content_type, width, height, coalesce(length(data), 0), status, error
		FROM item_images WHERE item_id = $1`, v.ID).Scan(&url, &sha, &ct, &w, &h, &n, &status, &msg)
	if err != nil {
		err = postgres.Translate(err)
		if fusionrank.ErrorCode(err) == fusionrank.NotFound {
			return nil
		}
		return err
	}
	v.ImageURL, v.ImageStatus, v.ImageError = url, status, msg
	info := &fusionrank.ImageInfo{DisplayURL: DisplayURL(url, sha), SHA256: sha, ContentType: ct, Width: w, Height: h, Bytes: n}
	rows, err := s.db.Pool.Query(ctx, `SELECT encoder_version, dim FROM item_photo_vectors WHERE item_id = $1 ORDER BY encoder_version`, v.ID)
	if err != nil {
		return postgres.Translate(err)
	}
	defer rows.Close()
	_, active := s.PhotoEncoder()
	for rows.Next() {
		var ver string
		var dim int
		if err := rows.Scan(&ver, &dim); err != nil {
			return postgres.Translate(err)
		}
		info.Encoders = append(info.Encoders, ver)
		if ver == active {
			v.Modalities[PhotoModality] = fusionrank.ModalityInfo{Dim: dim}
		}
	}
	v.ImageInfo = info
	return postgres.Translate(rows.Err())
}

// --- the image encoder registry ---

// RegisterEncoder adds an encoder version to the registry (not active). Registering a
// version again with the same kind and dimension is a no-op, so a re-run of a
// training that produced the same weights is harmless.
func (s *Store) RegisterEncoder(ctx context.Context, rec EncoderRecord) error {
	if err := fusionrank.ValidateID("version", rec.Version); err != nil {
		return err
	}
	switch rec.Kind {
	case EncoderDescriptor, EncoderCNN, EncoderONNX:
	default:
		return fusionrank.Errorf(fusionrank.Invalid, "kind: %q is not one of descriptor, cnn, onnx", rec.Kind)
	}
	if rec.Dim <= 0 || rec.Dim > 4096 {
		return fusionrank.Errorf(fusionrank.Invalid, "dim: %d is not between 1 and 4096", rec.Dim)
	}
	cfg, _ := json.Marshal(orEmpty(rec.Config))
	mj, err := json.Marshal(orEmptyF(rec.Metrics))
	if err != nil {
		return fusionrank.Errorf(fusionrank.Invalid, "metrics: %v", err)
	}
	tag, err := s.db.Pool.Exec(ctx, `INSERT INTO image_encoders (version, kind, dim, weights, config, metrics)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (version) DO NOTHING`, rec.Version, rec.Kind, rec.Dim, rec.Weights, cfg, mj)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() == 0 {
		var kind string
		var dim int
		if err := s.db.Pool.QueryRow(ctx, `SELECT kind, dim FROM image_encoders WHERE version = $1`, rec.Version).Scan(&kind, &dim); err != nil {
			return postgres.Translate(err)
		}
		if kind != rec.Kind || dim != rec.Dim {
			return fusionrank.Errorf(fusionrank.Conflict, "image encoder %q already exists as a %s encoder of dim %d", rec.Version, kind, dim)
		}
	}
	return nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func orEmptyF(m map[string]float64) map[string]float64 {
	if m == nil {
		return map[string]float64{}
	}
	return m
}

// EnsureActiveEncoder registers rec and makes it active when no encoder is active yet
// (the fixed descriptor of a new shop). It returns whether rec became active.
func (s *Store) EnsureActiveEncoder(ctx context.Context, rec EncoderRecord) (bool, error) {
	if err := s.RegisterEncoder(ctx, rec); err != nil {
		return false, err
	}
	var made bool
	err := s.db.Transact(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, encoderLock); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE image_encoders SET active = true, target = false, activated_at = now()
			WHERE version = $1 AND NOT EXISTS (SELECT 1 FROM image_encoders WHERE active)`, rec.Version)
		made = err == nil && tag.RowsAffected() == 1
		return err
	})
	return made, err
}

// ActivateEncoder asks for version to become the active image encoder. The switch is
// not immediate: the catalogue's photos are re-encoded with it in the background (by
// RunPhotos), and it becomes active, atomically, once every ready photo has its
// vector; until then the previous encoder serves, so item and query vectors never
// come from two encoders. Activating the active version cancels a pending switch.
func (s *Store) ActivateEncoder(ctx context.Context, version string) (fusionrank.ImageEncoderInfo, error) {
	if err := fusionrank.ValidateID("version", version); err != nil {
		return fusionrank.ImageEncoderInfo{}, err
	}
	err := s.db.Transact(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, encoderLock); err != nil {
			return err
		}
		var active bool
		if err := tx.QueryRow(ctx, `SELECT active FROM image_encoders WHERE version = $1`, version).Scan(&active); err != nil {
			if fusionrank.ErrorCode(postgres.Translate(err)) == fusionrank.NotFound {
				return fusionrank.Errorf(fusionrank.NotFound, "image encoder %q: not found", version)
			}
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE image_encoders SET target = false WHERE target`); err != nil {
			return err
		}
		if active {
			return nil
		}
		var any bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM image_encoders WHERE active)`).Scan(&any); err != nil {
			return err
		}
		if !any { // nothing to switch from: active at once, photos encoded as they come
			_, err := tx.Exec(ctx, `UPDATE image_encoders SET active = true, activated_at = now() WHERE version = $1`, version)
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE image_encoders SET target = true WHERE version = $1`, version)
		return err
	})
	if err != nil {
		return fusionrank.ImageEncoderInfo{}, err
	}
	if s.photos != nil {
		s.photos.nudge()
	}
	list, err := s.ListEncoders(ctx)
	if err != nil {
		return fusionrank.ImageEncoderInfo{}, err
	}
	for _, e := range list {
		if e.Version == version {
			return e, nil
		}
	}
	return fusionrank.ImageEncoderInfo{}, fusionrank.Errorf(fusionrank.NotFound, "image encoder %q: not found", version)
}

// ListEncoders returns every registered image encoder, newest first, with how many of
// the catalogue's ready photos have its vector.
func (s *Store) ListEncoders(ctx context.Context) ([]fusionrank.ImageEncoderInfo, error) {
	var photos int64
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM item_images WHERE status = 'ready'`).Scan(&photos); err != nil {
		return nil, postgres.Translate(err)
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT e.version, e.kind, e.dim, e.active, e.target, e.created_at, e.activated_at, e.metrics, e.config,
			(SELECT count(*) FROM item_photo_vectors v JOIN item_images g ON g.item_id = v.item_id AND g.status = 'ready' WHERE v.encoder_version = e.version)
		FROM image_encoders e ORDER BY e.created_at DESC, e.version`)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []fusionrank.ImageEncoderInfo
	for rows.Next() {
		var e fusionrank.ImageEncoderInfo
		var metrics, cfg []byte
		if err := rows.Scan(&e.Version, &e.Kind, &e.Dim, &e.Active, &e.Target, &e.CreatedAt, &e.ActivatedAt, &metrics, &cfg, &e.Encoded); err != nil {
			return nil, postgres.Translate(err)
		}
		_ = json.Unmarshal(metrics, &e.Metrics)
		_ = json.Unmarshal(cfg, &e.Config)
		e.Photos = photos
		out = append(out, e)
	}
	return out, postgres.Translate(rows.Err())
}

// encoder returns the loaded encoder of version, loading it from the registry.
func (s *Store) encoder(ctx context.Context, version string) (photo.Encoder, error) {
	p := s.photos
	p.mu.Lock()
	enc := p.loaded[version]
	p.mu.Unlock()
	if enc != nil {
		return enc, nil
	}
	rec := EncoderRecord{Version: version}
	var cfg, metrics []byte
	if err := s.db.Pool.QueryRow(ctx, `SELECT kind, dim, weights, config, metrics FROM image_encoders WHERE version = $1`, version).
		Scan(&rec.Kind, &rec.Dim, &rec.Weights, &cfg, &metrics); err != nil {
		return nil, postgres.Translate(err)
	}
	_ = json.Unmarshal(cfg, &rec.Config)
	_ = json.Unmarshal(metrics, &rec.Metrics)
	enc, err := p.opt.LoadEncoder(ctx, rec)
	if err != nil {
		return nil, fmt.Errorf("image encoder %s: %w", version, err)
	}
	if enc.Version() != version || enc.Dim() != rec.Dim {
		return nil, fmt.Errorf("image encoder %s: the loaded encoder is %s of dim %d, the registry says dim %d", version, enc.Version(), enc.Dim(), rec.Dim)
	}
	p.mu.Lock()
	p.loaded[version] = enc
	p.mu.Unlock()
	return enc, nil
}

// SyncEncoders follows the registry: it loads the target of a switch (so new photos
// are encoded with it too) and, when the active version changed, loads it and swaps
// the catalogue's photo block and the query encoder together. It returns whether the
// active version changed. Call it before the first Refresh, then periodically.
func (s *Store) SyncEncoders(ctx context.Context) (bool, error) {
	if s.photos == nil {
		return false, nil
	}
	p := s.photos
	var active, target string
	rows, err := s.db.Pool.Query(ctx, `SELECT version, active FROM image_encoders WHERE active OR target`)
	if err != nil {
		return false, postgres.Translate(err)
	}
	for rows.Next() {
		var v string
		var a bool
		if err := rows.Scan(&v, &a); err != nil {
			rows.Close()
			return false, postgres.Translate(err)
		}
		if a {
			active = v
		} else {
			target = v
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, postgres.Translate(err)
	}
	if p.opt.Pinned != "" && active != p.opt.Pinned && target != p.opt.Pinned {
		// The pinned encoder is not active yet: ask for the switch (the re-encode
		// runs, and this process serves the previous encoder until it completes).
		if _, err := s.ActivateEncoder(ctx, p.opt.Pinned); err != nil {
			return false, err
		}
		target = p.opt.Pinned
	}
	if target == "" {
		p.target.Store(nil)
	} else if cur := p.target.Load(); cur == nil || cur.version != target {
		enc, err := s.encoder(ctx, target)
		if err != nil {
			return false, err
		}
		p.target.Store(&space{version: target, enc: enc})
		p.nudge()
	}
	if active == "" {
		return false, nil
	}
	if cur := p.active.Load(); cur != nil && cur.version == active {
		return false, nil
	}
	enc, err := s.encoder(ctx, active)
	if err != nil {
		return false, err
	}
	// The block first (Refresh waits meanwhile), then the query encoder: requests
	// check the block's version against the version they encoded with, so the order
	// never lets them mix.
	if err := s.catalog.SwapPhoto(ctx, active, enc.Dim(), func(ctx context.Context, ids []string) (map[string][]float32, error) {
		return s.photoVectors(ctx, active)
	}); err != nil {
		return false, err
	}
	p.active.Store(&space{version: active, enc: enc})
	return true, nil
}

// photoVectors reads every stored vector of an encoder version, by item id.
func (s *Store) photoVectors(ctx context.Context, version string) (map[string][]float32, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT item_id, data FROM item_photo_vectors WHERE encoder_version = $1`, version)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	out := map[string][]float32{}
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, postgres.Translate(err)
		}
		out[id] = ReadFloats(make([]float32, len(data)/4), data)
	}
	return out, postgres.Translate(rows.Err())
}

// PhotoVectors returns the active image encoder's version and every item's photo
// vector of it, by item id, for training.
func PhotoVectors(ctx context.Context, db *postgres.DB) (string, map[string][]float32, error) {
	var version string
	err := db.Pool.QueryRow(ctx, `SELECT version FROM image_encoders WHERE active`).Scan(&version)
	if err = postgres.Translate(err); fusionrank.ErrorCode(err) == fusionrank.NotFound {
		return "", nil, nil
	} else if err != nil {
		return "", nil, err
	}
	s := &Store{db: db}
	vecs, err := s.photoVectors(ctx, version)
	return version, vecs, err
}

// --- the background worker ---

// RunPhotos fetches pending photos, re-encodes the catalogue for an encoder switch,
// completes the switch, and follows the registry, until ctx ends. every is the
// polling period (1s when 0); an activation or a pending photo in this process wakes
// it at once.
func (s *Store) RunPhotos(ctx context.Context, every time.Duration) {
	if s.photos == nil {
		return
	}
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for ctx.Err() == nil {
		if _, err := s.SyncEncoders(ctx); err != nil && ctx.Err() == nil {
			s.opt.Logger.Warn("image encoder sync failed", "err", err)
		}
		busy := false
		if n, err := s.FetchPending(ctx); err != nil && ctx.Err() == nil {
			s.opt.Logger.Warn("fetching pending photos failed", "err", err)
		} else if n > 0 {
			busy = true
		}
		if n, err := s.ReencodeStep(ctx, 32); err != nil && ctx.Err() == nil {
			s.opt.Logger.Warn("re-encoding photos failed", "err", err)
		} else if n > 0 {
			busy = true
		}
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-s.photos.wake:
		}
	}
}

// leaseFor is how long a worker keeps a pending photo to itself while fetching it.
func (s *Store) leaseFor() time.Duration {
	return s.photos.opt.Fetcher.Options().Timeout*time.Duration(s.photos.opt.Fetcher.Options().MaxRedirects+1) + 30*time.Second
}

// FetchPending fetches the pending photos whose lease has run out (new ones, and
// those of a process that stopped while fetching), at most FetchWorkers at once, and
// stores their outcome. It returns how many it worked on.
func (s *Store) FetchPending(ctx context.Context) (int, error) {
	p := s.photos
	type job struct {
		id, url  string
		rev      int64
		attempts int
	}
	var jobs []job
	rows, err := s.db.Pool.Query(ctx, `
		UPDATE item_images SET lease_until = now() + make_interval(secs => $2), attempts = attempts + 1
		WHERE item_id IN (SELECT item_id FROM item_images WHERE status = 'pending' AND lease_until <= now()
			ORDER BY lease_until LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING item_id, url, revision, attempts`, p.opt.FetchWorkers, s.leaseFor().Seconds())
	if err != nil {
		return 0, postgres.Translate(err)
	}
	for rows.Next() {
		var j job
		if err := rows.Scan(&j.id, &j.url, &j.rev, &j.attempts); err != nil {
			rows.Close()
			return 0, postgres.Translate(err)
		}
		jobs = append(jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, postgres.Translate(err)
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, err := p.opt.Fetcher.Fetch(ctx, "image_url", j.url)
			if ctx.Err() != nil {
				return // stopping: the lease runs out and another process takes it up
			}
			if err := s.completeFetch(ctx, j.id, j.rev, j.attempts, data, err); err != nil && ctx.Err() == nil {
				s.opt.Logger.Warn("storing a fetched photo failed", "item_id", j.id, "err", err)
			}
		}()
	}
	wg.Wait()
	return len(jobs), nil
}

// completeFetch stores the outcome of fetching revision rev of an item's photo: the
// encoded photo, a retry later, or the failure. A photo replaced meanwhile (another
// revision) is left alone.
func (s *Store) completeFetch(ctx context.Context, id string, rev int64, attempts int, data []byte, ferr error) error {
	w := &photoWrite{}
	if ferr == nil {
		ferr = s.encodeInto(w, "image_url", data)
	}
	return s.db.Transact(ctx, func(tx pgx.Tx) error {
		// The item's row first, as every write of an item locks it before its photo's.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM items WHERE id = $1 FOR NO KEY UPDATE`, id); err != nil {
			return err
		}
		if ferr != nil {
			msg := fusionrank.ErrorMessage(ferr)
			if photo.Retryable(ferr) && attempts < s.photos.opt.MaxAttempts {
				backoff := time.Duration(1<<min(attempts, 10)) * 15 * time.Second
				_, err := tx.Exec(ctx, `UPDATE item_images SET error = $3, lease_until = now() + make_interval(secs => $4), updated_at = now()
					WHERE item_id = $1 AND revision = $2 AND status = 'pending'`, id, rev, msg, backoff.Seconds())
				return err
			}
			tag, err := tx.Exec(ctx, `UPDATE item_images SET status = 'failed', error = $3, updated_at = now()
				WHERE item_id = $1 AND revision = $2 AND status = 'pending'`, id, rev, msg)
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE items SET seq = nextval('item_changes') WHERE id = $1`, id)
			return err
		}
		reg, err := lockEncoderVersions(ctx, tx)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE item_images SET data = $3, sha256 = $4, content_type = $5, width = $6, height = $7,
				status = 'ready', error = '', updated_at = now()
			WHERE item_id = $1 AND revision = $2 AND status = 'pending'`, id, rev, w.data, w.info.SHA256, w.info.ContentType, w.info.Width, w.info.Height)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM item_photo_vectors WHERE item_id = $1`, id); err != nil {
			return err
		}
		for ver, v := range s.vectorsOf(w, reg) {
			if _, err := tx.Exec(ctx, `INSERT INTO item_photo_vectors (item_id, encoder_version, dim, data) VALUES ($1, $2, $3, $4)`,
				id, ver, len(v), AppendFloats(make([]byte, 0, 4*len(v)), v)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE items SET seq = nextval('item_changes') WHERE id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify('fusionrank_items', '')`)
		return err
	})
}

// ReencodeStep encodes up to n ready photos that lack a vector of the active encoder or
// of the target of a switch, and completes the switch when no photo lacks the
// target's vector. It returns how many photos it encoded.
func (s *Store) ReencodeStep(ctx context.Context, n int) (int, error) {
	p := s.photos
	done := 0
	for _, sp := range []*space{p.active.Load(), p.target.Load()} {
		if sp == nil {
			continue
		}
		k, err := s.encodeMissing(ctx, sp, n)
		done += k
		if err != nil {
			return done, err
		}
	}
	if t := p.target.Load(); t != nil && done == 0 {
		if _, err := s.completeSwitch(ctx, t.version); err != nil {
			return done, err
		}
	}
	return done, nil
}

// encodeMissing encodes up to n ready photos without a vector of sp's version.
func (s *Store) encodeMissing(ctx context.Context, sp *space, n int) (int, error) {
	var done int
	err := s.db.Transact(ctx, func(tx pgx.Tx) error {
		// The item's row is locked with its photo's: a write of the item holds the
		// item's row while it waits for the photo's, so waiting here for the item's
		// (the update of seq below) could close a cycle; a pair either is not free
		// is skipped instead.
		rows, err := tx.Query(ctx, `SELECT g.item_id, g.data FROM item_images g JOIN items i ON i.id = g.item_id
			WHERE g.status = 'ready' AND NOT EXISTS (SELECT 1 FROM item_photo_vectors v WHERE v.item_id = g.item_id AND v.encoder_version = $1)
			ORDER BY g.item_id LIMIT $2 FOR NO KEY UPDATE OF i, g SKIP LOCKED`, sp.version, n)
		if err != nil {
			return err
		}
		type row struct {
			id   string
			data []byte
		}
		var todo []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.data); err != nil {
				rows.Close()
				return err
			}
			todo = append(todo, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var ids []string
		for _, r := range todo {
			img, _, err := photo.Decode("image", r.data, photo.Limits{MaxBytes: 1 << 62, MaxPixels: 1 << 62})
			if err != nil {
				continue // stored photos were decoded once; a corrupt one is skipped
			}
			v := make([]float32, sp.enc.Dim())
			sp.enc.EncodeTo(v, img)
			if _, err := tx.Exec(ctx, `INSERT INTO item_photo_vectors (item_id, encoder_version, dim, data) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
				r.id, sp.version, len(v), AppendFloats(make([]byte, 0, 4*len(v)), v)); err != nil {
				return err
			}
			ids = append(ids, r.id)
			done++
		}
		if cur := s.photos.active.Load(); cur != nil && cur.version == sp.version && len(ids) > 0 {
			// The serving block gains these vectors at the next refresh.
			if _, err := tx.Exec(ctx, `UPDATE items SET seq = nextval('item_changes') WHERE id = ANY($1)`, ids); err != nil {
				return err
			}
		}
		return nil
	})
	return done, err
}

// errNotComplete says a switch cannot complete yet.
var errNotComplete = errors.New("photos without a vector of the target remain")

// completeSwitch makes the target version active when every ready photo has its
// vector, in one transaction that first locks the registry rows (so every item write
// that read the old state has committed, and is counted).
func (s *Store) completeSwitch(ctx context.Context, version string) (bool, error) {
	err := s.db.Transact(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, encoderLock); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE image_encoders SET target = false WHERE version = $1 AND target`, version)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errNotComplete // the switch was cancelled or done by another process
		}
		if _, err := tx.Exec(ctx, `UPDATE image_encoders SET active = active WHERE active`); err != nil {
			return err
		}
		var missing bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM item_images g WHERE g.status = 'ready'
			AND NOT EXISTS (SELECT 1 FROM item_photo_vectors v WHERE v.item_id = g.item_id AND v.encoder_version = $1))`, version).Scan(&missing); err != nil {
			return err
		}
		if missing {
			return errNotComplete
		}
		if _, err := tx.Exec(ctx, `UPDATE image_encoders SET active = false WHERE active`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE image_encoders SET active = true, activated_at = now() WHERE version = $1`, version); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify('fusionrank_encoders', $1)`, version)
		return err
	})
	if errors.Is(err, errNotComplete) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.opt.Logger.Info("image encoder switch complete", "version", version)
	_, err = s.SyncEncoders(ctx)
	return true, err
}
