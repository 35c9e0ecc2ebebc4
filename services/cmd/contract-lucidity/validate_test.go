package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestValidateEnvExitAndJSON: the subcommand prints JSON with -o json and
// fails (exit 1 in main) exactly when a check fails.
func TestValidateEnvExitAndJSON(t *testing.T) {
	good := []string{"ENVIRONMENT=production", "DATABASE_URL=postgres://cl:Xk3vP9qLm2Wz@db:5432/cl", "REDIS_URL=redis://:Rq8mN2xV5tYb@redis:6379/0",
		"JWT_SECRET_KEY=k8J2nQ5vX9mZ3pL7wR4tY6uB1cE0hF2a", "ENCRYPTION_KEY=5f2b9c7e1a3d4f6081726354a9b8c7d6e5f4031201fedcba9876543210abcdef",
		"CORS_ORIGINS=https://contracts.example.com", "API_BASE_URL=https://contracts.example.com"}
	var out bytes.Buffer
	if err := validateMain(context.Background(), []string{"env", "-o", "json"}, &out, good); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var rep struct {
		Results []struct{ Check, Status, Detail string }
		Failed  bool
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Failed || len(rep.Results) == 0 {
		t.Fatalf("%v %s", err, out.String())
	}

	out.Reset()
	bad := append(good[:len(good):len(good)], "API_BASE_URL=http://contracts.example.com")
	err := validateMain(context.Background(), []string{"env"}, &out, bad)
	if !errors.Is(err, errChecksFailed) || !strings.Contains(out.String(), "FAIL    API_BASE_URL") || !strings.Contains(out.String(), "1 failed") {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, args := range [][]string{nil, {"nothing"}, {"source"}, {"deployment"}} {
		if err := validateMain(context.Background(), args, &out, nil); err == nil || errors.Is(err, errChecksFailed) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
