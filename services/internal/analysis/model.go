package analysis

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// ModelFile is the embedded model artifact, versioned by name. It is built
// reproducibly from the CUAD data by `go run ./hack/classifier build`.
const ModelFile = "model/model-v1.bin.gz"

//go:embed model/model-v1.bin.gz
var embeddedModel []byte

const modelMagic = "CLCM"

// ModelData is a trained linear model before quantisation: one-vs-rest
// logistic regression over hashed features, with per-category decision
// thresholds on the probability.
type ModelData struct {
	Version    string
	Dim        uint32 // hashed feature space, a power of two
	Categories []string
	Bias       []float32
	Threshold  []float32
	Weights    [][]Feature // per category, sorted by index, zeros omitted
	IDF        []float32   // optional inverse document frequency per feature (len Dim), applied before scoring
}

// Model is a loaded, quantised classifier. It is immutable and safe for
// concurrent use.
type Model struct {
	version    string
	dim        uint32
	categories []string
	bias       []float32
	scale      []float32
	threshold  []float32
	weights    []int8 // dim x len(categories), row-major by feature
	idf        []float32
}

// Version identifies the model, e.g. "cuad-lr-v1".
func (m *Model) Version() string { return m.version }

// Categories returns the categories the model scores, in score order.
func (m *Model) Categories() []string { return append([]string(nil), m.categories...) }

// Thresholds returns the per-category decision thresholds.
func (m *Model) Thresholds() []float32 { return append([]float32(nil), m.threshold...) }

var defaultModel = sync.OnceValues(func() (*Model, error) {
	return LoadModel(bytes.NewReader(embeddedModel))
})

// DefaultModel returns the classifier embedded in the binary (loaded once).
func DefaultModel() (*Model, error) { return defaultModel() }

// EncodeModel quantises d (int8 weights with a per-category scale) and
// writes it gzip-compressed. The output depends only on d.
func EncodeModel(w io.Writer, d ModelData) error {
	if len(d.Categories) != len(d.Bias) || len(d.Categories) != len(d.Threshold) || len(d.Categories) != len(d.Weights) {
		return errors.New("encode model: inconsistent category counts")
	}
	var buf bytes.Buffer
	buf.WriteString(modelMagic)
	putString(&buf, d.Version)
	putUvarint(&buf, uint64(d.Dim))
	putUvarint(&buf, uint64(len(d.Categories)))
	if len(d.IDF) == int(d.Dim) {
		// IDF quantised to 1/16 steps in a byte (idf <= 15.9).
		putUvarint(&buf, 1)
		for _, v := range d.IDF {
			buf.WriteByte(byte(min(255, max(0, math.Round(float64(v)*idfScale)))))
		}
	} else {
		putUvarint(&buf, 0)
	}
	for c, name := range d.Categories {
		var maxAbs float32
		for _, f := range d.Weights[c] {
			maxAbs = max(maxAbs, float32(math.Abs(float64(f.Value))))
		}
		scale := maxAbs / 127
		if scale == 0 {
			scale = 1
		}
		var idx []uint32
		var q []int8
		for _, f := range d.Weights[c] {
			if f.Index >= d.Dim {
				return fmt.Errorf("encode model: feature %d outside dimension %d", f.Index, d.Dim)
			}
			v := math.Round(float64(f.Value / scale))
			if v == 0 {
				continue
			}
			idx = append(idx, f.Index)
			q = append(q, int8(v))
		}
		putString(&buf, name)
		putFloat(&buf, d.Bias[c])
		putFloat(&buf, scale)
		putFloat(&buf, d.Threshold[c])
		putUvarint(&buf, uint64(len(idx)))
		prev := uint32(0)
		for i, ix := range idx {
			if i > 0 && ix <= prev {
				return errors.New("encode model: weights not sorted by index")
			}
			putUvarint(&buf, uint64(ix-prev))
			prev = ix
		}
		for _, v := range q {
			buf.WriteByte(byte(v))
		}
	}
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("encode model: %w", err)
	}
	return zw.Close()
}

// LoadModel reads a model written by EncodeModel.
func LoadModel(r io.Reader) (*Model, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	br := bufio.NewReader(zr)
	magic := make([]byte, len(modelMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != modelMagic {
		return nil, errors.New("load model: not a model file")
	}
	m := &Model{}
	if m.version, err = getString(br); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	dim, err := binary.ReadUvarint(br)
	if err != nil || dim == 0 || dim&(dim-1) != 0 || dim > 1<<24 {
		return nil, fmt.Errorf("load model: bad dimension %d", dim)
	}
	m.dim = uint32(dim)
	nc, err := binary.ReadUvarint(br)
	if err != nil || nc == 0 || nc > 1000 {
		return nil, errors.New("load model: bad category count")
	}
	C := int(nc)
	hasIDF, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, errors.New("load model: bad header")
	}
	if hasIDF == 1 {
		raw := make([]byte, dim)
		if _, err := io.ReadFull(br, raw); err != nil {
			return nil, fmt.Errorf("load model: idf: %w", err)
		}
		m.idf = make([]float32, dim)
		for i, b := range raw {
			m.idf[i] = float32(b) / idfScale
		}
	}
	m.weights = make([]int8, int(dim)*C)
	for c := 0; c < C; c++ {
		name, err := getString(br)
		if err != nil {
			return nil, fmt.Errorf("load model: category %d: %w", c, err)
		}
		m.categories = append(m.categories, name)
		var vals [3]float32
		for i := range vals {
			if vals[i], err = getFloat(br); err != nil {
				return nil, fmt.Errorf("load model: %s: %w", name, err)
			}
		}
		m.bias = append(m.bias, vals[0])
		m.scale = append(m.scale, vals[1])
		m.threshold = append(m.threshold, vals[2])
		nnz, err := binary.ReadUvarint(br)
		if err != nil || nnz > dim {
			return nil, fmt.Errorf("load model: %s: bad weight count", name)
		}
		idx := make([]uint32, nnz)
		prev := uint64(0)
		for i := range idx {
			d, err := binary.ReadUvarint(br)
			if err != nil {
				return nil, fmt.Errorf("load model: %s: %w", name, err)
			}
			prev += d
			if prev >= dim {
				return nil, fmt.Errorf("load model: %s: index out of range", name)
			}
			idx[i] = uint32(prev)
		}
		for _, ix := range idx {
			b, err := br.ReadByte()
			if err != nil {
				return nil, fmt.Errorf("load model: %s: %w", name, err)
			}
			m.weights[int(ix)*C+c] = int8(b)
		}
	}
	return m, nil
}

// Prediction is the classification of one clause.
type Prediction struct {
	Category   string    // the primary category, or Other
	Confidence float64   // probability of the primary category (for Other: 1 - the highest probability)
	Labels     []string  // every category whose probability reaches its threshold (multi-label)
	Scores     []float64 // probability per category, in Model.Categories() order
}

// Scores returns the per-category probabilities for a clause.
func (m *Model) scores(in FeatureInput) []float64 {
	C := len(m.categories)
	acc := make([]float32, C)
	for _, f := range ApplyIDF(ClauseFeatures(in, m.dim), m.idf) {
		row := m.weights[int(f.Index)*C : int(f.Index)*C+C]
		for c, q := range row {
			if q != 0 {
				acc[c] += f.Value * float32(q)
			}
		}
	}
	out := make([]float64, C)
	for c := range acc {
		out[c] = sigmoid(float64(acc[c]*m.scale[c] + m.bias[c]))
	}
	return out
}

// Classify classifies the clauses of one document (as SplitClauses returns
// them), using each clause's section heading as context.
func (m *Model) Classify(cs []Clause) []Prediction {
	out := make([]Prediction, len(cs))
	for i, in := range FeatureInputs(cs) {
		out[i] = m.Predict(in)
	}
	return out
}

// Predict classifies one clause (see FeatureInputs for building the input
// from a document's clauses). The primary category is the passing category
// with the largest log-odds margin over its threshold.
func (m *Model) Predict(in FeatureInput) Prediction {
	p := Prediction{Scores: m.scores(in), Category: Other}
	best, top := math.Inf(-1), 0.0
	for c, s := range p.Scores {
		top = max(top, s)
		thr := float64(m.threshold[c])
		if s < thr {
			continue
		}
		p.Labels = append(p.Labels, m.categories[c])
		if margin := logit(s) - logit(thr); margin > best {
			best = margin
			p.Category = m.categories[c]
			p.Confidence = s
		}
	}
	if p.Category == Other {
		p.Confidence = 1 - top
	}
	return p
}

const idfScale = 16

// QuantiseIDF rounds idf values the way the model file stores them, so
// training sees exactly the weights inference will use.
func QuantiseIDF(idf []float32) []float32 {
	out := make([]float32, len(idf))
	for i, v := range idf {
		out[i] = float32(min(255, max(0, math.Round(float64(v)*idfScale)))) / idfScale
	}
	return out
}

// ApplyIDF multiplies features by their IDF and re-normalises (no-op when idf is nil).
func ApplyIDF(fs []Feature, idf []float32) []Feature {
	if idf == nil {
		return fs
	}
	var norm float64
	for i := range fs {
		fs[i].Value *= idf[fs[i].Index]
		norm += float64(fs[i].Value) * float64(fs[i].Value)
	}
	if norm > 0 {
		inv := float32(1 / math.Sqrt(norm))
		for i := range fs {
			fs[i].Value *= inv
		}
	}
	return fs
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logit(p float64) float64 {
	p = min(max(p, 1e-9), 1-1e-9)
	return math.Log(p / (1 - p))
}

func putUvarint(b *bytes.Buffer, v uint64) {
	var tmp [binary.MaxVarintLen64]byte
	b.Write(tmp[:binary.PutUvarint(tmp[:], v)])
}

func putString(b *bytes.Buffer, s string) {
	putUvarint(b, uint64(len(s)))
	b.WriteString(s)
}

func putFloat(b *bytes.Buffer, f float32) {
	var tmp [4]byte
	binary.LittleEndian.PutUint32(tmp[:], math.Float32bits(f))
	b.Write(tmp[:])
}

func getString(r *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil || n > 1<<16 {
		return "", errors.New("bad string")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

func getFloat(r *bufio.Reader) (float32, error) {
	var tmp [4]byte
	if _, err := io.ReadFull(r, tmp[:]); err != nil {
		return 0, err
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(tmp[:])), nil
}
