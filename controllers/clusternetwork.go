/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"net/netip"
	"slices"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// DefaultClusterCIDRs stand for the cluster's own ranges when
// spec.networkPolicy.clusterCIDRs is unset: every private (RFC 1918, RFC
// 4193) and shared (RFC 6598) range. The pod and service ranges of nearly
// every cluster lie in them; detecting pod ranges reliably is not possible
// (many network plugins ignore the nodes' spec.podCIDRs).
var DefaultClusterCIDRs = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"}

// linkLocal ranges hold cloud metadata endpoints (169.254.169.254) and
// node-local services: never an AI provider.
var linkLocal = []string{"169.254.0.0/16", "fe80::/10"}

// ClusterNetwork is what the operator detected about the cluster's own
// addresses; the AI egress to the Internet excludes them.
type ClusterNetwork struct {
	// ServiceCIDRs are the ranges of the cluster's ServiceCIDR objects.
	ServiceCIDRs []string
	// APIServer are the API server's addresses (the default/kubernetes
	// EndpointSlice); on some managed clusters they are public addresses.
	APIServer []string
	// Undetected says what could not be read, and why.
	Undetected []string
}

// ClusterRanges are the cluster's own ranges as the spec gives them:
// spec.networkPolicy.clusterCIDRs, or DefaultClusterCIDRs.
func ClusterRanges(cl *clv1.ContractLucidity) []string {
	if c := cl.Spec.NetworkPolicy.ClusterCIDRs; len(c) > 0 {
		return c
	}
	return DefaultClusterCIDRs
}

// ClusterExclusions are the ranges the AI egress to the Internet excludes:
// the cluster's ranges, link-local, and what was detected; sorted, without
// ranges another one covers.
func ClusterExclusions(cl *clv1.ContractLucidity, cn ClusterNetwork) []string {
	all := slices.Concat(ClusterRanges(cl), linkLocal, cn.ServiceCIDRs)
	for _, a := range cn.APIServer {
		if ip, err := netip.ParseAddr(a); err == nil {
			all = append(all, netip.PrefixFrom(ip, ip.BitLen()).String())
		}
	}
	return summarize(all)
}

// summarize parses, masks, sorts (IPv4 first) and drops the ranges another
// covers; unparsable entries and the whole address space are left out (an
// ipBlock's except must be narrower than its cidr).
func summarize(cidrs []string) []string {
	var ps []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil || p.Bits() == 0 {
			continue
		}
		ps = append(ps, p.Masked())
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	var out []string
	var last netip.Prefix
	for _, p := range ps {
		if last.IsValid() && last.Bits() <= p.Bits() && last.Contains(p.Addr()) {
			continue // covered (sorted by address, so the cover comes first)
		}
		out = append(out, p.String())
		last = p
	}
	return out
}

// splitFamilies splits CIDRs into IPv4 and IPv6.
func splitFamilies(cidrs []string) (v4, v6 []string) {
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Addr().Is4() {
			v4 = append(v4, c)
		} else {
			v6 = append(v6, c)
		}
	}
	return v4, v6
}
