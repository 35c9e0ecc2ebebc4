package validate

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tool returns a scanner built by the Makefile into the tools cache ($NAME
// when make test passes it).
func tool(t *testing.T, env, target string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	root, _ := filepath.Abs("../../..")
	cmd := exec.Command("make", "-s", "--no-print-directory", target)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", target, err, out)
	}
	out, err := exec.Command("make", "-s", "--no-print-directory", "-C", root, "print-"+env).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// sourceCopy copies the project's gitleaks configuration and a few real
// source files into a temporary directory.
func sourceCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root, _ := filepath.Abs("../../..")
	for _, f := range []string{".gitleaks.toml", "services/internal/config/config.go", "services/internal/config/config_test.go",
		"controllers/testdata/production.golden"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// TestSourceFindsAPlantedCredential: a clean copy passes (the fixtures are
// allow-listed); a credential planted in a source file fails with its
// place, and so does a cloud key planted in a test file (the test
// allowlist covers made-up passwords only).
func TestSourceFindsAPlantedCredential(t *testing.T) {
	gl := tool(t, "GITLEAKS", "gitleaks")
	ctx := context.Background()
	dir := sourceCopy(t)
	var r Report
	gitleaks(ctx, &r, dir, gl)
	if r.Failed() || len(r) != 1 || r[0].Status != Pass {
		t.Fatalf("clean copy: %+v", r)
	}

	// Built at run time so that this file holds no credential itself.
	awsKey := "AKIA" + "QX7PZ3JK5NWRT2LB"
	awsSecret := "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCY3kq9Vb2mZt8"
	appendFile(t, filepath.Join(dir, "services/internal/config/config.go"),
		"\nconst awsAccessKeyID = \""+awsKey+"\"\nconst awsSecretAccessKey = \""+awsSecret+"\"\n")
	appendFile(t, filepath.Join(dir, "services/internal/config/config_test.go"), "\nvar leaked = \""+"AKIA"+"TZ4MQ7WB6RNE3JCD"+"\"\n")
	r = nil
	gitleaks(ctx, &r, dir, gl)
	text := ""
	for _, x := range r {
		if x.Status != Fail {
			t.Errorf("unexpected %+v", x)
		}
		text += x.Detail + "\n"
	}
	for _, want := range []string{"services/internal/config/config.go:", "services/internal/config/config_test.go:", "aws-access-token"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, awsSecret) || strings.Contains(text, awsKey) {
		t.Error("the report shows the secret")
	}
}

func TestSourceWithoutScannerFails(t *testing.T) {
	var r Report
	gitleaks(context.Background(), &r, t.TempDir(), filepath.Join(t.TempDir(), "no-gitleaks"))
	if !r.Failed() || !strings.Contains(r[0].Detail, "gitleaks not found") {
		t.Fatalf("%+v", r)
	}
}

// TestVulncheckWarnsWhenTheDatabaseIsUnreachable: never a PASS for what
// was not checked.
func TestVulncheckWarnsWhenTheDatabaseIsUnreachable(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.22\n"), 0o644)
	for _, db := range []string{"http://127.0.0.1:1", "file://" + filepath.Join(dir, "no-db")} {
		var r Report
		govulncheck(context.Background(), &r, dir, "govulncheck-not-needed", db)
		if len(r) != 1 || r[0].Status != Warn || !strings.Contains(r[0].Detail, "unreachable") || !strings.Contains(r[0].Detail, db) {
			t.Fatalf("%s: %+v", db, r)
		}
	}
}

// TestVulncheckWithALocalDatabase runs govulncheck against a local
// database holding one made-up vulnerability in the standard library
// function a small module calls: FAIL naming it; without the call, PASS.
func TestVulncheckWithALocalDatabase(t *testing.T) {
	gv := tool(t, "GOVULNCHECK", "govulncheck")
	db := t.TempDir()
	const id = "GO-2099-0001"
	modified := "2026-01-01T00:00:00Z"
	write := func(p string, v any) {
		b, _ := json.Marshal(v)
		os.MkdirAll(filepath.Dir(filepath.Join(db, p)), 0o755)
		if err := os.WriteFile(filepath.Join(db, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("index/db.json", map[string]string{"modified": modified})
	write("index/modules.json", []any{map[string]any{"path": "stdlib", "vulns": []any{map[string]any{"id": id, "modified": modified}}}})
	write("index/vulns.json", []any{map[string]any{"id": id, "modified": modified, "aliases": []string{}}})
	write("ID/"+id+".json", map[string]any{
		"schema_version": "1.3.1", "id": id, "modified": modified, "published": modified,
		"summary": "made-up vulnerability for a test", "details": "test",
		"affected": []any{map[string]any{
			"package":            map[string]string{"name": "stdlib", "ecosystem": "Go"},
			"ranges":             []any{map[string]any{"type": "SEMVER", "events": []any{map[string]string{"introduced": "0"}}}},
			"ecosystem_specific": map[string]any{"imports": []any{map[string]any{"path": "strings", "symbols": []string{"Repeat"}}}},
		}},
	})
	for _, tc := range []struct {
		call string
		want Status
	}{{"strings.Repeat(\"x\", 2)", Fail}, {"strings.ToUpper(\"x\")", Pass}} {
		mod := t.TempDir()
		os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/m\n\ngo 1.22\n"), 0o644)
		os.WriteFile(filepath.Join(mod, "main.go"), []byte("package main\n\nimport (\n\t\"fmt\"\n\t\"strings\"\n)\n\nfunc main() { fmt.Println("+tc.call+") }\n"), 0o644)
		var r Report
		govulncheck(context.Background(), &r, mod, gv, "file://"+db)
		if len(r) == 0 || r[0].Status != tc.want {
			t.Fatalf("%s: %+v", tc.call, r)
		}
		if tc.want == Fail && !strings.Contains(r[0].Detail, id) {
			t.Fatalf("the finding does not name %s: %+v", id, r)
		}
	}
}
