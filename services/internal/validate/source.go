package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// SourceOptions locate the scanners (binaries: gitleaks and govulncheck
// are built from the Go module proxy into the tools cache by the Makefile).
type SourceOptions struct {
	Gitleaks    string // path or name on PATH
	Govulncheck string
	// VulnDB is govulncheck's database: https://vuln.go.dev, or a local
	// copy as file:///path.
	VulnDB string
}

// DefaultVulnDB is the Go vulnerability database.
const DefaultVulnDB = "https://vuln.go.dev"

// Source scans dir for hard-coded credentials (gitleaks, with dir's
// .gitleaks.toml) and for dependencies with known vulnerabilities that the
// code calls (govulncheck).
func Source(ctx context.Context, dir string, opt SourceOptions) Report {
	var r Report
	gitleaks(ctx, &r, dir, opt.Gitleaks)
	govulncheck(ctx, &r, dir, opt.Govulncheck, opt.VulnDB)
	return r
}

type leak struct {
	RuleID      string
	Description string
	File        string
	StartLine   int
}

func gitleaks(ctx context.Context, r *Report, dir, bin string) {
	const check = "hard-coded credentials"
	path, err := lookTool(bin, "gitleaks")
	if err != nil {
		r.add(check, Fail, "gitleaks not found (%v): make gitleaks builds it, or pass --gitleaks", err)
		return
	}
	report, err := os.CreateTemp("", "gitleaks-*.json")
	if err != nil {
		r.add(check, Fail, "%v", err)
		return
	}
	report.Close()
	defer os.Remove(report.Name())
	// Scanned from inside dir, so the findings and the allowlist's paths
	// are relative to it.
	args := []string{"dir", ".", "--no-banner", "--redact", "--log-level", "error", "--exit-code", "0",
		"--report-format", "json", "--report-path", report.Name()}
	if _, err := os.Stat(filepath.Join(dir, ".gitleaks.toml")); err == nil {
		args = append(args, "--config", ".gitleaks.toml")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		r.add(check, Fail, "gitleaks: %v: %s", err, tail(stderr.String()))
		return
	}
	b, err := os.ReadFile(report.Name())
	var leaks []leak
	if err == nil {
		err = json.Unmarshal(b, &leaks)
	}
	if err != nil {
		r.add(check, Fail, "gitleaks report: %v", err)
		return
	}
	if len(leaks) == 0 {
		r.add(check, Pass, "gitleaks found nothing in %s", dir)
		return
	}
	for i, l := range leaks {
		if i == 20 {
			r.add(check, Fail, "... and %d more", len(leaks)-i)
			break
		}
		r.add(check, Fail, "%s:%d: %s (%s)", filepath.Join(dir, l.File), l.StartLine, l.Description, l.RuleID)
	}
}

var vulnIDRE = regexp.MustCompile(`Vulnerability #\d+: (GO-\d{4}-\d+)`)

func govulncheck(ctx context.Context, r *Report, dir, bin, db string) {
	const check = "vulnerable dependencies"
	db = orDefault(db, DefaultVulnDB)
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		r.add(check, Warn, "%s has no go.mod: not checked", dir)
		return
	}
	if err := vulnDBReachable(ctx, db); err != nil {
		r.add(check, Warn, "not checked: the vulnerability database %s is unreachable (%v); pass --vuln-db file:///path to a local copy", db, err)
		return
	}
	path, err := lookTool(bin, "govulncheck")
	if err != nil {
		r.add(check, Fail, "govulncheck not found (%v): make govulncheck builds it, or pass --govulncheck", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "-db", db, "./...")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		r.add(check, Pass, "govulncheck: no known vulnerability in code the module calls (%s)", db)
	case errors.As(err, &ee) && ee.ExitCode() == 3:
		ids := map[string]bool{}
		for _, m := range vulnIDRE.FindAllStringSubmatch(out.String(), -1) {
			if !ids[m[1]] {
				ids[m[1]] = true
				r.add(check, Fail, "%s is called (govulncheck; see https://pkg.go.dev/vuln/%s)", m[1], m[1])
			}
		}
		if len(ids) == 0 {
			r.add(check, Fail, "govulncheck found vulnerabilities: %s", tail(out.String()))
		}
	default:
		r.add(check, Fail, "govulncheck: %v: %s", err, tail(stderr.String()+out.String()))
	}
}

// lookTool finds a scanner; the path is absolute, since it runs inside
// the scanned directory.
func lookTool(bin, name string) (string, error) {
	path, err := exec.LookPath(orDefault(bin, name))
	if err != nil {
		return "", err
	}
	return filepath.Abs(path)
}

// vulnDBReachable fetches the database's index (a local copy: its file).
func vulnDBReachable(ctx context.Context, db string) error {
	u, err := url.Parse(db)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "file":
		_, err := os.Stat(filepath.Join(u.Path, "index", "db.json"))
		return err
	case "http", "https":
	default:
		return fmt.Errorf("unsupported database URL %q", db)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(db, "/")+"/index/db.json", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("index: %s", resp.Status)
	}
	return nil
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 500 {
		s = "..." + s[len(s)-500:]
	}
	return strings.ReplaceAll(s, "\n", " | ")
}
