// Command classifier builds and evaluates the offline CUAD clause classifier
// embedded in services/internal/analysis (run it as `go run ./hack/classifier`
// from the repository root).
//
//	build [-data DIR] [-out FILE]  train on the CUAD train split, tune thresholds on
//	                               validation, write the versioned model artifact
//	eval  [-data DIR]              per-category paragraph-level P/R/F1 of the embedded
//	                               model and the keyword baseline on the test split
//	facts [-data DIR] [-v]         accuracy of ExtractFacts against the CUAD labels
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
	"os"
	"sync"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
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
	def := os.Getenv("CUAD_DIR")
	if def == "" {
		def = "../shared/data/cuad"
	}
	return fs.String("data", def, "CUAD directory with txt/ and labels.jsonl (env CUAD_DIR)")
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
	fs.IntVar(&cfg.KeepPerC, "keep", cfg.KeepPerC, "weights kept per category")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "learning rate")
	fs.Float64Var(&cfg.MaxPosW, "posw", cfg.MaxPosW, "cap of the positive class weight")
	bits := fs.Int("bits", 18, "log2 of the hashed feature dimension")
	fs.Float64Var(&cfg.L2, "l2", cfg.L2, "L2 regularisation strength")
	fs.BoolVar(&cfg.IDF, "idf", cfg.IDF, "weight features by inverse document frequency")
	fs.BoolVar(&cfg.SkipPartial, "skip-partial", cfg.SkipPartial, "do not learn from clauses a labelled span only partly covers")
	fs.BoolVar(&cfg.MicroThresholds, "micro-thresholds", cfg.MicroThresholds, "tune thresholds for micro-F1 over the yes/no categories")
	cvOnly := fs.Bool("cv-only", false, "report the out-of-fold micro-F1 and stop (for choosing settings)")
	fs.Parse(args)
	cfg.Dim = 1 << *bits
	ds, err := load(*dir)
	if err != nil {
		return err
	}
	C := len(ds.categories)
	start := time.Now()
	// Out-of-fold probabilities over train+validation (4 folds by contract)
	// tune the per-category thresholds; the shipped model is then trained on
	// all of train+validation. The test split is never used here.
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
	ex := featurize(all, cfg.Dim)
	var idf []float32
	if cfg.IDF {
		idf = computeIDF(ex, cfg.Dim)
		for i := range ex {
			ex[i].feats = analysis.ApplyIDF(ex[i].feats, idf)
		}
	}
	probs := make([][]float64, len(ex))
	// Folds train concurrently (two at a time); each writes only its own
	// clauses' probabilities, so the result does not depend on scheduling.
	var wg sync.WaitGroup
	errs := make([]error, numFolds)
	sem := make(chan struct{}, 2)
	for k := 0; k < numFolds; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var tr []example
			var te []int
			for i, e := range ex {
				if folds[i] == k {
					te = append(te, i)
				} else {
					tr = append(tr, e)
				}
			}
			w, bias := trainLR(cfg, tr, C)
			md := toModelData(cfg, ds.categories, w, bias, make([]float32, C))
			md.IDF = idf
			m, err := quantised(md)
			if err != nil {
				errs[k] = err
				return
			}
			for _, i := range te {
				probs[i] = m.Predict(all[i].in).Scores
			}
			fmt.Fprintf(os.Stderr, "fold %d: trained on %d clauses, scored %d (%s)\n", k, len(tr), len(te), time.Since(start).Round(time.Second))
		}(k)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	oofMicro := func(th []float32) float64 {
		oof := newCounts(C)
		for i, e := range ex {
			var pred uint64
			for c := 0; c < C; c++ {
				if probs[i][c] >= float64(th[c]) {
					pred |= 1 << c
				}
			}
			oof.add(e.labels, pred)
		}
		_, _, f := oof.micro(ds.categories)
		return f
	}
	thresholds := tuneThresholds(cfg, ex, probs, C)
	fmt.Fprintf(os.Stderr, "out-of-fold micro-F1 (33 yes/no categories, train+validation), per-category F1 thresholds: %.3f\n", oofMicro(thresholds))
	if cfg.MicroThresholds {
		thresholds = microThresholds(ex, probs, thresholds, ds.categories)
		fmt.Fprintf(os.Stderr, "out-of-fold micro-F1 with thresholds tuned for micro-F1: %.3f\n", oofMicro(thresholds))
	}
	if *cvOnly {
		return nil
	}
	w, bias := trainLR(cfg, ex, C)
	fmt.Fprintf(os.Stderr, "trained final model on %d clauses (%s)\n", len(ex), time.Since(start).Round(time.Second))
	draft := toModelData(cfg, ds.categories, w, bias, thresholds)
	draft.IDF = idf
	var buf bytes.Buffer
	buf.Reset()
	if err := analysis.EncodeModel(&buf, draft); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %d bytes, sha256 %x\n", *out, buf.Len(), sha256.Sum256(buf.Bytes()))
	return nil
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
	return nil
}
