/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// reconcileSecrets checks the user-provided Secrets (read uncached) and
// creates missing generated Secrets. A generated Secret is never
// overwritten; only a key missing from it is added.
func (r *ContractLucidityReconciler) reconcileSecrets(ctx context.Context, s *state) error {
	for _, k := range UserSecretKeys(s.d) {
		sec := &corev1.Secret{}
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: s.cl.Namespace, Name: k.Name}, sec)
		if isNotFound(err) {
			msg := fmt.Sprintf("Secret %q (key %q) referenced by the spec does not exist in namespace %s: create it, or remove the reference to let the operator generate one", k.Name, k.Key, s.cl.Namespace)
			s.condition(clv1.ConditionSecretsReady, false, "SecretMissing", msg)
			return &stepError{reason: "SecretMissing", message: msg, err: err}
		}
		if err != nil {
			return fmt.Errorf("read secret %s: %w", k.Name, err)
		}
		v, ok := sec.Data[k.Key]
		if !ok || len(v) == 0 {
			msg := fmt.Sprintf("Secret %q has no key %q: add the key, or point the reference at the right key", k.Name, k.Key)
			s.condition(clv1.ConditionSecretsReady, false, "SecretKeyMissing", msg)
			return &stepError{reason: "SecretKeyMissing", message: msg}
		}
		if msg := checkUserSecret(s.d, k, v); msg != "" {
			s.condition(clv1.ConditionSecretsReady, false, "SecretInvalid", msg)
			return &stepError{reason: "SecretInvalid", message: msg}
		}
		s.secretVersions[k.Name] = sec.ResourceVersion
	}
	if err := r.observeDataInitialized(ctx, s); err != nil {
		return err
	}
	gens := GeneratedSecrets(s.d)
	live := map[clv1.SecretKind]*corev1.Secret{}
	for _, g := range gens {
		sec, err := r.ensureGeneratedSecret(ctx, s, g)
		if errors.Is(err, errSecretLost) {
			continue
		}
		if err != nil {
			return err
		}
		live[g.Kind] = sec
		s.secretVersions[g.Name] = sec.ResourceVersion
		for k, v := range sec.Data {
			s.secretValues[g.Name+"/"+k] = string(v)
		}
	}
	s.generated = live
	s.recordSecrets(gens, live)
	if len(s.lostSecrets) > 0 {
		return s.secretsLost()
	}
	s.condition(clv1.ConditionSecretsReady, true, "Available", "generated and referenced Secrets are present")
	return nil
}

func (r *ContractLucidityReconciler) ensureGeneratedSecret(ctx context.Context, s *state, g GeneratedSecret) (*corev1.Secret, error) {
	key := client.ObjectKey{Namespace: s.cl.Namespace, Name: g.Name}
	live := &corev1.Secret{}
	err := r.Client.Get(ctx, key, live)
	if isNotFound(err) {
		// Not in the cache: it may exist without our label, or the cache
		// may lag behind our own create. Ask the API server.
		err = r.APIReader.Get(ctx, key, live)
	}
	if isNotFound(err) {
		if live, err = r.missingGeneratedSecret(ctx, s, g); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", g.Name, err)
	}
	// Add keys that are missing (never change an existing value).
	var missing []GeneratedKey
	for _, k := range g.Keys {
		if len(live.Data[k.Key]) == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		patch := client.MergeFrom(live.DeepCopy())
		if live.Data == nil {
			live.Data = map[string][]byte{}
		}
		for _, k := range missing {
			v, err := k.Generate(r.Rand)
			if err != nil {
				return nil, err
			}
			live.Data[k.Key] = []byte(v)
		}
		if err := r.Client.Patch(ctx, live, patch, client.FieldOwner(FieldManager)); err != nil {
			return nil, fmt.Errorf("add missing keys to secret %s: %w", g.Name, err)
		}
	}
	return live, r.reconcileSecretMeta(ctx, s, g, live)
}

// reconcileSecretMeta applies only the labels and, with
// spec.deletionPolicy.deleteSecrets, the owner reference of a generated
// Secret (server-side apply of metadata only, so the data, written by the
// create, is never part of an apply and can never be overwritten).
func (r *ContractLucidityReconciler) reconcileSecretMeta(ctx context.Context, s *state, g GeneratedSecret, live *corev1.Secret) error {
	owned := s.cl.Spec.DeletionPolicy.DeleteSecrets
	hasOwner := slices.ContainsFunc(live.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == s.cl.UID })
	labelsOK := true
	for k, v := range Labels(s.cl, g.Component) {
		if live.Labels[k] != v {
			labelsOK = false
		}
	}
	if labelsOK && owned == hasOwner {
		return nil
	}
	m := &corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: objectMeta(s.cl, g.Name, g.Component, owned)}
	u, err := toApplyUnstructured(m)
	if err != nil {
		return err
	}
	unstructured.RemoveNestedField(u.Object, "type")
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply metadata of secret %s: %w", g.Name, err)
	}
	live.ResourceVersion = u.GetResourceVersion()
	return nil
}

// configHash is the hash of what a component's pods consume: the
// configuration and the resourceVersions of the Secrets they read.
func (s *state) configHash(component string) string {
	versions := map[string]string{}
	for _, k := range ConsumedSecretKeys(s.d, component) {
		versions[k.Name+"/"+k.Key] = s.secretVersions[k.Name]
	}
	return ConfigHash(configKeysFor(component, ConfigData(s.d)), versions)
}

func (r *ContractLucidityReconciler) reconcileConfig(ctx context.Context, s *state) error {
	if err := r.apply(ctx, BuildConfigMap(s.d)); err != nil {
		return err
	}
	s.condition(clv1.ConditionConfigReady, true, "Applied", "ConfigMap "+Name(s.cl, "config")+" carries the configuration")
	return nil
}

func (r *ContractLucidityReconciler) reconcileServiceAccounts(ctx context.Context, s *state) error {
	components := append([]string{}, AppComponents...)
	if s.d.Spec.Database.Managed != nil {
		components = append(components, ComponentPostgres)
	}
	if s.d.Spec.Redis.Managed != nil {
		components = append(components, ComponentRedis)
	}
	for _, c := range components {
		if err := r.apply(ctx, BuildServiceAccount(s.d, c)); err != nil {
			return err
		}
	}
	return nil
}

// reconcileStorage applies the storage PVC. With ReadWriteOnce the
// backend and worker are co-located (see BuildAppDeployment) and the
// CoLocated condition says why.
func (r *ContractLucidityReconciler) reconcileStorage(ctx context.Context, s *state) error {
	pvc := BuildStoragePVC(s.d)
	if err := r.apply(ctx, pvc); err != nil {
		return degraded("StorageApplyFailed", err)
	}
	if StorageCoLocated(s.d) {
		s.condition(clv1.ConditionCoLocated, true, clv1.ReasonReadWriteOnceStorage,
			"backend and worker pods are scheduled onto one node because spec.storage.accessMode is ReadWriteOnce; use ReadWriteMany storage to spread them")
	} else {
		meta.RemoveStatusCondition(&s.status.Conditions, clv1.ConditionCoLocated)
	}
	live := &corev1.PersistentVolumeClaim{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(pvc), live); err != nil || live.Status.Phase != corev1.ClaimBound {
		s.condition(clv1.ConditionStorageReady, false, "Pending", fmt.Sprintf("PersistentVolumeClaim %s is not bound yet", pvc.Name))
		return nil
	}
	s.condition(clv1.ConditionStorageReady, true, "Bound", fmt.Sprintf("PersistentVolumeClaim %s is bound", pvc.Name))
	return nil
}

func (r *ContractLucidityReconciler) reconcileDatabase(ctx context.Context, s *state) error {
	if s.d.Spec.Database.CloudNativePG != nil {
		return r.reconcileCloudNativePG(ctx, s)
	}
	if s.d.Spec.Database.External != nil {
		// Switched from managed to external: the managed PostgreSQL goes;
		// its data PVC stays (retention policy Retain, never pruned).
		for _, list := range []client.ObjectList{&appsv1.StatefulSetList{}, &corev1.ServiceList{}, &corev1.ConfigMapList{}} {
			if err := r.prune(ctx, s, list, ComponentPostgres, nil); err != nil {
				return err
			}
		}
		s.status.Components.Postgres = clv1.ReplicaStatus{}
		s.condition(clv1.ConditionDatabaseReady, true, "External", "using the external database from Secret "+s.d.Spec.Database.External.SecretRef.Name)
		return nil
	}
	objs := []client.Object{BuildPostgresInitConfigMap(s.d)}
	for _, svc := range BuildPostgresServices(s.d) {
		objs = append(objs, svc)
	}
	sts := BuildPostgresStatefulSet(s.d, PostgresConfigHash())
	if err := r.databaseVolume(ctx, s, sts); err != nil {
		return err
	}
	objs = append(objs, sts)
	for _, o := range objs {
		if err := r.apply(ctx, o); err != nil {
			return err
		}
	}
	live := &appsv1.StatefulSet{}
	ready := int32(0)
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(sts), live); err == nil {
		ready = live.Status.ReadyReplicas
	}
	s.status.Components.Postgres = clv1.ReplicaStatus{Ready: ready, Desired: 1}
	if ready < 1 {
		s.condition(clv1.ConditionDatabaseReady, false, "Starting", "PostgreSQL StatefulSet "+sts.Name+" has no ready replica yet")
		return nil
	}
	s.condition(clv1.ConditionDatabaseReady, true, "Ready", "PostgreSQL is ready")
	return nil
}

// databaseVolume keeps the StatefulSet's volumeClaimTemplate at the size it
// was created with (the template is immutable) and grows the claim itself
// when spec.database.managed.storage.size grew; CEL refuses shrinking. The
// DatabaseVolumeSized condition reports the outcome: a StorageClass without
// allowVolumeExpansion refuses the grow, which leaves the database running
// at its old size.
func (r *ContractLucidityReconciler) databaseVolume(ctx context.Context, s *state, sts *appsv1.StatefulSet) error {
	tmpl := &sts.Spec.VolumeClaimTemplates[0]
	want := tmpl.Spec.Resources.Requests[corev1.ResourceStorage]
	live := &appsv1.StatefulSet{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(sts), live); err != nil {
		if isNotFound(err) { // created with the size asked for
			return nil
		}
		return fmt.Errorf("get StatefulSet %s: %w", sts.Name, err)
	}
	for _, t := range live.Spec.VolumeClaimTemplates {
		if t.Name == tmpl.Name {
			tmpl.Spec.Resources.Requests = t.Spec.Resources.Requests.DeepCopy()
		}
	}
	name := tmpl.Name + "-" + sts.Name + "-0"
	pvc := &corev1.PersistentVolumeClaim{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: sts.Namespace, Name: name}, pvc); err != nil {
		if isNotFound(err) { // the StatefulSet controller has not made it yet
			return nil
		}
		return fmt.Errorf("get PersistentVolumeClaim %s: %w", name, err)
	}
	have := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if have.Cmp(want) < 0 {
		patch := client.MergeFrom(pvc.DeepCopy())
		pvc.Spec.Resources.Requests[corev1.ResourceStorage] = want
		if err := r.Client.Patch(ctx, pvc, patch); err != nil {
			if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
				return fmt.Errorf("grow PersistentVolumeClaim %s: %w", name, err)
			}
			s.condition(clv1.ConditionDatabaseVolume, false, "GrowRefused", fmt.Sprintf(
				"cannot grow PersistentVolumeClaim %s from %s to %s (its StorageClass must set allowVolumeExpansion: true): %v",
				name, have.String(), want.String(), err))
			return nil
		}
		r.Recorder.Eventf(s.cl, pvc, corev1.EventTypeNormal, "VolumeGrowing", "Resize",
			"growing PersistentVolumeClaim %s from %s to %s", name, have.String(), want.String())
	}
	s.condition(clv1.ConditionDatabaseVolume, true, "Sized", fmt.Sprintf("PersistentVolumeClaim %s requests %s", name, want.String()))
	return nil
}

func (r *ContractLucidityReconciler) reconcileRedis(ctx context.Context, s *state) error {
	if s.d.Spec.Redis.External != nil {
		// Switched from managed to external: the managed Redis goes.
		for _, list := range []client.ObjectList{&appsv1.DeploymentList{}, &corev1.ServiceList{}, &corev1.ConfigMapList{}} {
			if err := r.prune(ctx, s, list, ComponentRedis, nil); err != nil {
				return err
			}
		}
		s.status.Components.Redis = clv1.ReplicaStatus{}
		s.condition(clv1.ConditionRedisReady, true, "External", "using the external Redis from Secret "+s.d.Spec.Redis.External.SecretRef.Name)
		return nil
	}
	conf := BuildRedisConfigMap(s.d, redisPasswords(s)...)
	dep := BuildRedisDeployment(s.d, RedisConfigHash(conf, s.acceptedAt(clv1.SecretKindRedis)))
	for _, o := range []client.Object{conf, BuildRedisService(s.d), dep} {
		if err := r.apply(ctx, o); err != nil {
			return err
		}
	}
	rs, ok := r.deploymentStatus(ctx, dep)
	s.status.Components.Redis = rs
	if !ok {
		s.condition(clv1.ConditionRedisReady, false, "Starting", "Redis Deployment "+dep.Name+" is not available yet")
		return nil
	}
	s.condition(clv1.ConditionRedisReady, true, "Ready", "Redis is ready")
	return nil
}

// reconcileMigrations runs the migration Job of spec.version once. Until it
// succeeded, backend and worker keep the previously migrated version (and
// are not created at all before the first migration).
func (r *ContractLucidityReconciler) reconcileMigrations(ctx context.Context, s *state) error {
	target := s.d.Spec.Version
	s.appVersion = s.status.MigratedVersion
	if s.migrationsWait != "" && s.status.MigratedVersion != target {
		s.condition(clv1.ConditionMigrationsReady, false, "Waiting", "the migration to version "+target+" "+s.migrationsWait)
		return nil
	}
	if s.status.MigratedVersion == target {
		s.condition(clv1.ConditionMigrationsReady, true, "Migrated", "the database is migrated to version "+target)
		return nil
	}
	job := BuildMigrationJob(s.d, target)
	live := &batchv1.Job{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(job), live)
	if isNotFound(err) {
		// Jobs are immutable: create once, never re-apply.
		if err := r.apply(ctx, job); err != nil {
			return err
		}
		r.Recorder.Eventf(s.cl, job, corev1.EventTypeNormal, "MigrationStarted", "Migrate", "migrating the database to version %s (Job %s)", target, job.Name)
		s.condition(clv1.ConditionMigrationsReady, false, "Running", "migration Job "+job.Name+" for version "+target+" is running")
		return nil
	}
	if err != nil {
		return fmt.Errorf("get job %s: %w", job.Name, err)
	}
	switch MigrationJobState(live) {
	case JobSucceeded:
		s.status.MigratedVersion = target
		s.status.DataInitialized = true
		s.appVersion = target
		r.Recorder.Eventf(s.cl, live, corev1.EventTypeNormal, "MigrationSucceeded", "Migrate", "the database is migrated to version %s", target)
		s.condition(clv1.ConditionMigrationsReady, true, "Migrated", "the database is migrated to version "+target)
	case JobFailed:
		msg := fmt.Sprintf("migration Job %s for version %s failed; backend and worker stay at version %q: read its logs, fix, then delete the Job to retry", job.Name, target, s.appVersion)
		s.condition(clv1.ConditionMigrationsReady, false, "MigrationFailed", msg)
		// Not a stop: the other components keep being reconciled at the
		// old version; the Job's next change (deletion) triggers a retry.
		s.warning = &stepError{reason: "MigrationFailed", message: msg, err: errors.New(msg)}
	default:
		s.condition(clv1.ConditionMigrationsReady, false, "Running", "migration Job "+job.Name+" for version "+target+" is running")
	}
	return nil
}

func (r *ContractLucidityReconciler) reconcileApp(component string) func(context.Context, *state) error {
	condType := map[string]string{ComponentFrontend: clv1.ConditionFrontendReady,
		ComponentBackend: clv1.ConditionBackendReady, ComponentWorker: clv1.ConditionWorkerReady}[component]
	return func(ctx context.Context, s *state) error {
		version := s.d.Spec.Version
		if component != ComponentFrontend {
			version = s.appVersion
		}
		setStatus := func(rs clv1.ReplicaStatus) {
			switch component {
			case ComponentFrontend:
				s.status.Components.Frontend = rs
			case ComponentBackend:
				s.status.Components.Backend = rs
				s.status.Version = version
			default:
				s.status.Components.Worker = rs
			}
		}
		if version == "" {
			setStatus(clv1.ReplicaStatus{})
			s.condition(condType, false, "WaitingForMigrations", "waits for the first database migration to succeed")
			return nil
		}
		dep := BuildAppDeployment(s.d, component, version, s.configHash(component))
		objs := []client.Object{BuildPDB(s.d, component), dep}
		if component != ComponentWorker || s.d.Spec.Monitoring.ServiceMonitor {
			objs = append(objs, BuildAppService(s.d, component))
		} else if err := r.prune(ctx, s, &corev1.ServiceList{}, ComponentWorker, nil); err != nil {
			// The worker's Service exists only for the ServiceMonitor.
			return err
		}
		for _, o := range objs {
			if err := r.apply(ctx, o); err != nil {
				return err
			}
		}
		var keep []string
		if h := BuildHPA(s.d, component); h != nil {
			if err := r.apply(ctx, h); err != nil {
				return err
			}
			keep = append(keep, h.Name)
		}
		if err := r.prune(ctx, s, &autoscalingv2.HorizontalPodAutoscalerList{}, component, keep); err != nil {
			return err
		}
		rs, ok := r.deploymentStatus(ctx, dep)
		setStatus(rs)
		if !ok {
			s.condition(condType, false, "RollingOut", fmt.Sprintf("Deployment %s: %d of %d replicas ready at version %s", dep.Name, rs.Ready, rs.Desired, version))
			return nil
		}
		s.condition(condType, true, "Available", fmt.Sprintf("Deployment %s: %d of %d replicas ready at version %s", dep.Name, rs.Ready, rs.Desired, version))
		return nil
	}
}

// deploymentStatus reads a Deployment's rollout from the cache: ok when the
// current template is fully rolled out and available.
func (r *ContractLucidityReconciler) deploymentStatus(ctx context.Context, desired *appsv1.Deployment) (clv1.ReplicaStatus, bool) {
	live := &appsv1.Deployment{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return clv1.ReplicaStatus{}, false
	}
	want := int32(1)
	if live.Spec.Replicas != nil {
		want = *live.Spec.Replicas
	}
	st := live.Status
	rs := clv1.ReplicaStatus{Ready: st.ReadyReplicas, Desired: want}
	ok := st.ObservedGeneration >= live.Generation && st.UpdatedReplicas >= want &&
		st.AvailableReplicas >= want && st.Replicas == st.UpdatedReplicas &&
		live.Annotations[AnnotationSpecHash] == desired.Annotations[AnnotationSpecHash]
	return rs, ok
}

func (r *ContractLucidityReconciler) reconcileIngress(ctx context.Context, s *state) error {
	var keep []string
	if s.d.Spec.Ingress.Enabled {
		for _, ing := range BuildIngresses(s.d) {
			if err := r.apply(ctx, ing); err != nil {
				return err
			}
			keep = append(keep, ing.Name)
		}
	}
	if err := r.prune(ctx, s, &networkingv1.IngressList{}, "", keep); err != nil {
		return err
	}
	if s.d.Spec.Ingress.Enabled {
		s.condition(clv1.ConditionIngressReady, true, "Applied", fmt.Sprintf("%d Ingress objects route %s to the frontend", len(keep), s.d.Spec.Host))
	} else {
		s.condition(clv1.ConditionIngressReady, true, "Disabled", "spec.ingress.enabled is false: reach the frontend Service with kubectl port-forward or your own exposure")
	}
	return nil
}

// reconcileMonitoring applies the ServiceMonitor when requested and the
// cluster serves its CRD, and deletes it when monitoring was turned off.
func (r *ContractLucidityReconciler) reconcileMonitoring(ctx context.Context, s *state) error {
	_, err := r.RESTMapper.RESTMapping(ServiceMonitorGVK.GroupKind(), ServiceMonitorGVK.Version)
	served := err == nil
	if err != nil && !meta.IsNoMatchError(err) {
		return fmt.Errorf("discover ServiceMonitor: %w", err)
	}
	if !s.d.Spec.Monitoring.ServiceMonitor {
		// The condition records that one was applied; without it there is
		// nothing to delete (and no list request on every reconcile).
		if served && meta.FindStatusCondition(s.status.Conditions, clv1.ConditionServiceMonitorReady) != nil {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(ServiceMonitorGVK.GroupVersion().WithKind(ServiceMonitorGVK.Kind + "List"))
			if err := r.prune(ctx, s, list, ComponentMonitor, nil); err != nil {
				return err
			}
		}
		meta.RemoveStatusCondition(&s.status.Conditions, clv1.ConditionServiceMonitorReady)
		return nil
	}
	if !served {
		s.condition(clv1.ConditionServiceMonitorReady, false, clv1.ReasonCRDNotServed, fmt.Sprintf(
			"spec.monitoring.serviceMonitor is set but the cluster does not serve %s: install prometheus-operator", ServiceMonitorGVK.GroupKind()))
		return nil
	}
	if err := r.apply(ctx, BuildServiceMonitor(s.d)); err != nil {
		return err
	}
	s.condition(clv1.ConditionServiceMonitorReady, true, clv1.ReasonApplied, "ServiceMonitor "+Name(s.cl, "metrics")+" is applied")
	return nil
}

// prune deletes objects of list's kind that belong to the instance (and,
// when component is set, to that component) but are no longer desired, e.g.
// an Ingress after spec.ingress.enabled was switched off. It never touches
// PVCs or Secrets.
func (r *ContractLucidityReconciler) prune(ctx context.Context, s *state, list client.ObjectList, component string, keep []string) error {
	sel := client.MatchingLabels{LabelInstance: s.cl.Name, LabelManagedBy: ManagedBy}
	if component != "" {
		sel[LabelComponent] = component
	}
	if err := r.Client.List(ctx, list, client.InNamespace(s.cl.Namespace), sel); err != nil {
		return fmt.Errorf("list for pruning: %w", err)
	}
	return meta.EachListItem(list, func(o runtime.Object) error {
		obj, ok := o.(client.Object)
		if !ok || slices.Contains(keep, obj.GetName()) || !metav1.IsControlledBy(obj, s.cl) {
			return nil
		}
		if err := r.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete %s: %w", obj.GetName(), err)
		}
		return nil
	})
}
