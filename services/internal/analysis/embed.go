package analysis

import (
	"math"
	"slices"
	"strings"
	"unicode"
)

// EmbeddingDim is the dimension of every clause embedding in the system
// (offline and provider embeddings alike).
const EmbeddingDim = 384

// EmbedderVersion names the offline embedder; vectors of different versions
// are not comparable.
const EmbedderVersion = "offline-hash-v1"

var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be by for from has have in is it its of on or such that the
		this to was were will with shall any all may other which upon hereof hereunder herein thereof such party parties agreement`) {
		m[w] = true
	}
	return m
}()

// Embed returns the offline embedding of a clause: signed feature hashing of
// word unigrams, word bigrams and character 4-grams into EmbeddingDim
// dimensions with sublinear weights, L2-normalised. It is deterministic and
// needs no model; clauses sharing wording and vocabulary end up close in
// cosine similarity. The vector of an empty text is a unit vector on the
// first axis.
func Embed(text string) []float32 {
	acc := make([]float64, EmbeddingDim)
	words := embedWords(text)
	counts := map[uint64]float64{}
	add := func(h uint64, w float64) { counts[h] += w }
	for i, w := range words {
		uw := 1.0
		if stopwords[w] {
			uw = 0.15
		}
		add(fnvString(fnvOffset, w), uw)
		if i > 0 && !(stopwords[w] && stopwords[words[i-1]]) {
			add(fnvString(fnvString(fnvOffset^0x1234567, words[i-1]), " "+w), 0.6)
		}
		if !stopwords[w] {
			p := "<" + w + ">"
			r := []rune(p)
			for j := 0; j+4 <= len(r); j++ {
				add(fnvString(fnvOffset^0x7654321, string(r[j:j+4])), 0.25)
			}
		}
	}
	keys := make([]uint64, 0, len(counts))
	for h := range counts {
		keys = append(keys, h)
	}
	slices.Sort(keys) // fixed summation order: bit-for-bit deterministic vectors
	for _, h := range keys {
		tf := counts[h]
		x := mix64(h)
		sign := 1.0
		if x&(1<<63) != 0 {
			sign = -1
		}
		acc[int(x%EmbeddingDim)] += sign * math.Sqrt(tf)
	}
	var norm float64
	for _, v := range acc {
		norm += v * v
	}
	out := make([]float32, EmbeddingDim)
	if norm == 0 {
		out[0] = 1
		return out
	}
	inv := 1 / math.Sqrt(norm)
	for i, v := range acc {
		out[i] = float32(v * inv)
	}
	return out
}

func embedWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// Cosine returns the cosine similarity of two vectors of equal length.
func Cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
