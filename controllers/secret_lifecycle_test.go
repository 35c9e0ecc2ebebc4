/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

func TestDataInitialized(t *testing.T) {
	for _, tc := range []struct {
		name   string
		st     clv1.ContractLucidityStatus
		volume bool
		want   bool
	}{
		{"fresh instance", clv1.ContractLucidityStatus{}, false, false},
		{"a migration succeeded", clv1.ContractLucidityStatus{MigratedVersion: "0.1.0"}, false, true},
		{"recorded before", clv1.ContractLucidityStatus{DataInitialized: true}, false, true},
		{"re-created over a retained database volume", clv1.ContractLucidityStatus{}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DataInitialized(&tc.st, tc.volume); got != tc.want {
				t.Errorf("DataInitialized = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseSecretKinds(t *testing.T) {
	kinds, unknown := ParseSecretKinds(" JWT, database,,jwt , bogus")
	if !reflect.DeepEqual(kinds, []clv1.SecretKind{clv1.SecretKindJWT, clv1.SecretKindDatabase}) || !reflect.DeepEqual(unknown, []string{"bogus"}) {
		t.Errorf("got %v, unknown %v", kinds, unknown)
	}
}

func TestMissingSecretPolicy(t *testing.T) {
	for _, tc := range []struct {
		name         string
		in           MissingSecret
		generate     bool
		reason       string
		mustMention  []string
		mustNotMatch string
	}{
		{"before the data exists, generate", MissingSecret{Kind: clv1.SecretKindDatabase, Name: "cl-postgres"},
			true, ReasonSecretGenerated, []string{"cl-postgres"}, ""},
		{"lost database secret", MissingSecret{Kind: clv1.SecretKindDatabase, Name: "cl-postgres", DataInitialized: true},
			false, clv1.ReasonSecretLost, []string{"cl-postgres", "kubectl apply", "backup", clv1.AnnotationAcceptNewSecrets + ": database", "ALTER ROLE"}, "already"},
		{"lost encryption key says what is lost", MissingSecret{Kind: clv1.SecretKindEncryption, Name: "cl-encryption", DataInitialized: true},
			false, clv1.ReasonSecretLost, []string{"cl-encryption", "AI provider", "again"}, ""},
		{"lost JWT key", MissingSecret{Kind: clv1.SecretKindJWT, Name: "cl-jwt", DataInitialized: true},
			false, clv1.ReasonSecretLost, []string{"cl-jwt", "sign in again"}, ""},
		{"lost Redis password is low risk", MissingSecret{Kind: clv1.SecretKindRedis, Name: "cl-redis", DataInitialized: true},
			false, clv1.ReasonSecretLost, []string{"cl-redis", "risk is low", "queued jobs"}, ""},
		{"lost admin password", MissingSecret{Kind: clv1.SecretKindAdmin, Name: "cl-admin", DataInitialized: true},
			false, clv1.ReasonSecretLost, []string{"cl-admin", "first administrator"}, ""},
		{"accepted", MissingSecret{Kind: clv1.SecretKindJWT, Name: "cl-jwt", DataInitialized: true, Accepted: true},
			true, ReasonNewValuesAccepted, []string{"cl-jwt", "sign in again"}, ""},
		{"acceptance already spent", MissingSecret{Kind: clv1.SecretKindJWT, Name: "cl-jwt", DataInitialized: true, Accepted: true, AcceptSpent: true},
			false, clv1.ReasonSecretLost, []string{"cl-jwt", "remove jwt from it and add it again"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			generate, reason, msg := MissingSecretPolicy(tc.in)
			if generate != tc.generate || reason != tc.reason {
				t.Errorf("got generate=%v reason=%s, want %v %s", generate, reason, tc.generate, tc.reason)
			}
			for _, m := range tc.mustMention {
				if !strings.Contains(msg, m) {
					t.Errorf("message %q does not mention %q", msg, m)
				}
			}
			if tc.mustNotMatch != "" && strings.Contains(msg, tc.mustNotMatch) {
				t.Errorf("message %q mentions %q", msg, tc.mustNotMatch)
			}
		})
	}
}

// waitEvent waits for an event of type and reason about the instance
// whose note contains note.
func waitEvent(t *testing.T, ns, name, typ, reason, note string) {
	t.Helper()
	eventually(t, wait, fmt.Sprintf("a %s event %s", typ, reason), func() error {
		evs := &eventsv1.EventList{}
		if err := k8sClient.List(ctx, evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == reason && e.Regarding.Name == name && e.Type == typ && strings.Contains(e.Note, note) {
				return nil
			}
		}
		return fmt.Errorf("no such event among %d events", len(evs.Items))
	})
}

// restoreSecret re-creates a Secret from a copy, as kubectl apply of a backup does.
func restoreSecret(t *testing.T, saved *corev1.Secret) {
	t.Helper()
	c := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: saved.Namespace, Name: saved.Name, Labels: saved.Labels},
		Type: saved.Type, Data: saved.Data}
	if err := k8sClient.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
}

func TestLostGeneratedSecretIsReportedNeverReplaced(t *testing.T) {
	ns, cl := readyInstance(t, nil)
	for _, c := range []struct {
		kind   clv1.SecretKind
		suffix string
	}{{clv1.SecretKindJWT, "jwt"}, {clv1.SecretKindEncryption, "encryption"}, {clv1.SecretKindDatabase, "postgres"},
		{clv1.SecretKindRedis, "redis"}, {clv1.SecretKindAdmin, "admin"}} {
		t.Run(string(c.kind), func(t *testing.T) {
			name := cl.Name + "-" + c.suffix
			saved := &corev1.Secret{}
			waitFor(t, saved, key(ns, name), nil)
			hashes := serverHashes(t, ns, cl.Name)
			waitCondition(t, ns, cl.Name, clv1.ConditionReady, metav1.ConditionFalse, "NotReady") // nothing plays kubelet
			waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionFalse, "")
			if err := k8sClient.Delete(ctx, saved); err != nil {
				t.Fatal(err)
			}
			live := waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionTrue, clv1.ReasonSecretLost)
			msg := meta.FindStatusCondition(live.Status.Conditions, clv1.ConditionDegraded).Message
			for _, want := range []string{name, clv1.AnnotationAcceptNewSecrets + ": " + string(c.kind), "kubectl apply"} {
				if !strings.Contains(msg, want) {
					t.Errorf("Degraded message %q does not mention %q", msg, want)
				}
			}
			waitCondition(t, ns, cl.Name, clv1.ConditionReady, metav1.ConditionFalse, clv1.ReasonSecretLost)
			waitCondition(t, ns, cl.Name, clv1.ConditionSecretsReady, metav1.ConditionFalse, clv1.ReasonSecretLost)
			waitEvent(t, ns, cl.Name, corev1.EventTypeWarning, clv1.ReasonSecretLost, name)
			// Reconciles come and go; no new value is ever written.
			poke(t, ns, cl.Name, 3)
			if err := k8sClient.Get(ctx, key(ns, name), &corev1.Secret{}); !apierrors.IsNotFound(err) {
				t.Fatalf("the lost Secret %s was generated anew: %v", name, err)
			}
			// Restored from a copy: the instance recovers with the old values.
			restoreSecret(t, saved)
			waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionFalse, "")
			got := &corev1.Secret{}
			waitFor(t, got, key(ns, name), nil)
			if !reflect.DeepEqual(got.Data, saved.Data) {
				t.Errorf("the restored Secret was changed")
			}
			if after := serverHashes(t, ns, cl.Name); after != hashes {
				t.Errorf("restoring the Secret restarted a server: %v -> %v", hashes, after)
			}
		})
	}
}

func TestAcceptAnnotationGeneratesLostSecretsOnce(t *testing.T) {
	ns, cl := readyInstance(t, nil)
	hashes := serverHashes(t, ns, cl.Name)
	old := map[string]*corev1.Secret{}
	for _, n := range []string{"jwt", "postgres", "redis"} {
		sec := &corev1.Secret{}
		waitFor(t, sec, key(ns, cl.Name+"-"+n), nil)
		old[n] = sec
		if err := k8sClient.Delete(ctx, sec); err != nil {
			t.Fatal(err)
		}
	}
	waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionTrue, clv1.ReasonSecretLost)
	annotate(t, ns, cl.Name, clv1.AnnotationAcceptNewSecrets, "jwt, database,redis")
	waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionFalse, "")
	for n, o := range old {
		sec := &corev1.Secret{}
		waitFor(t, sec, key(ns, cl.Name+"-"+n), nil)
		if sec.UID == o.UID {
			t.Errorf("%s was not re-created", sec.Name)
		}
		for k, v := range o.Data {
			if k != SecretKeyPGUser && bytes.Equal(sec.Data[k], v) {
				t.Errorf("%s/%s kept its old value", sec.Name, k)
			}
		}
	}
	waitEvent(t, ns, cl.Name, corev1.EventTypeWarning, ReasonNewValuesAccepted, cl.Name+"-jwt")
	live := getCL(t, ns, cl.Name)
	for _, k := range []clv1.SecretKind{clv1.SecretKindJWT, clv1.SecretKindDatabase, clv1.SecretKindRedis} {
		if e := secretStatus(&live.Status, k); e == nil || e.NewValuesAcceptedAt == nil {
			t.Errorf("status.secrets[%s] does not record the acceptance: %+v", k, e)
		}
	}
	if e := secretStatus(&live.Status, clv1.SecretKindAdmin); e == nil || e.NewValuesAcceptedAt != nil || e.UID == "" || e.CreatedAt == nil {
		t.Errorf("status.secrets[admin] = %+v", e)
	}
	// PostgreSQL follows through its credentials container; Redis, whose
	// running server knows no new password, restarts.
	eventually(t, wait, "Redis restarted", func() error {
		if after := serverHashes(t, ns, cl.Name); after[0] != hashes[0] || after[1] == hashes[1] {
			return fmt.Errorf("postgres, redis pod hashes %v -> %v", hashes, after)
		}
		return nil
	})

	// The annotation is spent: losing the JWT Secret again is SecretLost.
	jwt := &corev1.Secret{}
	waitFor(t, jwt, key(ns, cl.Name+"-jwt"), nil)
	if err := k8sClient.Delete(ctx, jwt); err != nil {
		t.Fatal(err)
	}
	live = waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionTrue, clv1.ReasonSecretLost)
	if msg := meta.FindStatusCondition(live.Status.Conditions, clv1.ConditionDegraded).Message; !strings.Contains(msg, "add it again") {
		t.Errorf("message %q does not say how to accept once more", msg)
	}
	poke(t, ns, cl.Name, 2)
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-jwt"), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a spent acceptance generated the JWT Secret again: %v", err)
	}
	// Removing jwt from the annotation forgets it; adding it again accepts once more.
	annotate(t, ns, cl.Name, clv1.AnnotationAcceptNewSecrets, "database")
	eventually(t, wait, "acceptance forgotten", func() error {
		if e := secretStatus(&getCL(t, ns, cl.Name).Status, clv1.SecretKindJWT); e != nil && e.NewValuesAcceptedAt != nil {
			return errors.New("still recorded")
		}
		return nil
	})
	annotate(t, ns, cl.Name, clv1.AnnotationAcceptNewSecrets, "database,jwt")
	waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionFalse, "")
	waitFor(t, &corev1.Secret{}, key(ns, cl.Name+"-jwt"), nil)
}

func TestRecreatedInstanceOverRetainedVolumeReportsLostSecrets(t *testing.T) {
	ns := newNamespace(t)
	cl := loadSample(t, samples["development"])
	// The data volume of a deleted instance, retained with its labels; its
	// generated Secrets were deleted.
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: DatabaseVolumeName(cl), Labels: Labels(cl, ComponentPostgres)},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
	}
	if err := k8sClient.Create(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	cl = createSample(t, ns, "development", nil)
	live := waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionTrue, clv1.ReasonSecretLost)
	if !live.Status.DataInitialized {
		t.Error("status.dataInitialized is not recorded")
	}
	list := &corev1.SecretList{}
	if err := k8sClient.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{LabelInstance: cl.Name}); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("Secrets were generated over an initialised database volume: %d", len(list.Items))
	}
}

// annotate sets (or with value "" removes) an annotation of the instance.
func annotate(t *testing.T, ns, name, k, v string) {
	t.Helper()
	val := fmt.Sprintf("%q", v)
	if v == "" {
		val = "null"
	}
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%s}}}`, k, val)
	cl := &clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := k8sClient.Patch(ctx, cl, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
}

// serverHashes are the config hashes of the PostgreSQL and Redis pod templates.
func serverHashes(t *testing.T, ns, name string) [2]string {
	t.Helper()
	sts, dep := &appsv1.StatefulSet{}, &appsv1.Deployment{}
	waitFor(t, sts, key(ns, name+"-postgres"), nil)
	waitFor(t, dep, key(ns, name+"-redis"), nil)
	return [2]string{sts.Spec.Template.Annotations[AnnotationConfigHash], dep.Spec.Template.Annotations[AnnotationConfigHash]}
}
