package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// SecretService is a private D-Bus session bus, optionally with an unlocked
// gnome-keyring serving the Secret Service API on it, in a home directory
// of its own: what clctl finds on a Linux desktop, without a desktop, as
// root in CI. Env is the environment a client process needs to reach it.
type SecretService struct {
	Home    string   // HOME, and the XDG directories under it
	Address string   // DBUS_SESSION_BUS_ADDRESS
	Env     []string // HOME, XDG_*, DBUS_SESSION_BUS_ADDRESS
	procs   []*exec.Cmd
	logs    []string
}

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// StartSessionBus starts dbus-daemon only: a bus without a Secret Service.
func StartSessionBus() (*SecretService, error) {
	home, err := os.MkdirTemp("", "cl-secretservice-")
	if err != nil {
		return nil, err
	}
	s := &SecretService{Home: home}
	for _, d := range []string{"run", "data", "config", "cache", "state"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			s.Stop()
			return nil, err
		}
	}
	daemon, err := lookPath("dbus-daemon")
	if err != nil {
		s.Stop()
		return nil, err
	}
	// A bus of its own configuration: no service directories, so nothing
	// is activated on demand (the system's session.conf would start
	// gnome-keyring for org.freedesktop.secrets).
	conf := filepath.Join(home, "bus.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(busConfig, filepath.Join(home, "run", "bus"))), 0o600); err != nil {
		s.Stop()
		return nil, err
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.Stop()
		return nil, err
	}
	logPath := filepath.Join(home, "dbus.log")
	logf, err := os.Create(logPath)
	if err != nil {
		s.Stop()
		return nil, err
	}
	defer logf.Close()
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start dbus-daemon: %w", err)
	}
	s.procs = append(s.procs, cmd)
	s.logs = append(s.logs, logPath)
	// The daemon prints its address once it listens.
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "unix:") {
		s.Stop()
		return nil, fmt.Errorf("dbus-daemon printed no address (%v): %s", err, logTail(logPath))
	}
	s.Address = strings.TrimSpace(line)
	s.Env = []string{
		"HOME=" + home,
		"XDG_RUNTIME_DIR=" + filepath.Join(home, "run"),
		"XDG_DATA_HOME=" + filepath.Join(home, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"DBUS_SESSION_BUS_ADDRESS=" + s.Address,
	}
	return s, nil
}

// StartSecretService starts a session bus and gnome-keyring-daemon with its
// secrets component, its login keyring created and unlocked with a random
// password read on stdin (what a PAM login does), and waits until
// org.freedesktop.secrets answers.
func StartSecretService() (*SecretService, error) {
	s, err := StartSessionBus()
	if err != nil {
		return nil, err
	}
	gkd, err := lookPath("gnome-keyring-daemon")
	if err != nil {
		s.Stop()
		return nil, err
	}
	logPath := filepath.Join(s.Home, "gnome-keyring.log")
	logf, err := os.Create(logPath)
	if err != nil {
		s.Stop()
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(gkd, "--foreground", "--unlock", "--components=secrets")
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdin = strings.NewReader(randomPassword())
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start gnome-keyring-daemon: %w", err)
	}
	s.procs = append(s.procs, cmd)
	s.logs = append(s.logs, logPath)
	if err := s.waitName("org.freedesktop.secrets", 20*time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w: %s", err, logTail(logPath))
	}
	return s, nil
}

func randomPassword() string {
	b := make([]byte, 16)
	f, err := os.Open("/dev/urandom")
	if err == nil {
		_, err = f.Read(b)
		f.Close()
	}
	if err != nil {
		return fmt.Sprint(time.Now().UnixNano())
	}
	return fmt.Sprintf("%x", b)
}

// waitName waits until a name has an owner on the bus.
func (s *SecretService) waitName(name string, timeout time.Duration) error {
	conn, err := dbus.Connect(s.Address)
	if err != nil {
		return fmt.Errorf("connect to the test bus: %w", err)
	}
	defer conn.Close()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var owned bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&owned); err == nil && owned {
			return nil
		}
	}
	return fmt.Errorf("%s did not appear on the test bus within %s", name, timeout)
}

// Stop ends the daemons (the ones this process started) and removes the home.
func (s *SecretService) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		if p.Process != nil {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	}
	s.procs = nil
	if s.Home != "" {
		if err := os.RemoveAll(s.Home); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "testenv: remove %s: %v\n", s.Home, err)
		}
	}
}
