package fusion

import (
	"fmt"
	"sync"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/training"
)

// TextModality returns a Fixed function giving every item a "text" vector:
// its description encoded by the built-in text encoder (SIF-weighted mean of
// the word vectors in the GloVe file at path, unit length). The word
// vectors are loaded once, on first use. Items without text, or with no
// known word, lack the modality.
func TextModality(path string) func(*evaluation.Sequences) ([]training.FixedModality, error) {
	var (
		once sync.Once
		enc  *text.Encoder
		err  error
	)
	return func(s *evaluation.Sequences) ([]training.FixedModality, error) {
		if s.ItemText == nil {
			return nil, fmt.Errorf("the data has no item text")
		}
		once.Do(func() { enc, err = text.LoadFile(path) })
		if err != nil {
			return nil, err
		}
		fm := training.FixedModality{Name: "text", Dim: enc.Dim(), Vectors: make([][]float32, s.NumItems)}
		for i, t := range s.ItemText {
			v := make([]float32, enc.Dim())
			if known, _ := enc.EncodeTo(v, t); known > 0 {
				fm.Vectors[i] = v
			}
		}
		return []training.FixedModality{fm}, nil
	}
}

// ItemWords returns a Words function: the vocabulary of the items' descriptions
// (the GloVe file at path, tokenised as the service tokenises queries) and each
// item's words as indices into it. The word vectors are loaded once.
func ItemWords(path string) func(*evaluation.Sequences) ([][]float32, [][]int32, error) {
	var (
		once sync.Once
		enc  *text.Encoder
		err  error
	)
	return func(s *evaluation.Sequences) ([][]float32, [][]int32, error) {
		if s.ItemText == nil {
			return nil, nil, fmt.Errorf("the data has no item text")
		}
		once.Do(func() { enc, err = text.LoadFile(path) })
		if err != nil {
			return nil, nil, err
		}
		ids := map[string]int32{}
		var vocab [][]float32
		words := make([][]int32, s.NumItems)
		for i, t := range s.ItemText {
			ws, vs, _ := enc.Tokens(t)
			for k, w := range ws {
				id, ok := ids[w]
				if !ok {
					id = int32(len(vocab))
					ids[w] = id
					vocab = append(vocab, vs[k])
				}
				words[i] = append(words[i], id)
			}
		}
		return vocab, words, nil
	}
}
