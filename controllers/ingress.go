/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"strconv"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// ingress-nginx annotations.
const (
	nginxLimitRPM       = "nginx.ingress.kubernetes.io/limit-rpm"
	nginxBurstMult      = "nginx.ingress.kubernetes.io/limit-burst-multiplier"
	nginxBodySize       = "nginx.ingress.kubernetes.io/proxy-body-size"
	nginxReadTimeout    = "nginx.ingress.kubernetes.io/proxy-read-timeout"
	nginxSSLRedirect    = "nginx.ingress.kubernetes.io/force-ssl-redirect"
	certManagerIssuer   = "cert-manager.io/issuer"
	certManagerClusterI = "cert-manager.io/cluster-issuer"
)

// ingressRoute is one Ingress object: ingress-nginx applies rate limits per
// Ingress object, so each path group with its own limit is its own Ingress.
type ingressRoute struct {
	suffix   string // <name>-<suffix>; "frontend" is the main Ingress
	path     string
	pathType networkingv1.PathType
	limitRPM int32 // 0: no limit at the ingress
	bodyMB   int32 // 0: the controller default
}

func ingressRoutes(cl *clv1.ContractLucidity) []ingressRoute {
	rl := cl.Spec.RateLimits
	return []ingressRoute{
		// The UI and its static assets.
		{suffix: "frontend", path: "/", pathType: networkingv1.PathTypePrefix},
		// Every API call, per client IP (the backend limits per user through Redis).
		{suffix: "api", path: "/api", pathType: networkingv1.PathTypePrefix, limitRPM: rl.APIPerMinutePerUser, bodyMB: 1},
		// Login attempts per client IP.
		{suffix: "login", path: "/api/auth/login", pathType: networkingv1.PathTypeExact, limitRPM: rl.LoginPerMinutePerIP, bodyMB: 1},
		// Uploads (POST /api/documents), with the upload size limit.
		{suffix: "uploads", path: "/api/documents", pathType: networkingv1.PathTypeExact, limitRPM: rl.UploadsPerMinutePerUser, bodyMB: cl.Spec.Uploads.MaxSizeMB},
	}
}

// BuildIngresses routes everything to the frontend (which proxies /api to
// the backend): the main Ingress and one per rate-limited path group.
// The cert-manager annotation is on the main Ingress only, so one
// Certificate is issued for the shared TLS Secret.
func BuildIngresses(cl *clv1.ContractLucidity) []*networkingv1.Ingress {
	spec := cl.Spec.Ingress
	var out []*networkingv1.Ingress
	for _, r := range ingressRoutes(cl) {
		name := Name(cl, r.suffix)
		ann := map[string]string{}
		for k, v := range spec.Annotations {
			ann[k] = v
		}
		if r.limitRPM > 0 {
			ann[nginxLimitRPM] = strconv.Itoa(int(r.limitRPM))
			ann[nginxBurstMult] = "1"
		}
		if r.bodyMB > 0 {
			ann[nginxBodySize] = fmt.Sprintf("%dm", r.bodyMB)
		}
		if r.suffix == "uploads" {
			ann[nginxReadTimeout] = "300"
		}
		ing := &networkingv1.Ingress{
			TypeMeta:   typeMeta("networking.k8s.io/v1", "Ingress"),
			ObjectMeta: objectMeta(cl, name, ComponentFrontend, true),
			Spec: networkingv1.IngressSpec{
				IngressClassName: ptr.To(spec.ClassName),
				Rules: []networkingv1.IngressRule{{
					Host: cl.Spec.Host,
					IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
						Paths: []networkingv1.HTTPIngressPath{{
							Path:     r.path,
							PathType: ptr.To(r.pathType),
							Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
								Name: Name(cl, ComponentFrontend),
								Port: networkingv1.ServiceBackendPort{Name: "http"},
							}},
						}},
					}},
				}},
			},
		}
		if tls := spec.TLS; tls != nil {
			ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{cl.Spec.Host}, SecretName: tls.SecretName}}
			ann[nginxSSLRedirect] = "true"
			if tls.IssuerRef != nil && r.suffix == "frontend" {
				if tls.IssuerRef.Kind == "Issuer" {
					ann[certManagerIssuer] = tls.IssuerRef.Name
				} else {
					ann[certManagerClusterI] = tls.IssuerRef.Name
				}
			}
		}
		if len(ann) > 0 {
			ing.Annotations = ann
		}
		out = append(out, ing)
	}
	return out
}
