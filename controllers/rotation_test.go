/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

func rotationKind(t *testing.T, cl *clv1.ContractLucidity, kind clv1.SecretKind) RotationKind {
	t.Helper()
	for _, k := range RotationKinds(Defaulted(cl)) {
		if k.Kind == kind {
			return k
		}
	}
	t.Fatalf("%s is not rotatable", kind)
	return RotationKind{}
}

func TestNextRotationPhase(t *testing.T) {
	cl := &clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
	jwt, enc := rotationKind(t, cl, clv1.SecretKindJWT), rotationKind(t, cl, clv1.SecretKindEncryption)
	db, redis := rotationKind(t, cl, clv1.SecretKindDatabase), rotationKind(t, cl, clv1.SecretKindRedis)
	const (
		staged, promoted, reenc, completing = clv1.RotationStaged, clv1.RotationPromoted, clv1.RotationReencrypting, clv1.RotationCompleting
	)
	for _, tc := range []struct {
		name    string
		k       RotationKind
		f       RotationFacts
		next    clv1.RotationPhase
		waiting string
	}{
		{"nothing asked", jwt, RotationFacts{}, "", ""},
		{"asked", jwt, RotationFacts{Requested: true}, staged, ""},
		{"staged, rolling out", jwt, RotationFacts{Phase: staged}, "", "backend to roll out"},
		{"staged, rolled out", jwt, RotationFacts{Phase: staged, RolledOut: true}, promoted, ""},
		{"jwt promoted: old tokens not expired", jwt, RotationFacts{Phase: promoted, RolledOut: true, RolledOutFor: 10 * time.Minute}, "", "expire (21m0s more)"},
		{"jwt promoted: old tokens expired", jwt, RotationFacts{Phase: promoted, RolledOut: true, RolledOutFor: 31 * time.Minute}, completing, ""},
		{"completing, rolling out", jwt, RotationFacts{Phase: completing}, "", "roll out"},
		{"completing, rolled out", jwt, RotationFacts{Phase: completing, RolledOut: true}, rotationDone, ""},
		{"encryption promoted: re-encrypt", enc, RotationFacts{Phase: promoted, RolledOut: true}, reenc, ""},
		{"encryption staged: backend and worker", enc, RotationFacts{Phase: staged}, "", "backend and worker to roll out"},
		{"re-encryption running", enc, RotationFacts{Phase: reenc, Job: JobRunning}, "", "re-encryption Job"},
		{"re-encryption failed", enc, RotationFacts{Phase: reenc, Job: JobFailed}, "", "delete the Job"},
		{"re-encryption done", enc, RotationFacts{Phase: reenc, Job: JobSucceeded}, completing, ""},
		{"database staged needs no server change", db, RotationFacts{Phase: staged, RolledOut: true}, promoted, ""},
		{"database promoted, server not applied", db, RotationFacts{Phase: promoted, RolledOut: true}, "", "credentials container of postgres"},
		{"database promoted, server applied", db, RotationFacts{Phase: promoted, RolledOut: true, HelperApplied: true}, completing, ""},
		{"redis staged, server not applied", redis, RotationFacts{Phase: staged, RolledOut: true}, "", "acl container of redis"},
		{"redis staged, server applied", redis, RotationFacts{Phase: staged, RolledOut: true, HelperApplied: true}, promoted, ""},
		{"redis promoted needs no server change", redis, RotationFacts{Phase: promoted, RolledOut: true}, completing, ""},
		{"redis completing, server not applied", redis, RotationFacts{Phase: completing, RolledOut: true}, "", "acl container"},
		{"redis completing, server applied", redis, RotationFacts{Phase: completing, RolledOut: true, HelperApplied: true}, rotationDone, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, waiting := NextRotationPhase(tc.k, tc.f)
			if next != tc.next || !strings.Contains(waiting, tc.waiting) || (tc.waiting == "") != (waiting == "") {
				t.Errorf("got %q %q, want %q %q", next, waiting, tc.next, tc.waiting)
			}
		})
	}
}

func TestCurrentRotationPhase(t *testing.T) {
	st := func(p clv1.RotationPhase) *clv1.RotationStatus { return &clv1.RotationStatus{Phase: p} }
	for _, tc := range []struct {
		marker string
		st     *clv1.RotationStatus
		want   clv1.RotationPhase
	}{
		{"", nil, ""},
		{"Staged", nil, clv1.RotationStaged}, // the status write was lost
		{"Staged", st(clv1.RotationStaged), clv1.RotationStaged},
		{"Promoted", st(clv1.RotationStaged), clv1.RotationPromoted},
		{"Promoted", st(clv1.RotationReencrypting), clv1.RotationReencrypting},
		{"", st(clv1.RotationPromoted), clv1.RotationCompleting}, // the old value is gone
		{"", st(clv1.RotationCompleting), clv1.RotationCompleting},
	} {
		if got := currentRotationPhase(tc.marker, tc.st); got != tc.want {
			t.Errorf("currentRotationPhase(%q, %+v) = %q, want %q", tc.marker, tc.st, got, tc.want)
		}
	}
}

func TestRotationRefusal(t *testing.T) {
	cl := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x"}})
	for _, k := range []clv1.SecretKind{clv1.SecretKindJWT, clv1.SecretKindEncryption, clv1.SecretKindDatabase, clv1.SecretKindRedis} {
		if msg := RotationRefusal(cl, k); msg != "" {
			t.Errorf("generated %s refused: %s", k, msg)
		}
	}
	if msg := RotationRefusal(cl, clv1.SecretKindAdmin); !strings.Contains(msg, "one-time") {
		t.Errorf("admin: %q", msg)
	}
	own := cl.DeepCopy()
	own.Spec.Auth.JWTSecretRef = &clv1.SecretKeyRef{Name: "mine"}
	own.Spec.Database = &clv1.DatabaseSpec{External: &clv1.ExternalDatabase{SecretRef: clv1.SecretRef{Name: "db"}}}
	for k, want := range map[clv1.SecretKind]string{clv1.SecretKindJWT: `"mine"`, clv1.SecretKindDatabase: `"db"`} {
		if msg := RotationRefusal(own, k); !strings.Contains(msg, want) || !strings.Contains(msg, "README") {
			t.Errorf("%s: %q does not name the user's Secret and where to read on", k, msg)
		}
	}
	if kinds := RotationKinds(own); slices.ContainsFunc(kinds, func(k RotationKind) bool {
		return k.Kind == clv1.SecretKindJWT || k.Kind == clv1.SecretKindDatabase
	}) {
		t.Error("a user-provided Secret is rotatable")
	}
}

// cluster plays the controllers and the kubelet envtest does not run, for
// one instance: rollouts complete, the helper containers' readiness is
// what the test says, the re-encryption Job succeeds when told.
type cluster struct {
	t           *testing.T
	ns, name    string
	helperReady map[string]bool // component -> helper container ready
}

func (c *cluster) play() {
	t := c.t
	deps := &appsv1.DeploymentList{}
	if err := k8sClient.List(ctx, deps, client.InNamespace(c.ns), client.MatchingLabels{LabelInstance: c.name}); err != nil {
		t.Fatal(err)
	}
	for i := range deps.Items {
		d := &deps.Items[i]
		n := ptr.Deref(d.Spec.Replicas, 1)
		if d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == n && d.Status.UpdatedReplicas == n {
			continue
		}
		setStatus(t, d, func() {
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
		})
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := k8sClient.Get(ctx, key(c.ns, c.name+"-storage"), pvc); err == nil && pvc.Status.Phase != corev1.ClaimBound {
		setStatus(t, pvc, func() { pvc.Status.Phase = corev1.ClaimBound })
	}
	sts := &appsv1.StatefulSet{}
	if err := k8sClient.Get(ctx, key(c.ns, c.name+"-postgres"), sts); err == nil && sts.Status.ReadyReplicas != 1 {
		setStatus(t, sts, func() {
			sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 1, ReadyReplicas: 1, CurrentReplicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}
		})
	}
	for component, container := range map[string]string{ComponentPostgres: ContainerPostgresCredentials, ComponentRedis: ContainerRedisACL} {
		c.helperPod(component, container, c.helperReady[component])
	}
}

// helperPod keeps a pod of the server component whose helper container's
// readiness is ready.
func (c *cluster) helperPod(component, container string, ready bool) {
	t := c.t
	p := &corev1.Pod{}
	err := k8sClient.Get(ctx, key(c.ns, c.name+"-"+component+"-0"), p)
	if apierrors.IsNotFound(err) {
		cl := getCL(t, c.ns, c.name)
		p = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: c.name + "-" + component + "-0", Labels: Labels(cl, component)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: component, Image: "server"}, {Name: container, Image: "server"}}}}
		if err := k8sClient.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(p.Status.ContainerStatuses, func(s corev1.ContainerStatus) bool { return s.Name == container }); i >= 0 && p.Status.ContainerStatuses[i].Ready == ready {
		return
	}
	setStatus(t, p, func() {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: component, Ready: true, Image: "server", ImageID: "server"},
			{Name: container, Ready: ready, Image: "server", ImageID: "server"}}
	})
}

func (c *cluster) secret(suffix string) *corev1.Secret {
	s := &corev1.Secret{}
	if err := k8sClient.Get(ctx, key(c.ns, c.name+"-"+suffix), s); err != nil {
		c.t.Fatal(err)
	}
	return s
}

func (c *cluster) rotation(kind clv1.SecretKind) *clv1.SecretStatus {
	return secretStatus(&getCL(c.t, c.ns, c.name).Status, kind)
}

// podHash is the config hash on a workload's pod template.
func (c *cluster) podHash(kind, component string) string {
	var obj client.Object = &appsv1.Deployment{}
	if kind == "StatefulSet" {
		obj = &appsv1.StatefulSet{}
	}
	if err := k8sClient.Get(ctx, key(c.ns, c.name+"-"+component), obj); err != nil {
		c.t.Fatal(err)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Template.Annotations[AnnotationConfigHash]
	case *appsv1.StatefulSet:
		return o.Spec.Template.Annotations[AnnotationConfigHash]
	}
	return ""
}

// readyCluster is a ready instance whose servers' helpers are ready.
func readyCluster(t *testing.T, edit func(*clv1.ContractLucidity)) *cluster {
	ns, cl := readyInstance(t, edit)
	c := &cluster{t: t, ns: ns, name: cl.Name, helperReady: map[string]bool{ComponentPostgres: true, ComponentRedis: true}}
	eventually(t, wait, "instance ready", func() error {
		c.play()
		if r := meta.FindStatusCondition(getCL(t, ns, cl.Name).Status.Conditions, clv1.ConditionReady); r == nil || r.Status != metav1.ConditionTrue {
			return fmt.Errorf("not ready: %+v", r)
		}
		return nil
	})
	return c
}

// phases plays the cluster until the rotation of kind completed,
// recording the Secret at each phase (keyed by its rotation-phase value,
// "" at the end) and calling at(phase) on the way (to hold the cluster).
func (c *cluster) rotate(kind clv1.SecretKind, suffix string, at func(phase clv1.RotationPhase) bool) (seen []clv1.RotationPhase, secrets map[clv1.RotationPhase]map[string][]byte) {
	t := c.t
	secrets = map[clv1.RotationPhase]map[string][]byte{}
	before := c.rotation(kind).LastRotatedAt
	annotate(t, c.ns, c.name, clv1.AnnotationRotate, string(kind))
	eventually(t, 2*wait, string(kind)+" rotation", func() error {
		e := c.rotation(kind)
		phase := clv1.RotationPhase("")
		if e.Rotation != nil {
			phase = e.Rotation.Phase
			if len(seen) == 0 || seen[len(seen)-1] != phase {
				seen = append(seen, phase)
				secrets[phase] = c.secret(suffix).Data
			}
		}
		if at != nil && !at(phase) {
			return fmt.Errorf("held at %s", phase)
		}
		c.play()
		if e.Rotation != nil || e.LastRotatedAt == nil || e.LastRotatedAt.Equal(before) {
			return fmt.Errorf("rotation in phase %q (%s)", phase, ptr.Deref(e.Rotation, clv1.RotationStatus{}).Waiting)
		}
		return nil
	})
	secrets[""] = c.secret(suffix).Data
	return seen, secrets
}

// requireSteps checks the phases seen and the values at each.
func requireSteps(t *testing.T, seen []clv1.RotationPhase, want ...clv1.RotationPhase) {
	t.Helper()
	if !slices.Equal(seen, want) {
		t.Fatalf("phases %v, want %v", seen, want)
	}
}

func TestRotateDatabasePassword(t *testing.T) {
	c := readyCluster(t, nil)
	old := c.secret("postgres").Data
	pgHash, redisHash, backendHash := c.podHash("StatefulSet", ComponentPostgres), c.podHash("Deployment", ComponentRedis), c.podHash("Deployment", ComponentBackend)
	var heldPromoted bool
	seen, s := c.rotate(clv1.SecretKindDatabase, "postgres", func(p clv1.RotationPhase) bool {
		if p != clv1.RotationPromoted || heldPromoted {
			c.helperReady[ComponentPostgres] = true
			return true
		}
		// The credentials container has not applied the new password yet:
		// the old one must stay the fallback.
		c.helperReady[ComponentPostgres] = false
		c.helperPod(ComponentPostgres, ContainerPostgresCredentials, false)
		c.play()
		for range 3 {
			poke(t, c.ns, c.name, 1)
			e := c.rotation(clv1.SecretKindDatabase)
			if e.Rotation == nil || e.Rotation.Phase != clv1.RotationPromoted {
				t.Fatalf("the rotation left Promoted before the credentials container was ready: %+v", e.Rotation)
			}
		}
		heldPromoted = true
		return false
	})
	requireSteps(t, seen, clv1.RotationStaged, clv1.RotationPromoted, clv1.RotationCompleting)
	st, pr, end := s[clv1.RotationStaged], s[clv1.RotationPromoted], s[""]
	if !bytes.Equal(st[SecretKeyPGPassword], old[SecretKeyPGPassword]) || len(st[SecretKeyFallbackPassword]) != 40 {
		t.Errorf("staged: password must be the old one and the fallback a new one")
	}
	if !bytes.Equal(pr[SecretKeyPGPassword], st[SecretKeyFallbackPassword]) || !bytes.Equal(pr[SecretKeyFallbackPassword], old[SecretKeyPGPassword]) {
		t.Errorf("promoted: password must be the staged one and the fallback the old one")
	}
	if bytes.Equal(pr[SecretKeyPGSuperuser], old[SecretKeyPGSuperuser]) {
		t.Error("the superuser password was not rotated")
	}
	if !bytes.Equal(end[SecretKeyPGPassword], pr[SecretKeyPGPassword]) || end[SecretKeyFallbackPassword] != nil || end[SecretKeyRotationPhase] != nil {
		t.Errorf("completed: the new password only, got keys %v", keys(end))
	}
	// The pods read the new password (and the fallback while it existed);
	// PostgreSQL and Redis were not restarted.
	dep := &appsv1.Deployment{}
	waitFor(t, dep, key(c.ns, c.name+"-backend"), nil)
	if !slices.ContainsFunc(dep.Spec.Template.Spec.Containers[0].Env, func(e corev1.EnvVar) bool {
		return e.Name == "POSTGRES_PASSWORD_FALLBACK" && e.ValueFrom.SecretKeyRef.Key == SecretKeyFallbackPassword && *e.ValueFrom.SecretKeyRef.Optional
	}) {
		t.Error("the backend does not read POSTGRES_PASSWORD_FALLBACK")
	}
	if c.podHash("Deployment", ComponentBackend) == backendHash {
		t.Error("the backend did not roll")
	}
	if c.podHash("StatefulSet", ComponentPostgres) != pgHash || c.podHash("Deployment", ComponentRedis) != redisHash {
		t.Error("a database password rotation restarted PostgreSQL or Redis")
	}
	e := c.rotation(clv1.SecretKindDatabase)
	if e.LastRotatedAt == nil || !e.RotationRequestHandled {
		t.Errorf("status: %+v", e)
	}
	waitCondition(t, c.ns, c.name, clv1.ConditionSecretsRotated, metav1.ConditionTrue, clv1.ReasonRotated)
	waitEvent(t, c.ns, c.name, corev1.EventTypeNormal, "SecretRotation", "database rotation completed")

	// The annotation stays: nothing rotates again until it is set anew.
	last := e.LastRotatedAt
	poke(t, c.ns, c.name, 3)
	if e := c.rotation(clv1.SecretKindDatabase); e.Rotation != nil || !e.LastRotatedAt.Equal(last) {
		t.Errorf("a handled request rotated again: %+v", e)
	}
	annotate(t, c.ns, c.name, clv1.AnnotationRotate, "")
	eventually(t, wait, "request forgotten", func() error {
		if c.rotation(clv1.SecretKindDatabase).RotationRequestHandled {
			return errors.New("still handled")
		}
		return nil
	})
	seen, _ = c.rotate(clv1.SecretKindDatabase, "postgres", nil)
	requireSteps(t, seen, clv1.RotationStaged, clv1.RotationPromoted, clv1.RotationCompleting)
}

func TestRotateRedisPasswordWithoutRestartingRedis(t *testing.T) {
	c := readyCluster(t, nil)
	old := string(c.secret("redis").Data[SecretKeyRedisPassword])
	redisHash, workerHash := c.podHash("Deployment", ComponentRedis), c.podHash("Deployment", ComponentWorker)
	acl := func() string {
		cm := &corev1.ConfigMap{}
		waitFor(t, cm, key(c.ns, c.name+"-redis-config"), nil)
		return cm.Data[RedisACLFile]
	}
	var aclAt = map[clv1.RotationPhase]string{}
	heldStaged := false
	seen, s := c.rotate(clv1.SecretKindRedis, "redis", func(p clv1.RotationPhase) bool {
		if p != "" {
			aclAt[p] = acl()
		}
		if p != clv1.RotationStaged || heldStaged {
			c.helperReady[ComponentRedis] = true
			return true
		}
		c.helperReady[ComponentRedis] = false
		c.helperPod(ComponentRedis, ContainerRedisACL, false)
		c.play()
		poke(t, c.ns, c.name, 2)
		if e := c.rotation(clv1.SecretKindRedis); e.Rotation == nil || e.Rotation.Phase != clv1.RotationStaged {
			t.Fatalf("the pods were rolled to the new password before Redis accepted it: %+v", e.Rotation)
		}
		heldStaged = true
		return false
	})
	requireSteps(t, seen, clv1.RotationStaged, clv1.RotationPromoted, clv1.RotationCompleting)
	next := string(s[clv1.RotationStaged][SecretKeyFallbackPassword])
	if want := RedisACL(old, next); aclAt[clv1.RotationStaged] != want || aclAt[clv1.RotationPromoted] != RedisACL(next, old) {
		t.Errorf("users.acl while staged/promoted:\n%s%s want both hashes", aclAt[clv1.RotationStaged], aclAt[clv1.RotationPromoted])
	}
	if string(s[""][SecretKeyRedisPassword]) != next || s[""][SecretKeyFallbackPassword] != nil {
		t.Errorf("completed: the new password only")
	}
	eventually(t, wait, "users.acl with the new password only", func() error {
		if got := acl(); got != RedisACL(next) {
			return fmt.Errorf("users.acl %s", got)
		}
		return nil
	})
	if c.podHash("Deployment", ComponentRedis) != redisHash {
		t.Error("the rotation restarted Redis")
	}
	if c.podHash("Deployment", ComponentWorker) == workerHash {
		t.Error("the worker did not roll to the new password")
	}
}

func TestRotateJWTKeepsTheOldKeyUntilTokensExpire(t *testing.T) {
	c := readyCluster(t, func(cl *clv1.ContractLucidity) {
		cl.Spec.Auth.AccessTokenTTL = &metav1.Duration{Duration: 5 * time.Minute}
	})
	old := c.secret("jwt").Data[SecretKeyJWT]
	workerHash := c.podHash("Deployment", ComponentWorker)
	expired := false
	seen, s := c.rotate(clv1.SecretKindJWT, "jwt", func(p clv1.RotationPhase) bool {
		if p != clv1.RotationPromoted {
			return true
		}
		e := c.rotation(clv1.SecretKindJWT)
		if e.Rotation.RolledOutAt == nil || !strings.Contains(e.Rotation.Waiting, "expire") {
			return true // let the promoted value roll out
		}
		if sec := c.secret("jwt"); !expired && string(sec.Data[SecretKeyRotationPhase]) == string(clv1.RotationPromoted) &&
			!bytes.Equal(sec.Data[SecretKeyJWTPrevious], old) {
			t.Fatal("the old key was dropped before its tokens expired")
		}
		// Seven minutes later: the old key's tokens (5 minutes) expired.
		backdateRolledOut(t, c.ns, c.name, clv1.SecretKindJWT, 7*time.Minute)
		expired = true
		return false
	})
	requireSteps(t, seen, clv1.RotationStaged, clv1.RotationPromoted, clv1.RotationCompleting)
	if !expired {
		t.Fatal("the old key was dropped without waiting for its tokens to expire")
	}
	st, pr := s[clv1.RotationStaged], s[clv1.RotationPromoted]
	if !bytes.Equal(st[SecretKeyJWT], old) || len(st[SecretKeyJWTPrevious]) != 128 {
		t.Error("staged: the old key signs, the new one only verifies")
	}
	if !bytes.Equal(pr[SecretKeyJWT], st[SecretKeyJWTPrevious]) || !bytes.Equal(pr[SecretKeyJWTPrevious], old) {
		t.Error("promoted: the new key signs, the old one still verifies")
	}
	if end := s[""]; !bytes.Equal(end[SecretKeyJWT], pr[SecretKeyJWT]) || end[SecretKeyJWTPrevious] != nil {
		t.Error("completed: the new key only")
	}
	dep := &appsv1.Deployment{}
	waitFor(t, dep, key(c.ns, c.name+"-backend"), nil)
	if !slices.ContainsFunc(dep.Spec.Template.Spec.Containers[0].Env, func(e corev1.EnvVar) bool {
		return e.Name == "JWT_PREVIOUS_SECRET_KEYS" && e.ValueFrom.SecretKeyRef.Key == SecretKeyJWTPrevious
	}) {
		t.Error("the backend does not read JWT_PREVIOUS_SECRET_KEYS")
	}
	if c.podHash("Deployment", ComponentWorker) != workerHash {
		t.Error("a JWT rotation rolled the worker, which does not read the key")
	}
}

func TestRotateEncryptionKeyReencryptsBeforeDroppingTheOldKey(t *testing.T) {
	c := readyCluster(t, nil)
	old := c.secret("encryption").Data[SecretKeyEncryption]
	workerHash := c.podHash("Deployment", ComponentWorker)
	var job *batchv1.Job
	seen, s := c.rotate(clv1.SecretKindEncryption, "encryption", func(p clv1.RotationPhase) bool {
		if p != clv1.RotationReencrypting {
			return true
		}
		if job == nil {
			var name string
			eventually(t, wait, "the re-encryption Job", func() error {
				jobs := &batchv1.JobList{}
				if err := k8sClient.List(ctx, jobs, client.InNamespace(c.ns)); err != nil {
					return err
				}
				for _, j := range jobs.Items {
					if strings.HasPrefix(j.Name, c.name+"-reencrypt-") {
						name = j.Name
						return nil
					}
				}
				return errors.New("none yet")
			})
			job = &batchv1.Job{}
			waitFor(t, job, key(c.ns, name), nil)
			// Until the Job succeeded, the old key stays.
			poke(t, c.ns, c.name, 2)
			if sec := c.secret("encryption"); !bytes.Equal(sec.Data[SecretKeyEncryptionPrevious], old) {
				t.Fatal("the old key was dropped before the re-encryption")
			}
			markJobSucceeded(t, c.ns, name)
		}
		return true
	})
	requireSteps(t, seen, clv1.RotationStaged, clv1.RotationPromoted, clv1.RotationReencrypting, clv1.RotationCompleting)
	if job == nil {
		t.Fatal("no re-encryption Job")
	}
	ctr := job.Spec.Template.Spec.Containers[0]
	if !slices.Equal(ctr.Args, []string{"reencrypt"}) {
		t.Errorf("the Job runs %v", ctr.Args)
	}
	env := map[string]string{}
	for _, e := range ctr.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			env[e.Name] = e.ValueFrom.SecretKeyRef.Key
		}
	}
	if env["ENCRYPTION_KEY"] != SecretKeyEncryption || env["ENCRYPTION_PREVIOUS_KEYS"] != SecretKeyEncryptionPrevious || env["POSTGRES_PASSWORD"] == "" {
		t.Errorf("the Job's environment: %v", env)
	}
	if pr := s[clv1.RotationPromoted]; !bytes.Equal(pr[SecretKeyEncryptionPrevious], old) || bytes.Equal(pr[SecretKeyEncryption], old) {
		t.Error("promoted: the new key encrypts, the old one decrypts")
	}
	if end := s[""]; end[SecretKeyEncryptionPrevious] != nil || !bytes.Equal(end[SecretKeyEncryption], s[clv1.RotationPromoted][SecretKeyEncryption]) {
		t.Error("completed: the new key only")
	}
	if c.podHash("Deployment", ComponentWorker) == workerHash {
		t.Error("the worker did not roll to the new key")
	}
}

func TestRotationOfUserSecretsIsRefused(t *testing.T) {
	ns := newNamespace(t)
	user := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "my-jwt"}, Data: map[string][]byte{SecretKeyJWT: bytes.Repeat([]byte("k"), 48)}}
	if err := k8sClient.Create(ctx, user); err != nil {
		t.Fatal(err)
	}
	cl := createSample(t, ns, "development", func(cl *clv1.ContractLucidity) {
		cl.Spec.Auth.JWTSecretRef = &clv1.SecretKeyRef{Name: "my-jwt"}
		cl.Annotations = map[string]string{clv1.AnnotationRotate: "jwt,admin,bogus"}
	})
	markJobSucceeded(t, ns, MigrationJobName(cl, cl.Spec.Version))
	live := waitCondition(t, ns, cl.Name, clv1.ConditionSecretsRotated, metav1.ConditionFalse, clv1.ReasonRotationRefused)
	msg := meta.FindStatusCondition(live.Status.Conditions, clv1.ConditionSecretsRotated).Message
	for _, want := range []string{`"my-jwt"`, "one-time", `"bogus"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not mention %s", msg, want)
		}
	}
	waitEvent(t, ns, cl.Name, corev1.EventTypeWarning, clv1.ReasonRotationRefused, "my-jwt")
	got := &corev1.Secret{}
	waitFor(t, got, key(ns, "my-jwt"), nil)
	if got.ResourceVersion != user.ResourceVersion {
		t.Error("the operator changed the user's Secret")
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// backdateRolledOut moves a rotation's rolledOutAt into the past by d, as
// if that much time had passed.
func backdateRolledOut(t *testing.T, ns, name string, kind clv1.SecretKind, d time.Duration) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cl := getCL(t, ns, name)
		e := secretStatus(&cl.Status, kind)
		if e == nil || e.Rotation == nil || e.Rotation.RolledOutAt == nil {
			return nil
		}
		e.Rotation.RolledOutAt = &metav1.Time{Time: time.Now().Add(-d)}
		return k8sClient.Status().Update(ctx, cl)
	})
	if err != nil {
		t.Fatal(err)
	}
}
