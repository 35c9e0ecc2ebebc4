/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// The client's address reaches the backend as ingress controller ->
// frontend -> backend: the ingress controller writes X-Forwarded-For, the
// frontend appends the ingress controller's address and the backend's peer
// is the frontend. Both proxies run in the cluster, so TRUSTED_PROXIES
// (set explicitly: the services' built-in default is going to be "none")
// is the cluster's ranges plus spec.ingress.trustedProxies (a load
// balancer in front of the ingress controller).
func TestTrustedProxiesAreTheClusterRangesAndTheListedProxies(t *testing.T) {
	for _, tc := range []struct {
		name               string
		edit               func(*clv1.ContractLucidity)
		trusted, untrusted []string
	}{
		{"default", nil,
			[]string{"10.244.3.7", "172.17.0.4", "192.168.1.9", "100.64.0.9", "fd00::7"},
			[]string{"203.0.113.9", "8.8.8.8", "2001:db8::1", "169.254.169.254"}},
		{"clusterCIDRs and a load balancer", func(cl *clv1.ContractLucidity) {
			cl.Spec.NetworkPolicy.ClusterCIDRs = []string{"10.244.0.0/16", "10.96.0.0/12"}
			cl.Spec.Ingress.TrustedProxies = []string{"203.0.113.0/24"}
		},
			[]string{"10.244.3.7", "10.96.0.10", "203.0.113.9"},
			[]string{"10.1.2.3", "192.168.1.9", "8.8.8.8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, cl := readyInstance(t, tc.edit)
			cm := &corev1.ConfigMap{}
			waitFor(t, cm, key(ns, cl.Name+"-config"), func() error {
				if cm.Data["TRUSTED_PROXIES"] == "" {
					return fmt.Errorf("no TRUSTED_PROXIES in %v", cm.Data)
				}
				return nil
			})
			// The services' format: comma-separated CIDRs (netip.ParsePrefix).
			var trusted []netip.Prefix
			for _, c := range strings.Split(cm.Data["TRUSTED_PROXIES"], ",") {
				p, err := netip.ParsePrefix(c)
				if err != nil {
					t.Fatalf("TRUSTED_PROXIES=%s: %v", cm.Data["TRUSTED_PROXIES"], err)
				}
				trusted = append(trusted, p)
			}
			trusts := func(ip string) bool {
				for _, p := range trusted {
					if p.Contains(netip.MustParseAddr(ip)) {
						return true
					}
				}
				return false
			}
			for _, ip := range tc.trusted {
				if !trusts(ip) {
					t.Errorf("%s is not trusted (TRUSTED_PROXIES=%s)", ip, cm.Data["TRUSTED_PROXIES"])
				}
			}
			for _, ip := range tc.untrusted {
				if trusts(ip) {
					t.Errorf("%s is trusted (TRUSTED_PROXIES=%s)", ip, cm.Data["TRUSTED_PROXIES"])
				}
			}
			// Backend and frontend read it from the ConfigMap.
			for _, c := range []string{ComponentBackend, ComponentFrontend} {
				d := &appsv1.Deployment{}
				waitFor(t, d, key(ns, cl.Name+"-"+c), nil)
				if ef := d.Spec.Template.Spec.Containers[0].EnvFrom; len(ef) != 1 || ef[0].ConfigMapRef == nil || ef[0].ConfigMapRef.Name != cm.Name {
					t.Errorf("%s does not read the ConfigMap: %+v", c, ef)
				}
			}
		})
	}
}
