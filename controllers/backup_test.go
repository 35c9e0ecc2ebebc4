/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// withVolumeBackups turns on nightly backups to an operator-created volume.
func withVolumeBackups(cl *clv1.ContractLucidity) {
	cl.Spec.Backup = &clv1.BackupSpec{Schedule: "15 1 * * *", Retention: clv1.BackupRetention{KeepLast: 3, KeepDays: ptr.To[int32](10)},
		Destination: clv1.BackupDestination{PVC: &clv1.BackupPVC{Size: ptr.To(resource.MustParse("5Gi"))}}}
}

// runBackupJob plays the Job controller and the kubelet for one backup Job
// of the CronJob: the Job (owned by the CronJob, as the CronJob controller
// makes it), its pod, the pod's container terminated with exitCode and
// message, and the Job's outcome.
func runBackupJob(t *testing.T, ns string, cron *batchv1.CronJob, name string, exitCode int32, message string) *batchv1.Job {
	t.Helper()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: cron.Spec.JobTemplate.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cron.Name, UID: cron.UID, Controller: ptr.To(true)}}},
		Spec: *cron.Spec.JobTemplate.Spec.DeepCopy(),
	}
	if err := k8sClient.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	runJobPod(t, job, exitCode, message)
	if exitCode == 0 {
		markJobSucceeded(t, ns, name)
	} else {
		markJobFailed(t, ns, name)
	}
	return job
}

// runJobPod creates the Job's pod (with the labels the API server added
// to its template) and terminates its container.
func runJobPod(t *testing.T, job *batchv1.Job, exitCode int32, message string) {
	t.Helper()
	live := &batchv1.Job{}
	waitFor(t, live, client.ObjectKeyFromObject(job), nil)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: job.Namespace, Name: fmt.Sprintf("%s-%d", job.Name, time.Now().UnixNano()%100000),
			Labels: live.Spec.Template.Labels},
		Spec: *live.Spec.Template.Spec.DeepCopy(),
	}
	if err := k8sClient.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	phase := corev1.PodSucceeded
	if exitCode != 0 {
		phase = corev1.PodFailed
	}
	setStatus(t, pod, func() {
		now := metav1.Now()
		pod.Status.Phase = phase
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: pod.Spec.Containers[0].Name, Image: pod.Spec.Containers[0].Image, ImageID: "sha256:0",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: exitCode, Reason: "Completed", Message: message, StartedAt: now, FinishedAt: now}},
		}}
	})
}

// findEvent waits for an event of the instance with reason and type whose note contains text.
func findEvent(t *testing.T, ns, name, reason, typ, text string) {
	t.Helper()
	eventually(t, wait, "event "+reason, func() error {
		evs := &eventsv1.EventList{}
		if err := k8sClient.List(ctx, evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == reason && e.Type == typ && e.Regarding.Name == name && strings.Contains(e.Note, text) {
				return nil
			}
		}
		return fmt.Errorf("no %s %s event with %q among %d events", typ, reason, text, len(evs.Items))
	})
}

// Backups as the cluster sees them: the CronJob is built and accepted by
// the API server (and the volume, the NetworkPolicy and the trash
// retention with it); finished Jobs are copied into status.backup, the
// condition and events; a steady state writes nothing.
func TestBackupCronJobRecordsSuccessAndFailure(t *testing.T) {
	ns, cl := readyInstance(t, withVolumeBackups)
	waitCondition(t, ns, cl.Name, clv1.ConditionBackupSucceeded, metav1.ConditionUnknown, clv1.ReasonNoBackupYet)

	cron := &batchv1.CronJob{}
	waitFor(t, cron, key(ns, cl.Name+"-backup"), nil)
	if cron.Spec.Schedule != "15 1 * * *" || cron.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("CronJob schedule %q, concurrency %s", cron.Spec.Schedule, cron.Spec.ConcurrencyPolicy)
	}
	ps := cron.Spec.JobTemplate.Spec.Template.Spec
	c := ps.Containers[0]
	if want := []string{"backup", "create", "--to", "/backups", "--keep", "3", "--keep-days", "10", "--termination-log", "/dev/termination-log"}; !slices.Equal(c.Args, want) {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	if c.Image != DefaultImageRepository+":"+cl.Spec.Version || c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
		t.Errorf("image %s, termination message policy %s", c.Image, c.TerminationMessagePolicy)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	if m := mounts["storage"]; m.MountPath != StoragePath || !m.ReadOnly {
		t.Errorf("storage mount %+v, want %s read-only", m, StoragePath)
	}
	if m := mounts["backups"]; m.MountPath != BackupMountPath || m.ReadOnly {
		t.Errorf("backups mount %+v", m)
	}
	claims := map[string]string{}
	for _, v := range ps.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
		if v.EmptyDir != nil && v.EmptyDir.SizeLimit == nil {
			t.Errorf("emptyDir %s has no sizeLimit", v.Name)
		}
	}
	if claims["storage"] != cl.Name+"-storage" || claims["backups"] != cl.Name+"-backups" {
		t.Errorf("claims %v", claims)
	}
	sc := c.SecurityContext
	if !ptr.Deref(ps.SecurityContext.RunAsNonRoot, false) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) ||
		ptr.Deref(sc.AllowPrivilegeEscalation, true) || ptr.Deref(ps.AutomountServiceAccountToken, true) {
		t.Errorf("not restricted: pod %+v, container %+v", ps.SecurityContext, sc)
	}
	envNames := map[string]bool{}
	for _, e := range c.Env {
		envNames[e.Name] = true
	}
	if !envNames["POSTGRES_PASSWORD"] || len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef.Name != cl.Name+"-config" {
		t.Errorf("env %v from %+v: want the database password and the ConfigMap", envNames, c.EnvFrom)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	waitFor(t, pvc, key(ns, cl.Name+"-backups"), nil)
	if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "5Gi" || len(pvc.OwnerReferences) != 0 {
		t.Errorf("backup volume %s, owners %v (kept when the instance goes)", q.String(), pvc.OwnerReferences)
	}
	np := &networkingv1.NetworkPolicy{}
	waitFor(t, np, key(ns, cl.Name+"-backup"), nil)
	if len(np.Spec.Egress) != 1 || np.Spec.Egress[0].To[0].PodSelector.MatchLabels[LabelComponent] != ComponentPostgres {
		t.Errorf("backup egress %+v, want PostgreSQL only", np.Spec.Egress)
	}
	pg := &networkingv1.NetworkPolicy{}
	waitFor(t, pg, key(ns, cl.Name+"-postgres"), func() error {
		for _, p := range pg.Spec.Ingress[0].From {
			if p.PodSelector.MatchLabels[LabelComponent] == ComponentBackup {
				return nil
			}
		}
		return errors.New("PostgreSQL does not admit the backup pods")
	})
	cm := &corev1.ConfigMap{}
	waitFor(t, cm, key(ns, cl.Name+"-config"), nil)
	if cm.Data["STORAGE_TRASH_RETENTION"] != "24h0m0s" {
		t.Errorf("STORAGE_TRASH_RETENTION %q", cm.Data["STORAGE_TRASH_RETENTION"])
	}
	if d := ptr.Deref(cron.Spec.JobTemplate.Spec.ActiveDeadlineSeconds, 0); d != 24*3600 {
		t.Errorf("backup deadline %ds, want the trash retention", d)
	}

	// A scheduled backup succeeds.
	ok := runBackupJob(t, ns, cron, cl.Name+"-backup-29410001", 0,
		`{"id":"20261129T011500Z-0a1b2c","destination":"/backups","size_bytes":123456,"files":3,"pruned":["20261120T011500Z-ffffff"],"pruned_count":1}`)
	got := waitCondition(t, ns, cl.Name, clv1.ConditionBackupSucceeded, metav1.ConditionTrue, clv1.ReasonBackupSucceeded)
	b := got.Status.Backup
	if b == nil || b.LastBackupID != "20261129T011500Z-0a1b2c" || b.LastSizeBytes != 123456 || b.LastSuccessfulTime == nil || b.LastFailureTime != nil {
		t.Fatalf("status.backup %+v", b)
	}
	findEvent(t, ns, cl.Name, clv1.ReasonBackupSucceeded, corev1.EventTypeNormal, "20261129T011500Z-0a1b2c")
	_ = ok

	// The next one fails: a Warning event and the condition say why.
	time.Sleep(time.Second) // a later finish time (the API keeps seconds)
	runBackupJob(t, ns, cron, cl.Name+"-backup-29410002", 1, `{"error":"connect to database: connection refused"}`)
	got = waitCondition(t, ns, cl.Name, clv1.ConditionBackupSucceeded, metav1.ConditionFalse, clv1.ReasonBackupFailed)
	c2 := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionBackupSucceeded)
	if !strings.Contains(c2.Message, "connection refused") || !strings.Contains(c2.Message, "20261129T011500Z-0a1b2c") {
		t.Errorf("condition message %q: want the failure and the last good backup", c2.Message)
	}
	if b := got.Status.Backup; b.LastFailureTime == nil || !strings.Contains(b.LastFailureMessage, "connection refused") || b.LastBackupID != "20261129T011500Z-0a1b2c" {
		t.Errorf("status.backup after the failure %+v", b)
	}
	findEvent(t, ns, cl.Name, clv1.ReasonBackupFailed, corev1.EventTypeWarning, "connection refused")

	// Nothing new: reconciles write nothing.
	settle(t, ns)
	before := requests.Writes(ns)
	poke(t, ns, cl.Name, 3)
	if d := requests.Writes(ns) - before; d != 0 {
		t.Errorf("3 steady-state reconciles with backups sent %d writes: %v", d, requests.WriteLog(ns)[len(requests.WriteLog(ns))-d:])
	}

	// Turning backups off removes the CronJob and its policy, keeps the volume.
	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Spec.Backup = nil })
	eventually(t, wait, "CronJob removed", func() error {
		if err := k8sClient.Get(ctx, key(ns, cl.Name+"-backup"), &batchv1.CronJob{}); err == nil {
			return errors.New("still there")
		}
		if err := k8sClient.Get(ctx, key(ns, cl.Name+"-backup"), &networkingv1.NetworkPolicy{}); err == nil {
			return errors.New("NetworkPolicy still there")
		}
		return nil
	})
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-backups"), &corev1.PersistentVolumeClaim{}); err != nil {
		t.Errorf("backup volume: %v", err)
	}
}

// contractlucidity.io/backup-now: one Job per token, however often the
// instance reconciles; a new token, a new Job.
func TestBackupNowRunsOneJobPerToken(t *testing.T) {
	ns, cl := readyInstance(t, withVolumeBackups)
	waitFor(t, &batchv1.CronJob{}, key(ns, cl.Name+"-backup"), nil)
	annotate := func(token string) {
		patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, clv1.AnnotationBackupNow, token)
		if err := k8sClient.Patch(ctx, &clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: cl.Name}},
			client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
	}
	onDemand := func() []string {
		jobs := &batchv1.JobList{}
		if err := k8sClient.List(ctx, jobs, client.InNamespace(ns), client.MatchingLabels{LabelComponent: ComponentBackup}); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, j := range jobs.Items {
			out = append(out, j.Name+"="+j.Annotations[AnnotationBackupToken])
		}
		slices.Sort(out)
		return out
	}
	annotate("before-the-upgrade")
	first := OnDemandBackupJobName(cl, "before-the-upgrade")
	waitFor(t, &batchv1.Job{}, key(ns, first), nil)
	eventually(t, wait, "token recorded", func() error {
		if b := getCL(t, ns, cl.Name).Status.Backup; b == nil || b.OnDemandToken != "before-the-upgrade" {
			return fmt.Errorf("status.backup %+v", b)
		}
		return nil
	})
	poke(t, ns, cl.Name, 3)
	if got := onDemand(); !slices.Equal(got, []string{first + "=before-the-upgrade"}) {
		t.Fatalf("Jobs after 3 more reconciles: %v", got)
	}
	findEvent(t, ns, cl.Name, "BackupStarted", corev1.EventTypeNormal, first)
	job := &batchv1.Job{}
	waitFor(t, job, key(ns, first), nil)
	if len(job.OwnerReferences) != 1 || job.OwnerReferences[0].Name != cl.Name || ptr.Deref(job.Spec.TTLSecondsAfterFinished, 0) == 0 {
		t.Errorf("on-demand Job owners %v, TTL %v", job.OwnerReferences, job.Spec.TTLSecondsAfterFinished)
	}

	// Its outcome is recorded like a scheduled one's.
	runJobPod(t, job, 0, `{"id":"20261129T120000Z-abcdef","size_bytes":42}`)
	markJobSucceeded(t, ns, first)
	got := waitCondition(t, ns, cl.Name, clv1.ConditionBackupSucceeded, metav1.ConditionTrue, clv1.ReasonBackupSucceeded)
	if got.Status.Backup.LastBackupID != "20261129T120000Z-abcdef" {
		t.Errorf("status.backup %+v", got.Status.Backup)
	}

	annotate("second")
	second := OnDemandBackupJobName(cl, "second")
	waitFor(t, &batchv1.Job{}, key(ns, second), nil)
	poke(t, ns, cl.Name, 2)
	if got := onDemand(); len(got) != 2 {
		t.Fatalf("Jobs after two tokens: %v", got)
	}
}

// An S3 destination without its credentials: the condition says which
// Secret is missing and no on-demand Job is started (its pod could not
// start); once the Secret exists, it is.
func TestBackupToS3WaitsForItsCredentials(t *testing.T) {
	ns, cl := readyInstance(t, func(cl *clv1.ContractLucidity) {
		cl.Annotations = map[string]string{clv1.AnnotationBackupNow: "first"}
		cl.Spec.Backup = &clv1.BackupSpec{Destination: clv1.BackupDestination{S3: &clv1.BackupS3{
			Endpoint: "http://seaweedfs.storage:8333", Bucket: "backups", ForcePathStyle: true,
			CredentialsSecretRef: clv1.SecretRef{Name: "s3-creds"},
			Egress: clv1.BackupEgress{Internet: ptr.To(false), Endpoints: []clv1.EgressEndpoint{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "storage"}}}}},
		}}}
	})
	got := waitCondition(t, ns, cl.Name, clv1.ConditionBackupSucceeded, metav1.ConditionFalse, "CredentialsMissing")
	if c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionBackupSucceeded); !strings.Contains(c.Message, `"s3-creds"`) {
		t.Errorf("message %q does not name the Secret", c.Message)
	}
	if err := k8sClient.Get(ctx, key(ns, OnDemandBackupJobName(cl, "first")), &batchv1.Job{}); err == nil {
		t.Fatal("an on-demand Job started without credentials")
	}
	np := &networkingv1.NetworkPolicy{}
	waitFor(t, np, key(ns, cl.Name+"-backup"), nil)
	if len(np.Spec.Egress) != 2 || np.Spec.Egress[1].To[0].NamespaceSelector == nil || np.Spec.Egress[1].Ports[0].Port.IntValue() != 8333 {
		t.Errorf("S3 egress %+v: want PostgreSQL, then the store's namespace on 8333 (no Internet)", np.Spec.Egress)
	}

	if err := k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s3-creds"},
		Data: map[string][]byte{S3AccessKeyIDKey: []byte("id"), S3SecretAccessKeyKey: []byte("secret")}}); err != nil {
		t.Fatal(err)
	}
	// The Secret is watched (metadata only): no poke needed.
	job := &batchv1.Job{}
	waitFor(t, job, key(ns, OnDemandBackupJobName(cl, "first")), nil)
	waitCondition(t, ns, cl.Name, clv1.ConditionBackupSucceeded, metav1.ConditionUnknown, clv1.ReasonNoBackupYet)
	env := map[string]corev1.EnvVar{}
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e
	}
	if env["BACKUP_S3_ENDPOINT"].Value != "http://seaweedfs.storage:8333" || env["BACKUP_S3_FORCE_PATH_STYLE"].Value != "true" ||
		env["BACKUP_S3_SECRET_ACCESS_KEY"].ValueFrom.SecretKeyRef.Name != "s3-creds" {
		t.Errorf("S3 env %+v", env)
	}
	if a := job.Spec.Template.Spec.Containers[0].Args; a[3] != "s3://backups" {
		t.Errorf("args %q", a)
	}
}

// With ReadWriteOnce storage the backup pod must run where backend and
// worker have the volume attached; with ReadWriteMany anywhere.
func TestBackupPodFollowsReadWriteOnceStorage(t *testing.T) {
	cl := Defaulted(loadSample(t, samples["backup"]))
	if a := BuildBackupCronJob(cl, "1.0.0").Spec.JobTemplate.Spec.Template.Spec.Affinity; a != nil {
		t.Errorf("ReadWriteMany storage, yet affinity %+v", a)
	}
	cl.Spec.Storage.AccessMode = corev1.ReadWriteOnce
	a := BuildBackupCronJob(cl, "1.0.0").Spec.JobTemplate.Spec.Template.Spec.Affinity
	if a == nil || a.PodAffinity == nil || len(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("ReadWriteOnce storage: affinity %+v", a)
	}
	term := a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
	if term.TopologyKey != corev1.LabelHostname || !slices.Equal(term.LabelSelector.MatchExpressions[0].Values, []string{ComponentBackend, ComponentWorker}) {
		t.Errorf("affinity term %+v", term)
	}
}

func TestS3Port(t *testing.T) {
	for endpoint, want := range map[string]int{
		"": 443, "s3.amazonaws.com": 443, "minio.storage:9000": 9000, "http://minio.storage": 80,
		"http://seaweedfs:8333": 8333, "https://s3.example.com": 443, "https://s3.example.com:8443/": 8443,
	} {
		if got := s3Port(endpoint); got != want {
			t.Errorf("s3Port(%q) = %d, want %d", endpoint, got, want)
		}
	}
}
