// Package gz reads data files that may or may not be gzip-compressed, telling them
// apart by their first two bytes rather than by their names: every data-set reader,
// the word-vector loader and `fusionrank import` take both.
package gz

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
)

// Reader returns r through a buffer of size bytes, decompressed when it starts with the
// gzip magic bytes; done releases the decompressor (it does not close r).
func Reader(r io.Reader, size int) (_ io.Reader, done func(), _ error) {
	br := bufio.NewReaderSize(r, size)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	}
	return br, func() {}, nil
}

// Open opens the file at path as Reader does, with a 1 MiB buffer; done closes it. size
// is the file's size on disk (compressed, when it is).
func Open(path string) (_ io.Reader, done func(), size int64, _ error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, err
	}
	r, release, err := Reader(f, 1<<20)
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return r, func() { release(); f.Close() }, st.Size(), nil
}
