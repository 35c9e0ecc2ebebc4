package analysis

import (
	"math"
	"slices"
	"testing"
)

func TestEmbedIsNormalisedAndDeterministic(t *testing.T) {
	for _, text := range []string{"", "Governing law.", readTestdata(t, raeCoBrand+".txt")[:3000]} {
		v := Embed(text)
		if len(v) != EmbeddingDim {
			t.Fatalf("dimension %d", len(v))
		}
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		if math.Abs(n-1) > 1e-5 {
			t.Fatalf("norm² = %f for %q", n, text[:min(20, len(text))])
		}
		if !slices.Equal(v, Embed(text)) {
			t.Fatal("Embed is not deterministic")
		}
	}
}

// Real clauses about the same subject, from different CUAD contracts, are
// nearer to each other than to clauses about other subjects.
func TestEmbedPutsSimilarClausesNear(t *testing.T) {
	adams := SplitClauses(readTestdata(t, adamsGolf+".layout.txt"))
	data := SplitClauses(readTestdata(t, dataCall+".layout.txt"))
	rae := SplitClauses(readTestdata(t, raeCoBrand+".txt"))
	pick := func(cs []Clause, substr string) string {
		c := findClause(cs, substr)
		if c == nil {
			t.Fatalf("no clause containing %q", substr)
		}
		return c.Text
	}
	lawA := Embed(pick(adams, "governed and construed according to the laws"))
	lawB := Embed(pick(data, "governed and construed in accordance with the laws"))
	assignA := Embed(pick(data, "Neither Party shall assign or transfer"))
	indemA := Embed(pick(adams, "agrees to protect, indemnify and hold ADAMS GOLF harmless"))
	indemB := Embed(pick(rae, "shall defend, indemnify and hold NETTAXI harmless"))
	if s, o := Cosine(lawA, lawB), Cosine(lawA, assignA); s <= o {
		t.Errorf("governing-law clauses: similarity %.3f not above governing-law vs assignment %.3f", s, o)
	}
	if s, o := Cosine(indemA, indemB), Cosine(indemA, lawB); s <= o {
		t.Errorf("indemnity clauses: similarity %.3f not above indemnity vs governing law %.3f", s, o)
	}
	// The nearest neighbour of a governing-law clause among all of another
	// contract's clauses is that contract's governing-law clause.
	best, bestText := -2.0, ""
	for _, c := range data {
		if s := Cosine(lawA, Embed(c.Text)); s > best {
			best, bestText = s, c.Text
		}
	}
	if want := pick(data, "governed and construed in accordance with the laws"); bestText != want {
		t.Errorf("nearest clause to the governing-law clause is %q", bestText[:min(100, len(bestText))])
	}
}
