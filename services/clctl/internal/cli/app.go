// Package cli implements clctl's commands. Data goes to stdout (a table, or
// JSON with -o json), messages and prompts to stderr. Exit codes follow gh:
// 0 success, 1 error, 2 usage error, 4 authentication required.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/contract-lucidity/contract-lucidity/services/clctl/internal/tokenstore"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitError   = 1
	ExitUsage   = 2
	ExitAuthReq = 4
)

// App is one invocation of clctl.
type App struct {
	in       io.Reader
	out, err io.Writer
	getenv   func(string) string
	http     *http.Client
	now      func() time.Time

	server string // --server
	sess   *session
	reader *bufio.Reader // answers from a non-terminal stdin
}

// New returns an App reading prompts from in and the environment through getenv.
func New(in io.Reader, out, errOut io.Writer, getenv func(string) string) *App {
	return &App{in: in, out: out, err: errOut, getenv: getenv,
		http: &http.Client{Timeout: 5 * time.Minute}, now: time.Now}
}

type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{ExitUsage, fmt.Errorf(format, args...)}
}

// errNotLoggedIn and session endings exit with ExitAuthReq.
func authRequired(format string, args ...any) error {
	return &exitError{ExitAuthReq, fmt.Errorf(format, args...)}
}

// Run executes args and returns the exit code.
func (a *App) Run(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(a.in)
	root.SetOut(a.out)
	root.SetErr(a.err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(a.err, "error: %v\n", err)
	var ee *exitError
	var unavailable *tokenstore.UnavailableError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &unavailable):
		return ExitError
	case isCobraUsageError(err):
		return ExitUsage
	}
	return ExitError
}

// isCobraUsageError recognises cobra's own argument and flag errors.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "requires at most", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (a *App) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "clctl",
		Short: "Command-line client of Contract Lucidity",
		Long: `clctl talks to a Contract Lucidity server: projects, uploads, clauses,
decisions, reports and users.

The server is --server, or API_BASE_URL (default http://localhost:8000; with
ENVIRONMENT=production it is required and must be https).

Tokens live only in the OS keyring: the Secret Service on Linux, the Keychain
on macOS, the Credential Manager on Windows. Without one, clctl refuses to
log in; it never writes a token to a file.

Exit codes: 0 success, 1 error, 2 usage error, 4 not logged in or session ended.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.server, "server", "", "server URL (default $API_BASE_URL, or http://localhost:8000)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &exitError{ExitUsage, err} })
	root.AddCommand(a.loginCommand(), a.logoutCommand(), a.whoamiCommand(), a.projectsCommand(),
		a.documentsCommand(), a.uploadCommand(), a.clausesCommand(), a.decideCommand(),
		a.reportCommand(), a.usersCommand())
	return root
}

// isTerminal reports whether f is a terminal (prompts without echo, progress bars).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
