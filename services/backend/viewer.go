package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"

	"github.com/contract-lucidity/contract-lucidity/services/internal/pages"
)

// The document viewer: the pages of a document (images rendered by the
// worker, services/internal/pages), the boxes that highlight a passage on
// them, and the extracted text for documents without pages (Word).

type pageJSON struct {
	Number int `json:"number"`
	// Width and Height are the page image's size in pixels (0 without one).
	Width  int `json:"width"`
	Height int `json:"height"`
	// TextStart and TextEnd are the page's bytes in the extracted text.
	TextStart int `json:"text_start"`
	TextEnd   int `json:"text_end"`
	// Image: GET .../pages/{page}/image serves the page. Highlights: the
	// page's words have boxes (not for pages read by OCR).
	Image      bool `json:"image"`
	Highlights bool `json:"highlights"`
}

// pagesJSON lists a document's pages. Without page images (a Word
// document, or one analyzed before page images existed) the pages come
// from the text's page breaks and have no image.
type pagesJSON struct {
	Pages []pageJSON `json:"pages"`
}

type boxJSON struct {
	X0 float64 `json:"x0"`
	Y0 float64 `json:"y0"`
	X1 float64 `json:"x1"`
	Y1 float64 `json:"y1"`
}

// pageHighlightJSON is the part of a passage on one page: one box per line,
// in fractions of the page from its top left corner (none when the page
// has no word boxes).
type pageHighlightJSON struct {
	Page  int       `json:"page"`
	Boxes []boxJSON `json:"boxes"`
}

type highlightJSON struct {
	Pages []pageHighlightJSON `json:"pages"`
}

var (
	pageImageFile = fileResponse{"image/png", "image/jpeg"}
	textFile      = fileResponse{"text/plain"}
)

// maxLayoutBytes bounds a stored layout or word file read back.
const maxLayoutBytes = 32 << 20

// readStoredJSON decodes a JSON file of the document's page data.
// A store that cannot be reached answers 503 (storageReadError).
func (s *Server) readStoredJSON(ctx context.Context, key string, v any) error {
	f, err := s.store.Open(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err != nil {
		return s.storageReadError(ctx, err)
	}
	defer f.Close()
	if err := json.NewDecoder(io.LimitReader(f, maxLayoutBytes)).Decode(v); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}

// documentPages returns the document's pages: the stored layout, else the
// pages of its text (no images). ok is false when neither exists yet.
func (s *Server) documentPages(r *http.Request, id string) (layout pages.Layout, ok bool, err error) {
	err = s.readStoredJSON(r.Context(), pages.LayoutKey(id), &layout)
	if err == nil {
		return layout, true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return layout, false, err
	}
	var text *string
	if err := s.pool.QueryRow(r.Context(), `SELECT extracted_text FROM documents WHERE id = $1`, id).Scan(&text); err != nil {
		return layout, false, err
	}
	if text == nil {
		return layout, false, nil
	}
	for i, rg := range pages.TextRanges(*text) {
		layout.Pages = append(layout.Pages, pages.PageInfo{Number: i + 1, TextStart: rg[0], TextEnd: rg[1]})
	}
	return layout, true, nil
}

func (s *Server) handleDocumentPages(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.documentRole, "", "")
	if err != nil {
		return err
	}
	layout, _, err := s.documentPages(r, id)
	if err != nil {
		return err
	}
	out := pagesJSON{Pages: make([]pageJSON, 0, len(layout.Pages))}
	for _, p := range layout.Pages {
		out.Pages = append(out.Pages, pageJSON{Number: p.Number, Width: p.Width, Height: p.Height,
			TextStart: p.TextStart, TextEnd: p.TextEnd, Image: p.ImageKey != "", Highlights: p.Words})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pageParam is the {page} path parameter: a page number from 1.
func pageParam(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.PathValue("page"))
	if err != nil || n < 1 {
		return 0, errNotFound
	}
	return n, nil
}

func (s *Server) handleDocumentPageImage(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.documentRole, "", "")
	if err != nil {
		return err
	}
	n, err := pageParam(r)
	if err != nil {
		return err
	}
	var layout pages.Layout
	if err := s.readStoredJSON(r.Context(), pages.LayoutKey(id), &layout); errors.Is(err, os.ErrNotExist) {
		return errStatus(http.StatusNotFound, "this document has no page images")
	} else if err != nil {
		return err
	}
	if n > len(layout.Pages) || layout.Pages[n-1].ImageKey == "" {
		return errStatus(http.StatusNotFound, "page %d has no image", n)
	}
	p := layout.Pages[n-1]
	if !pages.OwnedBy(p.ImageKey, id) || (p.ImageType != "image/png" && p.ImageType != "image/jpeg") {
		// Never another document's file, whatever the stored layout says.
		s.log.WarnContext(r.Context(), "page image refused", "document_id", id, "page", n, "type", p.ImageType)
		return errStatus(http.StatusNotFound, "page %d has no image", n)
	}
	f, err := s.store.Open(r.Context(), p.ImageKey)
	if errors.Is(err, fs.ErrNotExist) {
		return errStatus(http.StatusNotFound, "page %d has no image", n)
	}
	if err != nil {
		return s.storageReadError(r.Context(), err)
	}
	defer f.Close()
	w.Header().Set("Content-Type", p.ImageType)
	http.ServeContent(w, r, "", f.Info().ModTime, f)
	return nil
}

// intQuery reads a required non-negative integer query parameter.
func intQuery(r *http.Request, name string) (int, error) {
	n, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || n < 0 {
		return 0, unprocessable("%s must be a non-negative integer (a byte offset in the extracted text)", name)
	}
	return n, nil
}

// handleDocumentHighlight returns where the passage text[start:end] of
// the extracted text lies: its pages and, where the pages have word
// boxes, one box per line.
func (s *Server) handleDocumentHighlight(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.documentRole, "", "")
	if err != nil {
		return err
	}
	start, err := intQuery(r, "start")
	if err != nil {
		return err
	}
	end, err := intQuery(r, "end")
	if err != nil {
		return err
	}
	if end <= start {
		return unprocessable("end must be greater than start")
	}
	layout, ok, err := s.documentPages(r, id)
	if err != nil {
		return err
	}
	if !ok {
		return errStatus(http.StatusConflict, "the document has not been read yet")
	}
	pg := make([]pages.Page, len(layout.Pages))
	for i, p := range layout.Pages {
		pg[i] = pages.Page{Number: p.Number, TextStart: p.TextStart, TextEnd: p.TextEnd}
		if !p.Words || p.TextEnd <= start || p.TextStart >= end {
			continue
		}
		if err := s.readStoredJSON(r.Context(), pages.WordsKey(id, p.Number), &pg[i].Words); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	out := highlightJSON{Pages: []pageHighlightJSON{}}
	for _, h := range pages.Highlights(pg, start, end) {
		ph := pageHighlightJSON{Page: h.Page, Boxes: make([]boxJSON, len(h.Boxes))}
		for i, b := range h.Boxes {
			ph.Boxes[i] = boxJSON(b)
		}
		out.Pages = append(out.Pages, ph)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleDocumentText sends the extracted text: what clause and fact
// offsets count bytes of, and what the viewer shows for a Word document.
func (s *Server) handleDocumentText(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.documentRole, "", "")
	if err != nil {
		return err
	}
	var text *string
	if err := s.pool.QueryRow(r.Context(), `SELECT extracted_text FROM documents WHERE id = $1`, id).Scan(&text); err != nil {
		return err
	}
	if text == nil {
		return errStatus(http.StatusConflict, "the document has not been read yet")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, *text) // a client gone away reads nothing
	return nil
}
