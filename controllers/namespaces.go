/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// EnvWatchNamespace names the namespaces a namespace-scoped operator
// watches, comma-separated; unset or empty: the whole cluster.
const EnvWatchNamespace = "WATCH_NAMESPACE"

// WatchNamespaces parses WATCH_NAMESPACE ("team-a" or "team-a,team-b"):
// nil means every namespace. Names are checked, sorted and deduplicated.
func WatchNamespaces(value string) ([]string, error) {
	var out []string
	for _, ns := range strings.Split(value, ",") {
		ns = strings.TrimSpace(ns)
		if ns == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("%s: %q is not a namespace name: %s", EnvWatchNamespace, ns, strings.Join(errs, "; "))
		}
		out = append(out, ns)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// defaultNamespaces restricts a cache to the watched namespaces (nil: all).
func defaultNamespaces(namespaces []string) map[string]cache.Config {
	if len(namespaces) == 0 {
		return nil
	}
	m := make(map[string]cache.Config, len(namespaces))
	for _, ns := range namespaces {
		m[ns] = cache.Config{}
	}
	return m
}

// LeaderElectionID is the Lease's name: a namespace-scoped operator gets
// its own per set of namespaces, so operators watching different
// namespaces from one namespace each lead, while two replicas of the same
// one still elect a single leader.
func LeaderElectionID(namespaces []string) string {
	const id = "operator.contractlucidity.io"
	if len(namespaces) == 0 {
		return id
	}
	sum := sha256.Sum256([]byte(strings.Join(namespaces, ",")))
	return hex.EncodeToString(sum[:])[:10] + "." + id
}
