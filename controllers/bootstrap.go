/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kwait "k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// BootstrapInstanceKey is the ConfigMap key that holds the instance.
const BootstrapInstanceKey = "instance.yaml"

// InstanceBootstrap creates the ContractLucidity held in a ConfigMap
// unless it exists, once, then returns. It is how the Helm chart's
// `--set instance.enabled=true` works on a first install: Helm cannot
// create a custom resource whose CRD the same release creates (it maps
// every object before creating any), so the chart hands the instance to
// the operator it installs (--create-instance-from). The manifest carries
// Helm's ownership metadata, so the next `helm upgrade` adopts it.
type InstanceBootstrap struct {
	Client    client.Client
	Reader    client.Reader // uncached: the ConfigMap is not ours
	ConfigMap client.ObjectKey
	// Interval between attempts while the CRD is not served yet or the
	// ConfigMap is missing (default 2s).
	Interval time.Duration
}

// Start implements manager.Runnable.
func (b *InstanceBootstrap) Start(ctx context.Context) error {
	interval := b.Interval
	if interval == 0 {
		interval = 2 * time.Second
	}
	logger := log.FromContext(ctx).WithValues("configMap", b.ConfigMap.String())
	return kwait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
		created, err := b.CreateOnce(ctx)
		switch {
		case err != nil:
			logger.Info("instance from ConfigMap not created yet; retrying", "error", err.Error())
			return false, nil
		case created != "":
			logger.Info("created the instance from the ConfigMap", "instance", created)
		}
		return true, nil
	})
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: one replica creates it.
func (b *InstanceBootstrap) NeedLeaderElection() bool { return true }

// CreateOnce creates the instance unless it exists; it returns its name
// when it created it.
func (b *InstanceBootstrap) CreateOnce(ctx context.Context) (string, error) {
	cm := &corev1.ConfigMap{}
	if err := b.Reader.Get(ctx, b.ConfigMap, cm); err != nil {
		return "", fmt.Errorf("read ConfigMap %s: %w", b.ConfigMap, err)
	}
	cl := &clv1.ContractLucidity{}
	if err := yaml.UnmarshalStrict([]byte(cm.Data[BootstrapInstanceKey]), cl); err != nil {
		return "", fmt.Errorf("ConfigMap %s key %s: %w", b.ConfigMap, BootstrapInstanceKey, err)
	}
	cl.Namespace = cm.Namespace
	if err := b.Client.Create(ctx, cl, client.FieldOwner("helm")); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return "", nil
		}
		return "", fmt.Errorf("create ContractLucidity %s: %w", cl.Name, err)
	}
	return cl.Name, nil
}
