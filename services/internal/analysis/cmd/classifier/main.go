// Command classifier builds and evaluates the offline CUAD clause classifier
// embedded in services/internal/analysis.
//
//	go run ./hack/classifier build   # train on the CUAD split, write the versioned model
//	go run ./hack/classifier eval    # per-category P/R/F1 on the held-out test split, model vs keyword baseline
//	go run ./hack/classifier split F # show how a text file is split into clauses
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: classifier build|eval|split [args]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "split":
		err = runSplit(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "classifier:", err)
		os.Exit(1)
	}
}
