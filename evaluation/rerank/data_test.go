package rerank

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const sample = `id,product_uid,product_title,search_term,relevance
3,100001,Simpson Strong-Tie 12-Gauge Angle,angle bracket,3
9,100002,"BEHR Premium Textured DeckOver 1-gal. #SC-141 Tugboat, ""Wood"" Coating",deck over,3
16,100005,Delta Vero 1-Handle Shower Only Faucet Trim Kit,shower faucet,2.33
17,100001,Simpson Strong-Tie 12-Gauge Angle,deck over,1
18,100006,Whirlpool Microwave, angle bracket ,1.67
`

func gzipBytes(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRead(t *testing.T) {
	reordered := "relevance,search_term,extra,product_title,product_uid,id\n" +
		"3,angle bracket,x,Simpson Strong-Tie 12-Gauge Angle,100001,3\n" +
		`3,deck over,y,"BEHR Premium Textured DeckOver 1-gal. #SC-141 Tugboat, ""Wood"" Coating",100002,9` + "\n" +
		"2.33,shower faucet,z,Delta Vero 1-Handle Shower Only Faucet Trim Kit,100005,16\n" +
		"1,deck over,,Simpson Strong-Tie 12-Gauge Angle,100001,17\n" +
		"1.67, angle bracket ,,Whirlpool Microwave,100006,18\n"
	tests := []struct {
		name string
		data []byte
	}{
		{"plain", []byte(sample)},
		{"gzip", gzipBytes(t, sample)},
		{"CRLF", []byte(strings.ReplaceAll(sample, "\n", "\r\n"))},
		{"byte order mark", []byte("\ufeff" + sample)},
		{"columns in another order, extra column", []byte(reordered)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qs, err := Read(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			var texts []string
			for _, q := range qs {
				texts = append(texts, q.Text)
			}
			if want := []string{"angle bracket", "deck over", "shower faucet"}; !slices.Equal(texts, want) {
				t.Fatalf("queries = %q, want %q", texts, want)
			}
			want := []Item{
				{ID: "9", ProductUID: "100002", Title: `BEHR Premium Textured DeckOver 1-gal. #SC-141 Tugboat, "Wood" Coating`, Relevance: 3},
				{ID: "17", ProductUID: "100001", Title: "Simpson Strong-Tie 12-Gauge Angle", Relevance: 1},
			}
			if !slices.Equal(qs[1].Items, want) {
				t.Errorf("deck over items = %+v, want %+v", qs[1].Items, want)
			}
			if got := qs[0].Items[1]; got.ProductUID != "100006" || got.Relevance != 1.67 {
				t.Errorf("trimmed search term not grouped: %+v", got)
			}
			if Judgements(qs) != 5 {
				t.Errorf("Judgements = %d, want 5", Judgements(qs))
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	const header = "id,product_uid,product_title,search_term,relevance\n"
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "no header"},
		{"header only", header, "no judgements"},
		{"missing column", "id,product_uid,product_title,search_term\n1,2,t,q\n", `lacks the column "relevance"`},
		{"relevance not a number", header + "1,2,t,q,3\n2,2,t,q,high\n", `line 3: relevance "high"`},
		{"relevance too high", header + "1,2,t,q,3.5\n", "line 2: relevance"},
		{"relevance too low", header + "1,2,t,q,0\n", "line 2: relevance"},
		{"relevance NaN", header + "1,2,t,q,NaN\n", "line 2: relevance"},
		{"empty search term", header + "1,2,t,  ,2\n", "line 2: empty search_term"},
		{"empty product", header + "1,,t,q,2\n", "line 2: empty product_uid"},
		{"ragged row", header + "1,2,t,q\n", "wrong number of fields"},
		{"bad quoting", header + "1,2,\"t,q,2\n", "extraneous or missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Read error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	// The name says nothing: gzip is detected from the content.
	path := filepath.Join(dir, "judgements.csv")
	if err := os.WriteFile(path, gzipBytes(t, sample), 0o644); err != nil {
		t.Fatal(err)
	}
	qs, err := ReadFile(path)
	if err != nil || len(qs) != 3 {
		t.Fatalf("ReadFile = %d queries, %v; want 3, nil", len(qs), err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestSplitByQuery(t *testing.T) {
	qs := make([]Query, 101)
	for i := range qs {
		qs[i] = Query{Text: string(rune(0x4e00 + i))}
	}
	texts := func(qs []Query) []string {
		var out []string
		for _, q := range qs {
			out = append(out, q.Text)
		}
		return out
	}
	tests := []struct {
		frac     float64
		wantTest int
	}{{0, 0}, {0.2, 20}, {0.5, 51}, {1, 101}}
	for _, tt := range tests {
		train, test := SplitByQuery(qs, tt.frac, 1)
		if len(test) != tt.wantTest || len(train)+len(test) != len(qs) {
			t.Errorf("SplitByQuery(%v): %d train, %d test; want %d test of %d", tt.frac, len(train), len(test), tt.wantTest, len(qs))
		}
		// Every query lands in exactly one part, each part in input order.
		all := append(texts(train), texts(test)...)
		slices.Sort(all)
		if !slices.Equal(all, texts(qs)) {
			t.Errorf("SplitByQuery(%v) lost or repeated queries", tt.frac)
		}
		if !slices.IsSorted(texts(train)) || !slices.IsSorted(texts(test)) {
			t.Errorf("SplitByQuery(%v) did not keep the input order", tt.frac)
		}
	}
	_, a := SplitByQuery(qs, 0.2, 1)
	_, b := SplitByQuery(qs, 0.2, 1)
	_, c := SplitByQuery(qs, 0.2, 2)
	if !slices.Equal(texts(a), texts(b)) {
		t.Error("the same seed gave different splits")
	}
	if slices.Equal(texts(a), texts(c)) {
		t.Error("seeds 1 and 2 gave the same split")
	}
	for _, frac := range []float64{-0.1, 1.1, 0.0 / zero()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SplitByQuery(%v) did not panic", frac)
				}
			}()
			SplitByQuery(qs, frac, 1)
		}()
	}
}

func zero() float64 { return 0 }
