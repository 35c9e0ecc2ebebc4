/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// s3Spec is a bucket at an in-cluster store whose credentials are in Secret "docs-s3".
func s3Spec() *clv1.S3Storage {
	return &clv1.S3Storage{Endpoint: "http://minio.storage.svc:9000", Bucket: "documents", ForcePathStyle: true,
		Credentials: clv1.S3Credentials{SecretName: "docs-s3"}}
}

func createS3Credentials(t *testing.T, ns string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "docs-s3"},
		Data: map[string][]byte{S3AccessKeyIDKey: []byte("AKIAEXAMPLE"), S3SecretAccessKeyKey: []byte("first-secret-key-value")}}
	if err := k8sClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// podUsesVolume reports whether a pod spec mounts the claim.
func podUsesClaim(ps corev1.PodSpec, claim string) bool {
	return slices.ContainsFunc(ps.Volumes, func(v corev1.Volume) bool {
		return v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim
	})
}

func envNames(c corev1.Container) []string {
	var out []string
	for _, e := range c.Env {
		out = append(out, e.Name)
	}
	return out
}

// With spec.storage.s3 (even with accessMode ReadWriteOnce, which would
// co-locate them on a volume) backend and worker mount no volume and are
// scheduled independently; they read the bucket's settings and
// credentials; no storage volume is created; the NetworkPolicies open
// exactly the store; a change of the credentials rolls both.
func TestS3InstanceSharesNoVolumeAndFollowsItsCredentials(t *testing.T) {
	ns := newNamespace(t)
	cl := createSample(t, ns, "development", func(cl *clv1.ContractLucidity) {
		cl.Spec.Storage.AccessMode = corev1.ReadWriteOnce
		cl.Spec.Storage.S3 = s3Spec()
	})
	// The credentials are checked before anything rolls.
	waitCondition(t, ns, cl.Name, clv1.ConditionSecretsReady, metav1.ConditionFalse, "SecretMissing")
	creds := createS3Credentials(t, ns)
	markJobSucceeded(t, ns, MigrationJobName(cl, cl.Spec.Version))
	got := waitCondition(t, ns, cl.Name, clv1.ConditionStorageReady, metav1.ConditionTrue, clv1.ReasonObjectStorage)
	if c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionStorageReady); !strings.Contains(c.Message, "bucket documents") {
		t.Errorf("StorageReady message %q", c.Message)
	}
	if meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionCoLocated) != nil {
		t.Error("CoLocated condition with S3 storage")
	}
	cm := &corev1.ConfigMap{}
	waitFor(t, cm, key(ns, cl.Name+"-config"), nil)
	for k, v := range map[string]string{"STORAGE_BACKEND": "s3", "STORAGE_S3_BUCKET": "documents",
		"STORAGE_S3_ENDPOINT": "http://minio.storage.svc:9000", "STORAGE_S3_FORCE_PATH_STYLE": "true", "STORAGE_S3_SSE": "auto"} {
		if cm.Data[k] != v {
			t.Errorf("ConfigMap %s = %q, want %q", k, cm.Data[k], v)
		}
	}
	hashes := map[string]string{}
	for _, c := range []string{ComponentBackend, ComponentWorker} {
		d := &appsv1.Deployment{}
		waitFor(t, d, key(ns, cl.Name+"-"+c), nil)
		ps := d.Spec.Template.Spec
		if podUsesClaim(ps, cl.Name+"-storage") {
			t.Errorf("%s mounts the storage volume", c)
		}
		if ps.Affinity != nil {
			t.Errorf("%s has an affinity with S3 storage: %+v", c, ps.Affinity)
		}
		env := envNames(ps.Containers[0])
		for _, want := range []string{"STORAGE_S3_ACCESS_KEY_ID", "STORAGE_S3_SECRET_ACCESS_KEY"} {
			if !slices.Contains(env, want) {
				t.Errorf("%s env lacks %s: %v", c, want, env)
			}
		}
		hashes[c] = d.Spec.Template.Annotations[AnnotationConfigHash]

		np := &networkingv1.NetworkPolicy{}
		waitFor(t, np, key(ns, cl.Name+"-"+c), nil)
		if !slices.ContainsFunc(np.Spec.Egress, func(r networkingv1.NetworkPolicyEgressRule) bool {
			return len(r.To) == 1 && r.To[0].NamespaceSelector != nil &&
				r.To[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "storage" &&
				len(r.Ports) == 1 && r.Ports[0].Port.IntValue() == 9000
		}) {
			t.Errorf("%s NetworkPolicy does not open namespace storage on 9000: %+v", c, np.Spec.Egress)
		}
	}
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-storage"), &corev1.PersistentVolumeClaim{}); err == nil {
		t.Error("a storage volume was created for an S3 instance")
	}
	settle(t, ns)
	before := requests.Writes(ns)
	poke(t, ns, cl.Name, 3)
	if d := requests.Writes(ns) - before; d != 0 {
		t.Errorf("3 steady-state reconciles of an S3 instance sent %d writes", d)
	}

	creds.Data[S3SecretAccessKeyKey] = []byte("second-secret-key-value")
	if err := k8sClient.Update(ctx, creds); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{ComponentBackend, ComponentWorker} {
		eventually(t, wait, c+" rolled", func() error {
			d := &appsv1.Deployment{}
			if err := k8sClient.Get(ctx, key(ns, cl.Name+"-"+c), d); err != nil {
				return err
			}
			if h := d.Spec.Template.Annotations[AnnotationConfigHash]; h == hashes[c] {
				return fmt.Errorf("config hash still %s", h)
			}
			return nil
		})
	}
}

// The PVC -> S3 move as the operator sees it: switching a running
// instance to S3 stops mounting the volume in backend, worker and the
// backup pods, and keeps the volume (not deleted, not even when the
// instance owns it); switching back mounts it again.
func TestSwitchingToS3KeepsTheVolume(t *testing.T) {
	ns, cl := readyInstance(t, func(cl *clv1.ContractLucidity) {
		cl.Spec.DeletionPolicy.DeleteData = true // the volume is owned by the instance: still kept
		withVolumeBackups(cl)
	})
	pvc := &corev1.PersistentVolumeClaim{}
	waitFor(t, pvc, key(ns, cl.Name+"-storage"), nil)
	waitFor(t, &batchv1.CronJob{}, key(ns, BackupCronJobName(cl)), nil)
	createS3Credentials(t, ns)

	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Spec.Storage.S3 = s3Spec() })
	for _, c := range []string{ComponentBackend, ComponentWorker} {
		d := &appsv1.Deployment{}
		waitFor(t, d, key(ns, cl.Name+"-"+c), func() error {
			if podUsesClaim(d.Spec.Template.Spec, cl.Name+"-storage") {
				return fmt.Errorf("%s still mounts the volume", c)
			}
			return nil
		})
	}
	cron := &batchv1.CronJob{}
	waitFor(t, cron, key(ns, BackupCronJobName(cl)), func() error {
		ps := cron.Spec.JobTemplate.Spec.Template.Spec
		if podUsesClaim(ps, cl.Name+"-storage") {
			return fmt.Errorf("the backup pod still mounts the volume")
		}
		if env := envNames(ps.Containers[0]); !slices.Contains(env, "STORAGE_S3_SECRET_ACCESS_KEY") {
			return fmt.Errorf("the backup pod cannot read the bucket: env %v", env)
		}
		return nil
	})
	got := waitCondition(t, ns, cl.Name, clv1.ConditionStorageReady, metav1.ConditionTrue, clv1.ReasonObjectStorage)
	if c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionStorageReady); !strings.Contains(c.Message, "volume "+cl.Name+"-storage from before is kept") {
		t.Errorf("StorageReady message %q does not say the volume is kept", c.Message)
	}
	settle(t, ns)
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-storage"), pvc); err != nil || pvc.DeletionTimestamp != nil {
		t.Fatalf("the storage volume was deleted after the switch to S3: %v, deletionTimestamp %v", err, pvc.DeletionTimestamp)
	}

	// The copy: one Job per token, with the volume, the bucket and a way
	// through the NetworkPolicies to PostgreSQL and the store.
	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) {
		cl.Annotations = map[string]string{AnnotationStorageMigrate: "move-1"}
	})
	job := &batchv1.Job{}
	waitFor(t, job, key(ns, StorageMigrateJobName(cl, "move-1")), nil)
	ps := job.Spec.Template.Spec
	if !podUsesClaim(ps, cl.Name+"-storage") || strings.Join(ps.Containers[0].Args, " ") != "storage migrate --to s3" ||
		!slices.Contains(envNames(ps.Containers[0]), "STORAGE_S3_SECRET_ACCESS_KEY") {
		t.Errorf("storage migration Job: volumes %+v args %v env %v", ps.Volumes, ps.Containers[0].Args, envNames(ps.Containers[0]))
	}
	np := &networkingv1.NetworkPolicy{}
	waitFor(t, np, key(ns, cl.Name+"-"+ComponentStorageMigrate), nil)
	if len(np.Spec.Egress) != 2 || len(np.Spec.Ingress) != 0 {
		t.Errorf("storage migration NetworkPolicy egress %+v ingress %+v", np.Spec.Egress, np.Spec.Ingress)
	}
	pg := &networkingv1.NetworkPolicy{}
	waitFor(t, pg, key(ns, cl.Name+"-postgres"), nil)
	if !slices.ContainsFunc(pg.Spec.Ingress[0].From, func(p networkingv1.NetworkPolicyPeer) bool {
		return p.PodSelector != nil && p.PodSelector.MatchLabels[LabelComponent] == ComponentStorageMigrate
	}) {
		t.Errorf("PostgreSQL does not admit the storage migration: %+v", pg.Spec.Ingress)
	}
	markJobSucceeded(t, ns, job.Name)
	eventually(t, wait, "StorageReady says the copy succeeded", func() error {
		c := meta.FindStatusCondition(getCL(t, ns, cl.Name).Status.Conditions, clv1.ConditionStorageReady)
		if c == nil || !strings.Contains(c.Message, "storage migration Job "+job.Name+" succeeded") {
			return fmt.Errorf("StorageReady %+v", c)
		}
		return nil
	})
	// The way back copies the bucket into the volume.
	back := &batchv1.Job{}
	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Annotations[AnnotationStorageMigrate] = "filesystem:back-1" })
	waitFor(t, back, key(ns, StorageMigrateJobName(cl, "filesystem:back-1")), nil)
	if args := strings.Join(back.Spec.Template.Spec.Containers[0].Args, " "); args != "storage migrate --to filesystem" {
		t.Errorf("the way back runs %q", args)
	}
	markJobSucceeded(t, ns, back.Name)
	// A new token runs again; a failed copy degrades the instance and says what to do.
	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Annotations[AnnotationStorageMigrate] = "move-2" })
	markJobFailed(t, ns, StorageMigrateJobName(cl, "move-2"))
	got = waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionTrue, "StorageMigrationFailed")
	if c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionDegraded); !strings.Contains(c.Message, "kubectl logs job/"+StorageMigrateJobName(cl, "move-2")) {
		t.Errorf("Degraded message %q", c.Message)
	}

	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Spec.Storage.S3 = nil })
	d := &appsv1.Deployment{}
	waitFor(t, d, key(ns, cl.Name+"-worker"), func() error {
		if !podUsesClaim(d.Spec.Template.Spec, cl.Name+"-storage") {
			return fmt.Errorf("the worker does not mount the volume again")
		}
		return nil
	})
}

func TestParseS3Endpoint(t *testing.T) {
	cases := []struct {
		endpoint string
		want     S3Endpoint
	}{
		{"", S3Endpoint{Kind: S3External, Host: "s3.amazonaws.com", Port: 443}},
		{"s3.eu-central-1.amazonaws.com", S3Endpoint{Kind: S3External, Host: "s3.eu-central-1.amazonaws.com", Port: 443}},
		{"http://minio.example.com", S3Endpoint{Kind: S3External, Host: "minio.example.com", Port: 80}},
		// Two labels may be a public name (.storage is a TLD): not guessed in-cluster.
		{"minio.storage:9000", S3Endpoint{Kind: S3External, Host: "minio.storage", Port: 9000}},
		{"minio.storage.svc:9000", S3Endpoint{Kind: S3Service, Host: "minio.storage.svc", Namespace: "storage", Port: 9000}},
		{"https://minio.storage.svc.cluster.local/", S3Endpoint{Kind: S3Service, Host: "minio.storage.svc.cluster.local", Namespace: "storage", Port: 443}},
		{"minio:9000", S3Endpoint{Kind: S3Service, Host: "minio", Namespace: "apps", Port: 9000}},
		{"http://10.20.0.15:8333", S3Endpoint{Kind: S3Address, Host: "10.20.0.15", Port: 8333}},
		{"10.20.0.15", S3Endpoint{Kind: S3Address, Host: "10.20.0.15", Port: 443}},
	}
	for _, tc := range cases {
		if got := ParseS3Endpoint(tc.endpoint, "apps"); got != tc.want {
			t.Errorf("ParseS3Endpoint(%q) = %+v, want %+v", tc.endpoint, got, tc.want)
		}
	}
}

// The object store's egress is exactly what the endpoint names, on its port.
func TestStorageEgressRules(t *testing.T) {
	cn := ClusterNetwork{ServiceCIDRs: []string{"10.96.0.0/12"}}
	rules := func(edit func(*clv1.S3Storage)) []networkingv1.NetworkPolicyEgressRule {
		cl := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "apps"}})
		cl.Spec.Storage.S3 = s3Spec()
		edit(cl.Spec.Storage.S3)
		return storageEgressRules(cl, cn)
	}
	one := func(t *testing.T, r []networkingv1.NetworkPolicyEgressRule, port int) []networkingv1.NetworkPolicyPeer {
		t.Helper()
		if len(r) != 1 || len(r[0].Ports) != 1 || r[0].Ports[0].Port.IntValue() != port {
			t.Fatalf("rules %+v, want one on port %d", r, port)
		}
		return r[0].To
	}
	t.Run("address", func(t *testing.T) {
		to := one(t, rules(func(s *clv1.S3Storage) { s.Endpoint = "http://10.20.0.15:8333" }), 8333)
		if len(to) != 1 || to[0].IPBlock == nil || to[0].IPBlock.CIDR != "10.20.0.15/32" {
			t.Errorf("peers %+v", to)
		}
	})
	t.Run("service", func(t *testing.T) {
		to := one(t, rules(func(*clv1.S3Storage) {}), 9000)
		if len(to) != 1 || to[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "storage" || to[0].IPBlock != nil {
			t.Errorf("peers %+v", to)
		}
	})
	t.Run("internet", func(t *testing.T) {
		to := one(t, rules(func(s *clv1.S3Storage) { s.Endpoint = "s3.eu-central-1.amazonaws.com" }), 443)
		if len(to) != 2 || to[0].IPBlock.CIDR != "0.0.0.0/0" || !slices.Contains(to[0].IPBlock.Except, "169.254.0.0/16") ||
			!slices.Contains(to[0].IPBlock.Except, "10.0.0.0/8") || to[1].IPBlock.CIDR != "::/0" {
			t.Errorf("peers %+v", to)
		}
	})
	t.Run("listed endpoints replace the derived rule", func(t *testing.T) {
		r := rules(func(s *clv1.S3Storage) {
			s.Egress = &clv1.S3StorageEgress{Endpoints: []clv1.EgressEndpoint{
				{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "minio"}},
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "storage"}}, Ports: []int32{9001}},
			}}
		})
		to := one(t, r, 9001)
		if to[0].PodSelector.MatchLabels["app"] != "minio" {
			t.Errorf("peers %+v", to)
		}
	})
}

// Without S3 nothing changes: the volume is mounted and, with
// ReadWriteOnce, backend and worker share a node.
func TestVolumeStorageUnchanged(t *testing.T) {
	cl := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "apps"}})
	cl.Spec.Storage.AccessMode = corev1.ReadWriteOnce
	d := BuildAppDeployment(cl, ComponentWorker, "1", "h")
	if !podUsesClaim(d.Spec.Template.Spec, "x-storage") || d.Spec.Template.Spec.Affinity == nil {
		t.Errorf("worker without S3: volume %v, affinity %+v", podUsesClaim(d.Spec.Template.Spec, "x-storage"), d.Spec.Template.Spec.Affinity)
	}
	if ConfigData(cl)["STORAGE_PATH"] != StoragePath || ConfigData(cl)["STORAGE_BACKEND"] != "" {
		t.Errorf("config without S3: %v", ConfigData(cl))
	}
	cl.Spec.Storage.S3 = s3Spec()
	cl.Spec.Storage.S3.ServerSideEncryption = clv1.S3EncryptionRequired
	cl.Spec.Storage.S3.TLS = &clv1.S3TLS{CABundle: clv1.CABundleRef{ConfigMap: &clv1.ConfigMapKeyRef{Name: "trust", Key: "bundle.pem"}}}
	d = BuildAppDeployment(cl, ComponentWorker, "1", "h")
	ps := d.Spec.Template.Spec
	if podUsesClaim(ps, "x-storage") || ps.Affinity != nil {
		t.Errorf("worker with S3 mounts the volume or is co-located")
	}
	if !slices.ContainsFunc(ps.Volumes, func(v corev1.Volume) bool {
		return v.ConfigMap != nil && v.ConfigMap.Name == "trust" && v.ConfigMap.Items[0].Key == "bundle.pem" && v.ConfigMap.Items[0].Path == "ca.crt"
	}) {
		t.Errorf("CA bundle ConfigMap not mounted: %+v", ps.Volumes)
	}
	if got := ConfigData(cl); got["STORAGE_S3_SSE"] != "s3" || got["STORAGE_S3_CA_FILE"] != storageCADir+"/ca.crt" || got["STORAGE_PATH"] != "" {
		t.Errorf("config with S3: %v", got)
	}
}

// CEL refuses what cannot work, with a message that says what to do.
func TestCELRulesRejectBadScaleOutSpecs(t *testing.T) {
	ns := newNamespace(t)
	prod := "environment: production\nhost: a.example.com\ningress: {enabled: true, tls: {secretName: t}}\n"
	s3 := func(extra string) string {
		return "storage: {s3: {bucket: docs, credentials: {secretName: c}" + extra + "}}"
	}
	cases := []struct{ name, spec, want string }{
		{"s3 endpoint with a path", s3(", endpoint: https://s3.example.com/bucket"), "spec.storage.s3.endpoint must be host[:port]"},
		{"s3 bucket invalid", "storage: {s3: {bucket: Docs_1, credentials: {secretName: c}}}", "spec.storage.s3.bucket"},
		{"s3 without credentials", "storage: {s3: {bucket: docs}}", "spec.storage.s3.credentials"},
		{"s3 CA in a Secret and a ConfigMap", s3(", tls: {caBundle: {secret: {name: a}, configMap: {name: b}}}"), "sets exactly one of secret or configMap"},
		{"s3 CA in neither", s3(", tls: {caBundle: {}}"), "sets exactly one of secret or configMap"},
		{"s3 tls with http", s3(", endpoint: http://minio.example.com, tls: {caBundle: {secret: {name: a}}}"), "spec.storage.s3.tls applies to an https endpoint"},
		{"s3 unknown encryption", s3(", serverSideEncryption: aws:kms"), "spec.storage.s3.serverSideEncryption"},
		{"s3 http in production", prod + s3(", endpoint: http://minio.example.com:9000"), "must not be plain http:// when spec.environment is production"},
		{"queueDepth on the backend", "backend: {autoscaling: {maxReplicas: 3, queueDepth: {}}}", "spec.backend.autoscaling.queueDepth is for the worker only"},
		{"queueDepth on the frontend", "frontend: {autoscaling: {maxReplicas: 3, queueDepth: {}}}", "spec.frontend.autoscaling.queueDepth is for the worker only"},
		{"queueDepth with an external Redis", "redis: {external: {secretRef: {name: r}}}\nworker: {autoscaling: {maxReplicas: 3, queueDepth: {}}}", "spec.worker.autoscaling.queueDepth needs spec.redis.managed"},
		{"queueDepth target zero", "worker: {autoscaling: {maxReplicas: 3, queueDepth: {targetJobsPerReplica: 0}}}", "spec.worker.autoscaling.queueDepth.targetJobsPerReplica"},
		{"redis persistence too small", "redis: {managed: {persistence: {size: 10Mi}}}", "spec.redis.managed.persistence.size must be at least 100Mi"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := map[string]any{}
			if err := yaml.Unmarshal([]byte(tc.spec), &spec); err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": clv1.GroupVersion.String(), "kind": "ContractLucidity",
				"metadata": map[string]any{"name": fmt.Sprintf("bad-%d", i), "namespace": ns},
				"spec":     spec,
			}}
			err := k8sClient.Create(ctx, u)
			if err == nil {
				t.Fatalf("accepted, want rejection containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("rejected with %q, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("production accepts an in-cluster http store", func(t *testing.T) {
		createSample(t, ns, "production", func(cl *clv1.ContractLucidity) {
			cl.Name, cl.Spec.Paused = "prod-svc-store", true
			cl.Spec.Storage.S3 = s3Spec()
		})
	})
	t.Run("redis persistence never shrinks", func(t *testing.T) {
		cl := createSample(t, ns, "queuedepth", func(cl *clv1.ContractLucidity) { cl.Name, cl.Spec.Paused = "shrink", true })
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			live := getCL(t, ns, cl.Name)
			live.Spec.Redis.Managed.Persistence.Size = ptr.To(resource.MustParse("1Gi"))
			return k8sClient.Update(ctx, live)
		})
		if err == nil || !strings.Contains(err.Error(), "cannot shrink") {
			t.Fatalf("shrinking accepted or refused without saying why: %v", err)
		}
	})
}

// With S3 the worker copies the documents it processes into /tmp: its
// scratch space grows by concurrency x the upload limit, so a large upload
// does not get the pod evicted (the scheduler also finds room for it).
func TestWorkerScratchHoldsTheDocumentsItProcessesFromS3(t *testing.T) {
	cl := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "apps"}})
	cl.Spec.Worker.Concurrency, cl.Spec.Uploads.MaxSizeMB = 3, 2048
	tmp := func() (corev1.Volume, corev1.ResourceList) {
		d := BuildAppDeployment(cl, ComponentWorker, "1", "h")
		return d.Spec.Template.Spec.Volumes[0], d.Spec.Template.Spec.Containers[0].Resources.Requests
	}
	v, req := tmp()
	if got := v.EmptyDir.SizeLimit.Value() >> 20; got != 512+3*256 {
		t.Errorf("volume storage: worker /tmp limit %d MiB", got)
	}
	cl.Spec.Storage.S3 = s3Spec()
	v, req = tmp()
	if got, want := v.EmptyDir.SizeLimit.Value()>>20, int64(512+3*256+3*2048); got != want {
		t.Errorf("S3 storage: worker /tmp limit %d MiB, want %d", got, want)
	}
	if got, want := req.StorageEphemeral().Value()>>20, int64(512+3*2048); got != want {
		t.Errorf("S3 storage: worker ephemeral-storage request %d MiB, want %d", got, want)
	}
}

// A secret access key production's services would refuse is reported by
// the operator (SecretInvalid) instead of pods that crash-loop.
func TestProductionRefusesADefaultS3SecretKey(t *testing.T) {
	cl := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "apps"}})
	cl.Spec.Storage.S3 = s3Spec()
	secret, id := SecretKey{"docs-s3", S3SecretAccessKeyKey}, SecretKey{"docs-s3", S3AccessKeyIDKey}
	for _, tc := range []struct {
		env    clv1.Environment
		k      SecretKey
		v      string
		refuse bool
	}{
		{clv1.EnvironmentProduction, secret, "minioadmin", true},
		{clv1.EnvironmentProduction, secret, "MinioAdmin", true},
		{clv1.EnvironmentProduction, secret, "short", true},
		{clv1.EnvironmentProduction, secret, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", false},
		{clv1.EnvironmentProduction, id, "minioadmin", false},
		{clv1.EnvironmentDevelopment, secret, "minioadmin", false},
	} {
		cl.Spec.Environment = tc.env
		if msg := checkUserSecret(cl, tc.k, []byte(tc.v)); (msg != "") != tc.refuse {
			t.Errorf("%s %s=%q: %q, want refused=%v", tc.env, tc.k.Key, tc.v, msg, tc.refuse)
		}
	}
}

// A restore into an S3 instance writes the documents into the bucket: its
// pod mounts no storage volume and reads the bucket's credentials, and its
// NetworkPolicy opens the store.
func TestRestoreIntoS3(t *testing.T) {
	cl := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "apps"}})
	cl.Spec.Storage.S3 = s3Spec()
	cl.Spec.Database.Managed.RestoreFrom = &clv1.RestoreFrom{BackupID: "20261129T101500Z-3f2a1b",
		Source: clv1.BackupDestination{PVC: &clv1.BackupPVC{ClaimName: "old-backups"}}}
	ps := BuildRestoreJob(cl, "1").Spec.Template.Spec
	if podUsesClaim(ps, "x-storage") || !podUsesClaim(ps, "old-backups") {
		t.Errorf("restore volumes %+v", ps.Volumes)
	}
	if env := envNames(ps.Containers[0]); !slices.Contains(env, "STORAGE_S3_ACCESS_KEY_ID") || !slices.Contains(env, "STORAGE_S3_SECRET_ACCESS_KEY") {
		t.Errorf("restore env %v", env)
	}
	for _, np := range BuildNetworkPolicies(cl, ClusterNetwork{}) {
		if np.Name != "x-restore" {
			continue
		}
		if !slices.ContainsFunc(np.Spec.Egress, func(r networkingv1.NetworkPolicyEgressRule) bool {
			return len(r.To) == 1 && r.To[0].NamespaceSelector != nil && r.Ports[0].Port.IntValue() == 9000
		}) {
			t.Errorf("restore egress %+v does not open the store", np.Spec.Egress)
		}
		return
	}
	t.Error("no restore NetworkPolicy")
}

// SecurityValidated judges the object store too: its secret key, and a
// plain-http endpoint outside the cluster.
func TestSecurityChecksJudgeTheObjectStore(t *testing.T) {
	prod := Defaulted(loadSample(t, samples["s3"]))
	key := SecretKey{prod.Spec.Storage.S3.Credentials.SecretName, S3SecretAccessKeyKey}
	strong := []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	got := findings(SecurityChecks(prod, SecurityInputs{TLSSecretFound: true, Secrets: map[SecretKey][]byte{key: strong}}))
	if _, ok := got["secrets"]; ok {
		t.Errorf("a strong secret key: %+v", got["secrets"])
	}
	if _, ok := got["objectStorage"]; ok {
		t.Errorf("an in-cluster https store: %+v", got["objectStorage"])
	}
	got = findings(SecurityChecks(prod, SecurityInputs{TLSSecretFound: true, Secrets: map[SecretKey][]byte{key: []byte("minioadmin")}}))
	if f, ok := got["secrets"]; !ok || f.Warning || !strings.Contains(f.Message, "default") {
		t.Errorf("minioadmin in production: %+v, want a failure", f)
	}
	dev := prod.DeepCopy()
	dev.Spec.Environment = clv1.EnvironmentDevelopment
	dev.Spec.Storage.S3.Endpoint, dev.Spec.Storage.S3.TLS = "http://minio.example.com:9000", nil
	got = findings(SecurityChecks(dev, SecurityInputs{TLSSecretFound: true, Secrets: map[SecretKey][]byte{key: strong}}))
	if f, ok := got["objectStorage"]; !ok || !f.Warning || !strings.Contains(f.Message, "without TLS") {
		t.Errorf("plain http to an outside store: %+v, want a warning", f)
	}
}
