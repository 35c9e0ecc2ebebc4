package analysis

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitSentences(t *testing.T) {
	text := `Licensee shall pay the fees within thirty days. Late payments bear interest at 1.5% per month; Licensor may also suspend the service. (a) Short. (b) This item is long enough to stand alone as a sentence. Ok.`
	ss := SplitSentences(text)
	var got []string
	for _, s := range ss {
		got = append(got, s.Text)
		if text[s.Start:s.End] != s.Text && strings.TrimSpace(text[s.Start:s.End]) != s.Text {
			t.Errorf("sentence %q does not match its range %q", s.Text, text[s.Start:s.End])
		}
	}
	want := []string{
		"Licensee shall pay the fees within thirty days.",
		"Late payments bear interest at 1.5% per month;",
		"Licensor may also suspend the service. (a) Short.",              // under 40 bytes: runs on into the next
		"(b) This item is long enough to stand alone as a sentence. Ok.", // a short tail joins the last sentence
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sentences\n%q\nwant\n%q", got, want)
	}
	if got := SplitSentences(""); len(got) != 0 {
		t.Fatalf("empty text: %v", got)
	}
	if got := SplitSentences("Short."); len(got) != 1 || got[0].Text != "Short." {
		t.Fatalf("short text: %v", got)
	}
}

func TestSentenceInputsCarryContext(t *testing.T) {
	in := FeatureInput{Heading: "12. Assignment", Context: "ARTICLE XII", Prev: "previous clause", Next: "next clause",
		Text: "Neither party may assign this Agreement without consent. Any attempted assignment in violation of this section is void."}
	got := SentenceInputs(in)
	if len(got) != 2 {
		t.Fatalf("%d inputs: %+v", len(got), got)
	}
	for _, s := range got {
		if s.Heading != in.Heading || s.Context != in.Context {
			t.Fatalf("sentence lost its heading/context: %+v", s)
		}
	}
	if got[0].Prev != "previous clause" || got[0].Next != got[1].Text || got[1].Prev != got[0].Text || got[1].Next != "next clause" {
		t.Fatalf("neighbours: %+v", got)
	}
	if one := SentenceInputs(FeatureInput{Heading: "h"}); len(one) != 1 || one[0].Heading != "h" {
		t.Fatalf("empty clause: %+v", one)
	}
}
