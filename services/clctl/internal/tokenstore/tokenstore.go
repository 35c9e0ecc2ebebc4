// Package tokenstore keeps clctl's access and refresh tokens in the OS
// keyring: the Secret Service on Linux (gnome-keyring, KeePassXC), the
// Keychain on macOS, the Credential Manager on Windows. There is no other
// place: when no keyring answers, Save fails and nothing is written.
package tokenstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/zalando/go-keyring"
)

// Service is the keyring service name of every item clctl stores; the
// item's user is the server URL, so one keyring holds several servers.
const Service = "contract-lucidity"

// Tokens is what a login leaves in the keyring.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	// Expiry is when the access token expires, from the server's
	// expires_in at the time it was issued (clctl does not read the JWT).
	Expiry time.Time `json:"expiry"`
	Email  string    `json:"email"`
}

// ErrNotFound means no tokens are stored for the server.
var ErrNotFound = errors.New("no tokens stored")

// UnavailableError is a keyring that cannot be reached (no Secret Service on
// the session bus, a locked or missing Keychain, ...).
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("no OS keyring available: %s did not answer (%v). clctl keeps tokens only there and never in a file. %s",
		KeyringName(), e.Err, hint())
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// KeyringName names the keyring clctl uses on this operating system.
func KeyringName() string {
	switch runtime.GOOS {
	case "darwin":
		return "the macOS Keychain"
	case "windows":
		return "the Windows Credential Manager"
	default:
		return "the Secret Service (org.freedesktop.secrets on the D-Bus session bus)"
	}
}

func hint() string {
	switch runtime.GOOS {
	case "darwin":
		return "Unlock the login keychain (security unlock-keychain) and try again."
	case "windows":
		return "Sign in to a Windows session with a user profile and try again."
	default:
		return "Start one in your desktop session (gnome-keyring, or KeePassXC with its Secret Service integration); " +
			"without a desktop, start a shell with its own session bus (dbus-run-session -- bash) and unlock a keyring " +
			"in it (gnome-keyring-daemon --unlock --components=secrets, type a keyring password, then Ctrl-D). " +
			"Without a keyring, use the web UI."
	}
}

// Store is the keyring entry of one server.
type Store struct{ Server string }

// CheckTimeout bounds Check: a session bus can hold a call for minutes
// while it tries to start a keyring daemon that never answers.
var CheckTimeout = 15 * time.Second

// Check reports whether the keyring answers, without changing it.
func (s Store) Check() error {
	done := make(chan error, 1)
	go func() {
		_, err := keyring.Get(Service, s.Server)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, keyring.ErrNotFound) {
			return nil
		}
		return &UnavailableError{Err: err}
	case <-time.After(CheckTimeout):
		return &UnavailableError{Err: fmt.Errorf("no answer within %s", CheckTimeout)}
	}
}

// Load returns the stored tokens, ErrNotFound, or an UnavailableError.
func (s Store) Load() (*Tokens, error) {
	raw, err := keyring.Get(Service, s.Server)
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, &UnavailableError{Err: err}
	}
	var t Tokens
	if err := json.Unmarshal([]byte(raw), &t); err != nil || t.RefreshToken == "" {
		return nil, fmt.Errorf("the keyring item %s/%s is not clctl's: delete it (clctl logout) and log in again", Service, s.Server)
	}
	return &t, nil
}

// Save replaces the stored tokens.
func (s Store) Save(t *Tokens) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := keyring.Set(Service, s.Server, string(b)); err != nil {
		return &UnavailableError{Err: err}
	}
	return nil
}

// Delete removes the stored tokens; deleting nothing is not an error.
func (s Store) Delete() error {
	err := keyring.Delete(Service, s.Server)
	if err == nil || errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return &UnavailableError{Err: err}
}
