package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/events"
	"github.com/contract-lucidity/contract-lucidity/services/internal/pages"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

type storedClause struct {
	ordinal, start, end, pageStart, pageEnd int
	text                                    string
}

func (e *env) clausePositions(id string) []storedClause {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT ordinal, start_offset, end_offset, page_start, page_end, text
		FROM clauses WHERE document_id = $1 ORDER BY ordinal`, id)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []storedClause
	for rows.Next() {
		var c storedClause
		var s, en, ps, pe *int
		if err := rows.Scan(&c.ordinal, &s, &en, &ps, &pe, &c.text); err != nil {
			e.t.Fatal(err)
		}
		if s == nil || en == nil || ps == nil || pe == nil {
			e.t.Fatalf("clause %d has no position", c.ordinal)
		}
		c.start, c.end, c.pageStart, c.pageEnd = *s, *en, *ps, *pe
		out = append(out, c)
	}
	return out
}

func (e *env) readStored(key string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.cfg.StoragePath, filepath.FromSlash(key)))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}

// The pipeline stores where each clause lies (bytes and pages), links each
// fact to the clause its passage lies in, renders every page for the viewer
// with the word boxes aligned to the text, and publishes every stage.
func TestPipelineStoresClausePositionsPagesAndLinkedFacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sub, err := events.Subscribe(ctx, e.rdb, e.projectID)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	e.run(e.newWorker(worker.Options{}, worker.Hooks{}))
	pdf := filepath.Join(must(fixtures.CUADDir()), "pdf", adamsGolf+".pdf")
	id := e.upload("adams.pdf", "pdf", readCUAD(t, adamsGolf))

	var seen []string
	for len(seen) == 0 || seen[len(seen)-1] != worker.StatusComplete && seen[len(seen)-1] != worker.StatusFailed {
		msg, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("events so far %v: %v", seen, err)
		}
		ev, err := events.Decode(msg)
		if err != nil || ev.DocumentID != id {
			t.Fatalf("event %s: %v", msg.Payload, err)
		}
		seen = append(seen, ev.Status)
	}
	if got := strings.Join(seen, ","); got != "extracting,classifying,analyzing,embedding,complete" {
		t.Errorf("events %s", got)
	}
	r := e.waitFinished(id, time.Minute)
	if r.Status != worker.StatusComplete {
		t.Fatalf("%s: %s", r.Status, r.Error)
	}

	clauses := e.clausePositions(id)
	pageText := map[int]string{}
	for _, c := range clauses {
		src := strings.Join(strings.Fields(r.Text[c.start:c.end]), " ")
		if want := firstWords(c.text, 4); !strings.Contains(src, want) {
			t.Errorf("clause %d: its source bytes %q do not hold its first words %q", c.ordinal, firstWords(src, 12), want)
		}
		if c.pageStart < 1 || c.pageEnd < c.pageStart || c.pageEnd > r.Pages {
			t.Errorf("clause %d on pages %d-%d of %d", c.ordinal, c.pageStart, c.pageEnd, r.Pages)
		}
		// The first words are on that page of the PDF itself.
		if _, ok := pageText[c.pageStart]; !ok {
			n := strconv.Itoa(c.pageStart)
			out, err := exec.Command("pdftotext", "-layout", "-f", n, "-l", n, pdf, "-").Output()
			if err != nil {
				t.Fatal(err)
			}
			pageText[c.pageStart] = strings.Join(strings.Fields(string(out)), " ")
		}
		if want := firstWords(r.Text[c.start:c.end], 3); !strings.Contains(pageText[c.pageStart], want) {
			t.Errorf("clause %d starts with %q, not on page %d of the PDF", c.ordinal, want, c.pageStart)
		}
	}

	// Facts cite the clause their passage lies in.
	details, _ := r.Facts["details"].(map[string]any)
	linked := 0
	for name, d := range details {
		src := d.(map[string]any)["source"].(map[string]any)
		ord, ok := src["clause"].(float64)
		if !ok {
			t.Errorf("fact %s: source without a clause: %v", name, src)
			continue
		}
		c := clauses[int(ord)-1]
		if start := int(src["start"].(float64)); start < c.start-200 || start >= c.end {
			t.Errorf("fact %s at byte %d is linked to clause %d (%d-%d)", name, start, c.ordinal, c.start, c.end)
		}
		linked++
	}
	if linked < 3 {
		t.Errorf("only %d facts linked to clauses: %v", linked, details)
	}

	// Every page has an image and word boxes; a clause's highlight lies on its page.
	var layout pages.Layout
	if err := json.Unmarshal(e.readStored(pages.LayoutKey(id)), &layout); err != nil {
		t.Fatal(err)
	}
	if len(layout.Pages) != r.Pages {
		t.Fatalf("layout has %d pages, the document %d", len(layout.Pages), r.Pages)
	}
	all := make([]pages.Page, len(layout.Pages))
	for i, p := range layout.Pages {
		if p.Number != i+1 || p.ImageType != "image/png" || !p.Words || !pages.OwnedBy(p.ImageKey, id) {
			t.Fatalf("page %+v", p)
		}
		img, err := png.Decode(bytes.NewReader(e.readStored(p.ImageKey)))
		if err != nil {
			t.Fatalf("page %d image: %v", p.Number, err)
		}
		if b := img.Bounds(); b.Dx() != p.Width || b.Dy() != p.Height || max(p.Width, p.Height) != 1600 {
			t.Errorf("page %d image %dx%d, layout says %dx%d", p.Number, b.Dx(), b.Dy(), p.Width, p.Height)
		}
		all[i] = pages.Page{Number: p.Number, TextStart: p.TextStart, TextEnd: p.TextEnd}
		if err := json.Unmarshal(e.readStored(pages.WordsKey(id, p.Number)), &all[i].Words); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range clauses {
		h := pages.Highlights(all, c.start, c.end)
		if len(h) == 0 || h[0].Page != c.pageStart || h[len(h)-1].Page != c.pageEnd || len(h[0].Boxes) == 0 {
			t.Errorf("clause %d (pages %d-%d): highlights %+v", c.ordinal, c.pageStart, c.pageEnd, h)
		}
	}
}

// A Word document has no pages to render; a scanned PNG is its own page.
func TestViewerPagesOfWordDocumentsAndScans(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	e.run(e.newWorker(worker.Options{}, worker.Hooks{}))
	docx, err := fixtures.SampleDOCX()
	if err != nil {
		t.Fatal(err)
	}
	scan, err := fixtures.RenderPage(filepath.Join(must(fixtures.CUADDir()), "pdf", adamsGolf+".pdf"), 1, 150, "png")
	if err != nil {
		t.Fatal(err)
	}
	wordID := e.upload("msa.docx", "docx", docx)
	scanID := e.upload("scan.png", "png", scan)
	for _, id := range []string{wordID, scanID} {
		if r := e.waitFinished(id, 3*time.Minute); r.Status != worker.StatusComplete {
			t.Fatalf("%s: %s", r.Status, r.Error)
		}
	}
	if _, err := os.Stat(filepath.Join(e.cfg.StoragePath, pages.LayoutKey(wordID))); !os.IsNotExist(err) {
		t.Errorf("a Word document has a page layout: %v", err)
	}
	if c := e.clausePositions(wordID); len(c) == 0 || c[0].pageStart != 1 {
		t.Errorf("Word clauses: %+v", c)
	}
	var layout pages.Layout
	if err := json.Unmarshal(e.readStored(pages.LayoutKey(scanID)), &layout); err != nil {
		t.Fatal(err)
	}
	if len(layout.Pages) != 1 || layout.Pages[0].ImageKey != "documents/"+scanID+"/original" || layout.Pages[0].ImageType != "image/png" ||
		layout.Pages[0].Width != 1240 || layout.Pages[0].Words {
		t.Fatalf("scan layout: %+v", layout)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
