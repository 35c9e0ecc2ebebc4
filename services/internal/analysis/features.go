package analysis

import (
	"math"
	"slices"
	"unicode"
	"unicode/utf8"
)

// Feature is one non-zero entry of a hashed sparse feature vector.
type Feature struct {
	Index uint32
	Value float32
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// tokens lower-cases text and returns hashes of its word tokens (runs of
// letters and digits; a run of digits becomes one "number" token).
func tokenHashes(text string, seed uint64, dst []uint64) []uint64 {
	var buf [64]byte
	n := 0
	digits := true
	emit := func() {
		if n == 0 {
			return
		}
		var h uint64
		if digits {
			h = fnvString(seed, "#num")
		} else {
			h = fnvString(seed, string(buf[:n]))
		}
		dst = append(dst, h)
		n = 0
		digits = true
	}
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			r = unicode.ToLower(r)
			if !unicode.IsDigit(r) {
				digits = false
			}
			if n+utf8.RuneLen(r) <= len(buf) {
				n += utf8.EncodeRune(buf[n:], r)
			}
			continue
		}
		if r == '\'' || r == '’' {
			continue // "party's" -> "partys"
		}
		emit()
	}
	emit()
	return dst
}

// FeatureInput is what the classifier sees of a clause.
type FeatureInput struct {
	Heading string // the clause's own heading
	Context string // the heading of the section it sits in
	Text    string
	Prev    string // text of the previous clause (neighbourhood)
	Next    string // text of the next clause
}

// ClauseFeatures turns a clause into a hashed bag of features: word unigrams
// and bigrams and 6-letter word prefixes of the text, heading words, context
// words and neighbouring clauses' words, each in its own namespace, with
// sublinear term frequencies, L2-normalised. dim must be a power of two.
func ClauseFeatures(in FeatureInput, dim uint32) []Feature {
	mask := uint64(dim - 1)
	text := in.Text
	idx := make([]uint32, 0, 2*len(text)/5+16)
	toks := tokenHashes(text, fnvOffset, make([]uint64, 0, len(text)/5+1))
	for i, h := range toks {
		idx = append(idx, uint32(mix64(h)&mask))
		if i > 0 {
			idx = append(idx, uint32(mix64(toks[i-1]*31+h+0x9e3779b97f4a7c15)&mask))
		}
	}
	for _, h := range prefixHashes(text, nil) {
		idx = append(idx, uint32(mix64(h)&mask))
	}
	for _, h := range tokenHashes(in.Heading, fnvOffset^0x5bd1e995, nil) {
		idx = append(idx, uint32(mix64(h)&mask))
	}
	for _, h := range tokenHashes(in.Context, fnvOffset^0x27d4eb2f, nil) {
		idx = append(idx, uint32(mix64(h)&mask))
	}
	for _, h := range tokenHashes(neighbourText(in.Prev)+" "+neighbourText(in.Next), fnvOffset^0x165667b1, nil) {
		idx = append(idx, uint32(mix64(h)&mask)|neighbourBit)
	}
	slices.Sort(idx)
	out := make([]Feature, 0, len(idx))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && idx[j] == idx[i] {
			j++
		}
		v := float32(1 + math.Log(float64(j-i)))
		ix := idx[i]
		if ix&neighbourBit != 0 {
			ix &^= neighbourBit
			v *= neighbourWeight
		}
		out = append(out, Feature{Index: ix, Value: v})
		i = j
	}
	var norm float64
	for _, f := range out {
		norm += float64(f.Value) * float64(f.Value)
	}
	if norm > 0 {
		inv := float32(1 / math.Sqrt(norm))
		for i := range out {
			out[i].Value *= inv
		}
	}
	return out
}

// prefixHashes hashes the first six letters of each word of at least seven
// letters, a cheap stemmer ("assignment", "assigned" -> "assign").
func prefixHashes(text string, dst []uint64) []uint64 {
	const seed = fnvOffset ^ 0x85ebca6b
	n := 0
	var buf [6]rune
	letters := 0
	flush := func() {
		if letters >= 7 {
			dst = append(dst, fnvString(seed, string(buf[:])))
		}
		n, letters = 0, 0
	}
	for _, r := range text {
		if unicode.IsLetter(r) {
			if n < len(buf) {
				buf[n] = unicode.ToLower(r)
				n++
			}
			letters++
			continue
		}
		flush()
	}
	flush()
	return dst
}

// FeatureInputs builds the classifier inputs of a document's clauses, with
// section context and neighbours.
func FeatureInputs(cs []Clause) []FeatureInput {
	ctx := ClauseContexts(cs)
	out := make([]FeatureInput, len(cs))
	for i, c := range cs {
		out[i] = FeatureInput{Heading: c.Heading, Context: ctx[i], Text: c.Text}
		if i > 0 {
			out[i].Prev = cs[i-1].Text
		}
		if i+1 < len(cs) {
			out[i].Next = cs[i+1].Text
		}
	}
	return out
}

// ClauseContexts returns, for each clause, the heading of the section it sits
// in: its own heading, else the nearest heading before it.
func ClauseContexts(cs []Clause) []string {
	out := make([]string, len(cs))
	last := ""
	for i, c := range cs {
		if c.Heading != "" {
			last = c.Heading
		}
		out[i] = last
	}
	return out
}

// Neighbour features are tagged with a high bit while sorting (dimensions are
// below 2^31) and down-weighted.
const (
	neighbourBit    = 1 << 31
	neighbourWeight = 0.35
)

// neighbourText keeps the first 400 bytes of a neighbouring clause.
func neighbourText(s string) string {
	if len(s) > 400 {
		return s[:400]
	}
	return s
}
