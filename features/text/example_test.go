package text_test

import (
	"fmt"
	"strings"

	"github.com/fusionrank/fusionrank/features/text"
)

func ExampleTokenize() {
	fmt.Printf("%q\n", text.Tokenize("Men's 12-Gauge Steel Angle, 1/2 in. (2x4)"))
	// Output: ["men" "12" "gauge" "steel" "angle" "1" "2" "in" "2x4"]
}

func ExampleEncoder_EncodeTo() {
	// Three 2-d word vectors, most frequent first (GloVe order).
	enc, err := text.Load(strings.NewReader("the 1 0\ndrill 0 3\ncordless 4 0\n"))
	if err != nil {
		panic(err)
	}
	v := make([]float32, enc.Dim())
	known, unknown := enc.EncodeTo(v, "Cordless Drill", "with the battery")
	fmt.Printf("known %d, unknown %d, vector [%.3f %.3f]\n", known, unknown, v[0], v[1])

	words, vecs, unknown := enc.Tokens("drill the")
	fmt.Println(words, vecs, unknown)
	// Output:
	// known 3, unknown 2, vector [0.908 0.420]
	// [drill the] [[0 1] [1 0]] 0
}
