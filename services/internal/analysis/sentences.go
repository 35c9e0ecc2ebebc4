package analysis

import "strings"

// The classifier's sentence layer reads a clause sentence by sentence: CUAD
// labels mark spans (median about 200 bytes) inside clauses that are often
// much longer (median 800 bytes for labelled clauses), and one sentence of a
// clause decides its category more sharply than the clause's whole bag of
// words.

// Sentence is a sentence of a clause's text, with its byte range in it.
type Sentence struct {
	Text       string
	Start, End int
}

// minSentenceLen: shorter sentences are merged into the next one.
const minSentenceLen = 40

// SplitSentences cuts a clause's (normalised) text at sentence ends (and
// semicolons and colons followed by a capital), merging short pieces.
func SplitSentences(text string) []Sentence {
	var out []Sentence
	start := 0
	for _, m := range sentenceEndRe.FindAllStringIndex(text, -1) {
		p := m[0] + 1
		for p < len(text) && (text[p] == '"' || text[p] == ')') {
			p++
		}
		if p-start < minSentenceLen {
			continue
		}
		out = append(out, Sentence{Text: strings.TrimSpace(text[start:p]), Start: start, End: p})
		start = p
		for start < len(text) && text[start] == ' ' {
			start++
		}
	}
	if start < len(text) {
		if len(text)-start < minSentenceLen && len(out) > 0 {
			last := &out[len(out)-1]
			last.End = len(text)
			last.Text = strings.TrimSpace(text[last.Start:])
		} else {
			out = append(out, Sentence{Text: strings.TrimSpace(text[start:]), Start: start, End: len(text)})
		}
	}
	return out
}

// SentenceInputs returns the sentence layer's inputs for a clause: one per
// sentence of its text, with the clause's heading and section context, and
// the neighbouring sentences (the neighbouring clauses at the edges). A
// clause without text is its own single input.
func SentenceInputs(in FeatureInput) []FeatureInput {
	ss := SplitSentences(in.Text)
	if len(ss) == 0 {
		return []FeatureInput{in}
	}
	out := make([]FeatureInput, len(ss))
	for j, s := range ss {
		out[j] = FeatureInput{Heading: in.Heading, Context: in.Context, Text: s.Text, Prev: in.Prev, Next: in.Next}
		if j > 0 {
			out[j].Prev = ss[j-1].Text
		}
		if j+1 < len(ss) {
			out[j].Next = ss[j+1].Text
		}
	}
	return out
}
