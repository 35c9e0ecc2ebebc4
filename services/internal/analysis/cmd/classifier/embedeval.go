package main

import (
	"flag"
	"fmt"
	"sort"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

// runEmbedEval measures how meaningful the offline embedding's similarity
// is for "similar clauses": for each labelled clause of the test split, its
// most similar labelled clause in train+validation, and how often the two
// share a category, overall and above similarity floors.
func runEmbedEval(args []string) error {
	fs := flag.NewFlagSet("embed-eval", flag.ExitOnError)
	dir := dataFlag(fs)
	fs.Parse(args)
	ds, err := load(*dir)
	if err != nil {
		return err
	}
	res := embedNN(ds, analysis.Embed)
	fmt.Printf("Nearest labelled train+validation clause of each labelled test clause (%s, %d clauses)\n", analysis.EmbedderVersion, res.n)
	fmt.Printf("%-10s %9s %9s\n", "floor", "coverage", "agree")
	for _, r := range res.rows {
		fmt.Printf("%-10.2f %8.1f%% %8.1f%%\n", r.floor, 100*r.coverage, 100*r.agree)
	}
	return nil
}

type nnRow struct{ floor, coverage, agree float64 }

type nnResult struct {
	n    int
	rows []nnRow
}

// embedNN runs the nearest-neighbour measurement with an embedding.
func embedNN(ds *dataset, embed func(string) []float32) nnResult {
	const clauseMask = ^uint64(0xff) // the 33 yes/no categories
	type item struct {
		v      []float32
		labels uint64
	}
	var train, test []item
	for _, c := range ds.contracts {
		for _, cl := range c.clauses {
			if cl.labels&clauseMask == 0 {
				continue
			}
			it := item{embed(cl.in.Text), cl.labels & clauseMask}
			if c.split == splitTest {
				test = append(test, it)
			} else {
				train = append(train, it)
			}
		}
	}
	type hit struct {
		sim   float64
		agree bool
	}
	hits := make([]hit, len(test))
	for i, q := range test {
		best, bj := -2.0, 0
		for j, t := range train {
			var dot float32
			for k := range q.v {
				dot += q.v[k] * t.v[k]
			}
			if float64(dot) > best {
				best, bj = float64(dot), j
			}
		}
		hits[i] = hit{best, train[bj].labels&q.labels != 0}
	}
	sort.Slice(hits, func(a, b int) bool { return hits[a].sim > hits[b].sim })
	res := nnResult{n: len(test)}
	for _, floor := range []float64{0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8} {
		n, ok := 0, 0
		for _, h := range hits {
			if h.sim >= floor {
				n++
				if h.agree {
					ok++
				}
			}
		}
		res.rows = append(res.rows, nnRow{floor, float64(n) / float64(max(1, len(hits))), float64(ok) / float64(max(1, n))})
	}
	return res
}
