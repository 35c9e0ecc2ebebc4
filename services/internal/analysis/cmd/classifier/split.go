package main

import (
	"fmt"
	"os"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

// runSplit prints the clauses SplitClauses finds in a text file (a debugging aid).
func runSplit(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: classifier split FILE.txt")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return fmt.Errorf("read %s: %w", args[0], err)
	}
	for _, c := range analysis.SplitClauses(string(b)) {
		t := c.Text
		if len(t) > 150 {
			t = t[:150] + "…"
		}
		fmt.Printf("%3d [%s] (%d) %s\n", c.Ordinal, c.Heading, len(c.Text), t)
	}
	return nil
}
