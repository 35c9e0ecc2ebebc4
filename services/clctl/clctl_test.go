package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/clctl/internal/tokenstore"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv/stacktest"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
)

// The tests run the clctl binary against the real stack (PostgreSQL, Redis,
// backend, worker) with a real Secret Service (gnome-keyring on a private
// D-Bus session bus). The test process reads the keyring through the same
// bus, so it sees exactly what clctl stored.
var (
	clctlBin string
	stack    *stacktest.Stack
	keyring  *testenv.SecretService
	admin    string // the admin's access token (password already changed)
)

const adminPassword = "Admin-Passw0rd-For-Tests"

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	bin, err := os.MkdirTemp("", "clctl-bin-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(bin)
	clctlBin = filepath.Join(bin, "clctl")
	if out, err := exec.Command("go", "build", "-o", clctlBin, ".").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build clctl: %v\n%s", err, out)
	}
	if keyring, err = testenv.StartSecretService(); err != nil {
		return 0, err
	}
	defer keyring.Stop()
	for _, kv := range keyring.Env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	var logger *slog.Logger
	if os.Getenv("E2E_VERBOSE") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if stack, err = stacktest.Start(stacktest.Options{Logger: logger, Worker: worker.Options{PollBlock: 200 * time.Millisecond}}); err != nil {
		return 0, err
	}
	defer stack.Close()
	var login, changed struct {
		AccessToken string `json:"access_token"`
	}
	if err := call("POST", "/api/auth/login", "", map[string]string{"email": stacktest.AdminEmail, "password": stack.AdminPassword}, 200, &login); err != nil {
		return 0, err
	}
	if err := call("POST", "/api/auth/change-password", login.AccessToken,
		map[string]string{"current_password": stack.AdminPassword, "new_password": adminPassword}, 200, &changed); err != nil {
		return 0, err
	}
	admin = changed.AccessToken
	return m.Run(), nil
}

func call(method, path, token string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, stack.API+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// result is one clctl run.
type result struct {
	code           int
	stdout, stderr string
}

// clctl runs the binary with env (KEY=VALUE, replacing the inherited
// value) and stdin.
func clctl(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, clctlBin, args...)
	cmd.Env = mergeEnv(os.Environ(), append([]string{"API_BASE_URL=" + stack.API, "ENVIRONMENT="}, env...))
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func mergeEnv(base, over []string) []string {
	m := map[string]string{}
	var keys []string
	for _, kv := range append(append([]string{}, base...), over...) {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := m[k]; !ok {
			keys = append(keys, k)
		}
		m[k] = v
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+m[k])
	}
	return out
}

func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := clctl(t, nil, stdin, args...)
	if r.code != 0 {
		t.Fatalf("clctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

var userSeq int

// newUser creates a user through the API (must change password at first
// sign-in) and returns its email and initial password.
func newUser(t *testing.T, role string) (email, password string) {
	t.Helper()
	userSeq++
	email = fmt.Sprintf("user%d-%d@example.com", userSeq, time.Now().UnixNano()%100000)
	password = "Initial-Passw0rd-" + fmt.Sprint(userSeq)
	if err := call("POST", "/api/users", admin, map[string]string{"email": email, "password": password, "role": role, "name": "Test " + role}, 201, nil); err != nil {
		t.Fatal(err)
	}
	return email, password
}

// loginNewUser creates a user and logs in with clctl, answering the forced
// password change, and returns the email and the new password.
func loginNewUser(t *testing.T, role string) (string, string) {
	t.Helper()
	email, initial := newUser(t, role)
	newPw := "Changed-Passw0rd-" + fmt.Sprint(userSeq)
	mustRun(t, initial+"\n"+newPw+"\n", "login", "--email", email)
	t.Cleanup(func() { _ = store().Delete() })
	return email, newPw
}

func store() tokenstore.Store { return tokenstore.Store{Server: stack.API} }

func stored(t *testing.T) *tokenstore.Tokens {
	t.Helper()
	tok, err := store().Load()
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	return tok
}

func TestLoginChangesTheForcedPasswordAndKeepsTokensInTheKeyring(t *testing.T) {
	email, initial := newUser(t, "user")
	newPw := "Changed-Passw0rd-1x"
	r := clctl(t, nil, initial+"\n"+newPw+"\n", "login", "--email", email)
	t.Cleanup(func() { _ = store().Delete() })
	if r.code != 0 || !strings.Contains(r.stderr, "requires a new password") || !strings.Contains(r.stderr, "Logged in to") {
		t.Fatalf("login: %+v", r)
	}
	if strings.Contains(r.stdout+r.stderr, initial) || strings.Contains(r.stdout+r.stderr, newPw) {
		t.Fatal("a password was echoed")
	}
	tok := stored(t)
	if tok.Email != email || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("keyring holds %+v", tok)
	}
	if d := time.Until(tok.Expiry); d < 29*time.Minute || d > 31*time.Minute {
		t.Fatalf("expiry in %s, want the server's 30 minutes", d)
	}
	if strings.Contains(r.stdout+r.stderr, tok.AccessToken) || strings.Contains(r.stdout+r.stderr, tok.RefreshToken) {
		t.Fatal("a token was printed")
	}
	// The new password is the password now.
	if err := call("POST", "/api/auth/login", "", map[string]string{"email": email, "password": newPw}, 200, nil); err != nil {
		t.Fatal(err)
	}

	// A second login replaces the session and ends the first one.
	mustRun(t, newPw+"\n", "login", "--email", email)
	if err := call("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}, 401, nil); err != nil {
		t.Fatalf("the replaced session: %v", err)
	}
	tok = stored(t)

	var me struct{ Email, Role string }
	if err := json.Unmarshal([]byte(mustRun(t, "", "whoami", "-o", "json")), &me); err != nil || me.Email != email || me.Role != "user" {
		t.Fatalf("whoami: %+v %v", me, err)
	}
	if out := mustRun(t, "", "whoami"); !strings.Contains(out, "EMAIL") || !strings.Contains(out, email) {
		t.Fatalf("whoami table: %q", out)
	}

	r = clctl(t, nil, "", "logout")
	if r.code != 0 {
		t.Fatalf("logout: %+v", r)
	}
	if _, err := store().Load(); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("keyring after logout: %v", err)
	}
	// Revoked on the server, not only forgotten.
	if err := call("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}, 401, nil); err != nil {
		t.Fatal(err)
	}
	r = clctl(t, nil, "", "whoami")
	if r.code != 4 || !strings.Contains(r.stderr, "not logged in") || !strings.Contains(r.stderr, "clctl login") {
		t.Fatalf("whoami after logout: %+v", r)
	}
}

func TestLoginWithAWrongPasswordStoresNothing(t *testing.T) {
	email, _ := newUser(t, "user")
	r := clctl(t, nil, "Wrong-Passw0rd-123\n", "login", "--email", email)
	if r.code != 1 || !strings.Contains(r.stderr, "wrong email or password") {
		t.Fatalf("%+v", r)
	}
	if _, err := store().Load(); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("keyring: %v", err)
	}
}

// TestTokensAreRefreshedTenMinutesBeforeExpiry: a token with more than ten
// minutes left is used as is; one with less is exchanged (the refresh token
// rotates in the keyring) before the call.
func TestTokensAreRefreshedTenMinutesBeforeExpiry(t *testing.T) {
	loginNewUser(t, "user")
	tok := stored(t)
	tok.Expiry = time.Now().Add(11 * time.Minute)
	if err := store().Save(tok); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "", "whoami")
	if got := stored(t); got.RefreshToken != tok.RefreshToken || got.AccessToken != tok.AccessToken {
		t.Fatal("refreshed although 11 minutes were left")
	}
	tok.Expiry = time.Now().Add(9 * time.Minute)
	if err := store().Save(tok); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "", "whoami")
	got := stored(t)
	// (The access token may be byte-identical when issued in the same second.)
	if got.RefreshToken == tok.RefreshToken {
		t.Fatal("not refreshed with 9 minutes left")
	}
	if d := time.Until(got.Expiry); d < 29*time.Minute {
		t.Fatalf("new expiry in %s", d)
	}
	// The old refresh token was rotated out on the server.
	if err := call("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}, 401, nil); err != nil {
		t.Fatal(err)
	}
}

// TestRefusedRefreshRemovesTheTokens: the server revoked the session (here:
// the refresh token family, as a sign-out elsewhere does); the refresh is
// refused, clctl deletes the tokens and asks for a new login.
func TestRefusedRefreshRemovesTheTokens(t *testing.T) {
	loginNewUser(t, "user")
	tok := stored(t)
	if err := call("POST", "/api/auth/logout", "", map[string]string{"refresh_token": tok.RefreshToken}, 204, nil); err != nil {
		t.Fatal(err)
	}
	tok.Expiry = time.Now().Add(time.Minute)
	if err := store().Save(tok); err != nil {
		t.Fatal(err)
	}
	r := clctl(t, nil, "", "projects", "list")
	if r.code != 4 || !strings.Contains(r.stderr, "refused to renew") || !strings.Contains(r.stderr, "run clctl login") {
		t.Fatalf("%+v", r)
	}
	if _, err := store().Load(); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("keyring after a refused refresh: %v", err)
	}
}

// TestNoKeyringRefusesLoginAndWritesNoToken: without a Secret Service (no
// session bus at all, or a bus where nobody serves org.freedesktop.secrets)
// login fails naming the keyring, before any token exists, and no file
// under $HOME, $XDG_* or the working directory holds a token or the password.
func TestNoKeyringRefusesLoginAndWritesNoToken(t *testing.T) {
	email, pw := newUser(t, "user")
	bus, err := testenv.StartSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Stop()
	for name, busEnv := range map[string][]string{
		"no bus":            {"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(t.TempDir(), "nobus")},
		"no secret service": {"DBUS_SESSION_BUS_ADDRESS=" + bus.Address},
	} {
		t.Run(name, func(t *testing.T) {
			home, work := t.TempDir(), t.TempDir()
			env := append([]string{"HOME=" + home}, busEnv...)
			for _, x := range []string{"XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"} {
				env = append(env, x+"="+filepath.Join(home, strings.ToLower(x)))
			}
			var before int
			stack.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events WHERE event_type = 'login_succeeded' AND email = $1`, email).Scan(&before)

			cmd := exec.Command(clctlBin, "login", "--email", email)
			cmd.Dir = work
			cmd.Env = mergeEnv(os.Environ(), append([]string{"API_BASE_URL=" + stack.API}, env...))
			cmd.Stdin = strings.NewReader(pw + "\nNew-Passw0rd-abcdef\n")
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("login without a keyring: %v\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
			}
			if msg := errb.String(); !strings.Contains(msg, "no OS keyring available") || !strings.Contains(msg, "Secret Service") ||
				!strings.Contains(msg, "never in a file") {
				t.Fatalf("message does not name the missing keyring: %s", msg)
			}
			var after int
			stack.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events WHERE event_type = 'login_succeeded' AND email = $1`, email).Scan(&after)
			if after != before {
				t.Fatal("the server issued tokens although there was nowhere to keep them")
			}
			for _, dir := range []string{home, work} {
				filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					b, _ := os.ReadFile(p)
					if bytes.Contains(b, []byte(pw)) || bytes.Contains(b, []byte("eyJ")) || bytes.Contains(b, []byte("refresh_token")) {
						t.Errorf("%s holds a secret", p)
					}
					return nil
				})
			}
			if out.Len() != 0 {
				t.Errorf("stdout: %q", out.String())
			}
		})
	}
}

func TestAPIBaseURLRules(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"ENVIRONMENT=production", "API_BASE_URL="}, "API_BASE_URL is required in production"},
		{[]string{"ENVIRONMENT=production", "API_BASE_URL=http://contracts.example.com"}, "API_BASE_URL must be https"},
	} {
		r := clctl(t, tc.env, "", "whoami")
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: %+v", tc.env, r)
		}
	}
}

// TestUploadAnalyseDecideReport: the whole review through clctl, on a real
// CUAD contract: project, upload until complete, clauses, a decision, and
// the report in both formats.
func TestUploadAnalyseDecideReport(t *testing.T) {
	loginNewUser(t, "user")
	var p struct{ ID string }
	if err := json.Unmarshal([]byte(mustRun(t, "", "projects", "create", "clctl e2e", "-d", "from clctl", "-o", "json")), &p); err != nil || p.ID == "" {
		t.Fatalf("project: %+v %v", p, err)
	}
	if out := mustRun(t, "", "projects", "list"); !strings.Contains(out, p.ID) || !strings.Contains(out, "clctl e2e") {
		t.Fatalf("projects list: %s", out)
	}
	pdf, _ := filepath.Abs("../../testdata/cuad/pdf/OPTIMIZEDTRANSPORTATIONMANAGEMENT_INC_07_26_2000-EX-6.6-DISTRIBUTOR_AGREEMENT.pdf")
	r := clctl(t, nil, "", "upload", "--project", p.ID, "-o", "json", pdf)
	if r.code != 0 {
		t.Fatalf("upload: %+v", r)
	}
	var docs []struct {
		ID             string `json:"id"`
		PipelineStatus string `json:"pipeline_status"`
		ClauseCount    int    `json:"clause_count"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &docs); err != nil || len(docs) != 1 {
		t.Fatalf("upload output: %v %s", err, r.stdout)
	}
	if docs[0].PipelineStatus != "complete" || docs[0].ClauseCount == 0 {
		t.Fatalf("document: %+v\nstderr: %s", docs[0], r.stderr)
	}
	for _, stage := range []string{"uploading", "uploaded", "complete (100%)"} {
		if !strings.Contains(r.stderr, stage) {
			t.Errorf("upload progress lacks %q:\n%s", stage, r.stderr)
		}
	}
	doc := docs[0].ID
	// A file the server refuses fails the command with the server's reason.
	notes := filepath.Join(t.TempDir(), "notes.pdf")
	os.WriteFile(notes, []byte("plain text, not a PDF"), 0o644)
	if r := clctl(t, nil, "", "upload", "--project", p.ID, "--no-wait", notes); r.code != 1 || !strings.Contains(r.stderr, "notes.pdf: refused") ||
		!strings.Contains(r.stderr, "1 of 1 documents failed") {
		t.Fatalf("upload of a text file: %+v", r)
	}
	if out := mustRun(t, "", "documents", "list", "--project", p.ID); !strings.Contains(out, doc) || !strings.Contains(out, "complete") {
		t.Fatalf("documents list: %s", out)
	}

	var clauses []struct {
		ID        string `json:"id"`
		RiskLevel string `json:"risk_level"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "", "clauses", doc, "-o", "json")), &clauses); err != nil || len(clauses) != docs[0].ClauseCount {
		t.Fatalf("clauses: %d of %d, %v", len(clauses), docs[0].ClauseCount, err)
	}
	if out := mustRun(t, "", "clauses", doc); !strings.Contains(out, "CATEGORY") || !strings.Contains(out, clauses[0].ID) {
		t.Fatalf("clauses table: %s", out)
	}
	var dec struct{ Decision, Comment string }
	if err := json.Unmarshal([]byte(mustRun(t, "", "decide", clauses[0].ID, "negotiate", "-m", "cap the liability", "-o", "json")), &dec); err != nil ||
		dec.Decision != "negotiate" || dec.Comment != "cap the liability" {
		t.Fatalf("decide: %+v %v", dec, err)
	}
	if out := mustRun(t, "", "clauses", doc); !strings.Contains(out, "negotiate") {
		t.Fatalf("the decision is not listed: %s", out)
	}
	if r := clctl(t, nil, "", "decide", clauses[0].ID, "maybe"); r.code != 2 {
		t.Fatalf("bad decision: %+v", r)
	}

	dir := t.TempDir()
	for format, magic := range map[string]string{"pdf": "%PDF-", "html": "<!DOCTYPE html"} {
		file := filepath.Join(dir, "report."+format)
		mustRun(t, "", "report", doc, "--format", format, "-o", file)
		b, err := os.ReadFile(file)
		if err != nil || !bytes.HasPrefix(bytes.TrimSpace(b), []byte(magic)) {
			t.Fatalf("%s report: %v %q", format, err, b[:min(len(b), 40)])
		}
		if format == "html" && !bytes.Contains(b, []byte("cap the liability")) {
			t.Error("the html report lacks the decision's comment")
		}
	}
}

func TestUsersCommandsNeedAnAdmin(t *testing.T) {
	loginNewUser(t, "user")
	r := clctl(t, nil, "", "users", "list")
	if r.code != 1 || !strings.Contains(strings.ToLower(r.stderr), "forbidden") && !strings.Contains(r.stderr, "403") {
		t.Fatalf("users list as a user: %+v", r)
	}
	_ = store().Delete()

	loginNewUser(t, "admin")
	email := fmt.Sprintf("created-%d@example.com", time.Now().UnixNano()%100000)
	var u struct{ Email, Role string }
	if err := json.Unmarshal([]byte(mustRun(t, "Created-Passw0rd-1\n", "users", "create", email, "--name", "Created", "-o", "json")), &u); err != nil ||
		u.Email != email || u.Role != "user" {
		t.Fatalf("users create: %+v %v", u, err)
	}
	if out := mustRun(t, "", "users", "list"); !strings.Contains(out, email) {
		t.Fatalf("users list: %s", out)
	}
}
