package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/postgres"
	"github.com/fusionrank/fusionrank/ranking"
	"github.com/fusionrank/fusionrank/training"
)

// loadSearchData adds what the query slots learn from to data: the vocabulary of the
// text encoder (FUSIONRANK_TEXT_VECTORS) over the catalogue's words and the logged
// searches' words, each item's words (for pseudo-queries), and the logged searches
// that are not held out, with their outcomes (the feature store's search export). It
// returns the number of searches. Without word vectors or a text modality it adds
// nothing: the model then has no query slots.
func loadSearchData(ctx context.Context, db *postgres.DB, cfg Config, data *trainingData, ids []string, logf func(string, ...any)) (int, error) {
	hasText := false
	for _, f := range data.Fixed {
		hasText = hasText || f.Name == "text"
	}
	if cfg.TextVectors == "" || !hasText {
		logf("no text modality or word vectors (FUSIONRANK_TEXT_VECTORS): no query slots")
		return 0, nil
	}
	enc, err := text.LoadFile(cfg.TextVectors)
	if err != nil {
		return 0, fmt.Errorf("FUSIONRANK_TEXT_VECTORS: %w", err)
	}
	if cfg.TextSubwords {
		enc = enc.WithSubwords()
	}
	vocab := map[string]int32{}
	wordIDs := func(s string) []int32 {
		words, vecs, _ := enc.Tokens(s)
		out := make([]int32, len(words))
		for k, w := range words {
			id, ok := vocab[w]
			if !ok {
				id = int32(len(data.Vocab))
				vocab[w] = id
				data.Vocab = append(data.Vocab, vecs[k])
			}
			out[k] = id
		}
		return out
	}
	index := make(map[string]int32, len(ids))
	for i, id := range ids {
		index[id] = int32(i)
	}
	data.ItemWords = make([][]int32, len(ids))
	titles := make([]string, len(ids))
	err = features.EachItemText(ctx, db, func(id, title, desc string) {
		if i, ok := index[id]; ok {
			data.ItemWords[i] = wordIDs(title + " " + desc)
			titles[i] = title
		}
	})
	if err != nil {
		return 0, err
	}
	fixed := map[string]int{}
	for _, f := range data.Fixed {
		fixed[f.Name] = f.Dim
	}
	n, err := features.ExportSearches(ctx, db, false, func(ls features.LoggedSearch) error {
		s := training.Search{User: -1, Time: ls.At.Unix(), Judged: ls.Judged, Words: wordIDs(ls.Text)}
		if u, ok := data.users[ls.UserID]; ok && ls.UserID != "" {
			s.User = int32(u)
		}
		for m, v := range ls.Vectors {
			if dim, ok := fixed[m]; ok && m != "text" && len(v) == dim {
				c := append([]float32(nil), v...)
				fusionrank.Normalize(c)
				if s.Vectors == nil {
					s.Vectors = map[string][]float32{}
				}
				s.Vectors[m] = c
			}
		}
		for p, im := range ls.Impressions {
			i, ok := index[im.ItemID]
			if !ok {
				continue
			}
			e := float32(math.NaN())
			if im.EngineScore != nil {
				e = float32(*im.EngineScore)
			}
			s.Items = append(s.Items, i)
			s.Engine = append(s.Engine, e)
			s.Outcome = append(s.Outcome, float32(ls.Outcomes[p]))
		}
		// The match features of each shown item, as the service computes them for a
		// rerank request (the query's words against the item's title).
		if m := text.NewMatch(ls.Text); !m.Empty() && len(s.Items) > 0 {
			s.Match = make([]float32, len(s.Items)*ranking.NMatch)
			for c, it := range s.Items {
				m.Features(s.Match[c*ranking.NMatch:], titles[it])
			}
		}
		if len(s.Items) > 0 {
			data.Searches = append(data.Searches, s)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	logf("read %d logged searches (%d kept), vocabulary of %d words", n, len(data.Searches), len(data.Vocab))
	return len(data.Searches), nil
}

// searchOptions sets the search mix candidates from the --search-mix flag (checked
// by parseMix before training).
func searchOptions(opt *training.Options, mix string) {
	ws, _ := parseMix(mix)
	opt.SearchMix = ws
}

// parseMix parses comma-separated positive weights.
func parseMix(s string) ([]float64, error) {
	var ws []float64
	for _, p := range strings.Split(s, ",") {
		w, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(w > 0) || math.IsInf(w, 0) {
			return nil, fusionrank.Errorf(fusionrank.Invalid, "--search-mix: %q is not a positive number", p)
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// searchMetrics adds what the query slots learned to the registered metrics, which
// `fusionrank models show` prints: the learned engine_score weight, the mix of search
// and behavioural examples and the search validation figures.
func searchMetrics(m map[string]float64, res *training.Result, mix string) {
	if res.Layout.Words == 0 {
		return
	}
	m["engine_weight"] = float64(res.Model.U[ranking.FeatEngine])
	m["engine_weight_start"] = res.EngineWeight
	for _, f := range []int{ranking.FeatMatchShare, ranking.FeatMatchAll, ranking.FeatMatchLast, ranking.FeatTitleWords} {
		m[ranking.FeatureNames[f]+"_weight"] = float64(res.Model.U[f])
	}
	m["match_share_weight_start"] = res.MatchWeight
	m["search_mix"] = res.SearchMix
	m["search_examples"] = float64(res.SearchExamples)
	m["pseudo_queries"] = float64(res.PseudoQueries)
	m["word_slots"] = float64(res.Layout.Words)
	if !math.IsNaN(res.SearchValidation) {
		m["search_NDCG@10"] = res.SearchValidation
		m["engine_order_NDCG@10"] = res.EngineValidation
	}
	ws, _ := parseMix(mix)
	for k, c := range res.MixValidation {
		if k < len(ws) {
			m["mix_criterion@"+strconv.FormatFloat(ws[k], 'g', -1, 64)] = c
		}
	}
}
