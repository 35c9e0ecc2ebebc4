/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

// Command manager runs the Contract Lucidity operator.
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"strings"

	"log/slog"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/contract-lucidity/contract-lucidity/controllers"
)

func main() {
	var metricsAddr, probeAddr string
	var leaderElect bool
	var concurrency int
	flag.IntVar(&concurrency, "max-concurrent-reconciles", 4, "instances reconciled in parallel")
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint (0 disables it)")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	flag.BoolVar(&leaderElect, "leader-elect", false, "elect a leader so only one replica reconciles")
	var debug bool
	flag.BoolVar(&debug, "debug", false, "log at debug level")
	var instanceFrom string
	flag.StringVar(&instanceFrom, "create-instance-from", "",
		"NAMESPACE/NAME of a ConfigMap whose key instance.yaml holds a ContractLucidity to create unless it exists (the Helm chart's instance on a first install)")
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		// The chart's `helm test` pod (the image has no shell or curl).
		os.Exit(probe(os.Args[2:], os.Stdout, os.Stderr))
	}
	flag.Parse()
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})))

	if err := run(metricsAddr, probeAddr, leaderElect, concurrency, instanceFrom); err != nil {
		ctrl.Log.Error(err, "operator stopped")
		os.Exit(1)
	}
}

func run(metricsAddr, probeAddr string, leaderElect bool, concurrency int, instanceFrom string) error {
	scheme, err := controllers.NewScheme()
	if err != nil {
		return err
	}
	namespaces, err := controllers.WatchNamespaces(os.Getenv(controllers.EnvWatchNamespace))
	if err != nil {
		return err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  controllers.CacheOptions(namespaces...),
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		// The Lease is in the operator's own namespace (in a cluster, the
		// pod's), or LEADER_ELECTION_NAMESPACE when run elsewhere.
		LeaderElectionNamespace: os.Getenv("LEADER_ELECTION_NAMESPACE"),
		LeaderElectionID:        controllers.LeaderElectionID(namespaces),
		// The manager exits right after cancellation, so hand over at once.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	r := &controllers.ContractLucidityReconciler{
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Recorder:   mgr.GetEventRecorder(controllers.FieldManager),
		RESTMapper: mgr.GetRESTMapper(),
		Rand:       rand.Reader,

		MaxConcurrentReconciles: concurrency,
		WatchNamespaces:         namespaces,
	}
	if err := r.SetupWithManager(mgr, controllers.ServiceMonitorServed(mgr.GetRESTMapper())); err != nil {
		return fmt.Errorf("set up controller: %w", err)
	}
	if instanceFrom != "" {
		ns, name, ok := strings.Cut(instanceFrom, "/")
		if !ok || ns == "" || name == "" {
			return fmt.Errorf("--create-instance-from %q: want NAMESPACE/NAME", instanceFrom)
		}
		if err := mgr.Add(&controllers.InstanceBootstrap{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(),
			ConfigMap: client.ObjectKey{Namespace: ns, Name: name}}); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	scope := "cluster"
	if len(namespaces) > 0 {
		scope = strings.Join(namespaces, ",")
	}
	ctrl.Log.Info("starting the operator", "leaderElection", leaderElect, "metrics", metricsAddr, "watchNamespaces", scope)
	return mgr.Start(ctrl.SetupSignalHandler())
}
