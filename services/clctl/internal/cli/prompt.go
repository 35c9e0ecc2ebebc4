package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// lines reads answers from stdin when it is not a terminal (scripts,
// tests): one line per prompt.
func (a *App) line() (string, error) {
	if a.reader == nil {
		a.reader = bufio.NewReader(a.in)
	}
	s, err := a.reader.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no answer on standard input")
		}
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// prompt asks for a visible answer.
func (a *App) prompt(label string) (string, error) {
	fmt.Fprint(a.err, label)
	s, err := a.line()
	if !isTerminal(a.in) {
		fmt.Fprintln(a.err)
	}
	return strings.TrimSpace(s), err
}

// promptSecret asks for a password without echo on a terminal; otherwise it
// reads one line of stdin.
func (a *App) promptSecret(label string) (string, error) {
	fmt.Fprint(a.err, label)
	defer fmt.Fprintln(a.err)
	if f, ok := a.in.(*os.File); ok && isTerminal(f) {
		b, err := term.ReadPassword(int(f.Fd()))
		return string(b), err
	}
	return a.line()
}

// newPassword asks twice on a terminal, once from a script.
func (a *App) newPassword(label string) (string, error) {
	pw, err := a.promptSecret(label)
	if err != nil || !isTerminal(a.in) {
		return pw, err
	}
	again, err := a.promptSecret("Repeat it: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the two passwords differ")
	}
	return pw, nil
}
