// Command contract-lucidity is the application binary: one image, one
// subcommand per service, so the operator, the Helm chart and `make demo`
// run the same thing.
//
//	contract-lucidity backend    REST API on :8000
//	contract-lucidity migrate    apply database migrations and exit
//	contract-lucidity worker     document pipeline (queue consumer)
//	contract-lucidity frontend   web UI on :3000, proxies /api to the backend
//	contract-lucidity backup     create, list, verify or prune backups
//	contract-lucidity restore    create an instance from a backup
//	contract-lucidity reencrypt  rewrite stored AI provider keys with the current ENCRYPTION_KEY and exit
//	contract-lucidity storage    migrate documents and reports between the filesystem and S3
//	contract-lucidity validate   security checks before a deployment: env, source DIR, deployment URL
//
// All configuration comes from environment variables (design.md section 5).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

func main() {
	commands := map[string]func(ctx context.Context, args []string) error{
		"backend":   runBackend,
		"migrate":   runMigrate,
		"worker":    runWorker,
		"frontend":  runFrontend,
		"backup":    runBackup,
		"restore":   runRestore,
		"reencrypt": runReencrypt,
		"storage":   runStorage,
		"validate":  runValidate,
	}
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: contract-lucidity <%v>\n", names)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := commands[os.Args[1]](ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "contract-lucidity %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
