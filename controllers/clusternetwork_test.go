/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"reflect"
	"testing"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

func TestClusterExclusions(t *testing.T) {
	cases := []struct {
		name         string
		clusterCIDRs []string
		cn           ClusterNetwork
		want         []string
	}{
		{"defaults", nil, ClusterNetwork{},
			[]string{"10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10"}},
		{"detected ranges inside the defaults add nothing", nil,
			ClusterNetwork{ServiceCIDRs: []string{"10.96.0.0/12", "fd00:10:96::/112"}, APIServer: []string{"10.0.0.1"}},
			[]string{"10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10"}},
		{"a public API server address is added", nil, ClusterNetwork{APIServer: []string{"34.118.2.7", "2600:1900::5"}},
			[]string{"10.0.0.0/8", "34.118.2.7/32", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16",
				"2600:1900::5/128", "fc00::/7", "fe80::/10"}},
		{"clusterCIDRs replace the defaults, narrower ranges are dropped", []string{"198.18.0.0/15", "198.18.4.0/24", "2001:db8::/48"},
			ClusterNetwork{ServiceCIDRs: []string{"198.19.0.0/16"}},
			[]string{"169.254.0.0/16", "198.18.0.0/15", "2001:db8::/48", "fe80::/10"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := &clv1.ContractLucidity{}
			cl.Spec.NetworkPolicy.ClusterCIDRs = tc.clusterCIDRs
			if got := ClusterExclusions(cl, tc.cn); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}
