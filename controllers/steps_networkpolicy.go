/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// reconcileNetworkPolicies applies the instance's NetworkPolicies (or
// removes them when spec.networkPolicy.enabled is false).
func (r *ContractLucidityReconciler) reconcileNetworkPolicies(ctx context.Context, s *state) error {
	if !networkPolicyEnabled(s.d) {
		if err := r.prune(ctx, s, &networkingv1.NetworkPolicyList{}, "", nil); err != nil {
			return err
		}
		s.condition(clv1.ConditionNetworkPoliciesReady, true, clv1.ReasonDisabled,
			"spec.networkPolicy.enabled is false: the instance's traffic is not restricted")
		return nil
	}
	cn, err := r.detectClusterNetwork(ctx)
	if err != nil {
		return err
	}
	var keep []string
	for _, np := range BuildNetworkPolicies(s.d, cn) {
		if err := r.apply(ctx, np); err != nil {
			return err
		}
		keep = append(keep, np.Name)
	}
	if err := r.prune(ctx, s, &networkingv1.NetworkPolicyList{}, "", keep); err != nil {
		return err
	}
	reason, msg := networkPoliciesCondition(s.d, cn, len(keep))
	s.condition(clv1.ConditionNetworkPoliciesReady, true, reason, msg)
	return nil
}

// networkPoliciesCondition says what the AI egress allows and what the
// operator could not detect.
func networkPoliciesCondition(cl *clv1.ContractLucidity, cn ClusterNetwork, n int) (string, string) {
	ai := cl.Spec.NetworkPolicy.AIEgress
	msg := fmt.Sprintf("%d NetworkPolicies applied; AI egress (backend, worker): %d listed endpoints", n, len(ai.Endpoints))
	if ptr.Deref(ai.Internet, true) {
		msg += ", and HTTPS to the Internet except " + strings.Join(ClusterExclusions(cl, cn), ", ")
	}
	if len(cn.Undetected) == 0 {
		return clv1.ReasonApplied, msg
	}
	return clv1.ReasonClusterRangesPartlyDetected, msg + "; not detected: " + strings.Join(cn.Undetected, "; ") +
		". If the cluster's ranges are not private, list them in spec.networkPolicy.clusterCIDRs"
}

// detectClusterNetwork reads the ServiceCIDR objects and the API server's
// EndpointSlice (uncached: a few small objects, read when the policies are
// reconciled). What the cluster does not serve or the operator may not read
// is reported in Undetected; other errors are returned, so a transient
// failure never narrows the exclusions.
func (r *ContractLucidityReconciler) detectClusterNetwork(ctx context.Context) (ClusterNetwork, error) {
	var cn ClusterNetwork
	if len(r.WatchNamespaces) > 0 {
		// Namespace-scoped: no permission outside the watched namespaces.
		cn.Undetected = append(cn.Undetected, "service ranges and API server addresses (the operator is namespace-scoped by "+
			EnvWatchNamespace+" and reads nothing cluster-wide)")
		return cn, nil
	}
	undetectable := func(err error) bool {
		return meta.IsNoMatchError(err) || apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsMethodNotSupported(err)
	}
	cidrs := &networkingv1.ServiceCIDRList{}
	switch err := r.APIReader.List(ctx, cidrs); {
	case err == nil:
		for _, c := range cidrs.Items {
			cn.ServiceCIDRs = append(cn.ServiceCIDRs, c.Spec.CIDRs...)
		}
	case undetectable(err):
		cn.Undetected = append(cn.Undetected, fmt.Sprintf("service ranges (ServiceCIDR objects: %v)", err))
	default:
		return cn, fmt.Errorf("list ServiceCIDRs: %w", err)
	}
	slice := &discoveryv1.EndpointSlice{}
	switch err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: "default", Name: "kubernetes"}, slice); {
	case err == nil:
		for _, e := range slice.Endpoints {
			cn.APIServer = append(cn.APIServer, e.Addresses...)
		}
	case undetectable(err):
		cn.Undetected = append(cn.Undetected, fmt.Sprintf("API server addresses (EndpointSlice default/kubernetes: %v)", err))
	default:
		return cn, fmt.Errorf("get EndpointSlice default/kubernetes: %w", err)
	}
	slices.Sort(cn.ServiceCIDRs)
	slices.Sort(cn.APIServer)
	cn.ServiceCIDRs, cn.APIServer = slices.Compact(cn.ServiceCIDRs), slices.Compact(cn.APIServer)
	return cn, nil
}
