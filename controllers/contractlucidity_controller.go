/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// ContractLucidityReconciler reconciles ContractLucidity objects into the
// whole stack (design.md §3).
type ContractLucidityReconciler struct {
	// Client reads from the label-filtered cache and writes to the API server.
	Client client.Client
	// APIReader reads user-provided Secrets directly from the API server:
	// they do not carry our label, so the label-filtered cache never sees
	// them, and caching every Secret of the cluster is what the filter
	// avoids (their changes are watched as metadata only, secretwatch.go).
	APIReader client.Reader
	Recorder  events.EventRecorder
	// RESTMapper tells whether the ServiceMonitor CRD is served.
	RESTMapper meta.RESTMapper
	// Rand is the source of generated secrets (crypto/rand.Reader).
	Rand io.Reader
	// MaxConcurrentReconciles is how many instances reconcile at once (default 4).
	MaxConcurrentReconciles int
	// SecretPropagation is how long a rotation waits after changing a
	// Secret before it believes a helper container's readiness (default
	// DefaultSecretPropagation).
	SecretPropagation time.Duration

	// cloudNativePGWatched: Clusters are watched (their CRD was served when
	// the manager started).
	cloudNativePGWatched bool

	// normalised remembers objects whose re-apply after an apparent drift
	// changed nothing (the API server stores one of our fields in another
	// form): kind/namespace/name -> spec hash and resourceVersion. The same
	// object at the same version is not re-applied, so such a field cannot
	// cause a write on every reconcile.
	normalised sync.Map
}

// RBAC, least privilege: the operator never updates or deletes Secrets or
// PVCs (server-side apply is "patch"); it deletes only what it prunes
// (Ingress, NetworkPolicy, HPA, ServiceMonitor, the Services, ConfigMaps and
// workloads of a component that was switched off).
// +kubebuilder:rbac:groups=contractlucidity.io,resources=contractlucidities,verbs=get;list;watch
// +kubebuilder:rbac:groups=contractlucidity.io,resources=contractlucidities/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=contractlucidity.io,resources=contractlucidities/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets;serviceaccounts;persistentvolumeclaims,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=configmaps;services,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses;networkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=servicemonitors,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// The helper containers' readiness during a rotation (rotation.go):
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list
// The cluster's own addresses, which the AI egress excludes (steps_networkpolicy.go):
// +kubebuilder:rbac:groups=networking.k8s.io,resources=servicecidrs,verbs=list
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,resourceNames=kubernetes,verbs=get

// state carries one reconcile's facts between the steps.
type state struct {
	cl *clv1.ContractLucidity // as read (status is updated on it)
	d  *clv1.ContractLucidity // defaulted copy the builders use
	// secretVersions maps a consumed Secret's name to its resourceVersion,
	// for the config hashes (never the values: the hash is readable by
	// whoever reads the pod template).
	secretVersions map[string]string
	// secretValues maps "secret/key" of the generated Secrets to the value.
	secretValues map[string]string
	// generated are the generated Secrets as read, by kind.
	generated map[clv1.SecretKind]*corev1.Secret
	// appVersion is the version backend and worker run ("" before the
	// first migration succeeded).
	appVersion string
	status     clv1.ContractLucidityStatus
	// warning is a failure that does not stop the other steps (a failed
	// migration): it makes the instance Degraded all the same.
	warning *stepError
	// migrationsWait, when set, holds the migration Job back and says why
	// (a restore runs first; CloudNativePG is not ready).
	migrationsWait string
	// lostSecrets are the messages of generated Secrets lost after the
	// data was initialised (secret_lifecycle.go).
	lostSecrets []string
	// requeueAfter asks for another reconcile (0: none) for what is not
	// watched: a rotation waiting for a helper container or for time.
	requeueAfter time.Duration
}

// requeue asks for a reconcile within d.
func (s *state) requeue(d time.Duration) {
	if s.requeueAfter == 0 || d < s.requeueAfter {
		s.requeueAfter = d
	}
}

func (s *state) condition(t string, ok bool, reason, msg string) {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&s.status.Conditions, metav1.Condition{
		Type: t, Status: st, Reason: reason, Message: msg, ObservedGeneration: s.cl.Generation,
	})
}

// stepError is a failed step: the reason and message go to the Degraded
// condition and an event.
type stepError struct {
	reason, message string
	err             error
}

func (e *stepError) Error() string { return e.message }
func (e *stepError) Unwrap() error { return e.err }

func degraded(reason string, err error) *stepError {
	return &stepError{reason: reason, message: err.Error(), err: err}
}

// Reconcile runs the steps in order; a failing step stops the sequence
// (later steps depend on earlier ones) and nothing is ever deleted because
// of a failure.
func (r *ContractLucidityReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	cl := &clv1.ContractLucidity{}
	if err := r.Client.Get(ctx, req.NamespacedName, cl); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !cl.DeletionTimestamp.IsZero() {
		// Children go through garbage collection (owner references); data
		// without owner references (PVCs, generated Secrets) survives.
		return ctrl.Result{}, nil
	}
	s := &state{cl: cl, d: Defaulted(cl), secretVersions: map[string]string{}, secretValues: map[string]string{}, status: *cl.Status.DeepCopy()}
	if cl.Spec.Paused {
		s.condition(clv1.ConditionProgressing, false, "Paused", "spec.paused is true: the operator changes nothing until it is false")
		return ctrl.Result{}, r.updateStatus(ctx, s)
	}

	steps := []struct {
		name string
		fn   func(context.Context, *state) error
	}{
		{"version", r.reconcileVersion},
		{"secrets", r.reconcileSecrets},
		{"config", r.reconcileConfig},
		{"serviceAccounts", r.reconcileServiceAccounts},
		{"storage", r.reconcileStorage},
		{"database", r.reconcileDatabase},
		{"redis", r.reconcileRedis},
		{"restore", r.reconcileRestore},
		{"migrations", r.reconcileMigrations},
		{"frontend", r.reconcileApp(ComponentFrontend)},
		{"backend", r.reconcileApp(ComponentBackend)},
		{"worker", r.reconcileApp(ComponentWorker)},
		{"backup", r.reconcileBackup},
		{"ingress", r.reconcileIngress},
		{"networkPolicies", r.reconcileNetworkPolicies},
		{"monitoring", r.reconcileMonitoring},
		{"rotation", r.reconcileRotation},
	}
	var failed *stepError
	for _, step := range steps {
		if err := step.fn(ctx, s); err != nil {
			if !errors.As(err, &failed) {
				failed = degraded("ReconcileFailed", fmt.Errorf("%s: %w", step.name, err))
			}
			logger.Info("reconcile step failed", "step", step.name, "reason", failed.reason, "error", failed.message)
			break
		}
	}
	if failed == nil && s.warning != nil {
		r.summarize(s, s.warning)
		return ctrl.Result{RequeueAfter: s.requeueAfter}, r.updateStatus(ctx, s)
	}
	r.summarize(s, failed)
	if err := r.updateStatus(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if failed != nil {
		// The controller's rate limiter retries with exponential backoff.
		return ctrl.Result{}, failed
	}
	return ctrl.Result{RequeueAfter: s.requeueAfter}, nil
}

// summarize sets Ready, Progressing and Degraded from the concern conditions.
func (r *ContractLucidityReconciler) summarize(s *state, failed *stepError) {
	wasDegraded := meta.FindStatusCondition(s.cl.Status.Conditions, clv1.ConditionDegraded)
	if failed != nil {
		s.condition(clv1.ConditionDegraded, true, failed.reason, failed.message)
		if wasDegraded == nil || wasDegraded.Status != metav1.ConditionTrue || wasDegraded.Reason != failed.reason {
			r.Recorder.Eventf(s.cl, nil, corev1.EventTypeWarning, failed.reason, "Reconcile", "%s", failed.message)
		}
	} else {
		s.condition(clv1.ConditionDegraded, false, "AsExpected", "all steps succeeded")
		if wasDegraded != nil && wasDegraded.Status == metav1.ConditionTrue {
			r.Recorder.Eventf(s.cl, nil, corev1.EventTypeNormal, "Recovered", "Reconcile", "the instance is no longer degraded")
		}
	}
	var notReady []string
	for _, t := range []string{clv1.ConditionSecretsReady, clv1.ConditionStorageReady, clv1.ConditionDatabaseReady,
		clv1.ConditionRedisReady, clv1.ConditionMigrationsReady, clv1.ConditionFrontendReady,
		clv1.ConditionBackendReady, clv1.ConditionWorkerReady} {
		if !meta.IsStatusConditionTrue(s.status.Conditions, t) {
			notReady = append(notReady, t)
		}
	}
	wasReady := meta.IsStatusConditionTrue(s.cl.Status.Conditions, clv1.ConditionReady)
	switch {
	case failed != nil:
		s.condition(clv1.ConditionReady, false, failed.reason, failed.message)
	case len(notReady) > 0:
		s.condition(clv1.ConditionReady, false, "NotReady", fmt.Sprintf("waiting for %v", notReady))
	default:
		s.condition(clv1.ConditionReady, true, "Available", "every component is available")
		if !wasReady {
			r.Recorder.Eventf(s.cl, nil, corev1.EventTypeNormal, "Ready", "Reconcile", "every component is available")
		}
	}
	if len(notReady) > 0 && failed == nil {
		s.condition(clv1.ConditionProgressing, true, "RollingOut", fmt.Sprintf("waiting for %v", notReady))
	} else if failed != nil {
		s.condition(clv1.ConditionProgressing, false, failed.reason, "blocked: "+failed.message)
	} else {
		s.condition(clv1.ConditionProgressing, false, "Stable", "the instance matches its spec")
	}
	s.status.ObservedGeneration = s.cl.Generation
	s.status.URL = BaseURL(s.d)
	if s.status.URL == "" {
		// No public host: the in-cluster address (kubectl port-forward it).
		s.status.URL = fmt.Sprintf("http://%s.%s.svc:%d", Name(s.cl, ComponentFrontend), s.cl.Namespace, PortFrontend)
	}
	s.status.AdminSecretName = Name(s.cl, "admin")
}

// updateStatus writes the status only when it changed. It is a merge
// patch of the whole status without optimistic locking: the status is
// recomputed from the children every time, so a read that lagged behind our
// own last write must not turn into a conflict, an error and a retry later.
func (r *ContractLucidityReconciler) updateStatus(ctx context.Context, s *state) error {
	if equality.Semantic.DeepEqual(s.cl.Status, s.status) {
		return nil
	}
	base := s.cl.DeepCopy()
	s.cl.Status = s.status
	if err := r.Client.Status().Patch(ctx, s.cl, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("update status: %w", err)
	}
	return nil
}

// SetupWithManager watches the ContractLucidity and every child kind.
func (r *ContractLucidityReconciler) SetupWithManager(mgr ctrl.Manager, serviceMonitors bool) error {
	// Generated Secrets and the storage PVC usually have no owner
	// reference (they survive deletion of the instance), so they are mapped
	// to their instance through the instance label instead of Owns().
	byInstance := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		l := o.GetLabels()
		if l[LabelManagedBy] != ManagedBy || l[LabelInstance] == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: l[LabelInstance]}}}
	})
	userSecrets, err := r.watchUserSecrets(mgr)
	if err != nil {
		return err
	}
	workers := r.MaxConcurrentReconciles
	if workers <= 0 {
		workers = 4
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&clv1.ContractLucidity{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&appsv1.Deployment{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&batchv1.Job{}).
		Owns(&networkingv1.Ingress{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&autoscalingv2.HorizontalPodAutoscaler{}).
		// Jobs of the backup CronJob are owned by it, not by the instance.
		Watches(&batchv1.Job{}, byInstance, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetLabels()[LabelComponent] == ComponentBackup
		}))).
		Owns(&batchv1.CronJob{}).
		Watches(&corev1.Secret{}, byInstance).
		Watches(&corev1.PersistentVolumeClaim{}, byInstance).
		WatchesRawSource(userSecrets).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: workers,
			// Retry failed reconciles from 1s, doubling, up to once a minute.
			RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](time.Second, time.Minute),
		})
	if serviceMonitors {
		b = b.Owns(BuildServiceMonitor(&clv1.ContractLucidity{}))
	}
	if r.cloudNativePGWatched = CloudNativePGServed(mgr.GetRESTMapper()); r.cloudNativePGWatched {
		// Metadata only (status changes bump the resourceVersion), by label:
		// the Cluster has no owner reference unless deleteData is set.
		cluster := &metav1.PartialObjectMetadata{}
		cluster.SetGroupVersionKind(CloudNativePGClusterGVK)
		b = b.WatchesMetadata(cluster, byInstance)
	}
	return b.Named("contractlucidity").Complete(r)
}

// isNotFound reports a NotFound error.
func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
