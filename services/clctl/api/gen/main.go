// Command gen writes clctl's generated API client (go generate ./services/clctl/api).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/contract-lucidity/contract-lucidity/services/clctl/api/internal/codegen"
)

func main() {
	out := flag.String("o", "client.gen.go", "output file")
	flag.Parse()
	src, err := codegen.Client()
	if err == nil {
		err = os.WriteFile(*out, src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
