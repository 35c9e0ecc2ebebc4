/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"encoding/json"
	"testing"
)

func TestContainsComparesOnlyTheFieldsWeSet(t *testing.T) {
	obj := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := obj(`{"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"backend","image":"app:1","env":[{"name":"A","value":"1"}]}]}}}}`)
	tests := []struct {
		live string
		same bool
		path string
	}{
		// defaults and other writers' fields are extra keys: still ours
		{`{"metadata":{"uid":"x"},"spec":{"replicas":1,"progressDeadlineSeconds":600,"template":{"spec":{"containers":[{"name":"backend","image":"app:1","imagePullPolicy":"IfNotPresent","env":[{"name":"A","value":"1"}]}]}}}}`, true, ""},
		{`{"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"backend","image":"app:1","env":[{"name":"A","value":"1"}]}]}}}}`, false, ".spec.replicas"},
		{`{"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"backend","image":"evil","env":[{"name":"A","value":"1"}]}]}}}}`, false, ".spec.template.spec.containers[0].image"},
		// a removed or added list element is a difference
		{`{"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"backend","image":"app:1","env":[]}]}}}}`, false, ".spec.template.spec.containers[0].env"},
		{`{"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"backend","image":"app:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}}}}`, false, ".spec.template.spec.containers[0].env"},
		{`{"spec":{"replicas":1}}`, false, ".spec.template"},
	}
	for _, tc := range tests {
		path, same := contains(obj(tc.live), want, "")
		if same != tc.same || path != tc.path {
			t.Errorf("contains(%s) = %q, %v; want %q, %v", tc.live, path, same, tc.path, tc.same)
		}
	}
}
