package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/features/photo"
	"github.com/fusionrank/fusionrank/internal/testenv"
	"github.com/fusionrank/fusionrank/vision"
	"github.com/fusionrank/fusionrank/vision/photoset"
)

// shapeJPEG is a 64×48 JPEG: background bg with a block of fg whose place depends on k,
// so photos differ in colour and layout.
func shapeJPEG(t testing.TB, bg, fg color.RGBA, k int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	x0, y0 := (k*13)%40, (k*7)%24
	for y := range 48 {
		for x := range 64 {
			c := bg
			if x >= x0 && x < x0+24 && y >= y0 && y < y0+24 {
				c = fg
			}
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// catalogPhoto is the photo of catalogue item i of the photo tests.
func catalogPhoto(t testing.TB, i int) []byte {
	bg := color.RGBA{uint8(37 * i), uint8(255 - 23*i), uint8(90 + 11*i), 255}
	fg := color.RGBA{uint8(250 - 17*i), uint8(40 + 29*i), uint8(13 * i), 255}
	return shapeJPEG(t, bg, fg, i)
}

// pngBomb is a PNG signature and an IHDR of w×h pixels, nothing after it.
func pngBomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := make([]byte, 17)
	copy(chunk, "IHDR")
	binary.BigEndian.PutUint32(chunk[4:], w)
	binary.BigEndian.PutUint32(chunk[8:], h)
	chunk[12], chunk[13] = 8, 2
	_ = binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// errorMessage returns the message of an error answer.
func errorMessage(t *testing.T, r response) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// TestPhotoIngestLimits: every bad photo gets a 400 that names the field and the
// problem, and nothing of the item is stored.
func TestPhotoIngestLimits(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	// The default service: private addresses refused.
	m := startMain(t, nil)
	// A service that may fetch from loopback (to reach the slow test server), with a
	// fetch timeout shorter than the PUT's wait.
	lm := startMainWith(t, testenv.DB(t, "cmd"), map[string]string{"FUSIONRANK_IMAGE_FETCH_PRIVATE": "on",
		"FUSIONRANK_IMAGE_FETCH_TIMEOUT": "300ms", "FUSIONRANK_IMAGE_FETCH_WAIT": "3s"}, testLog(t), nil)
	jpg := catalogPhoto(t, 1)
	for _, tc := range []struct {
		name   string
		m      *Main
		body   map[string]any
		status int
		want   string
	}{
		{"truncated JPEG", m, map[string]any{"image": b64(jpg[:len(jpg)/2])}, 400, "image: not a valid JPEG file: the file is truncated"},
		{"20000×20000 PNG header", m, map[string]any{"image": b64(pngBomb(20000, 20000))}, 400, "image: 20000×20000 is 400000000 pixels, over the limit of 36000000"},
		{"not an image", m, map[string]any{"image": b64([]byte("just some text, not a photo"))}, 400, "image: not an image: the content is text/plain"},
		{"not base64", m, map[string]any{"image": "@@@"}, 400, "image: not valid base64"},
		{"private address", m, map[string]any{"image_url": "http://10.1.2.3/p.jpg"}, 400, "image_url: 10.1.2.3 is a private address"},
		{"cloud metadata", m, map[string]any{"image_url": "http://169.254.169.254/latest/meta-data/"}, 400, "image_url: 169.254.169.254 is a link-local address"},
		{"loopback name", m, map[string]any{"image_url": "http://localhost:1/p.jpg"}, 400, "image_url: localhost is a loopback name"},
		{"not http", m, map[string]any{"image_url": "gopher://example.com/p.jpg"}, 400, "image_url: \"gopher://example.com/p.jpg\" is not an http or https URL"},
		{"slow server", lm, map[string]any{"image_url": slow.URL + "/p.jpg"}, 400, "image_url: the server did not send the photo within the fetch timeout of 300ms"},
		{"file too large", m, map[string]any{"image": b64(make([]byte, 8912896))}, 400, "image: 8912896 bytes is over the limit of 8388608 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := createKey(t, tc.m, fusionrank.ScopeWrite)
			id := "bad-photo-" + strings.NewReplacer(" ", "-", "×", "x").Replace(tc.name)
			tc.body["title"] = "a product"
			r := do(t, "PUT", tc.m.URL()+"/v1/items/"+id, key, tc.body)
			if r.status != tc.status || !strings.Contains(errorMessage(t, r), tc.want) {
				t.Fatalf("%d %s, want %d with %q", r.status, r.body, tc.status, tc.want)
			}
			if r := do(t, "GET", tc.m.URL()+"/v1/items/"+id, key, nil); r.status != 404 {
				t.Fatalf("the item was stored: %d %s", r.status, r.body)
			}
		})
	}
	key := createKey(t, m, fusionrank.ScopeWrite)
	// The raw upload of an item's photo: the same checks, and the item must exist.
	if r := do(t, "PUT", m.URL()+"/v1/items/no-such-item/image", key, jpg); r.status != 404 {
		t.Fatalf("photo of a missing item: %d %s", r.status, r.body)
	}
	if r := do(t, "PUT", m.URL()+"/v1/items/raw-1", key, map[string]any{"title": "raw"}); r.status != 201 {
		t.Fatal(r.status, string(r.body))
	}
	if r := do(t, "PUT", m.URL()+"/v1/items/raw-1/image", key, pngBomb(20000, 20000)); r.status != 400 || !strings.Contains(errorMessage(t, r), "image: 20000×20000") {
		t.Fatalf("bomb upload: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", m.URL()+"/v1/items/raw-1", key, nil); r.json(t)["image_status"] != nil {
		t.Fatalf("a refused upload left a photo: %s", r.body)
	}
	r := do(t, "PUT", m.URL()+"/v1/items/raw-1/image", key, jpg)
	info, _ := r.json(t)["image_info"].(map[string]any)
	if r.status != 200 || r.json(t)["image_status"] != "ready" || info == nil {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	// The stored photo is served from its hash, without a key.
	img := do(t, "GET", m.URL()+info["display_url"].(string), "", nil)
	if img.status != 200 || !bytes.Equal(img.body, jpg) || img.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("stored photo: %d %s, %d bytes", img.status, img.header.Get("Content-Type"), len(img.body))
	}
	// A search with a bad photo gets the same checks, under query.image.
	read := createKey(t, m, fusionrank.ScopeRead)
	r = do(t, "POST", m.URL()+"/v1/search", read, map[string]any{"query": map[string]any{"image": b64(jpg[:100])}})
	if r.status != 400 || !strings.Contains(errorMessage(t, r), "query.image: not a valid JPEG file") {
		t.Fatalf("search with a truncated photo: %d %s", r.status, r.body)
	}
	r = do(t, "POST", m.URL()+"/v1/search", read, map[string]any{"query": map[string]any{"image": "!!"}})
	if r.status != 400 || !strings.Contains(errorMessage(t, r), "query.image: not valid base64") {
		t.Fatalf("search with bad base64: %d %s", r.status, r.body)
	}
}

// photoShop starts a service in a database of its own (the encoder registry is per
// database) with n items, each with its catalogPhoto. load adds test encoders.
func photoShop(t *testing.T, name string, n int, env map[string]string) (*Main, string, string) {
	t.Helper()
	db := testenv.DB(t, name)
	m := startMainWith(t, db, env, testLog(t), func(m *Main) {
		base := loadImageEncoder(m.Config)
		m.LoadImageEncoder = func(ctx context.Context, rec features.EncoderRecord) (photo.Encoder, error) {
			if rec.Version == negDescriptor {
				d, _ := vision.NewDescriptor(vision.DescriptorWeights{})
				return negated{d}, nil
			}
			return base(ctx, rec)
		}
	})
	write, read := createKey(t, m, fusionrank.ScopeWrite), createKey(t, m, fusionrank.ScopeAdmin)
	var lines []string
	for i := range n {
		lines = append(lines, fmt.Sprintf(`{"id":"ph-%d","title":"product %d","image":"%s"}`, i, i, b64(catalogPhoto(t, i))))
	}
	r := do(t, "POST", m.URL()+"/v1/items:batch", write, strings.Join(lines, "\n"))
	if r.status != 200 || r.json(t)["accepted"].(float64) != float64(n) {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	waitFor(t, "the catalogue", func() bool {
		c := m.Features.Catalog()
		c.RLock()
		defer c.RUnlock()
		return c.Len() >= n
	})
	return m, write, read
}

// negDescriptor is a test encoder: the descriptor with every component negated, so
// that a photo compared across the two encoders scores −cos instead of cos.
const negDescriptor = "descriptor-neg-test"

type negated struct{ d *vision.Descriptor }

func (n negated) Dim() int        { return n.d.Dim() }
func (n negated) Version() string { return negDescriptor }
func (n negated) EncodeTo(dst []float32, img image.Image) {
	n.d.EncodeTo(dst, img)
	for i := range dst {
		dst[i] = -dst[i]
	}
}

func TestSearchByPhoto(t *testing.T) {
	m, _, read := photoShop(t, "cmdphotos", 12, nil)
	for i := range 12 {
		r := do(t, "POST", m.URL()+"/v1/search", read, map[string]any{"query": map[string]any{"image": b64(catalogPhoto(t, i))}, "count": 3, "explain": true})
		a := r.json(t)
		if r.status != 200 || ids(a)[0] != fmt.Sprintf("ph-%d", i) || a["image_encoder"] != vision.DescriptorVersion {
			t.Fatalf("photo of ph-%d: %d %s", i, r.status, r.body)
		}
		top := a["items"].([]any)[0].(map[string]any)
		expl := top["explanation"].(map[string]any)
		if !strings.HasPrefix(top["image_url"].(string), "/images/") || expl["modalities"].(map[string]any)["photo"] != 1.0 {
			t.Fatalf("top item: %v", top)
		}
		if toks := expl["tokens"].([]any); len(toks) != 1 || toks[0].(map[string]any)["token"] != "query:photo" {
			t.Fatalf("tokens: %v", toks)
		}
	}
	// The same as a multipart upload, with the rest of the request as JSON.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("request", `{"count": 2}`)
	fw, _ := mw.CreateFormFile("image", "photo.jpg")
	_, _ = fw.Write(catalogPhoto(t, 5))
	_ = mw.Close()
	req, _ := http.NewRequest("POST", m.URL()+"/v1/search", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+read)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	_, _ = got.ReadFrom(resp.Body)
	resp.Body.Close()
	if a := (response{status: resp.StatusCode, body: got.Bytes()}).json(t); resp.StatusCode != 200 || ids(a)[0] != "ph-5" || len(ids(a)) != 2 {
		t.Fatalf("multipart: %d %s", resp.StatusCode, got.Bytes())
	}
	// Rerank: the photo decides among the engine's candidates.
	r := do(t, "POST", m.URL()+"/v1/rerank", read, map[string]any{"query": map[string]any{"image": b64(catalogPhoto(t, 7))},
		"items": []map[string]any{{"id": "ph-1"}, {"id": "ph-3"}, {"id": "ph-7"}, {"id": "ph-9"}}})
	if ids(r.json(t))[0] != "ph-7" {
		t.Fatalf("rerank: %s", r.body)
	}
}

// TestServedEncodingEqualsTrainingEncoding: the vector the service stores for a photo
// is, bit for bit, the one the encoder computes on the file as training reads it
// (vision/photoset), for the descriptor and for a trained CNN registered through
// `fusionrank encoders register` and activated.
func TestServedEncodingEqualsTrainingEncoding(t *testing.T) {
	m, write, admin := photoShop(t, "cmdphotoenc", 2, nil)
	ctx := context.Background()
	path := "../../../shared/datasets/grocery-store/val/Vegetables/Pepper/Red-Bell-Pepper/Red-Bell-Pepper_001.jpg"
	data, err := readFile(path)
	if err != nil {
		t.Skipf("the Grocery Store data set is not here: %v", err)
	}
	stored := func(version string) []float32 {
		var b []byte
		if err := m.DB.Pool.QueryRow(ctx, `SELECT data FROM item_photo_vectors WHERE item_id = 'pepper' AND encoder_version = $1`, version).Scan(&b); err != nil {
			t.Fatalf("no %s vector: %v", version, err)
		}
		return features.ReadFloats(make([]float32, len(b)/4), b)
	}
	same := func(name string, got []float32, enc photo.Encoder) {
		img, err := photosetDecode(path)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, enc.Dim())
		enc.EncodeTo(want, img)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: component %d served %v, training-time %v", name, i, got[i], want[i])
			}
		}
	}
	if r := do(t, "PUT", m.URL()+"/v1/items/pepper", write, map[string]any{"title": "red pepper", "image": b64(data)}); r.status != 201 {
		t.Fatal(r.status, string(r.body))
	}
	d, _ := vision.NewDescriptor(vision.DescriptorWeights{})
	same("descriptor", stored(vision.DescriptorVersion), d)

	// A small trained encoder, through the registry.
	enc := tinyEncoder(t)
	file := t.TempDir() + "/enc.safetensors"
	if err := writeEncoder(file, enc); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := runEncoders(ctx, []string{"register", "--database-url", m.Config.DatabaseURL, "--activate", file}, &out, &errb); err != nil {
		t.Fatalf("encoders register: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "registered "+enc.Version()) || !strings.Contains(out.String(), "switching to "+enc.Version()) {
		t.Fatalf("encoders register: %s", out.String())
	}
	waitFor(t, "the switch to the trained encoder", func() bool {
		r := do(t, "GET", m.URL()+"/v1/encoders", admin, nil)
		for _, e := range r.json(t)["encoders"].([]any) {
			if e := e.(map[string]any); e["version"] == enc.Version() && e["active"] == true {
				return true
			}
		}
		return false
	})
	same("cnn", stored(enc.Version()), enc)
}

// TestEncoderSwitchUnderLoadNeverMixes: while the catalogue is re-encoded with a new
// encoder and the service switches to it, photo searches keep coming; every answer
// compares its query photo and the items' photos with one encoder. The new encoder
// negates the old one's vectors, so an answer that mixed them would rank the photo's
// own item last instead of first.
func TestEncoderSwitchUnderLoadNeverMixes(t *testing.T) {
	const n = 30
	m, _, admin := photoShop(t, "cmdphotoswitch", n, nil)
	if err := m.Features.RegisterEncoder(context.Background(), features.EncoderRecord{Version: negDescriptor, Kind: features.EncoderCNN, Dim: vision.DescriptorDim}); err != nil {
		t.Fatal(err)
	}
	photos := make([]string, n)
	for i := range photos {
		photos[i] = b64(catalogPhoto(t, i))
	}
	var stop atomic.Bool
	var answers, bad atomic.Int64
	seen := sync.Map{}
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; !stop.Load(); k += 3 {
				i := k % n
				r := do(t, "POST", m.URL()+"/v1/search", admin, map[string]any{"query": map[string]any{"image": photos[i]}, "count": 1})
				if r.status != 200 {
					bad.Add(1)
					t.Errorf("search: %d %s", r.status, r.body)
					return
				}
				a := r.json(t)
				answers.Add(1)
				seen.Store(a["image_encoder"], true)
				if got := ids(a); len(got) != 1 || got[0] != fmt.Sprintf("ph-%d", i) {
					bad.Add(1)
					t.Errorf("photo of ph-%d answered %v with encoder %v", i, got, a["image_encoder"])
				}
			}
		}()
	}
	waitFor(t, "answers before the switch", func() bool { return answers.Load() > 20 })
	if r := do(t, "POST", m.URL()+"/v1/encoders/"+negDescriptor+"/activate", admin, nil); r.status != 200 || r.json(t)["target"] != true {
		t.Fatalf("activate: %d %s", r.status, r.body)
	}
	waitFor(t, "answers from the new encoder", func() bool {
		_, ok := seen.Load(negDescriptor)
		return ok
	})
	before := answers.Load()
	waitFor(t, "answers after the switch", func() bool { return answers.Load() > before+20 })
	stop.Store(true)
	wg.Wait()
	if _, ok := seen.Load(vision.DescriptorVersion); !ok || bad.Load() != 0 {
		t.Fatalf("%d answers, %d wrong; encoders seen: old %v", answers.Load(), bad.Load(), ok)
	}
	t.Logf("%d answers across the switch, none mixed", answers.Load())
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func photosetDecode(path string) (image.Image, error) { return photoset.Decode(path) }

// tinyEncoder trains a small CNN for a second on random photos of three products.
func tinyEncoder(t *testing.T) *vision.Encoder {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	d := &vision.TrainData{Products: []string{"a", "b", "c"}}
	for i := range 24 {
		p := vision.NewPlanar(32, 32)
		for k := range p.Pix {
			p.Pix[k] = float32(i%3)/3 + 0.3*rng.Float32()
		}
		d.Photos, d.Labels = append(d.Photos, p), append(d.Labels, i%3)
	}
	enc, _, err := vision.Train(d, vision.TrainOptions{Config: vision.Config{Size: 16, Widths: []int{8, 16}, Depth: 1, Dim: 16},
		Epochs: 2, Batch: 8, Shards: 2, NoIconic: true, Seed: 5, LR: 1e-2})
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func writeEncoder(path string, enc *vision.Encoder) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := enc.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// TestChineseTitleMatchesChineseQuery: "红色长裙" (red long dress) finds the item with
// that Chinese title, though the word vectors are English GloVe: the title and the
// query are split into the same character bigrams, which get subword vectors.
func TestChineseTitleMatchesChineseQuery(t *testing.T) {
	// A database of its own: in the package's shared one, other tests' popular items
	// would weigh in through the fallback's popularity term.
	m := startMainWith(t, testenv.DB(t, "cmdzh"), map[string]string{"FUSIONRANK_TEXT_VECTORS": glove}, testLog(t), nil)
	write, read := createKey(t, m, fusionrank.ScopeWrite), createKey(t, m, fusionrank.ScopeRead)
	for id, title := range map[string]string{"zh-dress": "红色长裙 夏季新款", "zh-jeans": "蓝色牛仔裤", "zh-shirt": "白色衬衫",
		"en-dress": "red long dress", "zh-shoes": "红色运动鞋"} {
		if r := do(t, "PUT", m.URL()+"/v1/items/"+id, write, map[string]any{"title": title}); r.status != 201 {
			t.Fatal(r.status, string(r.body))
		}
	}
	waitFor(t, "the items in the catalogue", func() bool {
		c := m.Features.Catalog()
		c.RLock()
		defer c.RUnlock()
		for _, id := range []string{"zh-dress", "zh-jeans", "zh-shirt", "en-dress", "zh-shoes"} {
			if _, ok := c.Slot(id); !ok {
				return false
			}
		}
		return true
	})
	r := do(t, "POST", m.URL()+"/v1/search", read, map[string]any{"query": map[string]any{"text": "红色长裙"}, "count": 3, "explain": true})
	a := r.json(t)
	if got := ids(a); got[0] != "zh-dress" {
		t.Fatalf("红色长裙: %v", got)
	}
	toks := a["items"].([]any)[0].(map[string]any)["explanation"].(map[string]any)["tokens"].([]any)
	if len(toks) == 0 || !strings.HasPrefix(toks[0].(map[string]any)["token"].(string), "word:") {
		t.Fatalf("the words that carried it: %v", toks)
	}
}
