package recommend

import (
	"encoding/binary"
	"math"
	"testing"
)

// naiveStandardize is the textbook formula, exact enough for moderate values.
func naiveStandardize(xs []float64) []float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	var sq float64
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(sq / float64(len(xs)))
	out := make([]float64, len(xs))
	for i, x := range xs {
		if sd > 0 {
			out[i] = (x - mean) / sd
		}
	}
	return out
}

func TestStandardize(t *testing.T) {
	cases := []struct {
		name string
		in   []float64
		want []float64 // nil: compare with naiveStandardize
	}{
		{"one value", []float64{7}, []float64{0}},
		{"equal values", []float64{3, 3, 3}, []float64{0, 0, 0}},
		{"zeros", []float64{0, 0}, []float64{0, 0}},
		{"two values", []float64{1, 3}, []float64{-1, 1}},
		{"moderate", []float64{0.5, 2, -1, 10, 3.25}, nil},
		// The scores of the report: squared, 1e200 overflows float64 and the old sums
		// turned every feature into NaN.
		{"1e200 and 0", []float64{1e200, 0}, []float64{1, -1}},
		{"2e154 and 0", []float64{2e154, 0}, []float64{1, -1}},
		{"largest floats", []float64{math.MaxFloat64, -math.MaxFloat64, 0}, []float64{math.Sqrt(1.5), -math.Sqrt(1.5), 0}},
		{"subnormals", []float64{5e-324, 0}, []float64{1, -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := append([]float64(nil), c.in...)
			standardize(got)
			want := c.want
			if want == nil {
				want = naiveStandardize(c.in)
			}
			for i := range got {
				if math.IsNaN(got[i]) || math.Abs(got[i]-want[i]) > 1e-9 {
					t.Fatalf("standardize(%v) = %v, want %v", c.in, got, want)
				}
			}
		})
	}
}

// FuzzStandardize feeds engine scores of every magnitude (any finite float64, as the API
// admits them): the features are finite, within ±sqrt(n−1), keep the scores' order, and
// do not change when every score is scaled by a power of two.
func FuzzStandardize(f *testing.F) {
	enc := func(xs ...float64) []byte {
		b := make([]byte, 8*len(xs))
		for i, x := range xs {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
		}
		return b
	}
	f.Add(enc(1e200, 0))
	f.Add(enc(2e154, 0, -3))
	f.Add(enc(math.MaxFloat64, -math.MaxFloat64))
	f.Add(enc(5e-324, 1e-300, 0))
	f.Add(enc(1, 1, 1, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		var xs []float64
		for i := 0; i+8 <= len(data) && len(xs) < 1000; i += 8 {
			x := math.Float64frombits(binary.LittleEndian.Uint64(data[i:]))
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				xs = append(xs, x)
			}
		}
		if len(xs) == 0 {
			return
		}
		z := append([]float64(nil), xs...)
		standardize(z)
		// |z| ≤ sqrt(n−1) exactly; in floating point the error grows as the spread
		// shrinks towards the 1e-12 cut (testdata/fuzz/FuzzStandardize/2639508ca2a5c40b:
		// three values within 2e-7 of each other overshoot by 1e-10).
		bound := math.Sqrt(float64(len(xs)-1))*(1+1e-3) + 1e-9
		for i := range z {
			if math.IsNaN(z[i]) || math.IsInf(z[i], 0) || math.Abs(z[i]) > bound {
				t.Fatalf("z[%d] = %v for %v (bound %v)", i, z[i], xs[i], bound)
			}
			for j := range z {
				if xs[i] < xs[j] && z[i] > z[j]+1e-9 {
					t.Fatalf("order lost: x %v < %v but z %v > %v", xs[i], xs[j], z[i], z[j])
				}
			}
		}
		// Scaling by a power of two is exact while nothing overflows or underflows.
		half := make([]float64, len(xs))
		for i, x := range xs {
			half[i] = x / 2
			if half[i]*2 != x {
				return
			}
		}
		standardize(half)
		for i := range z {
			if math.Abs(half[i]-z[i]) > 1e-9 {
				t.Fatalf("not scale invariant: %v vs %v for %v", half, z, xs)
			}
		}
	})
}
