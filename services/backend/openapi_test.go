package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// testDocument is the document built from the route table, as served.
func testDocument(t *testing.T) (*Server, []byte) {
	t.Helper()
	s := &Server{}
	s.routes = s.routeTable()
	doc, err := s.openAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

// TestOpenAPIDocumentPassesRedoclyLint lints the document with Redocly
// CLI's recommended rules (hack/redocly.sh installs it from npm into the
// cache) and fails on any error or warning.
func TestOpenAPIDocumentPassesRedoclyLint(t *testing.T) {
	_, b := testDocument(t)
	dir := t.TempDir() // no redocly.yaml here: the built-in recommended rules only
	file := filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "hack", "redocly.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "lint", "--format=json", "--extends=recommended", "--max-problems=1000", file)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run() // exits 1 on errors; the report says what
	var report struct {
		Totals   struct{ Errors, Warnings int }
		Problems []struct {
			RuleID, Severity, Message string
			Location                  []struct{ Pointer string }
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("redocly lint: %v (%v)\nstdout: %s\nstderr: %s", err, runErr, stdout.String(), stderr.String())
	}
	for _, p := range report.Problems {
		where := ""
		if len(p.Location) > 0 {
			where = p.Location[0].Pointer
		}
		t.Errorf("%s %s at %s: %s", p.Severity, p.RuleID, where, p.Message)
	}
	if report.Totals.Errors+report.Totals.Warnings > 0 || runErr != nil {
		t.Fatalf("redocly lint: %d errors, %d warnings (%v)", report.Totals.Errors, report.Totals.Warnings, runErr)
	}
}

// TestOpenAPIDocumentDescribesEveryRoute checks the document with
// kin-openapi's validator and against the route table: every documented
// route is there with its success status; a success with a body has a
// schema; a write without a request body is one of the known ones.
func TestOpenAPIDocumentDescribesEveryRoute(t *testing.T) {
	s, b := testDocument(t)
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("kin-openapi: %v", err)
	}
	bodyless := map[string]bool{
		"POST /api/documents/{id}/reprocess":             true,
		"POST /api/documents/{id}/reports":               true,
		"POST /api/admin/ai-providers/{id}/test":         true,
		"POST /api/auth/logout-all":                      true,
		"POST /api/playbook/reassessments":               true,
		"POST /api/projects/{id}/playbook/reassessments": true,
		"POST /api/projects/{id}/reports":                true,
	}
	ops := 0
	for _, rt := range s.routes {
		key := rt.Method + " " + rt.Path
		if !documented(rt) {
			if doc.Paths.Find(rt.Path) != nil {
				t.Errorf("%s: infrastructure route in the document", key)
			}
			continue
		}
		ops++
		item := doc.Paths.Find(rt.Path)
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("%s: not in the document", key)
			continue
		}
		op := item.GetOperation(rt.Method)
		ok := op.Responses.Status(rt.Status)
		if ok == nil {
			t.Errorf("%s: no %d response", key, rt.Status)
			continue
		}
		switch {
		case rt.Status == 204 && rt.Result != nil:
			t.Errorf("%s: 204 with a Result", key)
		case rt.Status != 204 && (rt.Result == nil || len(ok.Value.Content) == 0):
			t.Errorf("%s: %d without a response schema", key, rt.Status)
		}
		write := rt.Method == "POST" || rt.Method == "PUT" || rt.Method == "PATCH"
		if write && rt.Body == nil && !bodyless[key] {
			t.Errorf("%s: no request body schema", key)
		}
		if (op.RequestBody != nil) != (rt.Body != nil) {
			t.Errorf("%s: request body in the document %v, in the table %v", key, op.RequestBody != nil, rt.Body != nil)
		}
		if rt.Access == public && (op.Security == nil || len(*op.Security) != 0) {
			t.Errorf("%s: a public route needs security: []", key)
		}
		if !slices.ContainsFunc(slices.Collect(maps.Keys(op.Responses.Map())), func(code string) bool {
			n, _ := strconv.Atoi(code)
			return n >= 400 && n < 500
		}) {
			t.Errorf("%s: no 4xx response", key)
		}
	}
	n := 0
	for _, item := range doc.Paths.Map() {
		n += len(item.Operations())
	}
	if n != ops {
		t.Errorf("document has %d operations, the route table %d documented routes", n, ops)
	}
	for key := range extraErrors {
		found := false
		for _, rt := range s.routes {
			found = found || rt.Method+" "+rt.Path == key
		}
		if !found {
			t.Errorf("extraErrors names %q, which is not a route", key)
		}
	}
}

// TestOpenAPISchemasFollowTheGoTypes pins the rules the generator applies:
// names, required (no omitempty), nullable (pointers) and nullable $refs.
func TestOpenAPISchemasFollowTheGoTypes(t *testing.T) {
	_, b := testDocument(t)
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	schema := func(name string) *openapi3.Schema {
		t.Helper()
		s := doc.Components.Schemas[name]
		if s == nil || s.Value == nil {
			t.Fatalf("no component schema %s", name)
		}
		return s.Value
	}
	user := schema("User")
	if want := []string{"id", "email", "name", "role", "must_change_password", "disabled", "last_login", "created_at"}; !slices.Equal(user.Required, want) {
		t.Errorf("User required %v, want %v", user.Required, want)
	}
	if p := user.Properties["last_login"].Value; !p.Nullable || p.Format != "date-time" || !p.Type.Is("string") {
		t.Errorf("last_login: %+v", p)
	}
	if p := user.Properties["role"].Value; !slices.Equal(p.Enum, []any{"admin", "user"}) {
		t.Errorf("role enum %v", p.Enum)
	}
	// A nullable struct is allOf [$ref] with nullable and a type beside it.
	ld := schema("Clause").Properties["latest_decision"]
	if ld.Ref != "" || !ld.Value.Nullable || !ld.Value.Type.Is("object") || len(ld.Value.AllOf) != 1 ||
		ld.Value.AllOf[0].Ref != "#/components/schemas/Decision" {
		t.Errorf("latest_decision: %+v", ld.Value)
	}
	if p := schema("UserPage").Properties["items"].Value.Items; p.Ref != "#/components/schemas/User" {
		t.Errorf("UserPage items: %s", p.Ref)
	}
	// omitempty: optional; embedded struct fields are flattened.
	hit := schema("SearchHit")
	for _, name := range []string{"score", "rank"} {
		if slices.Contains(hit.Required, name) {
			t.Errorf("SearchHit: %s is omitempty but required", name)
		}
	}
	if !slices.Contains(hit.Required, "text") || hit.Properties["text"] == nil {
		t.Errorf("SearchHit lacks the embedded clause's text: %v", hit.Required)
	}
	if len(schema("ProviderRequest").Required) != 0 {
		t.Errorf("ProviderRequest: PATCH fields must be optional")
	}
	if !schema("ProviderRequest").Properties["api_key"].Value.WriteOnly {
		t.Errorf("api_key is not writeOnly")
	}
	if mt := doc.Paths.Find("/api/documents").Post.RequestBody.Value.Content["multipart/form-data"]; mt == nil {
		t.Errorf("upload is not multipart/form-data")
	}
}
