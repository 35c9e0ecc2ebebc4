package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/contract-lucidity/contract-lucidity/services/internal/validate"
)

const validateUsage = `usage: contract-lucidity validate <env|source|deployment> [flags]

  env                      the services' environment: production rules, secrets, CORS, https, AI keys
  source DIR               hard-coded credentials (gitleaks) and vulnerable dependencies (govulncheck)
  deployment [URL]         a running instance (default $API_BASE_URL): https, HSTS, headers, CORS,
                           login rate limit, error bodies, /api/openapi.json, token refresh

Prints PASS/FAIL/WARN per check (-o json for scripts) and exits 1 on any FAIL.`

// errChecksFailed makes the process exit 1 after the report is printed.
var errChecksFailed = errors.New("some checks failed")

func runValidate(ctx context.Context, args []string) error {
	return validateMain(ctx, args, os.Stdout, os.Environ())
}

func validateMain(ctx context.Context, args []string, stdout io.Writer, environ []string) error {
	if len(args) == 0 {
		return errors.New(validateUsage)
	}
	// The last assignment wins, as in a process environment built by appending.
	lookup := func(k string) (string, bool) {
		for i := len(environ) - 1; i >= 0; i-- {
			if name, v, ok := strings.Cut(environ[i], "="); ok && name == k {
				return v, true
			}
		}
		return "", false
	}
	getenv := func(k string) string { v, _ := lookup(k); return v }
	fs := flag.NewFlagSet("validate "+args[0], flag.ContinueOnError)
	output := fs.String("o", "table", "output format: table or json")
	var report validate.Report
	switch args[0] {
	case "env":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		report = validate.Env(lookup, environ)
	case "source":
		var opt validate.SourceOptions
		fs.StringVar(&opt.Gitleaks, "gitleaks", getenv("GITLEAKS"), "gitleaks binary (default $GITLEAKS, or on PATH)")
		fs.StringVar(&opt.Govulncheck, "govulncheck", getenv("GOVULNCHECK"), "govulncheck binary (default $GOVULNCHECK, or on PATH)")
		fs.StringVar(&opt.VulnDB, "vuln-db", orEnv(getenv("GOVULNDB"), validate.DefaultVulnDB), "vulnerability database URL (file:///path for a local copy)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("usage: contract-lucidity validate source [flags] DIR")
		}
		report = validate.Source(ctx, fs.Arg(0), opt)
	case "deployment":
		var opt validate.DeploymentOptions
		fs.StringVar(&opt.CAFile, "cacert", "", "PEM file of a CA to trust (a private certificate)")
		fs.StringVar(&opt.Email, "email", getenv("CL_VALIDATE_EMAIL"), "test account for the token refresh check (password in $CL_VALIDATE_PASSWORD)")
		fs.IntVar(&opt.LoginAttempts, "login-attempts", 30, "failed sign-ins to send before a 429 is expected")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		opt.Password = getenv("CL_VALIDATE_PASSWORD")
		base := getenv("API_BASE_URL")
		if fs.NArg() > 1 {
			return errors.New("usage: contract-lucidity validate deployment [flags] [URL]")
		} else if fs.NArg() == 1 {
			base = fs.Arg(0)
		}
		if base == "" {
			return errors.New("validate deployment needs the instance's URL (argument or API_BASE_URL)")
		}
		report = validate.Deployment(ctx, base, opt)
	default:
		return fmt.Errorf("unknown check %q\n%s", args[0], validateUsage)
	}
	if err := report.Write(stdout, *output); err != nil {
		return err
	}
	if report.Failed() {
		return fmt.Errorf("%w: %d of %d", errChecksFailed, report.Count(validate.Fail), len(report))
	}
	return nil
}

func orEnv(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
