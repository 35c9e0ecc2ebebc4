package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // page images of scans
	"image/png"
	"io"
	"os"

	_ "golang.org/x/image/tiff" // TIFF scans become PNG pages (browsers do not show TIFF)

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
	"github.com/contract-lucidity/contract-lucidity/services/internal/events"
	"github.com/contract-lucidity/contract-lucidity/services/internal/pages"
)

// maxPageImages bounds the pages rendered for the viewer per document.
const maxPageImages = 500

// pageRenderChunk is how many pages one pdftoppm run renders: each run is
// bounded by the process timeout, and the temporary images of one chunk
// at a time sit in the temporary directory.
const pageRenderChunk = 20

// storePages writes what the document viewer shows (services/internal/pages):
// for a PDF, an image of every page rendered by pdftoppm and the word
// boxes of pdftotext -bbox-layout aligned to the stored text; for a scanned
// image, the image itself (TIFF converted to PNG). The layout is written
// last. A failure costs only the viewer's page images (the viewer then
// shows the clause in the extracted text), never the analysis.
func (w *Worker) storePages(ctx context.Context, doc *document, path, text string) {
	var layout *pages.Layout
	var err error
	switch doc.fileType {
	case "pdf":
		layout, err = w.pdfPages(ctx, doc, path, text)
	case "png", "jpg", "jpeg", "tif", "tiff":
		layout, err = w.imagePage(ctx, doc, path, text)
	default:
		return // a Word document has no pages
	}
	if err == nil {
		err = w.putJSON(ctx, pages.LayoutKey(doc.id), layout)
	}
	if err != nil && ctx.Err() == nil {
		w.log.Warn("page images for the viewer not stored", "document_id", doc.id, "error", err)
	}
}

func (w *Worker) pdfPages(ctx context.Context, doc *document, path, text string) (*pages.Layout, error) {
	var src []pages.SourcePage
	if raw, err := w.extractor.PDFWordBoxes(ctx, path); err != nil {
		w.log.Warn("word boxes not read; pages are shown without highlights", "document_id", doc.id, "error", err)
	} else if src, err = pages.ParseBBoxLayout(bytes.NewReader(raw)); err != nil {
		w.log.Warn("word boxes not read; pages are shown without highlights", "document_id", doc.id, "error", err)
	}
	aligned := pages.Align(text, src)
	n := min(len(aligned), maxPageImages)
	layout := &pages.Layout{Pages: make([]pages.PageInfo, len(aligned))}
	for i, p := range aligned {
		layout.Pages[i] = pages.PageInfo{Number: p.Number, TextStart: p.TextStart, TextEnd: p.TextEnd}
	}
	for first := 1; first <= n; first += pageRenderChunk {
		last := min(first+pageRenderChunk-1, n)
		if err := w.renderChunk(ctx, doc, path, first, last, layout); err != nil {
			return nil, err
		}
	}
	for i, p := range aligned {
		if len(p.Words) == 0 || layout.Pages[i].ImageKey == "" {
			continue
		}
		if err := w.putJSON(ctx, pages.WordsKey(doc.id, p.Number), p.Words); err != nil {
			return nil, err
		}
		layout.Pages[i].Words = true
	}
	return layout, nil
}

func (w *Worker) renderChunk(ctx context.Context, doc *document, path string, first, last int, layout *pages.Layout) error {
	dir, err := os.MkdirTemp(w.opts.Extract.TempDir, "cl-pages-")
	if err != nil {
		return fmt.Errorf("page images: %w", err)
	}
	defer os.RemoveAll(dir)
	files, err := w.extractor.RenderPDFPages(ctx, path, dir, first, last)
	if err != nil {
		return fmt.Errorf("render pages %d-%d: %w", first, last, err)
	}
	for n := first; n <= last; n++ {
		f, ok := files[n]
		if !ok {
			continue
		}
		cfg, err := storeFile(ctx, w, pages.ImageKey(doc.id, n), f)
		if err != nil {
			return err
		}
		p := &layout.Pages[n-1]
		p.ImageKey, p.ImageType, p.Width, p.Height = pages.ImageKey(doc.id, n), "image/png", cfg.Width, cfg.Height
	}
	return nil
}

// storeFile copies a local PNG into storage and returns its size.
func storeFile(ctx context.Context, w *Worker, key, path string) (image.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return image.Config{}, err
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		return cfg, fmt.Errorf("page image %s: %w", key, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return cfg, err
	}
	_, err = w.store.Put(ctx, key, f, -1)
	return cfg, err
}

// imagePage is the layout of a scanned image: one page, the image itself
// (PNG and JPEG as uploaded; TIFF converted to PNG). OCR text has no word
// boxes here, so its clauses are shown on the page without a highlight.
func (w *Worker) imagePage(ctx context.Context, doc *document, path, text string) (*pages.Layout, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ranges := pages.TextRanges(text)
	info := pages.PageInfo{Number: 1, TextStart: ranges[0][0], TextEnd: ranges[0][1]}
	if doc.fileType == "tif" || doc.fileType == "tiff" {
		img, _, err := image.Decode(f)
		if err != nil {
			return nil, fmt.Errorf("decode scan: %w", err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return nil, err
		}
		if _, err := w.store.Put(ctx, pages.ImageKey(doc.id, 1), &buf, int64(buf.Len())); err != nil {
			return nil, err
		}
		b := img.Bounds()
		info.ImageKey, info.ImageType, info.Width, info.Height = pages.ImageKey(doc.id, 1), "image/png", b.Dx(), b.Dy()
	} else {
		cfg, format, err := image.DecodeConfig(f)
		if err != nil {
			return nil, fmt.Errorf("read scan: %w", err)
		}
		info.ImageKey, info.ImageType, info.Width, info.Height = doc.storageKey, "image/"+format, cfg.Width, cfg.Height
	}
	layout := &pages.Layout{Pages: []pages.PageInfo{info}}
	for i, r := range ranges[1:] { // a multi-page TIFF: the other pages have no image
		layout.Pages = append(layout.Pages, pages.PageInfo{Number: i + 2, TextStart: r[0], TextEnd: r[1]})
	}
	return layout, nil
}

func (w *Worker) putJSON(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.store.Put(ctx, key, bytes.NewReader(b), int64(len(b)))
	return err
}

// linkFactSources adds to each fact's source (facts version 2: details and
// party_details) the ordinal of the clause its passage lies in, so the UI
// links a fact to its clause.
func linkFactSources(facts Facts, segs []Segment) {
	link := func(v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		src, ok := m["source"].(map[string]any)
		if !ok {
			return
		}
		start, ok1 := src["start"].(float64)
		end, ok2 := src["end"].(float64)
		if !ok1 || !ok2 {
			return
		}
		if c := clauseAt(segs, int(start), int(end)); c > 0 {
			src["clause"] = c
		}
	}
	if details, ok := facts["details"].(map[string]any); ok {
		for _, d := range details {
			link(d)
		}
	}
	if parties, ok := facts["party_details"].([]any); ok {
		for _, p := range parties {
			link(p)
		}
	}
}

// clauseAt is the ordinal of the clause holding most of [start, end), or
// of the clause holding start; 0 if none does.
func clauseAt(segs []Segment, start, end int) int {
	best, bestOverlap := 0, 0
	for _, s := range segs {
		if start >= s.Start && start < s.End && best == 0 {
			best = s.Ordinal
		}
		if o := min(end, s.End) - max(start, s.Start); o > bestOverlap {
			best, bestOverlap = s.Ordinal, o
		}
	}
	return best
}

// publish tells the project's viewers (every backend replica's event
// streams) that a document changed stage. Best effort: a lost event only
// delays what a browser shows until its next reload or reconnect.
func (w *Worker) publish(ctx context.Context, projectID, documentID, status, message string) {
	if projectID == "" {
		return
	}
	ev := events.Document{DocumentID: documentID, ProjectID: projectID, Status: status, Progress: stageProgress[status], Error: message}
	if err := events.Publish(ctx, w.rdb, ev); err != nil && ctx.Err() == nil {
		w.log.Debug("progress event not published", "document_id", documentID, "error", err)
	}
}

// isClauseCategory reports whether a category may be stored as a clause's
// category: a clause type of the taxonomy, or Other.
func isClauseCategory(name string) bool {
	return name == analysis.Other || analysis.IsClauseType(name)
}

// nullInt is v, or NULL when ok is false.
func nullInt(v int, ok bool) *int32 {
	if !ok {
		return nil
	}
	n := int32(v)
	return &n
}
