package ranking_test

import (
	"testing"

	"github.com/fusionrank/fusionrank/internal/rankingtest"
	"github.com/fusionrank/fusionrank/ranking"
)

// TestGoldenForward checks the served scores and both explanations
// against the golden cases (../shared/golden/fusion_golden.json).
func TestGoldenForward(t *testing.T) {
	names, cases := rankingtest.Golden(t)
	for _, name := range names {
		gc := cases[name]
		t.Run(name, func(t *testing.T) {
			m, q, cands := gc.Build(t)
			n, M, lq := len(cands), len(m.Config().Modalities), len(q.Tokens)
			ex := &ranking.Explanations{Modality: make([]float32, n*M), Token: make([]float32, n*lq)}
			scores := rankingtest.Served(m, q, cands, ex)
			for c := range n {
				if !rankingtest.Close(float64(scores[c]), gc.Expected.Scores[c], 1e-4, 1e-5) {
					t.Errorf("score[%d] = %v, want %v", c, scores[c], gc.Expected.Scores[c])
				}
				for j := range M {
					if got, want := ex.Modality[c*M+j], gc.Expected.ModalityAttention[c][j]; !rankingtest.Close(float64(got), want, 1e-4, 1e-5) {
						t.Errorf("modality attention[%d][%d] = %v, want %v", c, j, got, want)
					}
				}
				for i := range lq {
					if got, want := ex.Token[c*lq+i], gc.Expected.TokenAttention[c][i]; !rankingtest.Close(float64(got), want, 1e-4, 1e-5) {
						t.Errorf("token attention[%d][%d] = %v, want %v", c, i, got, want)
					}
				}
			}
		})
	}
}
