package retrieval

import (
	"bufio"
	"compress/gzip"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// mixture returns n unit vectors of length dim drawn from a seeded Gaussian
// mixture: clusters random unit centres, each point a centre plus isotropic
// noise of total norm about spread, then normalised. With spread 0.7 the
// neighbourhoods are fuzzy (a point's 100 nearest neighbours straddle
// clusters), closer to learned embeddings than uniform noise on the sphere,
// on which every approximate index degenerates to a scan at d = 128.
func mixture(n, dim, clusters int, spread float64, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 42))
	centres := make([]float32, clusters*dim)
	for c := range clusters {
		row := centres[c*dim : (c+1)*dim]
		for i := range row {
			row[i] = float32(rng.NormFloat64())
		}
		normaliseTo(row, row)
	}
	out := make([]float32, n*dim)
	sd := spread / math.Sqrt(float64(dim))
	for p := range n {
		// Zipf-ish cluster sizes: popular clusters are denser, as in catalogues.
		c := int(float64(clusters) * math.Pow(rng.Float64(), 2))
		row := out[p*dim : (p+1)*dim]
		cen := centres[c*dim : (c+1)*dim]
		for i := range row {
			row[i] = cen[i] + float32(sd*rng.NormFloat64())
		}
		normaliseTo(row, row)
	}
	return out
}

// mixtureQueries draws queries from the same mixture as mixture(n, ...) by
// generating n+nq points and keeping the last nq: they are not in the index.
func mixtureSplit(n, nq, dim, clusters int, spread float64, seed uint64) (items, queries []float32) {
	all := mixture(n+nq, dim, clusters, spread, seed)
	return all[:n*dim], all[n*dim:]
}

// loadGloVe reads up to max word vectors from the shared GloVe file, or
// skips the test when it is absent.
func loadGloVe(tb testing.TB, max int) (vecs []float32, dim int) {
	const path = "/work/shared/datasets/glove/glove-6B-100d-top50k.txt.gz"
	f, err := os.Open(path)
	if err != nil {
		tb.Skipf("GloVe vectors not available: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() && n < max {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		if dim == 0 {
			dim = len(fields) - 1
		}
		if len(fields)-1 != dim {
			continue
		}
		for _, s := range fields[1:] {
			x, err := strconv.ParseFloat(s, 32)
			if err != nil {
				tb.Fatal(err)
			}
			vecs = append(vecs, float32(x))
		}
		n++
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return vecs, dim
}

// recallAt returns |got ∩ want| / |want| over slots.
func recallAt(got, want []Hit) float64 {
	if len(want) == 0 {
		return 1
	}
	set := make(map[int32]bool, len(want))
	for _, w := range want {
		set[w.Slot] = true
	}
	hit := 0
	for _, g := range got {
		if set[g.Slot] {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

func seqSlots(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(i)
	}
	return s
}
