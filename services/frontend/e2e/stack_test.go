// Package e2e drives the web UI in Debian's headless Chromium against the
// real stack started in-process: PostgreSQL and Redis (testenv), the backend
// (backend.New), the worker (worker.New) and the frontend handler, each on a
// loopback port.
package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/contract-lucidity/contract-lucidity/services/frontend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv/stacktest"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

const adminEmail = stacktest.AdminEmail

// stack is the running product shared by the tests of this binary.
type stack struct {
	url           string // the frontend, as the browser sees it
	adminPassword string // after the first change
	artifacts     string
	pool          *pgxpool.Pool // the database, for what the UI must show and only the worker writes (facts)
}

var st stack

func TestMain(m *testing.M) {
	code, err := runMain(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func runMain(m *testing.M) (int, error) {
	st.artifacts = os.Getenv("ARTIFACTS_DIR")
	if st.artifacts == "" {
		dir, err := os.MkdirTemp("", "cl-e2e-artifacts-")
		if err != nil {
			return 0, err
		}
		st.artifacts = dir
	} else {
		st.artifacts = filepath.Join(st.artifacts, "frontend-e2e")
	}
	if err := os.MkdirAll(st.artifacts, 0o755); err != nil {
		return 0, err
	}
	fmt.Printf("e2e: screenshots and logs in %s\n", st.artifacts)
	logFile, err := os.Create(filepath.Join(st.artifacts, "stack.log"))
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	log := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))

	stk, err := stacktest.Start(stacktest.Options{Logger: log})
	if err != nil {
		return 0, err
	}
	defer stk.Close()
	st.pool = stk.Pool
	initialPassword := stk.AdminPassword

	beURL, _ := url.Parse(stk.API)
	fe, err := frontend.New(frontend.Config{BackendURL: beURL, MaxUploadBytes: 21 << 20, Logger: log.With("service", "frontend")})
	if err != nil {
		return 0, err
	}
	feSrv := httptest.NewServer(fe)
	defer feSrv.Close()
	st.url = feSrv.URL
	if err := stacktest.WaitReady(st.url+"/readyz", 60*time.Second); err != nil {
		return 0, err
	}
	// The seeded admin chooses a real password through the API; the browser
	// journey uses an account an admin creates, which must change its own.
	st.adminPassword = "admin-" + randomHex(10)
	tok, err := loginAPI(adminEmail, initialPassword)
	if err != nil {
		return 0, fmt.Errorf("admin login: %w", err)
	}
	if err := changePasswordAPI(tok.AccessToken, initialPassword, st.adminPassword); err != nil {
		return 0, fmt.Errorf("admin password change: %w", err)
	}

	return m.Run(), nil
}

// ---- API client (through the frontend's proxy, like the browser) --------

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	User         struct {
		ID                 string `json:"id"`
		MustChangePassword bool   `json:"must_change_password"`
	} `json:"user"`
}

// call sends a JSON request and decodes a JSON answer into out (if non-nil).
func call(method, path, token string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, st.url+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s %s: %w (%s)", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, nil
}

func loginAPI(email, password string) (*tokens, error) {
	var t tokens
	_, err := call("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password}, &t)
	return &t, err
}

func changePasswordAPI(access, current, next string) error {
	_, err := call("POST", "/api/auth/change-password", access, map[string]string{"current_password": current, "new_password": next}, nil)
	return err
}

func adminToken(t *testing.T) string {
	t.Helper()
	tok, err := loginAPI(adminEmail, st.adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// mustCall fails the test unless the call answers want.
func mustCall(t *testing.T, want int, method, path, token string, in, out any) {
	t.Helper()
	code, err := call(method, path, token, in, out)
	if code != want {
		t.Fatalf("%s %s: status %d, want %d (%v)", method, path, code, want, err)
	}
}

// createUser makes an account (as admin) and returns its id; the user must
// change the password at first sign-in.
func createUser(t *testing.T, admin, email, name, role, password string) string {
	t.Helper()
	var u struct {
		ID string `json:"id"`
	}
	mustCall(t, http.StatusCreated, "POST", "/api/users", admin, map[string]string{"email": email, "name": name, "role": role, "password": password}, &u)
	return u.ID
}

func createProject(t *testing.T, token, name string) string {
	t.Helper()
	var p struct {
		ID string `json:"id"`
	}
	mustCall(t, http.StatusCreated, "POST", "/api/projects", token, map[string]string{"name": name, "description": "Created by the browser tests"}, &p)
	return p.ID
}

// uploadAPI posts a file the way the UI does and returns the status code.
func uploadAPI(t *testing.T, token, projectID, path string) int {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("project_id", projectID)
	fw, err := mw.CreateFormFile("file", filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", st.url+"/api/documents", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// samplePDF is a short real contract (3 pages) from the CUAD data set.
func samplePDF(t *testing.T) string {
	t.Helper()
	dir, err := fixtures.CUADDir()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "pdf", "OPTIMIZEDTRANSPORTATIONMANAGEMENT_INC_07_26_2000-EX-6.6-DISTRIBUTOR_AGREEMENT.pdf")
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}
