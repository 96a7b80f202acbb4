package text

import (
	"slices"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"punctuation only", " -- / ... ! ", nil},
		{"lower-cases", "Cordless DRILL", []string{"cordless", "drill"}},
		{"hyphen splits", "Simpson Strong-Tie 12-Gauge Angle", []string{"simpson", "strong", "tie", "12", "gauge", "angle"}},
		{"fractions and decimals split", "1/2 in. x 3.5 ft.", []string{"1", "2", "in", "x", "3", "5", "ft"}},
		{"letters and digits stay together", "2x4 R22 pvc40", []string{"2x4", "r22", "pvc40"}},
		{"possessive dropped", "Men's Work Boots", []string{"men", "work", "boots"}},
		{"curly possessive dropped", "Men’s boots", []string{"men", "boots"}},
		{"negation clitic dropped", "don't can't", []string{"don", "can"}},
		{"other clitics dropped", "we'll you're I've I'd I'm", []string{"we", "you", "i", "i", "i"}},
		{"apostrophe splits names", "O'Neill", []string{"o", "neill"}},
		{"chained apostrophes", "rock'n'roll", []string{"rock", "n", "roll"}},
		{"clitic only right after apostrophe", "s t ll", []string{"s", "t", "ll"}},
		{"quotes are separators", "'quoted' dogs' 'tis", []string{"quoted", "dogs", "tis"}},
		{"clitic-like word after quote kept", "say 's'", []string{"say", "s"}},
		{"precomposed accent", "Café", []string{"café"}},
		{"combining accent kept in word", "Cafe\u0301 noir", []string{"cafe\u0301", "noir"}},
		{"non-ASCII upper case", "ÉCOLE Ünïcode", []string{"école", "ünïcode"}},
		{"unspaced script gives character bigrams", "東京タワー 2", []string{"東京", "京タ", "タワ", "ワー", "2"}},
		{"one Chinese character alone", "裙 dress", []string{"裙", "dress"}},
		{"Chinese inside Latin", "iPhone手机壳case", []string{"iphone", "手机", "机壳", "case"}},
		{"red long dress", "红色长裙", []string{"红色", "色长", "长裙"}},
		{"Korean is spaced: words kept", "빨간 드레스", []string{"빨간", "드레스"}},
		{"whitespace of all kinds", "a\tb\nc\r\nd\u00a0e", []string{"a", "b", "c", "d", "e"}},
		{"trademark and symbols", "BEHR® Premium™ #SC-141", []string{"behr", "premium", "sc", "141"}},
		{"invalid UTF-8 separates", "ab\xffcd", []string{"ab", "cd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Tokenize(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestSubwordsMatchUnknownWords: with subwords, a Chinese title and a Chinese query
// share vectors, so the query's pooled vector is closest to that title; an unknown
// brand matches the item that carries it; without subwords both are dropped.
func TestSubwordsMatchUnknownWords(t *testing.T) {
	base, err := Load(strings.NewReader("red 1 0 0 0\ndress 0 1 0 0\nblue 0 0 1 0\njeans 0 0 0 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	enc := base.WithSubwords()
	titles := []string{"红色长裙 夏季", "蓝色牛仔裤", "red dress", "Zorblax blue jeans", "blue jeans"}
	vecs := make([][]float32, len(titles))
	for i, s := range titles {
		vecs[i] = make([]float32, 4)
		if known, _ := enc.EncodeTo(vecs[i], s); known == 0 {
			t.Fatalf("%q: no token encoded", s)
		}
	}
	best := func(q string) string {
		v := make([]float32, 4)
		enc.EncodeTo(v, q)
		bi, bs := -1, float32(-2)
		for i, w := range vecs {
			var s float32
			for k := range v {
				s += v[k] * w[k]
			}
			if s > bs {
				bi, bs = i, s
			}
		}
		return titles[bi]
	}
	if got := best("红色长裙"); got != "红色长裙 夏季" {
		t.Errorf("红色长裙 matched %q", got)
	}
	if got := best("zorblax jeans"); got != "Zorblax blue jeans" {
		t.Errorf("zorblax jeans matched %q", got)
	}
	words, qv, unknown := enc.Tokens("红色长裙")
	if len(words) != 3 || words[0] != "红色" || unknown != 0 || len(qv) != 3 {
		t.Errorf("query tokens %v (%d unknown)", words, unknown)
	}
	// The same text, the same vector; without subwords the words are unknown.
	a, b := make([]float32, 4), make([]float32, 4)
	enc.EncodeTo(a, "长裙")
	enc.EncodeTo(b, "长裙")
	if a[0] != b[0] || a[3] != b[3] {
		t.Error("subword vectors are not deterministic")
	}
	if known, unknown := base.EncodeTo(a, "红色长裙"); known != 0 || unknown != 3 {
		t.Errorf("without subwords: %d known, %d unknown", known, unknown)
	}
}
