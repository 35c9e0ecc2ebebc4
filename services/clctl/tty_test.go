package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// terminal runs clctl on a pseudo-terminal, as a person does, and returns
// what the terminal showed; answer writes a line when the screen shows a
// prompt.
type terminal struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	seen bytes.Buffer
	done chan struct{}
}

func onTerminal(t *testing.T, args ...string) *terminal {
	t.Helper()
	cmd := exec.Command(clctlBin, args...)
	cmd.Env = mergeEnv(os.Environ(), []string{"API_BASE_URL=" + stack.API, "ENVIRONMENT=", "TERM=dumb"})
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, cmd: cmd, tty: tty, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			term.mu.Lock()
			term.seen.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return term
}

func (term *terminal) screen() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.seen.String()
}

func (term *terminal) answer(prompt, line string) {
	term.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.HasSuffix(strings.TrimRight(term.screen(), " "), prompt); {
		if time.Now().After(deadline) {
			term.t.Fatalf("no %q prompt; the screen shows:\n%s", prompt, term.screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the prompt is printed just before echo is turned off
	io.WriteString(term.tty, line+"\r")
}

func (term *terminal) wait() (int, string) {
	term.t.Helper()
	err := term.cmd.Wait()
	select {
	case <-term.done:
	case <-time.After(5 * time.Second):
	}
	term.tty.Close()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		term.t.Fatal(err)
	}
	return term.cmd.ProcessState.ExitCode(), term.screen()
}

// TestTerminalPromptsWithoutEchoAndDrawsProgressBars: on a terminal the
// passwords (current, new, repeated) are not echoed, and an upload draws
// a progress bar.
func TestTerminalPromptsWithoutEchoAndDrawsProgressBars(t *testing.T) {
	email, initial := newUser(t, "user")
	t.Cleanup(func() { _ = store().Delete() })
	newPw := "Terminal-Passw0rd-1"
	term := onTerminal(t, "login")
	term.answer("Email:", email)
	term.answer("Password:", initial)
	term.answer("New password:", newPw)
	term.answer("Repeat it:", newPw)
	code, screen := term.wait()
	if code != 0 || !strings.Contains(screen, "Logged in to") {
		t.Fatalf("exit %d:\n%s", code, screen)
	}
	if !strings.Contains(screen, email) {
		t.Errorf("the email was not echoed:\n%s", screen)
	}
	if strings.Contains(screen, initial) || strings.Contains(screen, newPw) {
		t.Fatalf("a password was echoed:\n%s", screen)
	}

	var p struct{ ID string }
	if err := json.Unmarshal([]byte(mustRun(t, "", "projects", "create", "tty", "-o", "json")), &p); err != nil {
		t.Fatal(err)
	}
	pdf, _ := filepath.Abs("../../testdata/cuad/pdf/DataCallTechnologies_20060918_SB-2A_EX-10.9_944510_EX-10.9_Content_License_Agreement.pdf")
	term = onTerminal(t, "upload", "--no-wait", "--project", p.ID, pdf)
	code, screen = term.wait()
	if code != 0 {
		t.Fatalf("upload: exit %d:\n%s", code, screen)
	}
	if !strings.Contains(screen, "[==============================] 100%") || !strings.Contains(screen, "uploaded") || !strings.Contains(screen, "\r") {
		t.Fatalf("no progress bar:\n%q", screen)
	}
}
