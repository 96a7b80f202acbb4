package evaluation

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportJSONShape(t *testing.T) {
	tests := []struct {
		name     string
		countKey string
		wantKeys []string
	}{
		{"users", CountUsers, []string{"dataset", "sha256", "model", "model_version", "users", "metrics", "seconds"}},
		{"queries", CountQueries, []string{"dataset", "sha256", "model", "model_version", "queries", "metrics", "seconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Report{Dataset: "Beauty.txt", SHA256: "ab", Model: "pop", ModelVersion: "pop-all", CountKey: tt.countKey, Count: 3,
				Metrics: Metrics{{Name: "HR", K: 10, Value: 0.5}, {Name: "NDCG", K: 10, Value: 0.25}}, Seconds: 1.23456}
			js, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(js))
			var keys []string
			if _, err := dec.Token(); err != nil {
				t.Fatal(err)
			}
			for dec.More() {
				tok, _ := dec.Token()
				keys = append(keys, tok.(string))
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					t.Fatal(err)
				}
			}
			if strings.Join(keys, ",") != strings.Join(tt.wantKeys, ",") {
				t.Fatalf("keys %v, want %v", keys, tt.wantKeys)
			}
			if !strings.Contains(string(js), `"metrics":{"HR@10":0.5,"NDCG@10":0.25}`) {
				t.Fatalf("metrics not an ordered object: %s", js)
			}
			var back Report
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			if back.CountKey != tt.countKey || back.Count != 3 || back.Seconds != 1.235 || len(back.Metrics) != 2 {
				t.Fatalf("round trip: %+v", back)
			}
		})
	}
}

func TestReportJSONRejects(t *testing.T) {
	tests := []struct {
		name string
		r    Report
	}{
		{"no count key", Report{}},
		{"bad count key", Report{CountKey: "items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := json.Marshal(tt.r); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	var r Report
	if err := json.Unmarshal([]byte(`{"users":1,"queries":2,"metrics":{}}`), &r); err == nil {
		t.Fatal("both users and queries accepted")
	}
}

func TestWriteDir(t *testing.T) {
	dir := t.TempDir()
	r := Report{Dataset: "Beauty.txt", SHA256: "ab", Model: "pop", ModelVersion: "v", CountKey: CountUsers, Count: 2,
		Metrics:   Metrics{{"HR", 5, 0.1}, {"NDCG", 5, 0.05}, {"HR", 10, 0.2}, {"NDCG", 10, 0.07}},
		Extra:     []Row{{Label: "pop (validation)", Metrics: Metrics{{"HR", 5, 0.1}, {"HR", 10, 0.3}}}},
		Published: []Row{{Label: "PopRec (published)", Metrics: Metrics{{"HR", 5, 0.0080}, {"NDCG", 5, 0.0044}, {"HR", 10, 0.0152}, {"NDCG", 10, 0.0068}}}},
		Curve:     &TrainingCurve{Loss: []float64{3, 2, 1.5}, Validation: []float64{0.01, 0.02, 0.025}, ValidationName: "NDCG@10"},
		Command:   "fusionrank eval s3rec --model pop",
	}
	files, err := r.WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"metrics.json", "report.md", "hr_by_k.png", "ndcg_by_k.png", "training_curve.png"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s missing or empty (%v); wrote %v", name, err, files)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"| pop (this run) | 0.1000 | 0.0500 | 0.2000 | 0.0700 |", "| PopRec (published) | 0.0080 | 0.0044 | 0.0152 | 0.0068 |", "| pop (validation) | 0.1000 | – | 0.3000 | – |", "![hr_by_k](hr_by_k.png)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	back, err := ReadReport(filepath.Join(dir, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Metrics.Get("NDCG@10"); v != 0.07 {
		t.Fatalf("NDCG@10 = %v after reading back", v)
	}
}

func TestFileSHA256(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := FileSHA256(p)
	if err != nil {
		t.Fatal(err)
	}
	// SHA-256("abc") from FIPS 180-2, appendix B.1.
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if _, err := FileSHA256(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file: want an error")
	}
}

func TestProgressNilWriter(t *testing.T) {
	p := NewProgress(nil, 10, "x")
	p.Add(3)
	p.Finish()
	var nilp *Progress
	nilp.Add(1)
	nilp.Finish()
	var buf bytes.Buffer
	q := NewProgress(&buf, 2, "step")
	q.Add(2)
	q.Finish()
	if !strings.Contains(buf.String(), "step") {
		t.Fatalf("progress output %q lacks its description", buf.String())
	}
}
