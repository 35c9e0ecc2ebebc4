package backup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/backup"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv/stacktest"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
)

// api is a signed-in client of a running stack.
type api struct {
	t     *testing.T
	url   string
	token string
}

func (a *api) call(method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (a *api) upload(project, name string, data []byte) (string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("project_id", project)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", a.url+"/api/documents", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 202 {
		return "", fmt.Errorf("upload %s: %d %s", name, resp.StatusCode, body)
	}
	var d struct{ ID string }
	return d.ID, json.Unmarshal(body, &d)
}

// The same consistency, with the real backend and worker: documents are
// uploaded and deleted through the API (the backend's own delete path moves
// files to the trash) while a backup runs, and the restored instance is
// consistent.
func TestBackupWhileTheRealBackendUploadsAndDeletes(t *testing.T) {
	stk, err := stacktest.Start(stacktest.Options{Worker: worker.Options{PollBlock: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer stk.Close()
	a := &api{t: t, url: stk.API}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := a.call("POST", "/api/auth/login", map[string]string{"email": stacktest.AdminEmail, "password": stk.AdminPassword}, 200, &tok); err != nil {
		t.Fatal(err)
	}
	a.token = tok.AccessToken
	if err := a.call("POST", "/api/auth/change-password", map[string]string{"current_password": stk.AdminPassword, "new_password": "Backup-Test-Passw0rd!"}, 200, &tok); err != nil {
		t.Fatal(err)
	}
	a.token = tok.AccessToken
	var project struct{ ID string }
	if err := a.call("POST", "/api/projects", map[string]string{"name": "Backups"}, 201, &project); err != nil {
		t.Fatal(err)
	}
	var pdfs [][]byte
	for _, n := range []string{"OPTIMIZEDTRANSPORTATIONMANAGEMENT_INC_07_26_2000-EX-6.6-DISTRIBUTOR_AGREEMENT.pdf",
		"DataCallTechnologies_20060918_SB-2A_EX-10.9_944510_EX-10.9_Content_License_Agreement.pdf"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "cuad", "pdf", n))
		if err != nil {
			t.Fatal(err)
		}
		pdfs = append(pdfs, b)
	}
	var before []string
	for i := range 6 {
		id, err := a.upload(project.ID, fmt.Sprintf("before-%d.pdf", i), pdfs[i%2])
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, id)
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []string
			for i := 0; ctx.Err() == nil; i++ {
				id, err := a.upload(project.ID, fmt.Sprintf("during-%d-%d.pdf", w, i), pdfs[(w+i)%2])
				if err == nil && i%2 == 1 {
					err = a.call("DELETE", "/api/documents/"+mine[0], nil, 204, nil)
					mine = mine[1:]
				}
				if err != nil {
					errs <- err
					return
				}
				mine = append(mine, id)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	deleted := before[:2]
	hook := func() {
		for _, id := range deleted {
			if err := a.call("DELETE", "/api/documents/"+id, nil, 204, nil); err != nil {
				t.Error(err)
			}
		}
	}
	store, err := storage.NewFilesystem(stk.Env["STORAGE_PATH"])
	if err != nil {
		t.Fatal(err)
	}
	dest := dirDest(t)
	m, err := backup.Create(context.Background(), stk.Pool, store, dest, backup.Options{AfterSnapshot: hook})
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(m.FileProblems) > 0 {
		t.Fatalf("file problems: %v", m.FileProblems)
	}

	dst := emptyInstance(t)
	if _, err := restore(dst, dest, m.ID); err != nil {
		t.Fatal(err)
	}
	files := storedFiles(t, dst.store)
	var docs []string
	rows, err := dst.pool.Query(context.Background(), `SELECT id::text, storage_key, sha256 FROM documents`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, key, sum string
		rows.Scan(&id, &key, &sum)
		docs = append(docs, id)
		if files[key] != sum {
			t.Errorf("document %s: file sha256 %q, row %q", id, files[key], sum)
		}
		delete(files, key)
	}
	rows.Close()
	for k := range files {
		if filepath.Dir(filepath.Dir(k)) == "documents" {
			t.Errorf("orphan file %s", k)
		}
	}
	for _, id := range deleted {
		if !slices.Contains(docs, id) {
			t.Errorf("document %s, deleted through the API after the snapshot, is missing", id)
		}
	}
	if int64(len(docs)) != rowsOf(m, "documents") || len(docs) < len(before) {
		t.Fatalf("%d documents restored, manifest %d", len(docs), rowsOf(m, "documents"))
	}
}
