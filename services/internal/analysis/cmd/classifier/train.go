package main

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

// trainConfig holds the hyper-parameters; all randomness comes from Seed.
type trainConfig struct {
	Dim             uint32
	Epochs          int
	Rate            float64
	Seed            uint64
	MaxPosW         float64 // cap of the positive-class weight sqrt(neg/pos)
	KeepPerC        int     // largest weights kept per category in the artifact
	Version         string
	MinThresh       float64
	SkipPartial     bool
	MicroThresholds bool
	L2              float64 // weight decay per example, applied in batches
	MacroWeight     float64 // thresholds maximise micro-F1 + MacroWeight x macro-F1
}

// defaultConfig is the clause layer's configuration; sentenceConfig derives
// the sentence layer's from it. MacroWeight 0.25 (out-of-fold: micro-F1
// 0.641 -> 0.640, macro-F1 0.509 -> 0.518) trades a little micro-F1 for the
// rarer categories.
func defaultConfig() trainConfig {
	return trainConfig{Dim: 1 << 18, Epochs: 12, Rate: 0.5, Seed: 20260101, MaxPosW: 8, KeepPerC: 24000, Version: "cuad-lr-v3", MinThresh: 0.05, MicroThresholds: true, MacroWeight: 0.25}
}

// sentenceConfig: the sentence layer learns faster (rate 1.0; chosen by
// out-of-fold micro-F1: 0.5 → 0.635, 1.0 → 0.640, 2.0 → 0.643) and always
// skips (sentence, category) pairs whose span could not be placed.
func sentenceConfig(cfg trainConfig) trainConfig {
	cfg.Rate = 1.0
	cfg.Seed++
	cfg.SkipPartial = true
	return cfg
}

const decayEvery = 500

type example struct {
	feats  []analysis.Feature
	labels uint64
	skip   uint64 // categories not to learn from on this example
}

func featurize(cls []labelledClause, dim uint32) []example {
	out := make([]example, len(cls))
	for i, c := range cls {
		out[i] = example{feats: analysis.ClauseFeatures(c.in, dim), labels: c.labels, skip: c.partial &^ c.labels}
	}
	return out
}

// featurizeSentences returns the sentence examples of the clauses and, for
// each, the index of its clause.
func featurizeSentences(cls []labelledClause, dim uint32) (ex []example, owner []int) {
	for i, c := range cls {
		for _, s := range c.sents {
			ex = append(ex, example{feats: analysis.ClauseFeatures(s.in, dim), labels: s.labels, skip: s.unknown &^ s.labels})
			owner = append(owner, i)
		}
	}
	return ex, owner
}

// trainLR fits one-vs-rest logistic regression by averaged SGD (Polyak
// averaging via the accumulated-update trick) and returns the averaged
// weights (dim x C, row-major by feature) and biases.
func trainLR(cfg trainConfig, ex []example, C int) ([]float32, []float32) {
	D := int(cfg.Dim)
	w := make([]float32, D*C)
	u := make([]float32, D*C) // sum of t * update
	b := make([]float64, C)
	ub := make([]float64, C)
	posW := make([]float64, C)
	for c := 0; c < C; c++ {
		pos := 0
		for _, e := range ex {
			if e.labels&(1<<c) != 0 {
				pos++
			}
		}
		neg := len(ex) - pos
		posW[c] = 1
		if pos > 0 {
			posW[c] = math.Min(cfg.MaxPosW, math.Max(1, math.Sqrt(float64(neg)/float64(pos))))
			b[c] = math.Log(float64(pos) / float64(neg))
		} else {
			b[c] = -8
		}
	}
	order := make([]int, len(ex))
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	scores := make([]float64, C)
	t := 1.0
	for epoch := 0; epoch < cfg.Epochs; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		rate := cfg.Rate / (1 + 0.3*float64(epoch))
		for _, k := range order {
			e := ex[k]
			for c := range scores {
				scores[c] = b[c]
			}
			for _, f := range e.feats {
				row := w[int(f.Index)*C : int(f.Index)*C+C]
				for c, v := range row {
					scores[c] += float64(f.Value * v)
				}
			}
			for c := 0; c < C; c++ {
				if cfg.SkipPartial && e.skip&(1<<c) != 0 {
					continue
				}
				y, wt := 0.0, 1.0
				if e.labels&(1<<c) != 0 {
					y, wt = 1, posW[c]
				}
				g := wt * (y - 1/(1+math.Exp(-scores[c]))) // gradient of the log-likelihood wrt the score
				if math.Abs(g) < 1e-4 {
					continue
				}
				step := rate * g
				b[c] += step * 0.1
				ub[c] += t * step * 0.1
				for _, f := range e.feats {
					d := float32(step) * f.Value
					i := int(f.Index)*C + c
					w[i] += d
					u[i] += float32(t) * d
				}
			}
			t++
			if cfg.L2 > 0 && int(t)%decayEvery == 0 {
				// L2 regularisation: shrink every weight (recorded in u for the average).
				f := float32(rate * cfg.L2 * decayEvery)
				for i, v := range w {
					d := -f * v
					w[i] += d
					u[i] += float32(t) * d
				}
			}
		}
	}
	avg := make([]float32, D*C)
	for i := range w {
		avg[i] = w[i] - u[i]/float32(t)
	}
	bias := make([]float32, C)
	for c := range b {
		bias[c] = float32(b[c] - ub[c]/t)
	}
	return avg, bias
}

// toLinear keeps the KeepPerC largest weights of each category.
func toLinear(cfg trainConfig, C int, w, bias []float32) analysis.LinearData {
	d := analysis.LinearData{Bias: bias, Weights: make([][]analysis.Feature, C)}
	for c := 0; c < C; c++ {
		var fs []analysis.Feature
		for i := 0; i < int(cfg.Dim); i++ {
			if v := w[i*C+c]; v != 0 {
				fs = append(fs, analysis.Feature{Index: uint32(i), Value: v})
			}
		}
		sort.SliceStable(fs, func(i, j int) bool {
			ai, aj := math.Abs(float64(fs[i].Value)), math.Abs(float64(fs[j].Value))
			if ai != aj {
				return ai > aj
			}
			return fs[i].Index < fs[j].Index
		})
		if len(fs) > cfg.KeepPerC {
			fs = fs[:cfg.KeepPerC]
		}
		sort.Slice(fs, func(i, j int) bool { return fs[i].Index < fs[j].Index })
		d.Weights[c] = fs
	}
	return d
}

// tuneThresholds picks, per category, the probability threshold maximising
// F1 on the validation examples (0.5 where validation has no positives).
func tuneThresholds(cfg trainConfig, ex []example, probs [][]float64, C int) []float32 {
	th := make([]float32, C)
	for c := 0; c < C; c++ {
		type pair struct {
			p   float64
			pos bool
		}
		ps := make([]pair, len(ex))
		total := 0
		for k, e := range ex {
			ps[k] = pair{probs[k][c], e.labels&(1<<c) != 0}
			if ps[k].pos {
				total++
			}
		}
		th[c] = 0.5
		if total == 0 {
			continue
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].p > ps[j].p })
		bestF, tp := -1.0, 0
		for i, p := range ps {
			if p.pos {
				tp++
			}
			if i+1 < len(ps) && ps[i+1].p == p.p {
				continue
			}
			f := 2 * float64(tp) / float64(i+1+total)
			if f > bestF {
				bestF = f
				next := 0.0
				if i+1 < len(ps) {
					next = ps[i+1].p
				}
				th[c] = float32(math.Max(cfg.MinThresh, (p.p+next)/2))
			}
		}
	}
	return th
}

// microThresholds adjusts the per-category thresholds by coordinate ascent to
// maximise micro-F1 over the yes/no clause categories (the reported metric),
// starting from the per-category optima.
func microThresholds(ex []example, probs [][]float64, th []float32, cats []string) []float32 {
	return blendThresholds(ex, probs, th, cats, 0)
}

// blendThresholds maximises micro-F1 + lambda x macro-F1 over the yes/no
// categories by the same coordinate ascent.
func blendThresholds(ex []example, probs [][]float64, th []float32, cats []string, lambda float64) []float32 {
	th = append([]float32(nil), th...)
	C := len(cats)
	counted := make([]bool, C)
	for c, name := range cats {
		counted[c] = analysis.IsClauseCategory(name)
	}
	// per-category confusion counts at a threshold
	countAt := func(c int, t float32) (tp, fp, fn int) {
		for k, e := range ex {
			pos := e.labels&(1<<c) != 0
			pred := probs[k][c] >= float64(t)
			switch {
			case pos && pred:
				tp++
			case pred:
				fp++
			case pos:
				fn++
			}
		}
		return
	}
	tp, fp, fn := make([]int, C), make([]int, C), make([]int, C)
	for c := 0; c < C; c++ {
		tp[c], fp[c], fn[c] = countAt(c, th[c])
	}
	micro := func() float64 {
		var a, b, d int
		for c := 0; c < C; c++ {
			if counted[c] {
				a, b, d = a+tp[c], b+fp[c], d+fn[c]
			}
		}
		if a == 0 {
			return 0
		}
		f := 2 * float64(a) / float64(2*a+b+d)
		if lambda > 0 {
			var sum float64
			n := 0
			for c := 0; c < C; c++ {
				if counted[c] {
					n++
					if tp[c] > 0 {
						sum += 2 * float64(tp[c]) / float64(2*tp[c]+fp[c]+fn[c])
					}
				}
			}
			f += lambda * sum / float64(n)
		}
		return f
	}
	grid := []float32{0.05, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95}
	for pass := 0; pass < 3; pass++ {
		for c := 0; c < C; c++ {
			if !counted[c] {
				continue
			}
			best, bestT := micro(), th[c]
			for _, t := range grid {
				otp, ofp, ofn := tp[c], fp[c], fn[c]
				tp[c], fp[c], fn[c] = countAt(c, t)
				if f := micro(); f > best+1e-9 {
					best, bestT = f, t
				}
				tp[c], fp[c], fn[c] = otp, ofp, ofn
			}
			th[c] = bestT
			tp[c], fp[c], fn[c] = countAt(c, bestT)
		}
	}
	return th
}
