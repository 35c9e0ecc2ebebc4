// Command operator benchmarks the operator against a real kube-apiserver
// (envtest: etcd + kube-apiserver, no controllers). It prints numbers, it
// asserts nothing. The operator runs as a separate process built from
// main.go, so its memory is measured from /proc/<pid>/status (VmHWM), and
// its write requests are counted from the API server's audit log.
//
// Without a kube-controller-manager, migration Jobs never finish by
// themselves: the benchmark completes them (as the Job controller would)
// so that backend and worker get applied too.
//
//	go run ./hack/bench/operator [-instances 200] [-secrets 1000] [-secret-kib 100]
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
	"github.com/contract-lucidity/contract-lucidity/controllers"
)

const operatorUser = "bench-operator"

type options struct {
	instances int
	secrets   int
	secretKiB int
	assets    string
	root      string
	crds      string
}

func main() {
	var o options
	flag.IntVar(&o.instances, "instances", 200, "ContractLucidity resources in one namespace")
	flag.IntVar(&o.secrets, "secrets", 1000, "unrelated Secrets that exist before the operator starts")
	flag.IntVar(&o.secretKiB, "secret-kib", 100, "size of each unrelated Secret in KiB")
	flag.StringVar(&o.assets, "assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory with etcd and kube-apiserver (default: hack/k8s-binaries.sh envtest)")
	flag.StringVar(&o.root, "root", ".", "repository root")
	flag.StringVar(&o.crds, "crds", "", "directory of the CRDs to install (default: <root>/config/crd/bases)")
	flag.Parse()
	ctrl.SetLogger(logr.Discard())
	// On Ctrl-C the phases stop waiting and run's deferred cleanups stop
	// the operator, kube-apiserver and etcd.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench operator:", err)
		os.Exit(1)
	}
}

// bench holds the environment shared by the phases.
type bench struct {
	o          options
	c          client.Client
	kubeconfig string
	manager    string
	auditLog   string
	results    []string
}

func (b *bench) report(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	b.results = append(b.results, line)
	fmt.Println(line)
}

func run(ctx context.Context, o options) error {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	o.root = root
	if o.crds == "" {
		o.crds = filepath.Join(root, "config", "crd", "bases")
	}
	if o.assets == "" {
		out, err := exec.Command(filepath.Join(root, "hack", "k8s-binaries.sh"), "envtest").Output()
		if err != nil {
			return fmt.Errorf("hack/k8s-binaries.sh envtest: %w", err)
		}
		o.assets = strings.TrimSpace(string(out))
	}
	work, err := os.MkdirTemp("", "cl-bench-operator-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	b := &bench{o: o, auditLog: filepath.Join(work, "audit.log"), manager: filepath.Join(work, "manager")}
	progress("building the operator from main.go")
	build := exec.Command("go", "build", "-o", b.manager, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build manager: %w", err)
	}

	// The audit log records every request with its user: the operator's
	// writes are the create/update/patch/delete events of operatorUser.
	policy := filepath.Join(work, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n"), 0o600); err != nil {
		return err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: o.assets,
		CRDDirectoryPaths:     []string{o.crds},
		ErrorIfCRDPathMissing: true,
	}
	api := env.ControlPlane.GetAPIServer().Configure()
	api.Set("audit-policy-file", policy).Set("audit-log-path", b.auditLog)
	// envtest's default /24 has 254 Service IPs; 200 instances need 1,000.
	api.Set("service-cluster-ip-range", "10.96.0.0/16")
	progress("starting etcd and kube-apiserver")
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("start envtest: %w", err)
	}
	defer func() { _ = env.Stop() }()
	cfg.QPS, cfg.Burst = 200, 400

	user, err := env.AddUser(envtest.User{Name: operatorUser, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	b.kubeconfig = filepath.Join(work, "operator.kubeconfig")
	if err := os.WriteFile(b.kubeconfig, kc, 0o600); err != nil {
		return err
	}
	scheme, err := controllers.NewScheme()
	if err != nil {
		return err
	}
	if b.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}

	// Stand in for the Job controller: complete every migration Job.
	jobCtx, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	go b.completeJobs(jobCtx)

	if err := b.idleMemory(ctx); err != nil {
		return err
	}
	return b.printSummary()
}

func (b *bench) printSummary() error {
	fmt.Println("\n== operator benchmark summary ==")
	for _, r := range b.results {
		fmt.Println(r)
	}
	return nil
}

// idleMemory: unrelated Secrets first, then the operator with no instance;
// then the remaining phases with the same process.
func (b *bench) idleMemory(ctx context.Context) error {
	if err := b.createNamespace(ctx, "noise"); err != nil {
		return err
	}
	progress(fmt.Sprintf("creating %d unrelated Secrets of %d KiB", b.o.secrets, b.o.secretKiB))
	if err := parallel(8, b.o.secrets, func(i int) error {
		payload := make([]byte, b.o.secretKiB*1024)
		if _, err := rand.Read(payload); err != nil {
			return err
		}
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("noise-%04d", i), Namespace: "noise"},
			Data:       map[string][]byte{"blob": payload},
		}
		return b.c.Create(ctx, s)
	}); err != nil {
		return fmt.Errorf("create noise secrets: %w", err)
	}

	op, err := b.startOperator(ctx)
	if err != nil {
		return err
	}
	defer op.stop()
	// Let the caches sync and the process settle.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(15 * time.Second):
	}
	hwm, rss := op.memory()
	b.report("idle (0 instances, %d unrelated %d KiB Secrets): peak RSS %.1f MiB, RSS %.1f MiB (goal < 60 MiB)",
		b.o.secrets, b.o.secretKiB, mib(hwm), mib(rss))

	if err := b.singleInstance(ctx, op); err != nil {
		return err
	}
	if err := b.manyInstances(ctx, op); err != nil {
		return err
	}
	// Stop only once every status is final, so the restart below measures
	// reconciles with nothing left to do.
	if err := b.settle(ctx, op); err != nil {
		return err
	}
	op.stop()
	return b.restart(ctx)
}

// singleInstance measures the time from creating one instance to all its
// children applied, then the writes of steady-state reconciles.
func (b *bench) singleInstance(ctx context.Context, op *operator) error {
	if err := b.createNamespace(ctx, "single"); err != nil {
		return err
	}
	cl := instance("single", "timing")
	createMark := b.auditMark()
	start := time.Now()
	if err := b.c.Create(ctx, cl); err != nil {
		return err
	}
	var firstPass, all time.Duration
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		if firstPass == 0 && b.exists(ctx, &batchv1.JobList{}, "single", "timing") {
			firstPass = time.Since(start)
		}
		if b.allApplied(ctx, "single", "timing") {
			all = time.Since(start)
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("instance timing: children not applied: %w", err)
	}
	b.report("one instance: %s from creation to the first pass (everything up to the migration Job), %s to all children applied (backend and worker after the migration Job completed)",
		firstPass.Round(time.Millisecond), all.Round(time.Millisecond))
	if writes, detail, err := b.operatorWritesSince(createMark); err == nil {
		b.report("one instance: the operator's writes to create it: %d%s", writes, detail)
	}

	// Steady state: touch an annotation (a reconcile trigger that changes
	// nothing) and count the operator's writes per reconcile.
	if err := b.settle(ctx, op); err != nil {
		return err
	}
	const touches = 20
	before, err := op.reconciles()
	if err != nil {
		return err
	}
	mark := b.auditMark()
	for i := range touches {
		if err := b.touch(ctx, client.ObjectKeyFromObject(cl), i); err != nil {
			return err
		}
		if err := op.waitReconciles(ctx, before+float64(i+1)); err != nil {
			return err
		}
	}
	after, _ := op.reconciles()
	writes, detail, err := b.operatorWritesSince(mark)
	if err != nil {
		return err
	}
	b.report("steady state: %d writes in %.0f reconciles = %.2f writes per reconcile (goal 0)%s",
		writes, after-before, float64(writes)/(after-before), detail)
	return nil
}

// manyInstances creates N instances in one namespace and waits until each
// has all its children applied.
func (b *bench) manyInstances(ctx context.Context, op *operator) error {
	n := b.o.instances
	if err := b.createNamespace(ctx, "many"); err != nil {
		return err
	}
	progress(fmt.Sprintf("creating %d instances", n))
	start := time.Now()
	if err := parallel(8, n, func(i int) error {
		return b.c.Create(ctx, instance("many", fmt.Sprintf("cl-%03d", i)))
	}); err != nil {
		return err
	}
	created := time.Since(start)
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 20*time.Minute, true, func(ctx context.Context) (bool, error) {
		var list clv1.ContractLucidityList
		if err := b.c.List(ctx, &list, client.InNamespace("many")); err != nil {
			return false, err
		}
		var deps appsv1.DeploymentList
		if err := b.c.List(ctx, &deps, client.InNamespace("many"), client.MatchingLabels{controllers.LabelComponent: controllers.ComponentWorker}); err != nil {
			return false, err
		}
		done := 0
		for _, cl := range list.Items {
			if cl.Status.ObservedGeneration == cl.Generation && meta.IsStatusConditionTrue(cl.Status.Conditions, clv1.ConditionMigrationsReady) {
				done++
			}
		}
		return done == n && len(deps.Items) == n, nil
	})
	if err != nil {
		return fmt.Errorf("%d instances not reconciled: %w", n, err)
	}
	total := time.Since(start)
	hwm, rss := op.memory()
	b.report("%d instances in one namespace: created in %s, all children applied and status written after %s; operator peak RSS %.1f MiB, RSS %.1f MiB (goal < 150 MiB)",
		n, created.Round(time.Millisecond), total.Round(time.Millisecond), mib(hwm), mib(rss))
	return nil
}

// restart starts a fresh operator over the existing instances: every
// instance is reconciled once with nothing to change.
func (b *bench) restart(ctx context.Context) error {
	mark := b.auditMark()
	start := time.Now()
	op, err := b.startOperator(ctx)
	if err != nil {
		return err
	}
	defer op.stop()
	want := float64(b.o.instances + 1)
	if err := op.waitReconciles(ctx, want); err != nil {
		return err
	}
	took := time.Since(start)
	if err := b.settle(ctx, op); err != nil {
		return err
	}
	n, _ := op.reconciles()
	writes, detail, err := b.operatorWritesSince(mark)
	if err != nil {
		return err
	}
	hwm, rss := op.memory()
	b.report("operator restart over %d instances: %.0f reconciles in %s (start included), %d writes = %.2f writes per reconcile (goal 0)%s; peak RSS %.1f MiB, RSS %.1f MiB",
		b.o.instances+1, n, took.Round(time.Millisecond), writes, float64(writes)/n, detail, mib(hwm), mib(rss))
	return nil
}

// instance is a minimal ContractLucidity; the CRD defaults the rest
// (development, managed PostgreSQL and Redis). It is unstructured because
// the typed spec serializes unset non-pointer fields (durations,
// quantities) as zero values, which the CRD's validation rejects.
func instance(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": clv1.GroupVersion.String(),
		"kind":       "ContractLucidity",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       map[string]any{"version": "0.1.0"},
	}}
	return u
}

func (b *bench) createNamespace(ctx context.Context, name string) error {
	return b.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

func (b *bench) exists(ctx context.Context, list client.ObjectList, ns, instance string) bool {
	if err := b.c.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{controllers.LabelInstance: instance}); err != nil {
		return false
	}
	return meta.LenList(list) > 0
}

// allApplied: the worker Deployment (the last application step) exists and
// the status describes the current generation.
func (b *bench) allApplied(ctx context.Context, ns, name string) bool {
	var cl clv1.ContractLucidity
	if err := b.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cl); err != nil {
		return false
	}
	if cl.Status.ObservedGeneration != cl.Generation || !meta.IsStatusConditionTrue(cl.Status.Conditions, clv1.ConditionMigrationsReady) {
		return false
	}
	var deps appsv1.DeploymentList
	if err := b.c.List(ctx, &deps, client.InNamespace(ns), client.MatchingLabels{controllers.LabelInstance: name}); err != nil {
		return false
	}
	found := map[string]bool{}
	for _, d := range deps.Items {
		found[d.Labels[controllers.LabelComponent]] = true
	}
	return found[controllers.ComponentFrontend] && found[controllers.ComponentBackend] && found[controllers.ComponentWorker]
}

func (b *bench) touch(ctx context.Context, key client.ObjectKey, i int) error {
	var cl clv1.ContractLucidity
	if err := b.c.Get(ctx, key, &cl); err != nil {
		return err
	}
	patch := client.MergeFrom(cl.DeepCopy())
	if cl.Annotations == nil {
		cl.Annotations = map[string]string{}
	}
	cl.Annotations["bench.contractlucidity.io/touch"] = strconv.Itoa(i)
	return b.c.Patch(ctx, &cl, patch)
}

// settle waits until the operator has been idle (no reconcile) for 3s.
func (b *bench) settle(ctx context.Context, op *operator) error {
	last, lastChange := -1.0, time.Now()
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 5*time.Minute, true, func(context.Context) (bool, error) {
		n, err := op.reconciles()
		if err != nil {
			return false, nil
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
		return time.Since(lastChange) > 3*time.Second, nil
	})
}

// completeJobs marks migration Jobs complete, standing in for the Job controller.
func (b *bench) completeJobs(ctx context.Context) {
	sel := client.MatchingLabels{controllers.LabelComponent: controllers.ComponentMigrate}
	for ctx.Err() == nil {
		var jobs batchv1.JobList
		if err := b.c.List(ctx, &jobs, sel); err == nil {
			for i := range jobs.Items {
				j := &jobs.Items[i]
				if j.Status.Succeeded > 0 {
					continue
				}
				now := metav1.Now()
				j.Status = batchv1.JobStatus{
					StartTime: &now, CompletionTime: &now, Succeeded: 1,
					Conditions: []batchv1.JobCondition{
						{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now},
						{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now},
					},
				}
				if err := b.c.Status().Update(ctx, j); err != nil && ctx.Err() == nil {
					slog.Warn("complete job", "job", j.Name, "error", err)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// auditMark is the current size of the audit log.
func (b *bench) auditMark() int64 {
	fi, err := os.Stat(b.auditLog)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// operatorWritesSince counts the operator's write requests in the audit
// log after offset, with a breakdown by verb and resource.
func (b *bench) operatorWritesSince(offset int64) (int, string, error) {
	time.Sleep(time.Second) // the audit backend writes asynchronously
	f, err := os.Open(b.auditLog)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, "", err
	}
	type event struct {
		Verb      string                    `json:"verb"`
		User      struct{ Username string } `json:"user"`
		ObjectRef struct {
			Resource    string `json:"resource"`
			Subresource string `json:"subresource"`
		} `json:"objectRef"`
	}
	writes, by := 0, map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.User.Username != operatorUser {
			continue
		}
		switch e.Verb {
		case "create", "update", "patch", "delete", "deletecollection":
			writes++
			r := e.ObjectRef.Resource
			if e.ObjectRef.Subresource != "" {
				r += "/" + e.ObjectRef.Subresource
			}
			by[e.Verb+" "+r]++
		}
	}
	if len(by) == 0 {
		return writes, "", sc.Err()
	}
	parts := make([]string, 0, len(by))
	for k, v := range by {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	return writes, " [" + strings.Join(parts, ", ") + "]", sc.Err()
}

// operator is the manager process.
type operator struct {
	cmd     *exec.Cmd
	metrics string
	once    sync.Once
}

func (b *bench) startOperator(ctx context.Context) (*operator, error) {
	mport, err := freePort()
	if err != nil {
		return nil, err
	}
	pport, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(b.manager,
		"--metrics-bind-address=127.0.0.1:"+strconv.Itoa(mport),
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(pport))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+b.kubeconfig)
	// The operator dies with the benchmark, however that ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.CreateTemp("", "cl-bench-manager-*.log")
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start manager: %w", err)
	}
	op := &operator{cmd: cmd, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)}
	progress(fmt.Sprintf("operator started (pid %d, log %s)", cmd.Process.Pid, logf.Name()))
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		_, err := op.reconciles()
		return err == nil, nil
	})
	if err != nil {
		op.stop()
		return nil, fmt.Errorf("operator metrics never came up (log %s): %w", logf.Name(), err)
	}
	return op, nil
}

func (op *operator) stop() {
	op.once.Do(func() {
		_ = op.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = op.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = op.cmd.Process.Kill()
			<-done
		}
	})
}

// memory returns VmHWM (peak resident set) and VmRSS in bytes.
func (op *operator) memory() (hwm, rss int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", op.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			hwm = kb * 1024
		case "VmRSS:":
			rss = kb * 1024
		}
	}
	return hwm, rss
}

// reconciles is controller_runtime_reconcile_total of the controller (all results).
func (op *operator) reconciles() (float64, error) {
	resp, err := http.Get(op.metrics)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics: %s", resp.Status)
	}
	total := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "controller_runtime_reconcile_total{") || !strings.Contains(line, `controller="contractlucidity"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			total += v
		}
	}
	return total, sc.Err()
}

func (op *operator) waitReconciles(ctx context.Context, n float64) error {
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Minute, true, func(context.Context) (bool, error) {
		got, err := op.reconciles()
		return err == nil && got >= n, nil
	})
	if err != nil {
		got, _ := op.reconciles()
		return fmt.Errorf("waiting for %.0f reconciles (have %.0f): %w", n, got, err)
	}
	return nil
}

func parallel(workers, n int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func progress(msg string) {
	fmt.Fprintf(os.Stderr, "%s bench operator: %s\n", time.Now().Format("15:04:05"), msg)
}
