package backend_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/backend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/events"
	"github.com/contract-lucidity/contract-lucidity/services/internal/pages"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// store writes a file where the worker would.
func (e *env) store(key string, data []byte) {
	e.t.Helper()
	p := filepath.Join(e.cfg.StoragePath, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) storeJSON(key string, v any) {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	e.store(key, b)
}

// The viewer's routes: pages, page images, highlight boxes and the text,
// for members of the document's project only.
func TestDocumentViewerRoutes(t *testing.T) {
	e := newEnv(t)
	p := e.createProject(e.admin, "Viewer")
	doc := e.upload(e.admin, p, "c.pdf", pdfBytes).want(202).str("id")
	word := e.upload(e.admin, p, "w.pdf", pdfBytes).want(202).str("id")
	other := e.upload(e.admin, e.createProject(e.admin, "Elsewhere"), "o.pdf", pdfBytes).want(202).str("id")
	text := "ONE two three\nfour five\fsix seven"
	e.exec(`UPDATE documents SET pipeline_status = 'complete', extracted_text = $2, page_count = 2 WHERE id = ANY($1::uuid[])`,
		[]string{doc, word}, text)
	// What the worker stores for doc: two pages, images, words on page 1.
	e.storeJSON(pages.LayoutKey(doc), pages.Layout{Pages: []pages.PageInfo{
		{Number: 1, Width: 1200, Height: 1600, TextStart: 0, TextEnd: 23, ImageKey: pages.ImageKey(doc, 1), ImageType: "image/png", Words: true},
		{Number: 2, Width: 1200, Height: 1600, TextStart: 24, TextEnd: len(text), ImageKey: pages.ImageKey(other, 1), ImageType: "image/png"},
	}})
	e.store(pages.ImageKey(doc, 1), pngBytes)
	e.store(pages.ImageKey(other, 1), []byte("\x89PNG another document's page"))
	e.storeJSON(pages.WordsKey(doc, 1), []pages.Word{
		{Start: 0, End: 3, Box: pages.Box{X0: .1, Y0: .1, X1: .2, Y1: .12}, Line: 0},
		{Start: 4, End: 7, Box: pages.Box{X0: .22, Y0: .1, X1: .3, Y1: .12}, Line: 0},
		{Start: 8, End: 13, Box: pages.Box{X0: .32, Y0: .1, X1: .4, Y1: .12}, Line: 0},
		{Start: 14, End: 18, Box: pages.Box{X0: .1, Y0: .13, X1: .2, Y1: .15}, Line: 1},
		{Start: 19, End: 23, Box: pages.Box{X0: .22, Y0: .13, X1: .3, Y1: .15}, Line: 1},
	})

	pg := e.do("GET", "/api/documents/"+doc+"/pages", e.admin, nil).want(200)
	list := pg.json["pages"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["image"] != true || list[0].(map[string]any)["highlights"] != true ||
		list[1].(map[string]any)["highlights"] != false || list[0].(map[string]any)["width"].(float64) != 1200 {
		t.Fatalf("pages: %s", pg.body)
	}
	img := e.do("GET", "/api/documents/"+doc+"/pages/1/image", e.admin, nil).want(200)
	if string(img.body) != string(pngBytes) || img.header.Get("Content-Type") != "image/png" {
		t.Fatalf("page image: %q %v", img.body, img.header)
	}
	// A layout naming another document's file is not followed.
	if r := e.do("GET", "/api/documents/"+doc+"/pages/2/image", e.admin, nil).want(404); strings.Contains(string(r.body), "another") {
		t.Fatal("served another document's page")
	}
	for _, n := range []string{"3", "0", "x", "-1"} {
		e.do("GET", "/api/documents/"+doc+"/pages/"+n+"/image", e.admin, nil).want(404)
	}

	// "two three four" spans two lines of page 1: one box per line.
	hl := e.do("GET", "/api/documents/"+doc+"/highlight?start=4&end=18", e.admin, nil).want(200)
	var got struct {
		Pages []struct {
			Page  int         `json:"page"`
			Boxes []pages.Box `json:"boxes"`
		} `json:"pages"`
	}
	if err := json.Unmarshal(hl.body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Pages) != 1 || got.Pages[0].Page != 1 || len(got.Pages[0].Boxes) != 2 ||
		got.Pages[0].Boxes[0] != (pages.Box{X0: .22, Y0: .1, X1: .4, Y1: .12}) || got.Pages[0].Boxes[1] != (pages.Box{X0: .1, Y0: .13, X1: .2, Y1: .15}) {
		t.Fatalf("highlight: %s", hl.body)
	}
	// Across the page break: page 2 is named, without boxes (no word boxes there).
	if hl := e.do("GET", "/api/documents/"+doc+"/highlight?start=19&end=30", e.admin, nil).want(200); !strings.Contains(string(hl.body), `{"page":2,"boxes":[]}`) {
		t.Fatalf("highlight across pages: %s", hl.body)
	}
	for _, q := range []string{"", "?start=4", "?start=5&end=5", "?start=-1&end=3", "?start=a&end=3"} {
		e.do("GET", "/api/documents/"+doc+"/highlight"+q, e.admin, nil).want(422)
	}
	// Without page images (a Word document): the pages of the text, no images.
	if r := e.do("GET", "/api/documents/"+word+"/pages", e.admin, nil).want(200); !strings.Contains(string(r.body), `"image":false`) ||
		len(r.json["pages"].([]any)) != 2 {
		t.Fatalf("pages without images: %s", r.body)
	}
	e.do("GET", "/api/documents/"+word+"/pages/1/image", e.admin, nil).want(404)
	if r := e.do("GET", "/api/documents/"+word+"/highlight?start=25&end=28", e.admin, nil).want(200); string(r.body) != `{"pages":[{"page":2,"boxes":[]}]}`+"\n" {
		t.Fatalf("highlight without images: %s", r.body)
	}
	if r := e.do("GET", "/api/documents/"+doc+"/text", e.admin, nil).want(200); string(r.body) != text ||
		r.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("text: %q %v", r.body, r.header)
	}
	e.do("GET", "/api/documents/"+other+"/text", e.admin, nil).want(409) // not read yet
	e.do("GET", "/api/documents/"+other+"/highlight?start=0&end=3", e.admin, nil).want(409)

	// Only members of the project see any of it.
	stranger := e.createUser("stranger@example.com")
	viewer := e.createUser("viewer@example.com")
	e.do("PUT", "/api/projects/"+p+"/members/"+viewer.User["id"].(string), e.admin, map[string]string{"role": "viewer"}).want(200)
	for _, path := range []string{"/pages", "/pages/1/image", "/highlight?start=4&end=18", "/text"} {
		e.do("GET", "/api/documents/"+doc+path, stranger.Access, nil).want(404)
		e.do("GET", "/api/documents/"+doc+path, "", nil).want(401)
		e.do("GET", "/api/documents/"+doc+path, viewer.Access, nil).want(200)
	}
}

// sseEvent is one server-sent event.
type sseEvent struct{ name, data string }

// openStream starts GET path as an event stream and returns its events as
// they arrive (the channel closes when the stream ends) and its status.
func openStream(t *testing.T, ctx context.Context, url, token string) (int, http.Header, <-chan sseEvent) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan sseEvent, 32)
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		close(ch)
		return resp.StatusCode, resp.Header, ch
	}
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	return resp.StatusCode, resp.Header, ch
}

func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sseEvent{}
}

// The live progress stream: members only; events published by a worker
// reach the streams of every backend replica, only for their project; a
// sign-out ends the stream at the next heartbeat.
func TestProjectEventStream(t *testing.T) {
	e := newEnv(t)
	_, replica, _ := startServerWith(t, e.cfg, backend.Options{EventHeartbeat: 200 * time.Millisecond})
	p := e.createProject(e.admin, "Live")
	q := e.createProject(e.admin, "Other live")
	member := e.createUser("member@example.com")
	stranger := e.createUser("outsider@example.com")
	e.do("PUT", "/api/projects/"+p+"/members/"+member.User["id"].(string), e.admin, map[string]string{"role": "viewer"}).want(200)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	for _, c := range []struct {
		token string
		want  int
	}{{"", 401}, {"not-a-token", 401}, {stranger.Access, 404}} {
		if code, _, _ := openStream(t, ctx, e.http.URL+"/api/projects/"+p+"/events", c.token); code != c.want {
			t.Errorf("stream with token %.12q: %d, want %d", c.token, code, c.want)
		}
	}
	if code, _, _ := openStream(t, ctx, e.http.URL+"/api/projects/00000000-0000-4000-8000-000000000000/events", e.admin); code != 404 {
		t.Errorf("unknown project: %d", code)
	}

	code, hdr, a := openStream(t, ctx, e.http.URL+"/api/projects/"+p+"/events", member.Access)
	if code != 200 || hdr.Get("Content-Type") != "text/event-stream" || hdr.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("stream: %d %v", code, hdr)
	}
	_, _, b := openStream(t, ctx, replica.URL+"/api/projects/"+p+"/events", e.admin)
	if ev := next(t, a); ev.name != "ready" {
		t.Fatalf("first event %+v", ev)
	}
	if ev := next(t, b); ev.name != "ready" {
		t.Fatalf("first event on the replica %+v", ev)
	}
	for _, ev := range []events.Document{
		{DocumentID: "d-other", ProjectID: q, Status: "extracting"},
		{DocumentID: "d1", ProjectID: p, Status: "extracting", Progress: 5},
		{DocumentID: "d1", ProjectID: p, Status: "classifying", Progress: 35},
	} {
		if err := events.Publish(ctx, e.rdb, ev); err != nil {
			t.Fatal(err)
		}
	}
	for name, ch := range map[string]<-chan sseEvent{"replica A": a, "replica B": b} {
		for _, want := range []string{"extracting", "classifying"} {
			ev := next(t, ch)
			var d events.Document
			if err := json.Unmarshal([]byte(ev.data), &d); err != nil || ev.name != "document" || d.DocumentID != "d1" || d.Status != want {
				t.Fatalf("%s: event %+v, want d1 %s", name, ev, want)
			}
		}
	}

	// An upload (on either replica) is announced as queued.
	up := e.upload(e.admin, p, "new.pdf", pdfBytes).want(202).str("id")
	for name, ch := range map[string]<-chan sseEvent{"replica A": a, "replica B": b} {
		var d events.Document
		if ev := next(t, ch); json.Unmarshal([]byte(ev.data), &d) != nil || d.DocumentID != up || d.Status != "queued" {
			t.Fatalf("%s: after an upload %+v", name, ev)
		}
	}

	// Signing out ends the replica's stream of that session within a heartbeat.
	tok := e.login(adminEmail, newAdminPass)
	_, _, c := openStream(t, ctx, replica.URL+"/api/projects/"+p+"/events", tok.Access)
	next(t, c)
	e.do("POST", "/api/auth/logout", tok.Access, map[string]string{"refresh_token": tok.Refresh}).want(204)
	if ev := next(t, c); ev.name != "end" || !strings.Contains(ev.data, "access ended") {
		t.Fatalf("after sign-out: %+v", ev)
	}
	select {
	case ev, ok := <-c:
		if ok {
			t.Fatalf("the stream went on after its end: %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was not closed after its end")
	}
}

// Without Redis there are no live updates: 503 with Retry-After (the UI
// falls back to polling), nothing else breaks.
func TestProjectEventStreamWithoutRedis(t *testing.T) {
	own := testenv.RedisTB(t)
	e := newEnv(t, func(c *config.Config) { c.RedisURL = own.URL(0) })
	p := e.createProject(e.admin, "No Redis")
	own.Stop()
	r := e.do("GET", "/api/projects/"+p+"/events", e.admin, nil).want(503)
	if r.header.Get("Retry-After") == "" || r.detail() == "" {
		t.Fatalf("503 without Retry-After or detail: %v %s", r.header, r.body)
	}
	e.do("GET", "/api/projects/"+p+"/documents", e.admin, nil).want(200)
}
