package kernel

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// lengths are the vector lengths every kernel is tested on: empty, one
// element, around the 8- and 16-lane vectors and the unrolled steps, and
// long.
var lengths = []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 4096}

// forEachLevel runs f once for every level this CPU and build have, with
// the kernels switched to that level.
func forEachLevel(t *testing.T, f func(t *testing.T)) {
	saved := level
	defer func() { level = saved }()
	for _, l := range Available() {
		level = l
		t.Run(l.String(), f)
	}
}

func randVec(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func TestLevels(t *testing.T) {
	ls := Available()
	if ls[0] != Go || Active() != ls[len(ls)-1] {
		t.Fatalf("available %v, active %v", ls, Active())
	}
	t.Logf("levels available: %v, active: %v", ls, Active())
}

func TestDot(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, n := range lengths {
			x, y := randVec(rng, n), randVec(rng, n+5) // y longer: only len(x) counts
			var want, mag float64
			for i := range x {
				want += float64(x[i]) * float64(y[i])
				mag += math.Abs(float64(x[i]) * float64(y[i]))
			}
			got, twin := Dot(x, y), dotGo(x, y)
			tol := 1e-6*mag + 1e-30
			if math.Abs(float64(got)-want) > tol || math.Abs(float64(got-twin)) > 2*tol {
				t.Errorf("n=%d: Dot %v, twin %v, float64 %v (tol %g)", n, got, twin, want, tol)
			}
		}
	})
}

func TestAxpy(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, n := range lengths {
			x, y := randVec(rng, n), randVec(rng, n+3)
			a := float32(rng.NormFloat64())
			got := append([]float32(nil), y...)
			twin := append([]float32(nil), y...)
			Axpy(got, a, x)
			axpyGo(twin, a, x)
			for i := range n {
				want := float64(y[i]) + float64(a)*float64(x[i])
				if math.Abs(float64(got[i])-want) > 1e-6*(1+math.Abs(want)) || math.Abs(float64(got[i]-twin[i])) > 2e-6*(1+math.Abs(want)) {
					t.Fatalf("n=%d: Axpy[%d] = %v, twin %v, float64 %v", n, i, got[i], twin[i], want)
				}
			}
			for i := n; i < n+3; i++ {
				if got[i] != y[i] {
					t.Fatalf("n=%d: Axpy wrote past len(x) at %d", n, i)
				}
			}
		}
	})
}

func TestAddMul(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(17, 18))
		for _, n := range lengths {
			x, y, d := randVec(rng, n), randVec(rng, n+1), randVec(rng, n+3)
			got := append([]float32(nil), d...)
			AddMul(got, x, y)
			for i := range n {
				want := float64(d[i]) + float64(x[i])*float64(y[i])
				if math.Abs(float64(got[i])-want) > 1e-6*(1+math.Abs(want)) {
					t.Fatalf("n=%d: AddMul[%d] = %v, want %v", n, i, got[i], want)
				}
			}
			for i := n; i < n+3; i++ {
				if got[i] != d[i] {
					t.Fatalf("n=%d: AddMul wrote past len(x) at %d", n, i)
				}
			}
		}
	})
}

// TestAxpy64 checks that adding a float32 vector scaled by a float32
// value into float64 gives the same bits on every level (the products are
// exact in float64).
func TestAxpy64(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range lengths {
		x := randVec(rng, n)
		a := float64(float32(rng.NormFloat64()))
		base := make([]float64, n+2)
		for i := range base {
			base[i] = rng.NormFloat64()
		}
		want := append([]float64(nil), base...)
		axpy64Go(want, a, x)
		forEachLevel(t, func(t *testing.T) {
			got := append([]float64(nil), base...)
			Axpy64(got, a, x)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("n=%d: Axpy64[%d] = %v, twin %v", n, i, got[i], want[i])
				}
			}
		})
	}
}

func TestAddOuter64(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x, g := randVec(rng, 9), randVec(rng, 17)
	x[3] = 0
	forEachLevel(t, func(t *testing.T) {
		dst := make([]float64, len(x)*len(g))
		AddOuter64(dst, x, g)
		AddOuter64(dst, x, g)
		for i := range x {
			for j := range g {
				if want := 2 * float64(x[i]) * float64(g[j]); dst[i*len(g)+j] != want {
					t.Fatalf("[%d,%d] = %v, want %v", i, j, dst[i*len(g)+j], want)
				}
			}
		}
	})
}

func TestExpTo(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, n := range lengths {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.Float64()*180 - 90) // past both clamps
			}
			if n > 4 {
				x[0], x[1], x[2], x[3] = 0, float32(math.Inf(-1)), -87, 88
			}
			got := make([]float32, n+1)
			got[n] = 42
			ExpTo(got, x)
			for i, v := range x {
				c := math.Min(math.Max(float64(v), -87), 88)
				want := math.Exp(c)
				if math.Abs(float64(got[i])-want) > 3e-7*want {
					t.Fatalf("n=%d: exp(%v) = %v, want %v", n, v, got[i], want)
				}
			}
			if got[n] != 42 {
				t.Fatal("ExpTo wrote past len(x)")
			}
		}
	})
}

// refMatMul returns op(a)·op(b) (+ c when add) in float64.
func refMatMul(c Mat, a Mat, ta Transpose, b Mat, tb Transpose, add bool) []float64 {
	at := func(i, l int) float64 {
		if ta {
			return float64(a.Data[l*a.Stride+i])
		}
		return float64(a.Data[i*a.Stride+l])
	}
	bt := func(l, j int) float64 {
		if tb {
			return float64(b.Data[j*b.Stride+l])
		}
		return float64(b.Data[l*b.Stride+j])
	}
	k := a.Cols
	if ta {
		k = a.Rows
	}
	out := make([]float64, len(c.Data))
	for i := range c.Data {
		out[i] = float64(c.Data[i])
	}
	for i := range c.Rows {
		for j := range c.Cols {
			var s float64
			if add {
				s = out[i*c.Stride+j]
			}
			for l := range k {
				s += at(i, l) * bt(l, j)
			}
			out[i*c.Stride+j] = s
		}
	}
	return out
}

// TestMatMul checks the product on shapes around the tiles (rows not a
// multiple of 4, columns around 8, 16, 32 and past a panel, k empty, one,
// and past a k block), with either operand transposed, overwriting and
// adding, and with padded rows (stride > columns) that must stay untouched.
func TestMatMul(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, m := range []int{1, 3, 4, 5, 9} {
			for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 33, 64, 70, 200} {
				for _, k := range []int{0, 1, 7, 130, 300} {
					for _, ta := range []Transpose{NoTrans, Trans} {
						for _, tb := range []Transpose{NoTrans, Trans} {
							for _, add := range []bool{false, true} {
								ar, ac := m, k
								if ta {
									ar, ac = k, m
								}
								br, bc := k, n
								if tb {
									br, bc = n, k
								}
								a := Mat{ar, ac, ac + 1, randVec(rng, max(ar*(ac+1), 1))}
								b := Mat{br, bc, bc + 2, randVec(rng, max(br*(bc+2), 1))}
								c := Mat{m, n, n + 3, randVec(rng, m*(n+3))}
								want := refMatMul(c, a, ta, b, tb, add)
								if add {
									MatMulAddTo(c, a, ta, b, tb)
								} else {
									MatMulTo(c, a, ta, b, tb)
								}
								for i, v := range c.Data {
									if math.Abs(float64(v)-want[i]) > 1e-5*(float64(k)+1)*(1+math.Abs(want[i])) {
										t.Fatalf("%dx%dx%d ta=%v tb=%v add=%v: c[%d] = %v, want %v", m, n, k, ta, tb, add, i, v, want[i])
									}
								}
							}
						}
					}
				}
			}
		}
	})
}

func TestVecMatMatVec(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		for _, k := range []int{1, 7, 64} {
			for _, n := range []int{1, 9, 17, 128, 130} {
				x, w := randVec(rng, k), randVec(rng, k*n)
				dst := randVec(rng, n)
				base := append([]float32(nil), dst...)
				VecMatAddTo(dst, x, w)
				got := make([]float32, n)
				VecMatTo(got, x, w)
				for j := range n {
					var s float64
					for i := range k {
						s += float64(x[i]) * float64(w[i*n+j])
					}
					if math.Abs(float64(got[j])-s) > 1e-5*(1+math.Abs(s)) || math.Abs(float64(dst[j])-s-float64(base[j])) > 1e-5*(1+math.Abs(s)) {
						t.Fatalf("k=%d n=%d: VecMat[%d] = %v (add %v), want %v", k, n, j, got[j], dst[j]-base[j], s)
					}
				}
				// W read as n × k: MatVec with a vector of n.
				y := randVec(rng, n)
				mv := make([]float32, k)
				MatVecTo(mv, w, y)
				for i := range k {
					var s float64
					for j := range n {
						s += float64(w[i*n+j]) * float64(y[j])
					}
					if math.Abs(float64(mv[i])-s) > 1e-5*(1+math.Abs(s)) {
						t.Fatalf("k=%d n=%d: MatVec[%d] = %v, want %v", k, n, i, mv[i], s)
					}
				}
			}
		}
	})
}

// attnProblem is a random attention query and candidate.
type attnProblem struct {
	m, da, lq, ld int
	q, r          [][]float32 // nil: token not set
	beta          []float32
	k, v          []float32 // m rows of ld
	mods          uint64
}

func newAttnProblem(rng *rand.Rand, m, da, lq int) attnProblem {
	p := attnProblem{m: m, da: da, lq: lq, ld: da + 3}
	p.q, p.r, p.beta = make([][]float32, lq), make([][]float32, lq), make([]float32, lq)
	set := false
	for i := range lq {
		if rng.IntN(4) == 0 && (set || i < lq-1) {
			continue // padding
		}
		set = true
		p.q[i], p.r[i] = randVec(rng, da), randVec(rng, da)
		p.beta[i] = float32(rng.NormFloat64())
	}
	p.k, p.v = randVec(rng, m*p.ld), randVec(rng, m*p.ld)
	for p.mods == 0 {
		p.mods = rng.Uint64() & (1<<m - 1)
	}
	return p
}

// reference returns the score and the modality and token weights in
// float64, from the formulas.
func (p attnProblem) reference() (float64, []float64, []float64) {
	s := make([]float64, p.lq*p.m)
	mx := math.Inf(-1)
	for i := range p.lq {
		for j := range p.m {
			if p.q[i] == nil || p.mods&(1<<j) == 0 {
				continue
			}
			d := float64(p.beta[i])
			for e := range p.da {
				d += float64(p.q[i][e]) * float64(p.k[j*p.ld+e])
			}
			s[i*p.m+j] = d
			mx = math.Max(mx, d)
		}
	}
	var z, num float64
	mw, tw := make([]float64, p.m), make([]float64, p.lq)
	for i := range p.lq {
		for j := range p.m {
			if p.q[i] == nil || p.mods&(1<<j) == 0 {
				continue
			}
			var tv float64
			for e := range p.da {
				tv += float64(p.r[i][e]) * float64(p.v[j*p.ld+e])
			}
			a := math.Exp(s[i*p.m+j] - mx)
			z += a
			num += a * tv
			mw[j] += a
			tw[i] += a
		}
	}
	for j := range mw {
		mw[j] /= z
	}
	for i := range tw {
		tw[i] /= z
	}
	return num / z, mw, tw
}

// TestAttention compares Score and the attention weights with the
// float64 formulas over attention widths, query lengths around the
// 16-token group and modality counts around the 4-modality chunk, with
// padded tokens and absent modalities.
func TestAttention(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		var a Attention
		for _, da := range []int{1, 7, 8, 9, 16, 17, 40, 128} {
			for _, lq := range []int{1, 7, 8, 9, 15, 16, 17, 33} {
				for _, m := range []int{1, 2, 3, 4, 5, 7, 8} {
					rng := rand.New(rand.NewPCG(uint64(da), uint64(lq*100+m)))
					for range 3 {
						p := newAttnProblem(rng, m, da, lq)
						a.Reset(m, da, lq)
						for i := range lq {
							if p.q[i] != nil {
								a.SetToken(i, p.q[i], p.r[i], p.beta[i])
							}
						}
						got := a.Score(p.k, p.v, p.ld, p.mods)
						mw, tw := make([]float32, m), make([]float32, lq)
						a.ModalityWeightsTo(mw)
						a.TokenWeightsTo(tw)
						want, wmw, wtw := p.reference()
						name := fmt.Sprintf("da=%d lq=%d m=%d mods=%b", da, lq, m, p.mods)
						if math.Abs(float64(got)-want) > 2e-5*(1+math.Abs(want))*math.Sqrt(float64(da)) {
							t.Fatalf("%s: score %v, want %v", name, got, want)
						}
						for j := range m {
							if math.Abs(float64(mw[j])-wmw[j]) > 1e-5 {
								t.Fatalf("%s: modality %d weight %v, want %v", name, j, mw[j], wmw[j])
							}
						}
						for i := range lq {
							if math.Abs(float64(tw[i])-wtw[i]) > 1e-5 {
								t.Fatalf("%s: token %d weight %v, want %v", name, i, tw[i], wtw[i])
							}
						}
					}
				}
			}
		}
	})
}

// TestAttentionTwin compares each level's Score with the twin's on the
// serving shape, candidate by candidate, bit for bit in the mask handling
// and to 1e-6 in value.
func TestAttentionTwin(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	p := newAttnProblem(rng, 4, 128, 16)
	var a Attention
	a.Reset(p.m, p.da, p.lq)
	for i := range p.lq {
		if p.q[i] != nil {
			a.SetToken(i, p.q[i], p.r[i], p.beta[i])
		}
	}
	saved := level
	defer func() { level = saved }()
	level = Go
	want := a.Score(p.k, p.v, p.ld, p.mods)
	wantS := append([]float32(nil), a.s...)
	for _, l := range Available()[1:] {
		level = l
		got := a.Score(p.k, p.v, p.ld, p.mods)
		if math.Abs(float64(got-want)) > 1e-6*(1+math.Abs(float64(want))) {
			t.Errorf("%v: score %v, twin %v", l, got, want)
		}
		for i, e := range a.s {
			if (e == 0) != (wantS[i] == 0) || math.Abs(float64(e-wantS[i])) > 1e-6 {
				t.Fatalf("%v: exponential %d = %v, twin %v", l, i, e, wantS[i])
			}
		}
	}
}

func TestPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"Dot short y":     func() { Dot(make([]float32, 3), make([]float32, 2)) },
		"Axpy short dst":  func() { Axpy(make([]float32, 2), 1, make([]float32, 3)) },
		"ExpTo short dst": func() { ExpTo(make([]float32, 2), make([]float32, 3)) },
		"MatMul shapes": func() {
			MatMulTo(Mat{2, 2, 2, make([]float32, 4)}, Mat{2, 3, 3, make([]float32, 6)}, NoTrans, Mat{2, 2, 2, make([]float32, 4)}, NoTrans)
		},
		"Mat short data": func() {
			MatMulTo(Mat{2, 2, 2, make([]float32, 3)}, Mat{2, 2, 2, make([]float32, 4)}, NoTrans, Mat{2, 2, 2, make([]float32, 4)}, NoTrans)
		},
		"Score no token": func() {
			var a Attention
			a.Reset(2, 4, 3)
			a.Score(make([]float32, 8), make([]float32, 8), 4, 1)
		},
		"Score mods past m": func() {
			var a Attention
			a.Reset(2, 4, 3)
			a.SetToken(0, make([]float32, 4), make([]float32, 4), 0)
			a.Score(make([]float32, 8), make([]float32, 8), 4, 4)
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "kernel: ") {
					t.Fatalf("panic %v, want one starting with \"kernel: \"", r)
				}
			}()
			f()
		})
	}
}

// TestAssemblyConventions reads the generated assembly and checks the
// rules the package relies on: every function returns through VZEROUPPER,
// and the AVX2 functions need nothing beyond AVX, AVX2, FMA and use only
// registers 0–15 (so they run on CPUs without AVX-512).
func TestAssemblyConventions(t *testing.T) {
	f, err := os.Open("kernel_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fn, requires, prev string
	funcs := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "// Requires:"):
			requires = line
		case strings.HasPrefix(line, "TEXT "):
			fn = strings.Fields(line)[1]
			funcs++
			if strings.Contains(fn, "AVX2(") && strings.Contains(requires, "AVX512") {
				t.Errorf("%s: %s", fn, requires)
			}
		case line == "RET" && prev != "VZEROUPPER":
			t.Errorf("%s returns without VZEROUPPER", fn)
		case strings.Contains(fn, "AVX2(") && line != "":
			for _, r := range strings.FieldsFunc(line, func(c rune) bool { return c == ' ' || c == ',' || c == '(' || c == ')' }) {
				if len(r) >= 3 && (r[0] == 'X' || r[0] == 'Y' || r[0] == 'Z') && (r[1] == '1' || r[1] == '2' || r[1] == '3') && r[2] >= '0' && r[2] <= '9' {
					if n := int(r[1]-'0')*10 + int(r[2]-'0'); n >= 16 && len(r) == 3 {
						t.Errorf("%s uses %s: %s", fn, r, line)
					}
				}
				if r == "K1" || strings.HasPrefix(r, "Z") && len(r) <= 3 {
					t.Errorf("%s uses AVX-512 register %s: %s", fn, r, line)
				}
			}
		}
		if line != "" {
			prev = line
		}
	}
	if funcs < 20 {
		t.Fatalf("found %d functions in kernel_amd64.s", funcs)
	}
}

// TestAssemblyConstants checks that the exponential's constants in the
// generated assembly (asm/common.go writes them) are those of exp32.
func TestAssemblyConstants(t *testing.T) {
	src, err := os.ReadFile("kernel_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float32{
		"expmin": expMin, "expmax": expMax, "explog2e": expLog2e, "expln2hi": expLn2Hi, "expln2lo": expLn2Lo,
		"expc6": expC6, "expc5": expC5, "expc4": expC4, "expc3": expC3, "expc2": expC2, "expc1": expC1, "one": 1,
	}
	for name, v := range want {
		line := fmt.Sprintf("DATA %s<>+0(SB)/4, $0x%08x\n", name, math.Float32bits(v))
		if !strings.Contains(string(src), line) {
			t.Errorf("kernel_amd64.s lacks %q", strings.TrimSpace(line))
		}
	}
}

// TestTransposeTo checks both layouts of the destination: contiguous rows
// (the tiled path) and padded rows, on shapes around the 32 × 32 tiles.
func TestTransposeTo(t *testing.T) {
	for _, shape := range [][2]int{{1, 1}, {1, 40}, {37, 70}, {64, 32}} {
		rows, cols := shape[0], shape[1]
		src := Mat{rows, cols, cols + 2, make([]float32, rows*(cols+2))}
		for i := range src.Data {
			src.Data[i] = float32(i)
		}
		for _, pad := range []int{0, 3} {
			dst := Mat{cols, rows, rows + pad, make([]float32, cols*(rows+pad))}
			TransposeTo(dst, src)
			for r := range rows {
				for c := range cols {
					if got, want := dst.Data[c*dst.Stride+r], src.Data[r*src.Stride+c]; got != want {
						t.Fatalf("%dx%d pad %d: [%d,%d] = %v, want %v", rows, cols, pad, c, r, got, want)
					}
				}
			}
		}
	}
}

// TestDotFixed: DotFixed sums in its documented order (four partial sums, then
// (s0+s1)+(s2+s3)) on every length, so its result is the same bit for bit on every CPU.
func TestDotFixed(t *testing.T) {
	for n := range 19 {
		x, y := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = float32(i%7)*0.3-0.9, float32(i%5)*1.7-2.1
		}
		var s [4]float32
		for i := range x {
			if i < n-n%4 {
				s[i%4] += x[i] * y[i]
			} else {
				s[0] += x[i] * y[i]
			}
		}
		if got, want := DotFixed(x, y), (s[0]+s[1])+(s[2]+s[3]); got != want {
			t.Errorf("n=%d: %v, want %v", n, got, want)
		}
	}
}
