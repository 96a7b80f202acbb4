package evaluation

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestRanksRoundTrip: WriteRanks then ReadRanks gives the ranks back; bad
// files are errors naming the line.
func TestRanksRoundTrip(t *testing.T) {
	ranks := []Rank{{Above: 0}, {Above: 12, Tied: 3}, {Above: 7}}
	var b bytes.Buffer
	if err := WriteRanks(&b, ranks); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), RanksFile)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRanks(p)
	if err != nil || len(got) != 3 || got[1] != ranks[1] || got[2] != ranks[2] {
		t.Fatalf("read %v, %v; want %v", got, err, ranks)
	}
	for _, bad := range []string{"nope\n", "case\tabove\ttied\n1\t0\t0\n", "case\tabove\ttied\n0\t-1\t0\n", "case\tabove\ttied\n0\t1\n"} {
		if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadRanks(p); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestComparePaired: means and differences by hand; a model better on every
// case has an interval above 0, identical models a zero interval; the
// interval is seeded.
func TestComparePaired(t *testing.T) {
	// a ranks the target first on every case, b third (NDCG 0.5) or
	// outside the top 10.
	n := 200
	a, b := make([]Rank, n), make([]Rank, n)
	for i := range n {
		b[i] = Rank{Above: 2}
		if i%2 == 1 {
			b[i] = Rank{Above: 50}
		}
	}
	ps, err := ComparePaired(a, b, 10, TiesExpected, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	hr, nd := ps[0], ps[1]
	if hr.Metric != "HR@10" || hr.A != 1 || hr.B != 0.5 || hr.Diff != 0.5 || hr.Better != 0.5 || hr.Worse != 0 {
		t.Errorf("HR %+v", hr)
	}
	if nd.Metric != "NDCG@10" || nd.A != 1 || nd.B != 0.25 || nd.Diff != 0.75 || nd.Better != 1 {
		t.Errorf("NDCG %+v", nd)
	}
	if !(nd.Lo > 0.6 && nd.Lo <= 0.75 && nd.Hi >= 0.75 && nd.Hi < 0.9) {
		t.Errorf("NDCG interval [%v, %v] does not bracket 0.75 closely", nd.Lo, nd.Hi)
	}
	same, _ := ComparePaired(a, a, 10, TiesExpected, 100, 3)
	if same[1].Diff != 0 || same[1].Lo != 0 || same[1].Hi != 0 {
		t.Errorf("a against itself: %+v", same[1])
	}
	again, _ := ComparePaired(a, b, 10, TiesExpected, 1000, 3)
	if again[1] != nd {
		t.Errorf("same seed, different interval: %+v and %+v", again[1], nd)
	}
	if _, err := ComparePaired(a, b[:5], 10, TiesExpected, 10, 1); err == nil {
		t.Error("different case counts accepted")
	}
}

// TestComparePairedValues: per-case values written to a ValuesFile and read
// back; the means, differences and shares by hand; cases without values in
// either run left out; an interval excluding 0 for a model better on every
// case.
func TestComparePairedValues(t *testing.T) {
	mk := func(hr, nd float64) Metrics {
		return Metrics{{Name: "HR", K: 10, Value: hr}, {Name: "NDCG", K: 10, Value: nd}}
	}
	a := []Metrics{mk(1, 0.5), mk(1, 0.25), nil, mk(0, 0), mk(1, 0.75)}
	b := []Metrics{mk(0, 0), mk(1, 0.125), mk(1, 1), mk(0, 0), mk(0, 0)}
	dir := t.TempDir()
	path := filepath.Join(dir, ValuesFile)
	var buf bytes.Buffer
	if err := WriteCaseValues(&buf, a); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCaseValues(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(a) || back[2] != nil || back[4][1].Value != 0.75 || back[4][1].Key() != "NDCG@10" {
		t.Fatalf("read back %v", back)
	}
	ps, err := ComparePairedValues(back, b, []string{"HR@10", "NDCG@10"}, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Cases 0, 1, 3, 4: HR 3/4 against 1/4, NDCG 1.5/4 against 0.125/4.
	if p := ps[0]; p.Metric != "HR@10" || p.A != 0.75 || p.B != 0.25 || p.Diff != 0.5 || p.Better != 0.5 || p.Worse != 0 {
		t.Errorf("HR: %+v", p)
	}
	if p := ps[1]; math.Abs(p.Diff-1.375/4) > 1e-12 || p.Better != 0.75 || p.Lo <= 0 || p.Hi < p.Diff {
		t.Errorf("NDCG: %+v", p)
	}
	if _, err := ComparePairedValues(a, b[:3], []string{"HR@10"}, 10, 1); err == nil {
		t.Error("different case counts accepted")
	}
	if _, err := ComparePairedValues(a, b, []string{"HR@5"}, 10, 1); err == nil {
		t.Error("a metric the cases lack accepted")
	}
}
