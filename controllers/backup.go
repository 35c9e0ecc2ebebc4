/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// Backups (spec.backup) run `contract-lucidity backup create` of the
// application image: on a schedule (a CronJob) and on demand (a Job per
// contractlucidity.io/backup-now token). The pods read the database like
// the migration Job and the storage volume read-only, write to a volume or
// S3, prune with the retention, and leave their outcome in the
// termination message, which the operator copies into status.backup.

// Components of the backup and restore pods.
const (
	ComponentBackup  = "backup"
	ComponentRestore = "restore"
)

// Backup destinations and credentials.
const (
	// BackupMountPath is where a backup volume is mounted.
	BackupMountPath = "/backups"
	s3CAMountPath   = "/etc/contract-lucidity/s3-ca"
	// Keys of the Secret spec.backup.destination.s3.credentialsSecretRef names.
	S3AccessKeyIDKey     = "access-key-id"
	S3SecretAccessKeyKey = "secret-access-key"
	S3CADefaultKey       = "ca.crt"
	// terminationLog is where backup and restore write their outcome.
	terminationLog = "/dev/termination-log"
	// AnnotationBackupToken on an on-demand Job is the token that asked for it.
	AnnotationBackupToken = "contractlucidity.io/backup-token"
)

// DefaultBackupPVCSize is the size of the operator-created <name>-backups.
var DefaultBackupPVCSize = resource.MustParse("50Gi")

// BackupCronJobName is the scheduled backup.
func BackupCronJobName(cl *clv1.ContractLucidity) string { return Name(cl, "backup") }

// BackupPVCName is the operator-created backup volume.
func BackupPVCName(cl *clv1.ContractLucidity) string { return Name(cl, "backups") }

// OnDemandBackupJobName is the Job of one backup-now token: the same token
// always names the same Job, so a token runs at most one backup. A hash
// keeps the name within 63 characters whatever the token.
func OnDemandBackupJobName(cl *clv1.ContractLucidity, token string) string {
	sum := sha256.Sum256([]byte(token))
	return Name(cl, "backup-"+hex.EncodeToString(sum[:])[:10])
}

// destinationURL is the --to / --from argument for d.
func destinationURL(d clv1.BackupDestination) string {
	if s := d.S3; s != nil {
		u := "s3://" + s.Bucket
		if p := strings.Trim(s.Prefix, "/"); p != "" {
			u += "/" + p
		}
		return u
	}
	return BackupMountPath
}

// destinationClaim is the PersistentVolumeClaim of a pvc destination.
func destinationClaim(cl *clv1.ContractLucidity, d clv1.BackupDestination) string {
	if d.PVC == nil {
		return ""
	}
	if d.PVC.ClaimName != "" {
		return d.PVC.ClaimName
	}
	return BackupPVCName(cl)
}

// destinationEnv are the BACKUP_S3_* variables of an s3 destination.
func destinationEnv(d clv1.BackupDestination) []corev1.EnvVar {
	s := d.S3
	if s == nil {
		return nil
	}
	var env []corev1.EnvVar
	if s.Endpoint != "" {
		env = append(env, corev1.EnvVar{Name: "BACKUP_S3_ENDPOINT", Value: s.Endpoint})
	}
	if s.Region != "" {
		env = append(env, corev1.EnvVar{Name: "BACKUP_S3_REGION", Value: s.Region})
	}
	env = append(env,
		corev1.EnvVar{Name: "BACKUP_S3_FORCE_PATH_STYLE", Value: strconv.FormatBool(s.ForcePathStyle)},
		secretEnv("BACKUP_S3_ACCESS_KEY_ID", SecretKey{s.CredentialsSecretRef.Name, S3AccessKeyIDKey}, false),
		secretEnv("BACKUP_S3_SECRET_ACCESS_KEY", SecretKey{s.CredentialsSecretRef.Name, S3SecretAccessKeyKey}, false))
	if s.CASecretRef != nil {
		env = append(env, corev1.EnvVar{Name: "BACKUP_S3_CA_FILE", Value: s3CAMountPath + "/" + S3CADefaultKey})
	}
	return env
}

// destinationSecrets are the keys of user Secrets an s3 destination reads.
func destinationSecrets(d clv1.BackupDestination) []SecretKey {
	s := d.S3
	if s == nil {
		return nil
	}
	out := []SecretKey{{s.CredentialsSecretRef.Name, S3AccessKeyIDKey}, {s.CredentialsSecretRef.Name, S3SecretAccessKeyKey}}
	if s.CASecretRef != nil {
		out = append(out, SecretKey{s.CASecretRef.Name, keyOr(s.CASecretRef.Key, S3CADefaultKey)})
	}
	return out
}

// s3Port is the TCP port of an S3 endpoint (as BACKUP_S3_ENDPOINT reads it).
func s3Port(endpoint string) int {
	port := 443
	hostport := endpoint
	if strings.Contains(endpoint, "://") {
		if u, err := url.Parse(endpoint); err == nil {
			if u.Scheme == "http" {
				port = 80
			}
			hostport = u.Host
		}
	}
	if _, p, err := net.SplitHostPort(strings.TrimSuffix(hostport, "/")); err == nil {
		if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
			port = n
		}
	}
	return port
}

// jobContainer is the container of a backup or restore pod: the migration
// Job's (application image, configuration, database credentials, /tmp)
// with the command's arguments, the destination's settings and the
// storage volume. A backup reads the storage and writes the backup
// volume; a restore (restoring) the other way round. The outcome goes to
// the termination message; without one (a crash), the end of the log does.
func jobContainer(cl *clv1.ContractLucidity, component, version string, res corev1.ResourceRequirements,
	d clv1.BackupDestination, restoring bool, args ...string) corev1.Container {
	c := appContainer(cl, ComponentMigrate, version, res)
	c.Name = component
	c.Args = args
	c.Env = append(c.Env, destinationEnv(d)...)
	c.TerminationMessagePath = terminationLog
	c.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "storage", MountPath: StoragePath, ReadOnly: !restoring})
	if destinationClaim(cl, d) != "" {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "backups", MountPath: BackupMountPath, ReadOnly: restoring})
	}
	if d.S3 != nil && d.S3.CASecretRef != nil {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "s3-ca", MountPath: s3CAMountPath, ReadOnly: true})
	}
	return c
}

// jobPodTemplate is the pod of a backup or restore Job: the migration
// Job's pod (restricted, backend ServiceAccount without a token, backend
// placement) with the volumes of jobContainer.
func jobPodTemplate(cl *clv1.ContractLucidity, component string, c corev1.Container, d clv1.BackupDestination, restoring bool) corev1.PodTemplateSpec {
	ps := appPodSpec(cl, ComponentMigrate, c)
	ps.RestartPolicy = corev1.RestartPolicyNever
	ps.NodeSelector = cl.Spec.Backend.NodeSelector
	ps.Tolerations = cl.Spec.Backend.Tolerations
	ps.Volumes = append(ps.Volumes, corev1.Volume{Name: "storage", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: Name(cl, "storage"), ReadOnly: !restoring}}})
	if claim := destinationClaim(cl, d); claim != "" {
		ps.Volumes = append(ps.Volumes, corev1.Volume{Name: "backups", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: restoring}}})
	}
	if d.S3 != nil && d.S3.CASecretRef != nil {
		ps.Volumes = append(ps.Volumes, corev1.Volume{Name: "s3-ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: d.S3.CASecretRef.Name,
			Items:      []corev1.KeyToPath{{Key: keyOr(d.S3.CASecretRef.Key, S3CADefaultKey), Path: S3CADefaultKey}},
		}}})
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: Labels(cl, component)}, Spec: ps}
}

// backupJobSpec is the Job of one backup at version (the version the
// database is migrated to). Its deadline is the trash retention: a backup
// that ran longer could miss the files of documents deleted meanwhile.
// With ReadWriteOnce storage the pod runs on the node of backend and
// worker, where the volume is attached.
func backupJobSpec(cl *clv1.ContractLucidity, version string) batchv1.JobSpec {
	b := cl.Spec.Backup
	d := b.Destination
	c := jobContainer(cl, ComponentBackup, version, b.Resources, d, false,
		"backup", "create", "--to", destinationURL(d),
		"--keep", strconv.Itoa(int(b.Retention.KeepLast)),
		"--keep-days", strconv.Itoa(int(ptr.Deref(b.Retention.KeepDays, 30))),
		"--termination-log", terminationLog)
	tmpl := jobPodTemplate(cl, ComponentBackup, c, d, false)
	tmpl.Annotations = map[string]string{AnnotationVersion: version}
	if StorageCoLocated(cl) {
		tmpl.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{coLocation(cl)}}}
	}
	return batchv1.JobSpec{
		BackoffLimit:          ptr.To[int32](2),
		ActiveDeadlineSeconds: ptr.To(int64(trashRetention(cl) / time.Second)),
		Template:              tmpl,
	}
}

// trashRetention is spec.backup.trashRetention (STORAGE_TRASH_RETENTION).
func trashRetention(cl *clv1.ContractLucidity) time.Duration {
	if b := cl.Spec.Backup; b != nil && b.TrashRetention != nil {
		return b.TrashRetention.Duration
	}
	return 24 * time.Hour
}

// BuildBackupCronJob is the scheduled backup. At most one runs at a time;
// a schedule missed by up to an hour (the controller was down) still runs.
func BuildBackupCronJob(cl *clv1.ContractLucidity, version string) *batchv1.CronJob {
	b := cl.Spec.Backup
	spec := backupJobSpec(cl, version)
	return &batchv1.CronJob{
		TypeMeta:   typeMeta("batch/v1", "CronJob"),
		ObjectMeta: objectMeta(cl, BackupCronJobName(cl), ComponentBackup, true),
		Spec: batchv1.CronJobSpec{
			Schedule:                   b.Schedule,
			TimeZone:                   b.TimeZone,
			Suspend:                    ptr.To(b.Suspend),
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			StartingDeadlineSeconds:    ptr.To[int64](3600),
			SuccessfulJobsHistoryLimit: ptr.To[int32](3),
			FailedJobsHistoryLimit:     ptr.To[int32](3),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels(cl, ComponentBackup)},
				Spec:       spec,
			},
		},
	}
}

// BuildOnDemandBackupJob is the backup asked for by token. Created once,
// never re-applied (a Job's template is immutable).
func BuildOnDemandBackupJob(cl *clv1.ContractLucidity, version, token string) *batchv1.Job {
	meta := objectMeta(cl, OnDemandBackupJobName(cl, token), ComponentBackup, true)
	meta.Annotations = map[string]string{AnnotationBackupToken: token, AnnotationVersion: version}
	spec := backupJobSpec(cl, version)
	spec.TTLSecondsAfterFinished = ptr.To[int32](7 * 24 * 3600)
	return &batchv1.Job{TypeMeta: typeMeta("batch/v1", "Job"), ObjectMeta: meta, Spec: spec}
}

// BuildBackupPVC is <name>-backups, when the destination is a volume the
// operator creates (nil otherwise). Like the storage volume it survives
// deletion of the instance unless spec.deletionPolicy.deleteData is set.
func BuildBackupPVC(cl *clv1.ContractLucidity) *corev1.PersistentVolumeClaim {
	b := cl.Spec.Backup
	if b == nil || b.Destination.PVC == nil || b.Destination.PVC.ClaimName != "" {
		return nil
	}
	p := b.Destination.PVC
	size := DefaultBackupPVCSize
	if p.Size != nil {
		size = *p.Size
	}
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
		ObjectMeta: objectMeta(cl, BackupPVCName(cl), ComponentBackup, cl.Spec.DeletionPolicy.DeleteData),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: p.StorageClassName,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
}

// backupNetworkPolicies let the backup and restore pods reach the database
// (and spec.networkPolicy.egressCIDRs, where an external one is) and,
// with an s3 destination, the object storage. They are reached by nobody.
func backupNetworkPolicies(cl *clv1.ContractLucidity, cn ClusterNetwork) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	policy := func(component string, d clv1.BackupDestination) *networkingv1.NetworkPolicy {
		egress := append(databaseEgress(cl), extraEgress(cl)...)
		if d.S3 != nil {
			egress = append(egress, s3EgressRules(cl, d.S3, cn)...)
		}
		return &networkingv1.NetworkPolicy{
			TypeMeta:   typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
			ObjectMeta: objectMeta(cl, Name(cl, component), component, true),
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: SelectorLabels(cl, component)},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Egress:      egress,
			},
		}
	}
	if b := cl.Spec.Backup; b != nil {
		out = append(out, policy(ComponentBackup, b.Destination))
	}
	if rf := restoreFrom(cl); rf != nil {
		out = append(out, policy(ComponentRestore, rf.Source))
	}
	return out
}

// s3EgressRules open the endpoint's port to the Internet (outside the
// cluster's ranges) unless egress.internet is false, and each listed
// endpoint on its ports.
func s3EgressRules(cl *clv1.ContractLucidity, s *clv1.BackupS3, cn ClusterNetwork) []networkingv1.NetworkPolicyEgressRule {
	port := s3Port(s.Endpoint)
	var rules []networkingv1.NetworkPolicyEgressRule
	if ptr.Deref(s.Egress.Internet, true) {
		v4, v6 := splitFamilies(ClusterExclusions(cl, cn))
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{
			To: []networkingv1.NetworkPolicyPeer{
				{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: v4}},
				{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: v6}},
			},
			Ports: tcp(port),
		})
	}
	for _, e := range s.Egress.Endpoints {
		peer := networkingv1.NetworkPolicyPeer{NamespaceSelector: e.NamespaceSelector.DeepCopy(), PodSelector: e.PodSelector.DeepCopy()}
		if e.CIDR != "" {
			peer = networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: e.CIDR}}
		}
		var ports []networkingv1.NetworkPolicyPort
		for _, p := range e.Ports {
			ports = append(ports, tcp(int(p))...)
		}
		if len(ports) == 0 {
			ports = tcp(port)
		}
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{peer}, Ports: ports})
	}
	return rules
}

// backupSecretNames are the user Secrets backups and restores read (watched
// like the other referenced Secrets).
func backupSecretNames(cl *clv1.ContractLucidity) []string {
	var out []string
	var keys []SecretKey
	if b := cl.Spec.Backup; b != nil {
		keys = append(keys, destinationSecrets(b.Destination)...)
	}
	if rf := restoreFrom(cl); rf != nil {
		keys = append(keys, destinationSecrets(rf.Source)...)
	}
	for _, k := range keys {
		out = append(out, k.Name)
	}
	return out
}
