package main

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
	"github.com/contract-lucidity/contract-lucidity/controllers"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// jobEnv is the environment Kubernetes would give container c: the
// ConfigMap (envFrom), then its env with Secret references looked up in
// secrets ("name/key"), then overrides for what only exists in a cluster
// (addresses, mount paths).
func jobEnv(t *testing.T, c corev1.Container, config, secrets, overrides map[string]string) []string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Fatalf("envFrom %+v: only the ConfigMap is expected", from)
		}
		for k, v := range config {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		if r := e.ValueFrom; r != nil {
			v, ok := secrets[r.SecretKeyRef.Name+"/"+r.SecretKeyRef.Key]
			if !ok {
				t.Fatalf("%s reads Secret %s key %s, which the test does not provide", e.Name, r.SecretKeyRef.Name, r.SecretKeyRef.Key)
			}
			env[e.Name] = v
			continue
		}
		env[e.Name] = e.Value
	}
	for k, v := range overrides {
		env[k] = v
	}
	out := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// The Jobs the operator builds run the real command: the backup CronJob's
// container (arguments, ConfigMap, Secret references) backs up a migrated
// database to the volume, the operator parses what it leaves in the
// termination message, and the restore Job's container restores that
// backup into a new database. Only the addresses and mount paths a cluster
// would provide are substituted.
func TestOperatorBackupAndRestoreJobsRunTheRealCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "contract-lucidity")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=0.1.0", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile("../../../config/samples/contractlucidity_v1alpha1_contractlucidity_cloudnativepg.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sample := &clv1.ContractLucidity{}
	if err := yaml.UnmarshalStrict(b, sample); err != nil {
		t.Fatal(err)
	}
	cl := controllers.Defaulted(sample)
	pg := testenv.PostgresTB(t)
	dir := t.TempDir()
	backups, termination := filepath.Join(dir, "backups"), filepath.Join(dir, "termination-log")
	os.MkdirAll(backups, 0o750)
	app := controllers.CloudNativePGAppSecret(cl)
	// A database of the test server, as the Jobs' Secret and ConfigMap name it.
	database := func(rawURL, storage string) (map[string]string, map[string]string) {
		u, err := url.Parse(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		pw, _ := u.User.Password()
		secrets := map[string]string{app + "/username": u.User.Username(), app + "/password": pw, app + "/dbname": strings.TrimPrefix(u.Path, "/")}
		return secrets, map[string]string{"POSTGRES_HOST": u.Hostname(), "POSTGRES_PORT": u.Port(), "POSTGRES_SSLMODE": "disable",
			"STORAGE_PATH": storage, "HOME": dir, "LOG_LEVEL": "error"}
	}
	args := func(c corev1.Container) []string {
		out := make([]string, len(c.Args))
		for i, a := range c.Args {
			out[i] = strings.NewReplacer(controllers.BackupMountPath, backups, "/dev/termination-log", termination).Replace(a)
		}
		return out
	}

	srcSecrets, srcOverrides := database(pg.NewDatabase(t), filepath.Join(dir, "storage"))
	cron := controllers.BuildBackupCronJob(cl, cl.Spec.Version)
	c := cron.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	env := jobEnv(t, c, controllers.ConfigData(cl), srcSecrets, srcOverrides)
	if _, stderr, code := run(t, bin, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	os.MkdirAll(filepath.Join(dir, "storage"), 0o750)
	if _, stderr, code := run(t, bin, env, args(c)...); code != 0 {
		t.Fatalf("the backup Job's command %q: exit %d\n%s", args(c), code, stderr)
	}
	msg, err := os.ReadFile(termination)
	if err != nil {
		t.Fatal(err)
	}
	res, err := controllers.ParseBackupResult(string(msg))
	if err != nil || res.ID == "" || res.SizeBytes <= 0 || res.Error != "" {
		t.Fatalf("the operator reads %+v (%v) from %s", res, err, msg)
	}

	// A new instance restores it.
	restoring := cl.DeepCopy()
	restoring.Spec.Database.CloudNativePG.RestoreFrom = &clv1.RestoreFrom{BackupID: res.ID,
		Source: clv1.BackupDestination{PVC: &clv1.BackupPVC{ClaimName: controllers.BackupPVCName(cl)}}}
	job := controllers.BuildRestoreJob(restoring, restoring.Spec.Version)
	rc := job.Spec.Template.Spec.Containers[0]
	dstSecrets, dstOverrides := database(pg.NewDatabase(t), filepath.Join(dir, "restored"))
	os.Remove(termination)
	if _, stderr, code := run(t, bin, jobEnv(t, rc, controllers.ConfigData(restoring), dstSecrets, dstOverrides), args(rc)...); code != 0 {
		t.Fatalf("the restore Job's command %q: exit %d\n%s", args(rc), code, stderr)
	}
	var restored struct {
		Restored string `json:"restored"`
	}
	if b, _ := os.ReadFile(termination); json.Unmarshal(b, &restored) != nil || restored.Restored != res.ID {
		t.Fatalf("restore termination message %s", b)
	}
}
