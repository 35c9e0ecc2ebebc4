// Command classifier builds and evaluates the offline CUAD clause classifier
// embedded in services/internal/analysis (run it as `go run ./hack/classifier`
// from the repository root).
//
//	build [-data DIR] [-out FILE]  choose the sentence weight and thresholds by 4-fold CV on
//	                               train+validation, train on both, write the versioned artifact
//	build -cv-only [flags]         only the out-of-fold micro-F1 (for choosing settings)
//	eval  [-data DIR]              per-category paragraph-level P/R/F1 of the embedded
//	                               model and the keyword baseline on the test split
//	facts [-data DIR] [-all] [-v]  accuracy of ExtractFacts against the CUAD labels (test split)
//	playbook-sql                   print migration 0002_playbook.sql (the default playbook)
//	split FILE                     show how a text file is split into clauses
package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"sync"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: classifier build|eval|split [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = runBuild(os.Args[2:])
	case "eval":
		err = runEval(os.Args[2:])
	case "split":
		err = runSplit(os.Args[2:])
	case "facts":
		err = runFacts(os.Args[2:])
	case "embed-eval":
		err = runEmbedEval(os.Args[2:])
	case "playbook-sql":
		fmt.Print(analysis.PlaybookSQL(analysis.DefaultRules()))
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "classifier:", err)
		os.Exit(1)
	}
}

func dataFlag(fs *flag.FlagSet) *string {
	def, err := fixtures.CUADDir() // $CUAD_DIR, or testdata/cuad in the repository
	if err != nil {
		def = "testdata/cuad"
	}
	return fs.String("data", def, "CUAD directory with txt/ and labels.jsonl (default $CUAD_DIR, or testdata/cuad)")
}

func load(dir string) (*dataset, error) {
	start := time.Now()
	ds, err := loadCUAD(dir)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "loaded %d contracts in %s; %d of %d labelled spans located in the text\n",
		len(ds.contracts), time.Since(start).Round(time.Millisecond), ds.found, ds.spans)
	for _, s := range []split{splitTrain, splitVal, splitTest} {
		n, c := ds.count(s)
		fmt.Fprintf(os.Stderr, "  %-10s %3d contracts %6d clauses\n", s, n, c)
	}
	return ds, nil
}

func runBuild(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	dir := dataFlag(fs)
	out := fs.String("out", "services/internal/analysis/"+analysis.ModelFile, "model artifact to write")
	cfg := defaultConfig()
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "SGD epochs")
	fs.IntVar(&cfg.KeepPerC, "keep", cfg.KeepPerC, "weights kept per category and layer")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "learning rate of the clause layer")
	fs.Float64Var(&cfg.MaxPosW, "posw", cfg.MaxPosW, "cap of the positive class weight")
	bits := fs.Int("bits", 18, "log2 of the hashed feature dimension")
	fs.Float64Var(&cfg.L2, "l2", cfg.L2, "L2 regularisation strength")

	fs.BoolVar(&cfg.SkipPartial, "skip-partial", cfg.SkipPartial, "do not learn from clauses a labelled span only partly covers")
	fs.BoolVar(&cfg.MicroThresholds, "micro-thresholds", cfg.MicroThresholds, "tune thresholds for micro-F1 (+ macro-weight x macro-F1) over the yes/no categories")
	fs.Float64Var(&cfg.MacroWeight, "macro-weight", cfg.MacroWeight, "weight of macro-F1 next to micro-F1 when tuning thresholds")
	sentRate := fs.Float64("sentence-rate", 0, "learning rate of the sentence layer (0: the default)")
	cvOnly := fs.Bool("cv-only", false, "report the out-of-fold micro-F1 and stop (for choosing settings)")
	fs.Parse(args)
	cfg.Dim = 1 << *bits
	scfg := sentenceConfig(cfg)
	if *sentRate > 0 {
		scfg.Rate = *sentRate
	}
	ds, err := load(*dir)
	if err != nil {
		return err
	}
	model, err := buildModel(ds, cfg, scfg, *cvOnly)
	if err != nil || *cvOnly {
		return err
	}
	if err := os.WriteFile(*out, model, 0o644); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %d bytes, sha256 %x\n", *out, len(model), sha256.Sum256(model))
	return nil
}

// buildModel trains the model on the train and validation splits and
// returns the encoded artifact (nil with cvOnly). Fixed seeds and a
// scheduling-independent fold order make it deterministic: the same data
// gives the same bytes.
func buildModel(ds *dataset, cfg, scfg trainConfig, cvOnly bool) ([]byte, error) {
	C := len(ds.categories)
	start := time.Now()
	// Out-of-fold scores over train+validation (4 folds by contract) choose
	// the sentence weight and tune the per-category thresholds; the shipped
	// model is then trained on all of train+validation. The test split is
	// never used here.
	var all []labelledClause
	var folds []int
	for _, c := range ds.contracts {
		if c.split == splitTest {
			continue
		}
		for _, cl := range c.clauses {
			all = append(all, cl)
			folds = append(folds, foldOf(c.name))
		}
	}
	exC := featurize(all, cfg.Dim)
	exS, owner := featurizeSentences(all, cfg.Dim)
	fmt.Fprintf(os.Stderr, "%d clauses, %d sentences (%s)\n", len(exC), len(exS), time.Since(start).Round(time.Second))
	zc := make([][]float64, len(all)) // out-of-fold clause-layer log-odds
	zs := make([][]float64, len(all)) // out-of-fold best-sentence log-odds
	// Folds train concurrently (two at a time); each writes only its own
	// clauses' scores, so the result does not depend on scheduling.
	var wg sync.WaitGroup
	errs := make([]error, numFolds)
	sem := make(chan struct{}, 2)
	for k := 0; k < numFolds; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var trC, trS []example
			for i, e := range exC {
				if folds[i] != k {
					trC = append(trC, e)
				}
			}
			for j, e := range exS {
				if folds[owner[j]] != k {
					trS = append(trS, e)
				}
			}
			m, err := quantised(train(cfg, scfg, ds.categories, trC, trS, 0.5, nil))
			if err != nil {
				errs[k] = err
				return
			}
			n := 0
			for i := range all {
				if folds[i] == k {
					zc[i], zs[i] = m.Logits(all[i].in)
					n++
				}
			}
			fmt.Fprintf(os.Stderr, "fold %d: trained on %d clauses and %d sentences, scored %d clauses (%s)\n", k, len(trC), len(trS), n, time.Since(start).Round(time.Second))
		}(k)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// The sentence weight: the grid value with the best out-of-fold micro-F1.
	alpha, thresholds, best := 0.0, []float32(nil), -1.0
	for _, a := range []float64{0, 0.25, 0.5, 0.6, 0.7, 0.8, 1} {
		probs := make([][]float64, len(all))
		for i := range all {
			probs[i] = analysis.CombineLogits(zc[i], zs[i], a)
		}
		th := tuneThresholds(cfg, exC, probs, C)
		if cfg.MicroThresholds {
			th = blendThresholds(exC, probs, th, ds.categories, cfg.MacroWeight)
		}
		f := oofMicro(exC, probs, th, ds.categories)
		fmt.Fprintf(os.Stderr, "sentence weight %.2f: out-of-fold micro-F1 %.3f, macro-F1 %.3f (33 yes/no categories, train+validation)\n", a, f, oofMacro(exC, probs, th, ds.categories))
		if f > best+1e-9 {
			alpha, thresholds, best = a, th, f
		}
	}
	fmt.Fprintf(os.Stderr, "chosen sentence weight %.2f: out-of-fold micro-F1 %.3f\n", alpha, best)
	if cvOnly {
		return nil, nil
	}
	calib := make([][2]float32, C)
	for c := range calib {
		z := make([]float64, len(all))
		y := make([]bool, len(all))
		for i := range all {
			z[i] = (1-alpha)*zc[i][c] + alpha*zs[i][c]
			y[i] = all[i].labels&(1<<c) != 0
		}
		calib[c] = platt(z, y)
	}
	md := train(cfg, scfg, ds.categories, exC, exS, alpha, thresholds)
	md.Calib = calib
	fmt.Fprintf(os.Stderr, "trained the final model on %d clauses and %d sentences (%s)\n", len(exC), len(exS), time.Since(start).Round(time.Second))
	var buf bytes.Buffer
	if err := analysis.EncodeModel(&buf, md); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// train fits both layers and returns the model (thresholds nil: 0.5).
func train(cfg, scfg trainConfig, cats []string, exC, exS []example, alpha float64, thresholds []float32) analysis.ModelData {
	C := len(cats)
	if thresholds == nil {
		thresholds = make([]float32, C)
		for c := range thresholds {
			thresholds[c] = 0.5
		}
	}
	wC, bC := trainLR(cfg, exC, C)
	wS, bS := trainLR(scfg, exS, C)
	calib := make([][2]float32, C)
	for c := range calib {
		calib[c] = [2]float32{1, 0}
	}
	return analysis.ModelData{
		Version: cfg.Version, Dim: cfg.Dim, Categories: cats, Threshold: thresholds, Calib: calib, SentenceWeight: float32(alpha),
		Clause: toLinear(cfg, C, wC, bC), Sentence: toLinear(scfg, C, wS, bS),
	}
}

// oofMicro is the micro-F1 over the yes/no categories of probabilities
// thresholded per category.
func oofMicro(ex []example, probs [][]float64, th []float32, cats []string) float64 {
	k := newCounts(len(cats))
	for i, e := range ex {
		var pred uint64
		for c := range cats {
			if probs[i][c] >= float64(th[c]) {
				pred |= 1 << c
			}
		}
		k.add(e.labels, pred)
	}
	_, _, f := k.micro(cats)
	return f
}

// platt fits p = sigmoid(a z + b) to labels y by Newton's method (Platt
// scaling with his smoothed targets), deterministically.
func platt(z []float64, y []bool) [2]float32 {
	var pos, neg float64
	for _, v := range y {
		if v {
			pos++
		} else {
			neg++
		}
	}
	hi, lo := (pos+1)/(pos+2), 1/(neg+2)
	a, b := 1.0, 0.0
	for it := 0; it < 50; it++ {
		var ga, gb, haa, hab, hbb float64
		for i, x := range z {
			t := lo
			if y[i] {
				t = hi
			}
			p := 1 / (1 + math.Exp(-(a*x + b)))
			r := p - t
			w := p * (1 - p)
			ga += r * x
			gb += r
			haa += w * x * x
			hab += w * x
			hbb += w
		}
		haa += 1e-6
		hbb += 1e-6
		det := haa*hbb - hab*hab
		if det <= 0 {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		a, b = a-da, b-db
		if math.Abs(da)+math.Abs(db) < 1e-9 {
			break
		}
	}
	if !(a > 0) || math.IsNaN(b) { // degenerate: leave the scores as they are
		return [2]float32{1, 0}
	}
	return [2]float32{float32(a), float32(b)}
}

// oofMacro is the macro-F1 over the yes/no categories of probabilities
// thresholded per category.
func oofMacro(ex []example, probs [][]float64, th []float32, cats []string) float64 {
	k := newCounts(len(cats))
	for i, e := range ex {
		var pred uint64
		for c := range cats {
			if probs[i][c] >= float64(th[c]) {
				pred |= 1 << c
			}
		}
		k.add(e.labels, pred)
	}
	return k.macro(cats)
}

const numFolds = 4

func foldOf(contract string) int {
	h := fnv.New32a()
	h.Write([]byte("fold:" + contract))
	return int(h.Sum32() % numFolds)
}

func quantised(d analysis.ModelData) (*analysis.Model, error) {
	var buf bytes.Buffer
	if err := analysis.EncodeModel(&buf, d); err != nil {
		return nil, err
	}
	return analysis.LoadModel(&buf)
}

func runEval(args []string) error {
	fs := flag.NewFlagSet("eval", flag.ExitOnError)
	dir := dataFlag(fs)
	modelFile := fs.String("model", "", "evaluate this model file instead of the embedded one")
	onVal := fs.Bool("validation", false, "evaluate on the validation split (for tuning) instead of test")
	fs.Parse(args)
	m, err := analysis.DefaultModel()
	if *modelFile != "" {
		var b []byte
		if b, err = os.ReadFile(*modelFile); err == nil {
			m, err = analysis.LoadModel(bytes.NewReader(b))
		}
	}
	if err != nil {
		return err
	}
	which := splitTest
	if *onVal {
		which = splitVal
	}
	ds, err := load(*dir)
	if err != nil {
		return err
	}
	model, base := evaluate(m, ds, which)
	n, c := ds.count(which)
	fmt.Printf("Paragraph-level evaluation on the held-out %s split (%d contracts, %d clauses; split by contract)\n", which, n, c)
	printTable(os.Stdout, fmt.Sprintf("MODEL %s (embedded %s)", m.Version(), analysis.ModelFile), ds.categories, model)
	printTable(os.Stdout, "KEYWORD BASELINE", ds.categories, base)
	printSummary(os.Stdout, ds.categories, model, base)
	printCalibration(os.Stdout, m, ds, which)
	return nil
}
