package ranking

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/fusionrank/fusionrank/internal/cputime"
	"github.com/fusionrank/fusionrank/internal/kernel"
)

// attendReference is the plain-Go reference for the attention part of a
// score: the DESIGN.md formulas as written, with row-major Q and R (Lq ×
// d_a, unscaled) and an item's row-major K and V (M × d_a each). s is
// Lq × M scratch. It is the baseline of BenchmarkFusionReference.
func attendReference(q, r, beta []float32, qmask []bool, k, v []float32, kmask uint64, M, da int, s []float32) float32 {
	lq := len(qmask)
	scale := float32(1 / math.Sqrt(float64(da)))
	mx := float32(math.Inf(-1))
	for i := range lq {
		if !qmask[i] {
			continue
		}
		for j := range M {
			if kmask&(1<<j) == 0 {
				continue
			}
			var d float32
			for e := range da {
				d += q[i*da+e] * k[j*da+e]
			}
			s[i*M+j] = d*scale + beta[i]
			mx = max(mx, s[i*M+j])
		}
	}
	if math.IsInf(float64(mx), -1) {
		return 0
	}
	var z, num float32
	for i := range lq {
		if !qmask[i] {
			continue
		}
		for j := range M {
			if kmask&(1<<j) == 0 {
				continue
			}
			var t float32
			for e := range da {
				t += r[i*da+e] * v[j*da+e]
			}
			a := float32(math.Exp(float64(s[i*M+j] - mx)))
			z += a
			num += a * t
		}
	}
	return num / z
}

// referenceItems copies an ItemKV's rows into row-major K and V (n × M × d_a each) for attendReference.
func referenceItems(kv *ItemKV) (k, v []float32) {
	M, da := kv.m, kv.da
	n := kv.Len()
	k = make([]float32, n*M*da)
	v = make([]float32, n*M*da)
	for c := range n {
		row := kv.data[c*kv.stride():]
		for j := range M {
			copy(k[(c*M+j)*da:(c*M+j+1)*da], row[j*da:])
			copy(v[(c*M+j)*da:(c*M+j+1)*da], row[(M+j)*da:])
		}
	}
	return k, v
}

// scoreReference scores every row of kv with attendReference plus u·f + b.
func scoreReference(dst []float32, m *Model, ws *Workspace, kv *ItemKV, k, v []float32, features []float32, s []float32) {
	M, da, F := kv.m, kv.da, m.cfg.NFeatures
	beta := m.PosBias[:ws.lq]
	for c := range dst {
		sc := attendReference(ws.q, ws.r, beta, ws.qmask, k[c*M*da:(c+1)*M*da], v[c*M*da:(c+1)*M*da], kv.masks[c], M, da, s)
		sc += m.B[0]
		for f, u := range m.U {
			sc += u * features[c*F+f]
		}
		dst[c] = sc
	}
}

// referenceScores scores cands for q with the plain reference: the query
// and item projections of the serving path, then attendReference.
func referenceScores(m *Model, q Query, cands []Candidate) []float32 {
	F := m.cfg.NFeatures
	ws := new(Workspace)
	m.QueryTo(ws, q)
	kv := m.NewItemKV(len(cands))
	feats := make([]float32, len(cands)*F)
	for c, cd := range cands {
		m.ItemKVTo(kv, c, cd.Tokens, cd.Mask)
		copy(feats[c*F:], cd.Features)
	}
	k, v := referenceItems(kv)
	want := make([]float32, len(cands))
	scoreReference(want, m, ws, kv, k, v, feats, make([]float32, max(1, len(q.Tokens))*len(m.cfg.Modalities)))
	return want
}

// TestFastMatchesReference compares ScoreTo (the fast path of this build)
// with the plain reference on whole scores.
func TestFastMatchesReference(t *testing.T) {
	for i, s := range append(randomShapes, shape{dims: []int{100, 512, 64, 32}, d: 64, da: 128, f: 3, lq: 16, n: 20}) {
		t.Run(s.String(), func(t *testing.T) {
			m, q, cands := randomProblem(s, uint64(300+i))
			got := scoreCandidates(m, new(Workspace), q, cands, nil)
			want := referenceScores(m, q, cands)
			for c := range want {
				if !closeTo(float64(got[c]), float64(want[c]), 1e-4, 1e-4) {
					t.Errorf("candidate %d: fast %v, reference %v", c, got[c], want[c])
				}
			}
		})
	}
}

// perCandidate runs body b.N-ish times (via b.Loop) on a locked OS thread
// and reports wall and thread-CPU nanoseconds per candidate.
func perCandidate(b *testing.B, n int, body func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	iters := 0
	cpu0 := cputime.Thread()
	for b.Loop() {
		body()
		iters++
	}
	cpu := cputime.Thread() - cpu0
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iters*n), "ns/candidate")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(iters*n), "cpu-ns/candidate")
	}
}

type benchShape struct{ n, lq, m, da int }

func (s benchShape) String() string {
	return fmt.Sprintf("N=%d/Lq=%d/M=%d/d=%d", s.n, s.lq, s.m, s.da)
}

var benchShapes = []benchShape{
	{n: 1000, lq: 16, m: 4, da: 128}, // the shape of the issue
	{n: 1000, lq: 8, m: 4, da: 64},
	{n: 1000, lq: 32, m: 3, da: 128},
	{n: 20000, lq: 16, m: 4, da: 128}, // 40 MB of keys and values: memory-bound
}

// benchSetup builds a model, a full-length query and n items whose keys
// and values are random (computing real ones would dominate the setup).
func benchSetup(s benchShape) (*Model, *Workspace, *ItemKV, []int, []float32) {
	rng := rand.New(rand.NewPCG(uint64(s.n), uint64(s.da)))
	cfg := Config{DModel: 64, DAttn: s.da, NFeatures: 3, MaxQueryTokens: s.lq}
	for j := range s.m {
		cfg.Modalities = append(cfg.Modalities, Modality{Name: fmt.Sprint(j), Dim: 32})
	}
	m := NewRandomModel(cfg, rng)
	q := Query{}
	for i := range s.lq {
		q.Tokens = append(q.Tokens, randVec(rng, 32))
		q.Modality = append(q.Modality, i%s.m)
	}
	ws := new(Workspace)
	m.QueryTo(ws, q)
	kv := m.NewItemKV(s.n)
	for c := range s.n {
		row := kv.data[c*kv.stride() : (c+1)*kv.stride()]
		for j := range 2 * s.m {
			for e := range s.da {
				row[j*kv.da+e] = float32(rng.NormFloat64() * 0.3)
			}
		}
	}
	rows := make([]int, s.n)
	for c := range rows {
		kv.masks[c] = 1<<s.m - 1
		rows[c] = c
	}
	return m, ws, kv, rows, randVec(rng, s.n*3)
}

// BenchmarkFusion measures ScoreTo per candidate at the kernel level the
// CPU has (kernel.Active, logged); build the test with -tags noavx512 or
// -tags purego to measure the AVX2 path or the pure-Go twin.
func BenchmarkFusion(b *testing.B) {
	b.Logf("kernel level %v", kernel.Active())
	for _, s := range benchShapes {
		b.Run(s.String(), func(b *testing.B) {
			m, ws, kv, rows, feats := benchSetup(s)
			dst := make([]float32, s.n)
			perCandidate(b, s.n, func() { m.ScoreTo(dst, ws, kv, rows, feats, nil) })
		})
	}
}

// BenchmarkFusionExplain is BenchmarkFusion with both explanations.
func BenchmarkFusionExplain(b *testing.B) {
	for _, s := range benchShapes[:1] {
		b.Run(s.String(), func(b *testing.B) {
			m, ws, kv, rows, feats := benchSetup(s)
			dst := make([]float32, s.n)
			ex := &Explanations{Modality: make([]float32, s.n*s.m), Token: make([]float32, s.n*s.lq)}
			perCandidate(b, s.n, func() { m.ScoreTo(dst, ws, kv, rows, feats, ex) })
		})
	}
}

// BenchmarkFusionReference measures the plain-Go reference (row-major
// loops straight from the formulas) on the same shapes as BenchmarkFusion.
func BenchmarkFusionReference(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.String(), func(b *testing.B) {
			m, ws, kv, _, feats := benchSetup(s)
			k, v := referenceItems(kv)
			dst := make([]float32, s.n)
			scratch := make([]float32, s.lq*s.m)
			perCandidate(b, s.n, func() {
				scoreReference(dst, m, ws, kv, k, v, feats, scratch)
			})
		})
	}
}
