/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// BuildNetworkPolicies implements the access table of design.md §4:
//
//	frontend: reached by the ingress controller only; reaches backend
//	backend:  reached by frontend;                     reaches redis, postgres
//	worker:   reached by nobody;                       reaches redis, postgres, AI APIs (443)
//	redis:    reached by backend, worker;              reaches nothing
//	postgres: reached by backend, worker;              reaches nothing
//
// A default-deny policy selects every pod of the instance for ingress and
// egress; the other policies only add allowed flows (policies are additive),
// plus DNS egress for the pods that resolve names. The migration Job's pods
// (component "migrate") run the backend binary and reach postgres only.
// spec.networkPolicy.egressCIDRs (an external database or Redis) are
// reachable from backend, worker and migrate. With monitoring.serviceMonitor,
// Prometheus' namespace may scrape the backend and worker metrics ports.
func BuildNetworkPolicies(cl *clv1.ContractLucidity) []*networkingv1.NetworkPolicy {
	both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	pods := func(components ...string) []networkingv1.NetworkPolicyPeer {
		var out []networkingv1.NetworkPolicyPeer
		for _, c := range components {
			out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: SelectorLabels(cl, c)}})
		}
		return out
	}
	tcp := func(port int) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt(port))}}
	}
	np := func(suffix, component string, selector metav1.LabelSelector, types []networkingv1.PolicyType,
		ingress []networkingv1.NetworkPolicyIngressRule, egress []networkingv1.NetworkPolicyEgressRule) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{
			TypeMeta:   typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
			ObjectMeta: objectMeta(cl, Name(cl, suffix), component, true),
			Spec: networkingv1.NetworkPolicySpec{PodSelector: selector, PolicyTypes: types,
				Ingress: ingress, Egress: egress},
		}
	}
	sel := func(component string) metav1.LabelSelector {
		return metav1.LabelSelector{MatchLabels: SelectorLabels(cl, component)}
	}
	var extra []networkingv1.NetworkPolicyEgressRule
	if cidrs := cl.Spec.NetworkPolicy.EgressCIDRs; len(cidrs) > 0 {
		var peers []networkingv1.NetworkPolicyPeer
		for _, c := range cidrs {
			peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
		}
		extra = []networkingv1.NetworkPolicyEgressRule{{To: peers}}
	}
	dataEgress := append([]networkingv1.NetworkPolicyEgressRule{
		{To: pods(ComponentRedis), Ports: tcp(PortRedis)},
		{To: pods(ComponentPostgres), Ports: tcp(PortPostgres)},
	}, extra...)

	out := []*networkingv1.NetworkPolicy{
		np("default-deny", ComponentNetwork, instanceSelector(cl), both, nil, nil),
		np("allow-dns", ComponentNetwork, instanceSelector(cl), []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, nil,
			[]networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{
				{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt(53))},
				{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt(53))},
			}}}),
		np(ComponentFrontend, ComponentFrontend, sel(ComponentFrontend), both,
			[]networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: cl.Spec.NetworkPolicy.IngressNamespaceSelector.DeepCopy()}},
				Ports: tcp(PortFrontend),
			}},
			[]networkingv1.NetworkPolicyEgressRule{{To: pods(ComponentBackend), Ports: tcp(PortBackend)}}),
		np(ComponentBackend, ComponentBackend, sel(ComponentBackend), both,
			[]networkingv1.NetworkPolicyIngressRule{{From: pods(ComponentFrontend), Ports: tcp(PortBackend)}},
			dataEgress),
		np(ComponentWorker, ComponentWorker, sel(ComponentWorker), both, nil,
			append(append([]networkingv1.NetworkPolicyEgressRule{}, dataEgress...), networkingv1.NetworkPolicyEgressRule{
				// AI provider APIs: HTTPS anywhere.
				To: []networkingv1.NetworkPolicyPeer{
					{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}},
					{IPBlock: &networkingv1.IPBlock{CIDR: "::/0"}},
				},
				Ports: tcp(443),
			})),
		np(ComponentMigrate, ComponentMigrate, sel(ComponentMigrate), both, nil,
			append([]networkingv1.NetworkPolicyEgressRule{{To: pods(ComponentPostgres), Ports: tcp(PortPostgres)}}, extra...)),
		np(ComponentRedis, ComponentRedis, sel(ComponentRedis), both,
			[]networkingv1.NetworkPolicyIngressRule{{From: pods(ComponentBackend, ComponentWorker), Ports: tcp(PortRedis)}}, nil),
		np(ComponentPostgres, ComponentPostgres, sel(ComponentPostgres), both,
			[]networkingv1.NetworkPolicyIngressRule{{From: pods(ComponentBackend, ComponentWorker, ComponentMigrate), Ports: tcp(PortPostgres)}}, nil),
	}
	if cl.Spec.Monitoring.ServiceMonitor {
		from := []networkingv1.NetworkPolicyPeer{{NamespaceSelector: cl.Spec.Monitoring.PrometheusNamespaceSelector.DeepCopy()}}
		out = append(out,
			np("backend-metrics", ComponentMonitor, sel(ComponentBackend), []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				[]networkingv1.NetworkPolicyIngressRule{{From: from, Ports: tcp(PortBackendMetrics)}}, nil),
			np("worker-metrics", ComponentMonitor, sel(ComponentWorker), []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				[]networkingv1.NetworkPolicyIngressRule{{From: from, Ports: tcp(PortWorker)}}, nil))
	}
	return out
}
