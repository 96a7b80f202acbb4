package photo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
)

// testImage is a 40×30 gradient.
func testImage() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			img.Set(x, y, color.RGBA{uint8(6 * x), uint8(8 * y), 90, 255})
		}
	}
	return img
}

func encodeJPEG(t testing.TB) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t testing.TB) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeader is a PNG signature and an IHDR chunk of w×h (8-bit RGB), with nothing after
// it: a decoder that trusted it would allocate w×h pixels.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], 13)
	b.Write(l[:])
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.BigEndian.PutUint32(l[:], crc32.ChecksumIEEE(chunk))
	b.Write(l[:])
	return b.Bytes()
}

// tinyWebP is a 1×1 lossless WebP file.
const tinyWebP = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="

func TestDecodeFormats(t *testing.T) {
	var g bytes.Buffer
	pal := image.NewPaletted(image.Rect(0, 0, 5, 4), []color.Color{color.White, color.Black})
	if err := gif.Encode(&g, pal, nil); err != nil {
		t.Fatal(err)
	}
	webp, _ := base64.StdEncoding.DecodeString(tinyWebP)
	for _, tc := range []struct {
		name, ct string
		data     []byte
		w, h     int
	}{
		{"jpeg", "image/jpeg", encodeJPEG(t), 40, 30},
		{"png", "image/png", encodePNG(t), 40, 30},
		{"gif", "image/gif", g.Bytes(), 5, 4},
		{"webp", "image/webp", webp, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, info, err := Decode("image", tc.data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if info.ContentType != tc.ct || info.Width != tc.w || info.Height != tc.h || img.Bounds().Dx() != tc.w || len(info.SHA256) != 64 {
				t.Fatalf("info %+v, bounds %v; want %s %d×%d", info, img.Bounds(), tc.ct, tc.w, tc.h)
			}
		})
	}
}

func TestDecodeRefusesBadInput(t *testing.T) {
	jpg := encodeJPEG(t)
	for _, tc := range []struct {
		name string
		data []byte
		lim  Limits
		want string
	}{
		{"empty", nil, Limits{}, "image: empty"},
		{"truncated JPEG", jpg[:len(jpg)/2], Limits{}, "image: not a valid JPEG file: the file is truncated"},
		{"20000×20000 PNG header", pngHeader(20000, 20000), Limits{}, "image: 20000×20000 is 400000000 pixels, over the limit of 36000000"},
		{"over the pixel limit", encodePNG(t), Limits{MaxPixels: 1000}, "image: 40×30 is 1200 pixels, over the limit of 1000"},
		{"over the byte limit", jpg, Limits{MaxBytes: 100}, "over the limit of 100 bytes"},
		{"text", []byte("hello, this is not a photo"), Limits{}, "image: not an image: the content is text/plain; charset=utf-8"},
		{"html", []byte("<html><body>hi</body></html>"), Limits{}, "not an image: the content is text/html"},
		{"pdf", []byte("%PDF-1.4 ..."), Limits{}, "not an image: the content is application/pdf"},
		{"PNG header only", pngHeader(10, 10), Limits{}, "image: not a valid PNG file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode("image", tc.data, tc.lim)
			if err == nil || fusionrank.ErrorCode(err) != fusionrank.Invalid || !strings.Contains(fusionrank.ErrorMessage(err), tc.want) {
				t.Fatalf("error %v (code %s), want Invalid containing %q", err, fusionrank.ErrorCode(err), tc.want)
			}
		})
	}
}

// TestDecompressionBombReadsOnlyTheHeader: the pixel limit is applied before decoding,
// so a header that announces 400 megapixels costs no allocation of them.
func TestDecompressionBombReadsOnlyTheHeader(t *testing.T) {
	data := pngHeader(20000, 20000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := Decode("image", data, Limits{})
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a 400-megapixel header was accepted")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("refusing a bomb's header allocated %d bytes", grew)
	}
}

func TestCheckURL(t *testing.T) {
	f := NewFetcher(FetchOptions{})
	for _, tc := range []struct{ url, want string }{
		{"ftp://example.com/a.jpg", "not an http or https URL"},
		{"/relative.jpg", "not an http or https URL"},
		{"http://127.0.0.1/a.jpg", "127.0.0.1 is a loopback address"},
		{"http://[::1]:8080/a.jpg", "::1 is a loopback address"},
		{"http://10.1.2.3/a.jpg", "10.1.2.3 is a private address"},
		{"http://192.168.0.10/a.jpg", "a private address"},
		{"http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"},
		{"http://[fe80::1]/a.jpg", "a link-local address"},
		{"http://0.0.0.0/a.jpg", "the unspecified address"},
		{"http://100.64.1.1/a.jpg", "carrier-grade NAT"},
		{"http://localhost:9000/a.jpg", "localhost is a loopback name"},
		{"http://[::ffff:10.0.0.1]/a.jpg", "a private address"},
		{"http://example.com/" + strings.Repeat("a", MaxURLLen), "longer than 2048 bytes"},
	} {
		err := f.CheckURL("image_url", tc.url)
		if err == nil || !strings.HasPrefix(fusionrank.ErrorMessage(err), "image_url: ") || !strings.Contains(fusionrank.ErrorMessage(err), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.url, err, tc.want)
		}
	}
	if err := f.CheckURL("image_url", "https://shop.example.com/p/1.jpg?w=400"); err != nil {
		t.Errorf("a public URL: %v", err)
	}
	if err := NewFetcher(FetchOptions{AllowPrivate: true}).CheckURL("image_url", "http://127.0.0.1/a.jpg"); err != nil {
		t.Errorf("loopback allowed: %v", err)
	}
}

// exemptServer starts a test server the fetcher may reach although it is on loopback:
// every other non-public address stays refused at dial time.
func exemptServer(t *testing.T, f *Fetcher, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.exempt = map[string]bool{srv.Listener.Addr().String(): true}
	return srv
}

func TestFetch(t *testing.T) {
	jpg := encodeJPEG(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(jpg) }))
	defer other.Close()
	_, otherPort, _ := net.SplitHostPort(other.Listener.Addr().String())
	f := NewFetcher(FetchOptions{Timeout: 300 * time.Millisecond, MaxRedirects: 2, MaxBytes: 10_000})
	mux := http.NewServeMux()
	mux.HandleFunc("/ok.jpg", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(jpg) })
	mux.HandleFunc("/slow.jpg", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	})
	mux.HandleFunc("/missing.jpg", http.NotFound)
	mux.HandleFunc("/broken.jpg", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	mux.HandleFunc("/big.jpg", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(make([]byte, 20_000)) })
	// A redirect to a name that resolves to loopback (another port, not exempt): the
	// check at dial time refuses it, though the first URL was fine.
	mux.HandleFunc("/to-localhost.jpg", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:"+otherPort+"/x.jpg", http.StatusFound)
	})
	mux.HandleFunc("/to-metadata.jpg", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data", http.StatusFound)
	})
	mux.HandleFunc("/loop.jpg", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop.jpg", http.StatusFound) })
	srv := exemptServer(t, f, mux)
	ctx := context.Background()

	data, err := f.Fetch(ctx, "image_url", srv.URL+"/ok.jpg")
	if err != nil || !bytes.Equal(data, jpg) {
		t.Fatalf("ok: %v (%d bytes)", err, len(data))
	}
	for _, tc := range []struct {
		path, want string
		retry      bool
	}{
		{"/slow.jpg", "image_url: the server did not send the photo within the fetch timeout of 300ms", true},
		{"/missing.jpg", "image_url: the server answered 404 Not Found", false},
		{"/broken.jpg", "image_url: the server answered 503", true},
		{"/big.jpg", "over the limit of 10000 bytes", false},
		{"/to-localhost.jpg", "image_url: refused: the address 127.0.0.1 is a loopback address", false},
		{"/to-metadata.jpg", "169.254.169.254 is a link-local address", false},
		{"/loop.jpg", "more than 2 redirects", false},
	} {
		start := time.Now()
		_, err := f.Fetch(ctx, "image_url", srv.URL+tc.path)
		if err == nil || !strings.Contains(fusionrank.ErrorMessage(err), tc.want) || Retryable(err) != tc.retry {
			t.Errorf("%s: %v (retryable %v), want %q (retryable %v)", tc.path, err, Retryable(err), tc.want, tc.retry)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s took %s", tc.path, d)
		}
	}
}
