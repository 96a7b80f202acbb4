package features

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features/photo"
	"github.com/fusionrank/fusionrank/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// meanColour is a test image encoder: the mean red, green and blue of the photo and
// a constant, scaled to unit length (sign flips every component when negate is set, so
// two versions give opposite vectors of one photo).
type meanColour struct {
	version string
	negate  bool
}

func (m meanColour) Dim() int        { return 4 }
func (m meanColour) Version() string { return m.version }
func (m meanColour) EncodeTo(dst []float32, img image.Image) {
	b := img.Bounds()
	var r, g, bl, n float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			r, g, bl, n = r+float64(cr), g+float64(cg), bl+float64(cb), n+1
		}
	}
	dst[0], dst[1], dst[2], dst[3] = float32(r/n/65535), float32(g/n/65535), float32(bl/n/65535), 0.2
	if m.negate {
		for i := range dst {
			dst[i] = -dst[i]
		}
	}
	fusionrank.Normalize(dst)
}

func testEncoders(_ context.Context, rec EncoderRecord) (photo.Encoder, error) {
	return meanColour{version: rec.Version, negate: strings.HasSuffix(rec.Version, "-neg")}, nil
}

// solidJPEG is a 32×24 JPEG of one colour.
func solidJPEG(t testing.TB, c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// newPhotoStore returns a store with photos on, in a database of its own (the encoder
// registry is global to a database), with "test-a" active.
func newPhotoStore(t *testing.T, opt PhotoOptions) *Store {
	t.Helper()
	rdb, ns := testenv.Redis(t)
	db := testenv.DB(t, "featphotos")
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `TRUNCATE items, item_images, item_photo_vectors, image_encoders CASCADE`); err != nil {
		t.Fatal(err)
	}
	if opt.LoadEncoder == nil {
		opt.LoadEncoder = testEncoders
	}
	s := New(db, rdb, Options{Namespace: ns, Photos: &opt})
	if _, err := s.EnsureActiveEncoder(ctx, EncoderRecord{Version: "test-a", Kind: EncoderCNN, Dim: 4}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncEncoders(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// eventually polls cond every 20ms for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestPhotoBytesAreEncodedAndServed(t *testing.T) {
	s := newPhotoStore(t, PhotoOptions{})
	ctx := context.Background()
	red := solidJPEG(t, color.RGBA{R: 220, G: 20, B: 20})
	if _, err := s.PutItem(ctx, fusionrank.Item{ID: "p1", Title: "red thing", Active: true, Image: red}); err != nil {
		t.Fatal(err)
	}
	v, err := s.GetItem(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if v.ImageStatus != fusionrank.ImageReady || v.ImageInfo == nil || v.ImageInfo.Width != 32 || v.ImageInfo.ContentType != "image/jpeg" ||
		v.Modalities[PhotoModality].Dim != 4 || v.ImageInfo.DisplayURL != "/images/"+v.ImageInfo.SHA256 {
		t.Fatalf("item view %+v, info %+v", v, v.ImageInfo)
	}
	data, ct, err := s.Image(ctx, v.ImageInfo.SHA256)
	if err != nil || ct != "image/jpeg" || !bytes.Equal(data, red) {
		t.Fatalf("stored photo: %v, %s, %d bytes", err, ct, len(data))
	}
	// The catalogue serves the vector the encoder writes for the decoded photo.
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	img, _, _ := photo.Decode("image", red, photo.Limits{})
	want := make([]float32, 4)
	meanColour{version: "test-a"}.EncodeTo(want, img)
	c := s.Catalog()
	c.RLock()
	slot, _ := c.Slot("p1")
	got := c.Block(PhotoModality).Vector(slot)
	url := c.Meta(slot).ImageURL
	c.RUnlock()
	if got == nil || got[0] != want[0] || got[3] != want[3] || url != v.ImageInfo.DisplayURL {
		t.Fatalf("catalogue vector %v (url %q), want %v", got, url, want)
	}
	// The same item without a photo loses it.
	if _, err := s.PutItem(ctx, fusionrank.Item{ID: "p1", Title: "red thing", Active: true}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetItem(ctx, "p1"); v.ImageStatus != "" || v.ImageInfo != nil {
		t.Fatalf("photo kept after a PUT without one: %+v", v)
	}
}

func TestPhotoBadInputStoresNothing(t *testing.T) {
	s := newPhotoStore(t, PhotoOptions{Fetcher: photo.NewFetcher(photo.FetchOptions{})})
	ctx := context.Background()
	jpg := solidJPEG(t, color.RGBA{G: 200})
	for _, tc := range []struct {
		name string
		it   fusionrank.Item
		want string
	}{
		{"truncated JPEG", fusionrank.Item{Image: jpg[:len(jpg)-200]}, "image: not a valid JPEG file: the file is truncated"},
		{"not an image", fusionrank.Item{Image: []byte("GIF? no, plain text")}, "image: not an image"},
		{"private URL", fusionrank.Item{ImageURL: "http://10.0.0.7/p.jpg"}, "image_url: 10.0.0.7 is a private address"},
		{"bad URL", fusionrank.Item{ImageURL: "file:///etc/passwd"}, "image_url: \"file:///etc/passwd\" is not an http or https URL"},
		{"photo vector", fusionrank.Item{Vectors: map[string][]float32{PhotoModality: {1, 0, 0, 0}}}, "vectors.photo: computed by the image encoder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.it.ID, tc.it.Title, tc.it.Active = "bad-"+strings.ReplaceAll(tc.name, " ", "-"), "x", true
			_, err := s.PutItem(ctx, tc.it)
			if fusionrank.ErrorCode(err) != fusionrank.Invalid || !strings.Contains(fusionrank.ErrorMessage(err), tc.want) {
				t.Fatalf("error %v, want Invalid containing %q", err, tc.want)
			}
			if _, err := s.GetItem(ctx, tc.it.ID); fusionrank.ErrorCode(err) != fusionrank.NotFound {
				t.Fatalf("the item was stored: %v", err)
			}
		})
	}
}

// photoServer serves a JPEG at /p.jpg after delay, 404 elsewhere, and counts fetches.
func photoServer(t *testing.T, jpg []byte, delay *atomic.Int64, hits *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/p.jpg" {
			http.NotFound(w, r)
			return
		}
		select {
		case <-time.After(time.Duration(delay.Load())):
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write(jpg)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPhotoURL(t *testing.T) {
	jpg := solidJPEG(t, color.RGBA{B: 200})
	var delay, hits atomic.Int64
	srv := photoServer(t, jpg, &delay, &hits)
	s := newPhotoStore(t, PhotoOptions{FetchWait: 300 * time.Millisecond,
		Fetcher: photo.NewFetcher(photo.FetchOptions{AllowPrivate: true, Timeout: 5 * time.Second})})
	ctx := context.Background()

	// Fast: the PUT waits for it and stores the item ready.
	if _, err := s.PutItem(ctx, fusionrank.Item{ID: "u-fast", Title: "x", Active: true, ImageURL: srv.URL + "/p.jpg"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetItem(ctx, "u-fast"); v.ImageStatus != fusionrank.ImageReady || v.ImageURL != srv.URL+"/p.jpg" || v.ImageInfo.DisplayURL != srv.URL+"/p.jpg" {
		t.Fatalf("fast fetch: %+v", v)
	}
	// A failure within the wait is the PUT's error; nothing is stored.
	_, err := s.PutItem(ctx, fusionrank.Item{ID: "u-404", Title: "x", Active: true, ImageURL: srv.URL + "/nope.jpg"})
	if !strings.Contains(fusionrank.ErrorMessage(err), "image_url: the server answered 404") {
		t.Fatalf("404: %v", err)
	}
	if _, err := s.GetItem(ctx, "u-404"); fusionrank.ErrorCode(err) != fusionrank.NotFound {
		t.Fatalf("u-404 stored: %v", err)
	}
	// Slow: the PUT answers after the wait with the item stored pending; the fetch
	// completes in the background.
	delay.Store(int64(time.Second))
	start := time.Now()
	if _, err := s.PutItem(ctx, fusionrank.Item{ID: "u-slow", Title: "x", Active: true, ImageURL: srv.URL + "/p.jpg?slow"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Fatalf("the PUT waited %s for a slow photo", d)
	}
	if v, _ := s.GetItem(ctx, "u-slow"); v.ImageStatus != fusionrank.ImagePending {
		t.Fatalf("slow fetch right after the PUT: %+v", v)
	}
	eventually(t, "the slow photo", func() bool {
		v, _ := s.GetItem(ctx, "u-slow")
		return v.ImageStatus == fusionrank.ImageReady && v.Modalities[PhotoModality].Dim == 4
	})
	// Re-sending the same URL keeps the photo: no fetch.
	before := hits.Load()
	if _, err := s.PutItem(ctx, fusionrank.Item{ID: "u-fast", Title: "renamed", Active: true, ImageURL: srv.URL + "/p.jpg"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetItem(ctx, "u-fast"); hits.Load() != before || v.ImageStatus != fusionrank.ImageReady || v.Modalities[PhotoModality].Dim != 4 {
		t.Fatalf("re-sent URL: %d fetches, view %+v", hits.Load()-before, v)
	}
}

// TestPendingPhotosResume: photos stored pending by a batch (or by a process that
// stopped before fetching them) are fetched by any process's worker, and a failure is
// recorded on the item.
func TestPendingPhotosResume(t *testing.T) {
	jpg := solidJPEG(t, color.RGBA{R: 200, G: 200})
	var delay, hits atomic.Int64
	srv := photoServer(t, jpg, &delay, &hits)
	opt := PhotoOptions{Fetcher: photo.NewFetcher(photo.FetchOptions{AllowPrivate: true, Timeout: 2 * time.Second})}
	s := newPhotoStore(t, opt)
	ctx := context.Background()
	errs, err := s.PutItems(ctx, []fusionrank.Item{
		{ID: "b1", Title: "x", Active: true, ImageURL: srv.URL + "/p.jpg"},
		{ID: "b2", Title: "x", Active: true, ImageURL: srv.URL + "/gone.jpg"},
		{ID: "b3", Title: "x", Active: true, ImageURL: "ftp://example.com/p.jpg"},
	})
	if err != nil || errs[0] != nil || errs[1] != nil || !strings.Contains(fusionrank.ErrorMessage(errs[2]), "image_url: ") {
		t.Fatalf("batch: %v %v", err, errs)
	}
	if hits.Load() != 0 {
		t.Fatal("the batch fetched in the request")
	}
	for _, id := range []string{"b1", "b2"} {
		if v, _ := s.GetItem(ctx, id); v.ImageStatus != fusionrank.ImagePending {
			t.Fatalf("%s after the batch: %+v", id, v)
		}
	}
	// Another process (a new store on the same database) takes the work up.
	other := New(s.db, s.rdb, Options{Namespace: s.opt.Namespace, Photos: &PhotoOptions{Fetcher: opt.Fetcher, LoadEncoder: testEncoders}})
	if _, err := other.SyncEncoders(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := other.FetchPending(ctx); err != nil || n != 2 {
		t.Fatalf("FetchPending: %d, %v", n, err)
	}
	if v, _ := s.GetItem(ctx, "b1"); v.ImageStatus != fusionrank.ImageReady || v.Modalities[PhotoModality].Dim != 4 {
		t.Fatalf("b1: %+v", v)
	}
	if v, _ := s.GetItem(ctx, "b2"); v.ImageStatus != fusionrank.ImageFailed || !strings.Contains(v.ImageError, "image_url: the server answered 404") {
		t.Fatalf("b2: %+v", v)
	}
	if n, _ := other.FetchPending(ctx); n != 0 {
		t.Fatalf("fetched %d photos again", n)
	}
}

func TestEncoderSwitch(t *testing.T) {
	s := newPhotoStore(t, PhotoOptions{})
	ctx := context.Background()
	var items []fusionrank.Item
	for i := range 40 {
		items = append(items, fusionrank.Item{ID: "s" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Title: "x", Active: true,
			Image: solidJPEG(t, color.RGBA{R: uint8(6 * i), G: 100, B: uint8(250 - 6*i)})})
	}
	if errs, err := s.PutItems(ctx, items); err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterEncoder(ctx, EncoderRecord{Version: "test-b-neg", Kind: EncoderCNN, Dim: 4}); err != nil {
		t.Fatal(err)
	}
	e, err := s.ActivateEncoder(ctx, "test-b-neg")
	if err != nil || e.Active || !e.Target || e.Photos != 40 || e.Encoded != 0 {
		t.Fatalf("activate: %+v, %v", e, err)
	}
	if _, err := s.SyncEncoders(ctx); err != nil {
		t.Fatal(err)
	}
	// The switch is not served before every photo has its vector.
	if _, v := s.PhotoEncoder(); v != "test-a" {
		t.Fatalf("serving %s during the switch", v)
	}
	// A photo arriving meanwhile is encoded with both.
	late := fusionrank.Item{ID: "late", Title: "x", Active: true, Image: solidJPEG(t, color.RGBA{R: 9, G: 9, B: 9})}
	if _, err := s.PutItem(ctx, late); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetItem(ctx, "late"); len(v.ImageInfo.Encoders) != 2 {
		t.Fatalf("late photo encoded with %v", v.ImageInfo.Encoders)
	}
	steps := 0
	for {
		n, err := s.ReencodeStep(ctx, 16)
		if err != nil {
			t.Fatal(err)
		}
		steps++
		if n == 0 {
			break
		}
		if _, v := s.PhotoEncoder(); v != "test-a" {
			t.Fatalf("switched after %d steps with photos left", steps)
		}
	}
	if _, v := s.PhotoEncoder(); v != "test-b-neg" {
		t.Fatalf("after re-encoding: serving %s", v)
	}
	list, _ := s.ListEncoders(ctx)
	for _, e := range list {
		if e.Version == "test-b-neg" && (!e.Active || e.Target || e.Encoded != 41) {
			t.Fatalf("registry after the switch: %+v", e)
		}
	}
	// The catalogue's block holds the new version's vectors, for every photo.
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	c := s.Catalog()
	c.RLock()
	b := c.Block(PhotoModality)
	n := 0
	for slot := range int32(c.Len()) {
		if v := b.Vector(slot); v != nil {
			n++
			if v[3] >= 0 {
				t.Errorf("slot %d: an old vector %v in the new block", slot, v)
			}
		}
	}
	version := b.Version
	c.RUnlock()
	if version != "test-b-neg" || n != 41 {
		t.Fatalf("block %s with %d vectors", version, n)
	}
}

// TestEncoderSwitchRacesPhotoWrites: photo writes that run while switches complete
// neither fail (a write's read of the registry and a switch's update of it must not
// deadlock) nor leave a ready photo without a vector of the encoder that ends active.
func TestEncoderSwitchRacesPhotoWrites(t *testing.T) {
	s := newPhotoStore(t, PhotoOptions{})
	ctx := context.Background()
	if err := s.RegisterEncoder(ctx, EncoderRecord{Version: "test-b-neg", Kind: EncoderCNN, Dim: 4}); err != nil {
		t.Fatal(err)
	}
	var photos [][]byte
	for i := range 8 {
		photos = append(photos, solidJPEG(t, color.RGBA{R: uint8(30 * i), G: 90, B: uint8(200 - 20*i)}))
	}
	stop := make(chan struct{})
	failed := make(chan error, 2)
	var wg sync.WaitGroup
	writes := atomic.Int64{}
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				it := fusionrank.Item{ID: fmt.Sprintf("race-%d-%d", w, i%16), Title: "x", Active: true, Image: photos[(i+w)%len(photos)]}
				if _, err := s.PutItem(ctx, it); err != nil {
					failed <- fmt.Errorf("write %d of writer %d: %w", i, w, err)
					return
				}
				writes.Add(1)
			}
		})
	}
	var once sync.Once
	stopWriters := func() { once.Do(func() { close(stop) }); wg.Wait() }
	defer stopWriters()
	for round := range 10 {
		want := []string{"test-b-neg", "test-a"}[round%2]
		if _, err := s.ActivateEncoder(ctx, want); err != nil {
			t.Fatalf("round %d: activate %s: %v", round, want, err)
		}
		if _, err := s.SyncEncoders(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for end := time.Now().Add(20 * time.Second); ; {
			select {
			case err := <-failed:
				t.Fatal(err)
			default:
			}
			if _, err := s.ReencodeStep(ctx, 16); err != nil {
				t.Fatalf("round %d: re-encode: %v", round, err)
			}
			if _, v := s.PhotoEncoder(); v == want {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("round %d: the switch to %s did not complete", round, want)
			}
		}
	}
	stopWriters()
	select {
	case err := <-failed:
		t.Fatal(err)
	default:
	}
	var missing int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM item_images g WHERE g.status = 'ready' AND NOT EXISTS
		(SELECT 1 FROM item_photo_vectors v WHERE v.item_id = g.item_id AND v.encoder_version = 'test-a')`).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if missing != 0 {
		t.Fatalf("%d ready photos without a vector of the active encoder", missing)
	}
	t.Logf("%d photo writes during 10 switches", writes.Load())
}

// TestWriteEncodedBeforeSwitchStoresNewVector: a photo write encodes before its
// transaction, so a switch can complete in between. The write, stored after the switch,
// still carries a vector of the encoder that is now active (the deterministic form of a
// race TestEncoderSwitchRacesPhotoWrites can hit).
func TestWriteEncodedBeforeSwitchStoresNewVector(t *testing.T) {
	s := newPhotoStore(t, PhotoOptions{})
	ctx := context.Background()
	if err := s.RegisterEncoder(ctx, EncoderRecord{Version: "test-b-neg", Kind: EncoderCNN, Dim: 4}); err != nil {
		t.Fatal(err)
	}
	it := fusionrank.Item{ID: "late", Title: "x", Active: true}
	if _, err := s.PutItem(ctx, it); err != nil {
		t.Fatal(err)
	}
	it.Image = solidJPEG(t, color.RGBA{R: 20, G: 140, B: 60})
	w, err := s.preparePhoto(&it) // encoded with test-a only
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.vectors["test-b-neg"]; ok || len(w.vectors) != 1 {
		t.Fatalf("encoded for %v before the switch", w.vectors)
	}
	if _, err := s.ActivateEncoder(ctx, "test-b-neg"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncEncoders(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReencodeStep(ctx, 16); err != nil { // no photo yet: the switch completes
		t.Fatal(err)
	}
	if _, v := s.PhotoEncoder(); v != "test-b-neg" {
		t.Fatalf("active encoder %s after the switch", v)
	}
	if err := s.db.Transact(ctx, func(tx pgx.Tx) error {
		_, err := s.writePhotos(ctx, tx, []string{"late"}, []*photoWrite{w})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var versions []string
	if err := s.db.Pool.QueryRow(ctx, `SELECT coalesce(array_agg(encoder_version ORDER BY encoder_version), '{}') FROM item_photo_vectors WHERE item_id = 'late'`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(versions, "test-b-neg") {
		t.Fatalf("the photo stored after the switch has vectors of %v, not of the active test-b-neg", versions)
	}
}

// TestReencodeSkipsItemsBeingWritten: the background re-encode never waits for an item
// that a write holds. A write locks the item's row, then its photo's; a re-encode that
// took the photo's row and then waited for the item's would close a cycle (a deadlock
// that fails one of them), so it leaves the pair to a later step.
func TestReencodeSkipsItemsBeingWritten(t *testing.T) {
	s := newPhotoStore(t, PhotoOptions{})
	ctx := context.Background()
	if _, err := s.PutItem(ctx, fusionrank.Item{ID: "held", Title: "x", Active: true, Image: solidJPEG(t, color.RGBA{R: 200, G: 10, B: 10})}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Pool.Exec(ctx, `DELETE FROM item_photo_vectors WHERE item_id = 'held'`); err != nil {
		t.Fatal(err)
	}
	tx := holdItem(t, s, "held")
	type step struct {
		n   int
		err error
	}
	done := make(chan step, 1)
	go func() {
		n, err := s.ReencodeStep(ctx, 16)
		done <- step{n, err}
	}()
	select {
	case r := <-done:
		if r.err != nil || r.n != 0 {
			t.Fatalf("re-encode beside the write: %d photos, %v; want 0 (the held item skipped)", r.n, r.err)
		}
	case <-time.After(500 * time.Millisecond):
		// Waiting for the item: the write's next statement would close the cycle.
	}
	finishWrite(t, tx, "held")
	select {
	case r := <-done:
		t.Fatalf("the re-encode waited for the held item: %d photos, %v", r.n, r.err)
	default:
	}
	if n, err := s.ReencodeStep(ctx, 16); err != nil || n != 1 {
		t.Fatalf("re-encode after the write: %d photos, %v; want 1", n, err)
	}
}

// TestFetchedPhotoWaitsForItsItem: storing a fetched photo locks the item's row before
// the photo's, as a write of the item does, so a write and a fetch's store of the same
// item queue one behind the other instead of deadlocking.
func TestFetchedPhotoWaitsForItsItem(t *testing.T) {
	s := newPhotoStore(t, PhotoOptions{Fetcher: photo.NewFetcher(photo.FetchOptions{AllowPrivate: true, Timeout: 2 * time.Second})})
	ctx := context.Background()
	if errs, err := s.PutItems(ctx, []fusionrank.Item{{ID: "fetched", Title: "x", Active: true, ImageURL: "http://127.0.0.1:1/p.jpg"}}); err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	var rev int64
	if err := s.db.Pool.QueryRow(ctx, `SELECT revision FROM item_images WHERE item_id = 'fetched'`).Scan(&rev); err != nil {
		t.Fatal(err)
	}
	tx := holdItem(t, s, "fetched")
	jpg := solidJPEG(t, color.RGBA{R: 10, G: 200, B: 10})
	done := make(chan error, 1)
	go func() { done <- s.completeFetch(ctx, "fetched", rev, 0, jpg, nil) }()
	time.Sleep(300 * time.Millisecond) // the store runs up to the lock it waits for
	select {
	case err := <-done:
		t.Fatalf("the fetched photo was stored while a write held its item: %v", err)
	default:
	}
	finishWrite(t, tx, "fetched")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("storing the fetched photo after the write: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("storing the fetched photo did not finish")
	}
	if v, _ := s.GetItem(ctx, "fetched"); v.ImageStatus != fusionrank.ImageReady {
		t.Fatalf("after the fetch: %+v", v)
	}
}

// holdItem begins a transaction that writes item id's row, as an item's write does
// first, and holds it until finishWrite commits it (rolled back when the test ends).
func holdItem(t *testing.T, s *Store, id string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := s.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, `UPDATE items SET title = 'y' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return tx
}

// finishWrite completes the write holdItem began: it locks the item's photo row, as a
// write of the item does after its item row, and commits.
func finishWrite(t *testing.T, tx pgx.Tx, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := tx.Exec(ctx, `UPDATE item_images SET updated_at = now() WHERE item_id = $1`, id); err != nil {
		t.Fatalf("the write's photo row: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}
