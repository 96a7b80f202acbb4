package text

import (
	"slices"
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
		{"CJK letters form a run", "東京タワー 2", []string{"東京タワー", "2"}},
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
