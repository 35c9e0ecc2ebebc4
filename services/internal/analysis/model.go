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
const ModelFile = "model/model-v3.bin.gz"

//go:embed model/model-v3.bin.gz
var embeddedModel []byte

// modelMagic marks the artifact format: v3 added per-category calibration;
// other formats are refused.
const modelMagic = "CLC3"

// ModelData is a trained model before quantisation. Two one-vs-rest
// logistic regressions over the same hashed features score a clause: one
// reads the whole clause, the other each of its sentences. A category's
// log-odds is (1-SentenceWeight) x the clause's + SentenceWeight x the best
// sentence's, compared with a per-category probability threshold. Calib
// maps that log-odds z to a calibrated probability sigmoid(a z + b) per
// category (Platt scaling on out-of-fold scores).
type ModelData struct {
	Version        string
	Dim            uint32 // hashed feature space, a power of two
	Categories     []string
	Threshold      []float32
	Calib          [][2]float32
	SentenceWeight float32
	Clause         LinearData
	Sentence       LinearData
}

// LinearData is one one-vs-rest linear layer: a bias and sparse weights per
// category (sorted by index, zeros omitted).
type LinearData struct {
	Bias    []float32
	Weights [][]Feature
}

// Model is a loaded, quantised classifier. It is immutable and safe for
// concurrent use.
type Model struct {
	version    string
	dim        uint32
	categories []string
	threshold  []float32
	calib      [][2]float32
	alpha      float32
	clause     linear
	sentence   linear
}

// linear is a quantised layer: int8 weights with a per-category scale.
type linear struct {
	bias    []float32
	scale   []float32
	weights []int8 // dim x categories, row-major by feature
}

// Version identifies the model, e.g. "cuad-lr-v3".
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
	C := len(d.Categories)
	if C == 0 || len(d.Threshold) != C || len(d.Calib) != C {
		return errors.New("encode model: inconsistent category counts")
	}
	var buf bytes.Buffer
	buf.WriteString(modelMagic)
	putString(&buf, d.Version)
	putUvarint(&buf, uint64(d.Dim))
	putUvarint(&buf, uint64(C))
	for c, name := range d.Categories {
		putString(&buf, name)
		putFloat(&buf, d.Threshold[c])
		putFloat(&buf, d.Calib[c][0])
		putFloat(&buf, d.Calib[c][1])
	}
	putFloat(&buf, d.SentenceWeight)
	for _, l := range []LinearData{d.Clause, d.Sentence} {
		if err := encodeLinear(&buf, l, d.Dim, C); err != nil {
			return err
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

func encodeLinear(buf *bytes.Buffer, l LinearData, dim uint32, C int) error {
	if len(l.Bias) != C || len(l.Weights) != C {
		return errors.New("encode model: inconsistent category counts")
	}
	for c := 0; c < C; c++ {
		var maxAbs float32
		for _, f := range l.Weights[c] {
			maxAbs = max(maxAbs, float32(math.Abs(float64(f.Value))))
		}
		scale := maxAbs / 127
		if scale == 0 {
			scale = 1
		}
		var idx []uint32
		var q []int8
		for _, f := range l.Weights[c] {
			if f.Index >= dim {
				return fmt.Errorf("encode model: feature %d outside dimension %d", f.Index, dim)
			}
			v := math.Round(float64(f.Value / scale))
			if v == 0 {
				continue
			}
			idx = append(idx, f.Index)
			q = append(q, int8(v))
		}
		putFloat(buf, l.Bias[c])
		putFloat(buf, scale)
		putUvarint(buf, uint64(len(idx)))
		prev := uint32(0)
		for i, ix := range idx {
			if i > 0 && ix <= prev {
				return errors.New("encode model: weights not sorted by index")
			}
			putUvarint(buf, uint64(ix-prev))
			prev = ix
		}
		for _, v := range q {
			buf.WriteByte(byte(v))
		}
	}
	return nil
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
		return nil, errors.New("load model: not a model file of this version")
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
	if err != nil || nc == 0 || nc > 64 {
		return nil, errors.New("load model: bad category count")
	}
	C := int(nc)
	for c := 0; c < C; c++ {
		name, err := getString(br)
		if err != nil {
			return nil, fmt.Errorf("load model: category %d: %w", c, err)
		}
		var v [3]float32
		for i := range v {
			if v[i], err = getFloat(br); err != nil {
				return nil, fmt.Errorf("load model: %s: %w", name, err)
			}
		}
		if v[1] <= 0 {
			return nil, fmt.Errorf("load model: %s: bad calibration", name)
		}
		m.categories = append(m.categories, name)
		m.threshold = append(m.threshold, v[0])
		m.calib = append(m.calib, [2]float32{v[1], v[2]})
	}
	if m.alpha, err = getFloat(br); err != nil || m.alpha < 0 || m.alpha > 1 {
		return nil, errors.New("load model: bad sentence weight")
	}
	for _, l := range []*linear{&m.clause, &m.sentence} {
		if *l, err = loadLinear(br, m.dim, m.categories); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func loadLinear(br *bufio.Reader, dim uint32, cats []string) (linear, error) {
	C := len(cats)
	l := linear{weights: make([]int8, int(dim)*C)}
	for c, name := range cats {
		var vals [2]float32
		var err error
		for i := range vals {
			if vals[i], err = getFloat(br); err != nil {
				return l, fmt.Errorf("load model: %s: %w", name, err)
			}
		}
		l.bias = append(l.bias, vals[0])
		l.scale = append(l.scale, vals[1])
		nnz, err := binary.ReadUvarint(br)
		if err != nil || nnz > uint64(dim) {
			return l, fmt.Errorf("load model: %s: bad weight count", name)
		}
		idx := make([]uint32, nnz)
		prev := uint64(0)
		for i := range idx {
			d, err := binary.ReadUvarint(br)
			if err != nil {
				return l, fmt.Errorf("load model: %s: %w", name, err)
			}
			prev += d
			if prev >= uint64(dim) || (i > 0 && d == 0) {
				return l, fmt.Errorf("load model: %s: index out of range", name)
			}
			idx[i] = uint32(prev)
		}
		for _, ix := range idx {
			b, err := br.ReadByte()
			if err != nil {
				return l, fmt.Errorf("load model: %s: %w", name, err)
			}
			l.weights[int(ix)*C+c] = int8(b)
		}
	}
	return l, nil
}

// logits returns the per-category log-odds of one input under the layer.
func (l *linear) logits(in FeatureInput, dim uint32, out []float64) {
	C := len(l.bias)
	acc := make([]float32, C)
	for _, f := range ClauseFeatures(in, dim) {
		row := l.weights[int(f.Index)*C : int(f.Index)*C+C]
		for c, q := range row {
			if q != 0 {
				acc[c] += f.Value * float32(q)
			}
		}
	}
	for c := range acc {
		out[c] = float64(acc[c]*l.scale[c] + l.bias[c])
	}
}

// Logits returns the clause layer's log-odds of a clause and, per category,
// the highest log-odds of the sentence layer over its sentences (see
// SentenceInputs). The training command combines them to choose the
// sentence weight; Predict uses Scores.
func (m *Model) Logits(in FeatureInput) (clause, sentence []float64) {
	C := len(m.categories)
	clause = make([]float64, C)
	m.clause.logits(in, m.dim, clause)
	sentence = make([]float64, C)
	for c := range sentence {
		sentence[c] = math.Inf(-1)
	}
	for _, row := range m.SentenceLogits(in) {
		for c, v := range row {
			sentence[c] = max(sentence[c], v)
		}
	}
	return clause, sentence
}

// SentenceLogits returns the sentence layer's log-odds for each sentence of
// a clause (see SentenceInputs).
func (m *Model) SentenceLogits(in FeatureInput) [][]float64 {
	ins := SentenceInputs(in)
	out := make([][]float64, len(ins))
	for j, s := range ins {
		out[j] = make([]float64, len(m.categories))
		m.sentence.logits(s, m.dim, out[j])
	}
	return out
}

// CombineLogits mixes the clause and best-sentence log-odds with weight
// alpha on the sentence and returns probabilities.
func CombineLogits(clause, sentence []float64, alpha float64) []float64 {
	out := make([]float64, len(clause))
	for c := range out {
		out[c] = sigmoid((1-alpha)*clause[c] + alpha*sentence[c])
	}
	return out
}

// Prediction is the classification of one clause.
type Prediction struct {
	// Category is the clause's type: the passing category with the largest
	// margin over its threshold among those a clause can have (see
	// IsClauseType), or Other when none reaches its threshold. The
	// threshold is the floor: a weaker guess is not shown.
	Category string
	// Confidence is the calibrated probability of Category (for Other: 1
	// minus the highest calibrated probability of a clause type).
	Confidence float64
	// Likelihood puts Confidence in words (see Likelihood); "" for Other.
	Likelihood string
	// Labels are all categories that reach their thresholds (multi-label,
	// including the value categories that feed ExtractFacts).
	Labels []string
	// Scores are the calibrated probabilities, in Model.Categories() order.
	Scores []float64
}

// Likelihood words for calibrated probabilities, as a lawyer reads them:
// "likely" from 0.5 (more likely than not; on the held-out contracts 78% of
// such clause categories are right), "possible" below (shown because the
// category passed its floor; 34% right). See the README.
func Likelihood(p float64) string {
	if p >= 0.5 {
		return "likely"
	}
	return "possible"
}

// valueOnly are the CUAD categories that are values rather than clause
// types: a preamble or a date sentence becomes a fact (ExtractFacts), never
// a clause's category. Governing Law, Renewal Term and Notice Period to
// Terminate Renewal stay clause types: they are clauses lawyers look for
// and the default playbook rates them (auto-renewal, long notice periods).
var valueOnly = map[string]bool{"Document Name": true, "Parties": true, "Agreement Date": true, "Effective Date": true, "Expiration Date": true}

// IsClauseType reports whether name may be a clause's Category: one of
// the 33 yes/no categories, or Governing Law, Renewal Term or Notice Period
// to Terminate Renewal.
func IsClauseType(name string) bool {
	if name == Other || valueOnly[name] {
		return false
	}
	_, ok := CanonicalCategory(name)
	return ok
}

// scores returns the per-category raw probabilities (what the thresholds
// apply to) for a clause.
func (m *Model) scores(in FeatureInput) []float64 {
	clause, sentence := m.Logits(in)
	return CombineLogits(clause, sentence, float64(m.alpha))
}

// calibrated maps a raw probability of category c to a calibrated one.
func (m *Model) calibrated(c int, p float64) float64 {
	return sigmoid(float64(m.calib[c][0])*logit(p) + float64(m.calib[c][1]))
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
// from a document's clauses).
func (m *Model) Predict(in FeatureInput) Prediction {
	raw := m.scores(in)
	p := Prediction{Scores: make([]float64, len(raw)), Category: Other}
	best, top := math.Inf(-1), 0.0
	for c, s := range raw {
		p.Scores[c] = m.calibrated(c, s)
		name := m.categories[c]
		clauseType := !valueOnly[name]
		if clauseType {
			top = max(top, p.Scores[c])
		}
		thr := float64(m.threshold[c])
		if s < thr {
			continue
		}
		p.Labels = append(p.Labels, name)
		if margin := logit(s) - logit(thr); clauseType && margin > best {
			best = margin
			p.Category = name
			p.Confidence = p.Scores[c]
		}
	}
	if p.Category == Other {
		p.Confidence = 1 - top
	} else {
		p.Likelihood = Likelihood(p.Confidence)
	}
	return p
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
