package tokenstore_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/clctl/internal/tokenstore"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// The tests share one real Secret Service (gnome-keyring on a private
// session bus): the D-Bus client library keeps one session connection per
// process.
func TestMain(m *testing.M) {
	ss, err := testenv.StartSecretService()
	if err != nil {
		fmt.Fprintln(os.Stderr, "secret service:", err)
		os.Exit(1)
	}
	for _, kv := range ss.Env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	code := m.Run()
	ss.Stop()
	os.Exit(code)
}

func TestStoreReadDeleteInTheSecretService(t *testing.T) {
	s := tokenstore.Store{Server: "https://contracts.example.com"}
	other := tokenstore.Store{Server: "http://localhost:8000"}
	if err := s.Check(); err != nil {
		t.Fatalf("check: %v", err)
	}
	if _, err := s.Load(); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("load before save: %v", err)
	}
	want := &tokenstore.Tokens{AccessToken: "access-1", RefreshToken: "refresh-1",
		Expiry: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), Email: "a@example.com"}
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	if err := other.Save(&tokenstore.Tokens{AccessToken: "x", RefreshToken: "y"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil || *got != *want {
		t.Fatalf("load: %+v %v", got, err)
	}
	want.RefreshToken = "refresh-2"
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(); err != nil || got.RefreshToken != "refresh-2" {
		t.Fatalf("after replace: %+v %v", got, err)
	}
	if err := s.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("load after delete: %v", err)
	}
	if err := s.Delete(); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if got, err := other.Load(); err != nil || got.AccessToken != "x" {
		t.Fatalf("the other server's entry: %+v %v", got, err)
	}
}
