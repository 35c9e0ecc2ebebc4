// Command clctl is the command-line client of Contract Lucidity. Its tokens
// live only in the OS keyring (Secret Service, Keychain, Credential
// Manager); see `clctl --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/contract-lucidity/contract-lucidity/services/clctl/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cli.New(os.Stdin, os.Stdout, os.Stderr, os.Getenv).Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
