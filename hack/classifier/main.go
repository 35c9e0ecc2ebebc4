// Command classifier builds and evaluates the offline CUAD clause classifier
// embedded in services/internal/analysis. It runs the real command, which
// lives at services/internal/analysis/cmd/classifier because Go only lets
// code under services/ import services/internal packages.
//
//	go run ./hack/classifier build   # train on the CUAD split, write the versioned model
//	go run ./hack/classifier eval    # per-category P/R/F1 on the held-out test split, model vs keyword baseline
//	go run ./hack/classifier split F # show how a text file is split into clauses
//
// Run it from the repository root.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

func main() {
	args := append([]string{"run", "./services/internal/analysis/cmd/classifier"}, os.Args[1:]...)
	cmd := exec.Command("go", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "classifier:", err)
		os.Exit(1)
	}
}
