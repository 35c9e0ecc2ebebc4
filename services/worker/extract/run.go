package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// errOutputLimit is returned by limitedBuffer when a process writes more
// than allowed; the process is then killed.
var errOutputLimit = errors.New("output limit exceeded")

// limitedBuffer collects up to max bytes and fails the write past that, which
// makes os/exec stop copying (and the process get SIGPIPE or be killed).
type limitedBuffer struct {
	buf      bytes.Buffer
	max      int
	exceeded bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		b.exceeded = true
		n := b.max - b.buf.Len()
		if n > 0 {
			b.buf.Write(p[:n])
		}
		return n, errOutputLimit
	}
	return b.buf.Write(p)
}

// procResult is what a bounded process run returns.
type procResult struct {
	stdout   []byte
	stderr   string
	exitCode int
}

// errTimeout marks a process killed by its deadline.
var errTimeout = errors.New("timed out")

// runBounded runs name with args, killing the whole process group when ctx is
// done or timeout elapses, and bounding stdout to maxOut bytes (stderr to
// 64 KiB). A non-zero exit is not an error here: callers interpret exitCode
// and stderr. Errors are returned for start failures, timeouts and the
// output limit.
func runBounded(ctx context.Context, timeout time.Duration, maxOut int, name string, args ...string) (*procResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	// One OCR thread per process: the worker runs several jobs at once and
	// tesseract's OpenMP threads would only fight over the same cores.
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1", "LC_ALL=C")
	stdout := &limitedBuffer{max: maxOut}
	stderr := &limitedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	res := &procResult{stdout: stdout.buf.Bytes(), stderr: stderr.buf.String()}
	if cmd.ProcessState != nil {
		res.exitCode = cmd.ProcessState.ExitCode()
	}
	switch {
	case stdout.exceeded:
		return res, errOutputLimit
	case ctx.Err() == context.DeadlineExceeded:
		return res, fmt.Errorf("%s %w after %s", name, errTimeout, timeout)
	case ctx.Err() != nil:
		return res, ctx.Err()
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return res, fmt.Errorf("run %s: %w", name, err)
	}
	return res, nil
}

// classifyRunError turns a runBounded error into an extraction error.
func classifyRunError(ctx context.Context, tool string, err error) error {
	switch {
	case errors.Is(err, errOutputLimit):
		return permanent(MsgTooLarge, fmt.Errorf("%s: %w", tool, err))
	case ctx.Err() != nil:
		return ctx.Err() // shutting down: not the document's fault
	case errors.Is(err, errTimeout):
		return transient(MsgTimeout, err)
	default:
		return transient(MsgToolFailed, err)
	}
}
