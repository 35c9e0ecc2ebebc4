/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProbe(t *testing.T) {
	probePause = 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`controller_runtime_reconcile_total{controller="contractlucidity",result="success"} 3`))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{srv.URL + "/metrics"}, 0},
		{[]string{srv.URL + "/metrics", `controller="contractlucidity"`}, 0},
		{[]string{srv.URL + "/metrics", "nothing like this"}, 1},
		{[]string{srv.URL + "/missing"}, 1},
		{nil, 2},
	} {
		var out, errb bytes.Buffer
		if got := probe(tc.args, &out, &errb); got != tc.code {
			t.Errorf("probe %v = %d, want %d (%s%s)", tc.args, got, tc.code, out.String(), errb.String())
		}
	}
}
