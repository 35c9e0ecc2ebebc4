package analysis

import (
	"bytes"
	"compress/gzip"
	"math"
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
	if m.Version() != "cuad-lr-v3" || !strings.Contains(ModelFile, "v3") {
		t.Fatalf("model version %q in %s", m.Version(), ModelFile)
	}
	if !slices.Equal(m.Categories(), Categories()) || len(Categories()) != 41 || len(ClauseCategories()) != 33 {
		t.Fatalf("model categories %v", m.Categories())
	}
	if len(embeddedModel) > 5<<20 {
		t.Fatalf("model artifact is %d bytes, over 5 MB", len(embeddedModel))
	}
	if m.alpha <= 0 || m.alpha >= 1 {
		t.Errorf("sentence weight %v: want both layers to count", m.alpha)
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
			for _, l := range p.Labels {
				if IsClauseType(l) {
					t.Fatalf("Other with clause-type label %q (%v)", l, p.Labels)
				}
			}
			if p.Likelihood != "" {
				t.Fatalf("Other with likelihood %q", p.Likelihood)
			}
		} else if !slices.Contains(p.Labels, p.Category) || !IsClauseType(p.Category) {
			t.Fatalf("primary %q not a clause type among labels %v", p.Category, p.Labels)
		} else if p.Likelihood != Likelihood(p.Confidence) {
			t.Fatalf("likelihood %q for confidence %.2f", p.Likelihood, p.Confidence)
		}
	}
	if others == 0 || others == len(preds) {
		t.Fatalf("%d of %d clauses are Other", others, len(preds))
	}
}

func TestModelEncodingRoundTrips(t *testing.T) {
	d := ModelData{Version: "t", Dim: 16, Categories: []string{"A", "B"}, Threshold: []float32{0.3, 0.6}, Calib: [][2]float32{{1, 0}, {0.5, -1}}, SentenceWeight: 0.25,
		Clause: LinearData{Bias: []float32{0.5, -1},
			Weights: [][]Feature{{{Index: 1, Value: 2}, {Index: 7, Value: -1}}, {{Index: 3, Value: 0.5}}}},
		Sentence: LinearData{Bias: []float32{0, 1},
			Weights: [][]Feature{{{Index: 2, Value: -4}}, {{Index: 3, Value: 1}, {Index: 15, Value: 0.5}}}},
	}
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
	if m.Version() != "t" || m.alpha != 0.25 || !slices.Equal(m.Thresholds(), []float32{0.3, 0.6}) {
		t.Fatalf("decoded header %q %v %v", m.Version(), m.alpha, m.Thresholds())
	}
	if m.clause.weights[1*2+0] != 127 || m.clause.weights[7*2+0] != -64 || m.clause.weights[3*2+1] != 127 {
		t.Fatalf("clause layer decoded as %v", m.clause.weights)
	}
	if m.sentence.weights[2*2+0] != -127 || m.sentence.weights[3*2+1] != 127 || m.sentence.weights[15*2+1] != 64 || m.sentence.bias[1] != 1 {
		t.Fatalf("sentence layer decoded as %v", m.sentence.weights)
	}
	if m.calib[1] != [2]float32{0.5, -1} {
		t.Fatalf("calibration decoded as %v", m.calib)
	}
	if _, err := LoadModel(bytes.NewReader([]byte("not a model"))); err == nil {
		t.Fatal("garbage accepted")
	}
	// an artifact of another format (v2's magic) is refused, not misread
	var old bytes.Buffer
	zw := gzip.NewWriter(&old)
	zw.Write(append([]byte("CLC2"), a.Bytes()...))
	zw.Close()
	if _, err := LoadModel(&old); err == nil || !strings.Contains(err.Error(), "not a model file of this version") {
		t.Fatalf("v2 artifact: %v", err)
	}
	bad := d
	bad.Sentence.Weights = [][]Feature{{{Index: 16, Value: 1}}, nil}
	if err := EncodeModel(&b, bad); err == nil || !strings.Contains(err.Error(), "outside dimension") {
		t.Fatalf("out-of-range feature: %v", err)
	}
}

// The combined score follows the sentence weight: 0 is the clause layer
// alone, 1 the best sentence alone.
func TestCombineLogits(t *testing.T) {
	clause, sentence := []float64{2, -3}, []float64{-2, 1}
	for _, tc := range []struct {
		alpha float64
		want  []float64
	}{{0, []float64{sigmoid(2), sigmoid(-3)}}, {1, []float64{sigmoid(-2), sigmoid(1)}}, {0.5, []float64{0.5, sigmoid(-1)}}} {
		got := CombineLogits(clause, sentence, tc.alpha)
		for c := range got {
			if math.Abs(got[c]-tc.want[c]) > 1e-12 {
				t.Errorf("alpha %v: %v, want %v", tc.alpha, got, tc.want)
			}
		}
	}
}

// A clause's sentence scores come from its best sentence: a liability cap
// buried in a long clause about other things still reads as a cap.
func TestBestSentenceFindsBuriedClause(t *testing.T) {
	m := testModel(t)
	capSentence := "IN NO EVENT SHALL EITHER PARTY'S AGGREGATE LIABILITY UNDER THIS AGREEMENT EXCEED THE FEES PAID BY CUSTOMER IN THE TWELVE MONTHS PRECEDING THE CLAIM."
	filler := "The Distributor shall maintain adequate inventory of the Products at its warehouse and shall ship orders within five business days of receipt. "
	in := FeatureInput{Text: strings.Repeat(filler, 6) + capSentence + " " + strings.Repeat(filler, 6)}
	clause, sentence := m.Logits(in)
	c := slices.Index(m.categories, "Cap on Liability")
	if sentence[c] <= clause[c] {
		t.Fatalf("best-sentence log-odds %.2f not above the clause layer's %.2f", sentence[c], clause[c])
	}
	if p := m.Predict(in); !slices.Contains(p.Labels, "Cap on Liability") {
		t.Fatalf("labels %v lack Cap on Liability (score %.3f, threshold %.3f)", p.Labels, p.Scores[c], m.threshold[c])
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

// The value categories (names, parties, dates) are facts, never a clause's
// category, even where the model scores them: the preamble of a contract
// is labelled Parties but classified as Other or a clause type.
func TestValueCategoriesAreNeverAClauseCategory(t *testing.T) {
	m := testModel(t)
	sawValueLabel := false
	for _, f := range []string{adamsGolf + ".layout.txt", dataCall + ".layout.txt", raeCoBrand + ".txt"} {
		for _, p := range m.Classify(SplitClauses(readTestdata(t, f))) {
			for _, l := range p.Labels {
				if !IsClauseType(l) {
					sawValueLabel = true
				}
			}
			if valueOnly[p.Category] {
				t.Fatalf("%s: clause classified as value category %q", f, p.Category)
			}
		}
	}
	if !sawValueLabel {
		t.Fatal("no clause scored for a value category: the test checks nothing")
	}
	for _, c := range []string{"Governing Law", "Renewal Term", "Notice Period to Terminate Renewal", "Audit Rights"} {
		if !IsClauseType(c) {
			t.Errorf("%s is not a clause type", c)
		}
	}
	for _, c := range []string{"Parties", "Document Name", "Agreement Date", "Effective Date", "Expiration Date", Other, "Nonsense"} {
		if IsClauseType(c) {
			t.Errorf("%s is a clause type", c)
		}
	}
}

// Calibrated probabilities keep the raw scores' order, and the confidence
// words follow them.
func TestCalibrationAndLikelihood(t *testing.T) {
	m := testModel(t)
	for c := range m.categories {
		prev := -1.0
		for _, raw := range []float64{0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99} {
			p := m.calibrated(c, raw)
			if p <= prev || p <= 0 || p >= 1 {
				t.Fatalf("%s: calibrated %.3f -> %.3f after %.3f", m.categories[c], raw, p, prev)
			}
			prev = p
		}
	}
	if Likelihood(0.8) != "likely" || Likelihood(0.5) != "likely" || Likelihood(0.3) != "possible" {
		t.Fatal("likelihood words")
	}
}
