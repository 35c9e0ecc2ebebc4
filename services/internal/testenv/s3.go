package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 is a throwaway SeaweedFS server (master, volume, filer and S3 gateway
// in one `weed server` process) on loopback ports, with one identity.
// The weed binary comes from hack/seaweedfs.sh (built from the Go module
// proxy and cached), or from SEAWEEDFS_BIN.
type S3 struct {
	Endpoint    string // 127.0.0.1:port, plain HTTP
	TLSEndpoint string // 127.0.0.1:port, HTTPS with a certificate signed by CAFile
	CAFile      string // PEM certificate that TLSEndpoint's certificate chains to
	Region      string
	AccessKey   string
	SecretKey   string
	// Bucket is created empty at start; NewBucket makes more.
	Bucket string

	// SSE: the server encrypts objects that ask for SSE-S3 (a key
	// configured with WEED_S3_SSE_KEY); without it, such requests fail.
	SSE bool

	dir    string
	ports  []int
	cmd    *exec.Cmd
	exited chan struct{}
}

// S3Options adjust StartS3With.
type S3Options struct {
	// SSE configures a key for server-side encryption (SSE-S3).
	SSE bool
}

// StartS3 starts SeaweedFS and waits until its S3 gateway accepts the
// identity and has created Bucket. It has no key for server-side
// encryption: requests for SSE-S3 fail, as on stores without it.
func StartS3() (*S3, error) { return StartS3With(S3Options{}) }

// StartS3With starts SeaweedFS with opts.
func StartS3With(opts S3Options) (*S3, error) {
	bin, err := weedBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cl-s3-")
	if err != nil {
		return nil, err
	}
	s := &S3{Region: "us-east-1", AccessKey: "CLTEST" + strings.ToUpper(randomHex(7)), SecretKey: randomHex(20),
		Bucket: "cl-test-" + randomHex(4), SSE: opts.SSE, dir: dir}
	if err := s.writeConfig(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for attempt := 0; attempt < 3; attempt++ {
		if err = s.start(bin); err == nil {
			return s, nil
		}
		if attempt == 2 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return nil, errors.New("unreachable")
}

// S3TB starts SeaweedFS for one test and stops it in Cleanup.
func S3TB(tb testing.TB) *S3 {
	tb.Helper()
	s, err := StartS3()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

func (s *S3) writeConfig() error {
	ident := map[string]any{"identities": []any{map[string]any{
		"name":        "test",
		"credentials": []any{map[string]string{"accessKey": s.AccessKey, "secretKey": s.SecretKey}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}}
	b, _ := json.Marshal(ident)
	if err := os.WriteFile(filepath.Join(s.dir, "s3.json"), b, 0o600); err != nil {
		return err
	}
	return writeSelfSigned(filepath.Join(s.dir, "tls.crt"), filepath.Join(s.dir, "tls.key"))
}

// start runs weed on fresh free ports (gRPC ports explicit: weed's default
// is the HTTP port + 10000, which may be taken).
func (s *S3) start(bin string) error {
	ports := make([]int, 9)
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return err
		}
		ports[i] = p
	}
	s.ports = ports
	return s.run(bin)
}

// run starts weed on s.ports with its data directory for them.
func (s *S3) run(bin string) error {
	ports := s.ports
	data := filepath.Join(s.dir, fmt.Sprintf("data-%d", ports[0]))
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	s.Endpoint = fmt.Sprintf("127.0.0.1:%d", ports[6])
	s.TLSEndpoint = fmt.Sprintf("127.0.0.1:%d", ports[8])
	s.CAFile = filepath.Join(s.dir, "tls.crt")
	logPath := filepath.Join(s.dir, "weed.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	s.cmd = exec.Command(bin, "server", "-dir="+data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+p(0), "-master.port.grpc="+p(1), "-master.telemetry=false",
		"-master.volumeSizeLimitMB=64", "-volume.max=8",
		"-volume.port="+p(2), "-volume.port.grpc="+p(3),
		"-filer.port="+p(4), "-filer.port.grpc="+p(5),
		"-s3", "-s3.port="+p(6), "-s3.port.grpc="+p(7), "-s3.port.https="+p(8),
		"-s3.cert.file="+s.CAFile, "-s3.key.file="+filepath.Join(s.dir, "tls.key"),
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config="+filepath.Join(s.dir, "s3.json"))
	s.cmd.Dir = s.dir
	if s.SSE {
		s.cmd.Env = append(os.Environ(), "WEED_S3_SSE_KEY="+randomHex(32))
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start weed: %w", err)
	}
	s.exited = make(chan struct{})
	go func(c *exec.Cmd, ch chan struct{}) { _ = c.Wait(); logf.Close(); close(ch) }(s.cmd, s.exited)
	if err := s.waitReady(90 * time.Second); err != nil {
		s.kill()
		s.removeSockets()
		return fmt.Errorf("seaweedfs did not become ready: %v\n%s", err, logTail(logPath))
	}
	return nil
}

// waitReady waits until the gateway accepts our identity and the bucket
// exists (the filer needs a few seconds after the ports open).
func (s *S3) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := s.Client()
	if err != nil {
		return err
	}
	var last error
	for {
		select {
		case <-s.exited:
			return errors.New("weed exited")
		default:
		}
		if last = c.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: s.Region}); last == nil {
			return nil
		}
		if code := minio.ToErrorResponse(last).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Client is an S3 client for the plain HTTP endpoint, path-style.
func (s *S3) Client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: s.Region, BucketLookup: minio.BucketLookupPath,
	})
}

// NewBucket creates an empty bucket with a unique name.
func (s *S3) NewBucket(tb testing.TB) string {
	tb.Helper()
	c, err := s.Client()
	if err != nil {
		tb.Fatal(err)
	}
	name := "cl-test-" + randomHex(4)
	if err := c.MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		tb.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// Pause kills the server as a crash would (connections are refused),
// keeping its data and ports; Resume starts it again.
func (s *S3) Pause(tb testing.TB) {
	tb.Helper()
	s.kill()
}

// Resume restarts a paused server on the same ports and data and waits
// until it serves again.
func (s *S3) Resume(tb testing.TB) {
	tb.Helper()
	bin, err := weedBinary()
	if err == nil {
		err = s.run(bin)
	}
	if err != nil {
		tb.Fatalf("resume SeaweedFS: %v", err)
	}
}

func (s *S3) terminate() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.kill()
		}
	}
}

// Stop terminates SeaweedFS and removes its directory.
func (s *S3) Stop() {
	if s == nil {
		return
	}
	s.terminate()
	os.RemoveAll(s.dir)
	s.removeSockets()
}

// removeSockets deletes the unix sockets weed leaves in /tmp, named after
// its ports.
func (s *S3) removeSockets() {
	for _, p := range s.ports {
		matches, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("seaweedfs-*-%d.sock", p)))
		for _, m := range matches {
			os.Remove(m)
		}
	}
}

func (s *S3) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

var (
	weedOnce sync.Once
	weedPath string
	weedErr  error
)

// weedBinary returns SEAWEEDFS_BIN or the binary hack/seaweedfs.sh prints
// (building it the first time, several minutes).
func weedBinary() (string, error) {
	if p := os.Getenv("SEAWEEDFS_BIN"); p != "" {
		return p, nil
	}
	weedOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			weedErr = err
			return
		}
		cmd := exec.Command(filepath.Join(root, "hack", "seaweedfs.sh"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			weedErr = fmt.Errorf("hack/seaweedfs.sh: %w\n%s", err, stderr.String())
			return
		}
		weedPath = strings.TrimSpace(string(out))
	})
	return weedPath, weedErr
}

// repoRoot is the directory with go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// writeSelfSigned writes a certificate for 127.0.0.1 and localhost that is
// its own CA, and its key.
func writeSelfSigned(certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "contract-lucidity test S3"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}
