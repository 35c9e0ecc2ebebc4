package analysis

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func testModel(t testing.TB) *Model {
	t.Helper()
	m, err := DefaultModel()
	if err != nil {
		t.Fatalf("embedded model: %v", err)
	}
	return m
}

func TestEmbeddedModelIsVersionedAndComplete(t *testing.T) {
	m := testModel(t)
	if m.Version() != "cuad-lr-v1" || !strings.Contains(ModelFile, "v1") {
		t.Fatalf("model version %q in %s", m.Version(), ModelFile)
	}
	if !slices.Equal(m.Categories(), Categories()) || len(Categories()) != 41 || len(ClauseCategories()) != 33 {
		t.Fatalf("model categories %v", m.Categories())
	}
	if len(embeddedModel) > 5<<20 {
		t.Fatalf("model artifact is %d bytes, over 5 MB", len(embeddedModel))
	}
	for i, th := range m.Thresholds() {
		if th <= 0 || th >= 1 {
			t.Errorf("threshold of %s = %f", m.categories[i], th)
		}
	}
}

// Clauses of CUAD contracts from the held-out test split (never trained on).
func TestModelClassifiesRealClauses(t *testing.T) {
	m := testModel(t)
	tests := []struct {
		file, substr, want string
		primary            bool // want must be the primary category, not just one of the labels
	}{
		{adamsGolf + ".layout.txt", "governed and construed according to the laws of the State of Kansas", "Governing Law", true},
		{dataCall + ".layout.txt", "governed and construed in accordance with the laws of the United States", "Governing Law", true},
		{dataCall + ".layout.txt", "inspect and audit all the related records and books", "Audit Rights", false},
		{dataCall + ".layout.txt", "Neither Party shall assign or transfer to any third party", "Anti-Assignment", true},
		{dataCall + ".layout.txt", "LICENSOR grants to plan_b a license to produce, use, distribute", "License Grant", false},
		{adamsGolf + ".layout.txt", "ADAMS GOLF the exclusive right and license to use", "License Grant", false},
	}
	for _, tc := range tests {
		t.Run(tc.want+"/"+tc.substr[:20], func(t *testing.T) {
			cs := SplitClauses(readTestdata(t, tc.file))
			preds := m.Classify(cs)
			for i, c := range cs {
				if !strings.Contains(c.Text, tc.substr) {
					continue
				}
				p := preds[i]
				if tc.primary && p.Category != tc.want {
					t.Fatalf("primary category %q (%.2f), want %q; labels %v", p.Category, p.Confidence, tc.want, p.Labels)
				}
				if !slices.Contains(p.Labels, tc.want) {
					t.Fatalf("labels %v lack %q", p.Labels, tc.want)
				}
				return
			}
			t.Fatalf("no clause contains %q", tc.substr)
		})
	}
}

func TestPredictionShape(t *testing.T) {
	m := testModel(t)
	cs := SplitClauses(readTestdata(t, dataCall+".layout.txt"))
	preds := m.Classify(cs)
	if len(preds) != len(cs) {
		t.Fatalf("%d predictions for %d clauses", len(preds), len(cs))
	}
	others := 0
	for _, p := range preds {
		if len(p.Scores) != 41 || p.Confidence < 0 || p.Confidence > 1 {
			t.Fatalf("bad prediction %+v", p)
		}
		if p.Category == Other {
			others++
			if len(p.Labels) != 0 {
				t.Fatalf("Other with labels %v", p.Labels)
			}
		} else if !slices.Contains(p.Labels, p.Category) {
			t.Fatalf("primary %q not among labels %v", p.Category, p.Labels)
		}
	}
	if others == 0 || others == len(preds) {
		t.Fatalf("%d of %d clauses are Other", others, len(preds))
	}
}

func TestModelEncodingRoundTrips(t *testing.T) {
	d := ModelData{Version: "t", Dim: 16, Categories: []string{"A", "B"}, Bias: []float32{0.5, -1}, Threshold: []float32{0.3, 0.6},
		Weights: [][]Feature{{{Index: 1, Value: 2}, {Index: 7, Value: -1}}, {{Index: 3, Value: 0.5}}}}
	var a, b bytes.Buffer
	if err := EncodeModel(&a, d); err != nil {
		t.Fatal(err)
	}
	if err := EncodeModel(&b, d); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("encoding is not deterministic")
	}
	m, err := LoadModel(&a)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version() != "t" || m.weights[1*2+0] != 127 || m.weights[7*2+0] != -64 || m.weights[3*2+1] != 127 {
		t.Fatalf("decoded %+v", m)
	}
	if _, err := LoadModel(bytes.NewReader([]byte("not a model"))); err == nil {
		t.Fatal("garbage accepted")
	}
}

// BenchmarkClassify measures classification throughput on real clauses.
func BenchmarkClassify(b *testing.B) {
	m := testModel(b)
	cs := SplitClauses(readTestdata(b, adamsGolf+".layout.txt"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Classify(cs)
	}
	b.ReportMetric(float64(b.N*len(cs))/b.Elapsed().Seconds(), "clauses/s")
}

// BenchmarkSplitClauses measures splitting throughput.
func BenchmarkSplitClauses(b *testing.B) {
	text := readTestdata(b, adamsGolf+".layout.txt")
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		SplitClauses(text)
	}
}

// BenchmarkEmbed measures the offline embedder.
func BenchmarkEmbed(b *testing.B) {
	cs := SplitClauses(readTestdata(b, adamsGolf+".layout.txt"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Embed(cs[i%len(cs)].Text)
	}
}
