package api_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/clctl/api/internal/codegen"
)

// TestGeneratedClientIsCurrent regenerates the client from the backend's
// OpenAPI document and compares it with the committed file, so the API and
// clctl cannot drift apart.
func TestGeneratedClientIsCurrent(t *testing.T) {
	want, err := codegen.Client()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("services/clctl/api/client.gen.go is stale: the OpenAPI document changed. Run: go generate ./services/clctl/api")
	}
}
