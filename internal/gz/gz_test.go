package gz

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestReaderAndOpen: plain and gzip input read the same; a file that starts like gzip
// but is not one is an error naming the path.
func TestReaderAndOpen(t *testing.T) {
	want := "a\tb\n1\t2\n"
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(want))
	zw.Close()
	dir := t.TempDir()
	for name, data := range map[string][]byte{"plain.tsv": []byte(want), "packed.tsv": zb.Bytes()} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, done, size, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		done()
		if err != nil || string(got) != want || size != int64(len(data)) {
			t.Errorf("%s: %q, size %d, %v", name, got, size, err)
		}
	}
	bad := filepath.Join(dir, "bad.gz")
	os.WriteFile(bad, []byte{0x1f, 0x8b, 0, 0}, 0o644)
	if _, _, _, err := Open(bad); err == nil || !bytes.Contains([]byte(err.Error()), []byte(bad)) {
		t.Errorf("broken gzip: %v", err)
	}
}
