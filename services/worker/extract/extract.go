// Package extract turns an uploaded contract (PDF, DOCX, PNG, JPEG, TIFF)
// into plain text. PDFs go through poppler's pdftotext; pages without a text
// layer (scans) are rasterised with pdftoppm and read by tesseract, as are
// images; DOCX is read from its XML. Every external process runs with a
// timeout and bounded output, and failures are classified as permanent (the
// file is the problem) or transient (retry later), with a message fit for
// the user.
package extract

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Options bound the work done for one document. Zero values take defaults.
type Options struct {
	// ProcessTimeout bounds each external process (one pdftotext run, one
	// page rasterisation, one page OCR). Default 2m.
	ProcessTimeout time.Duration
	// MaxTextBytes bounds the extracted text. Default 32 MiB.
	MaxTextBytes int
	// MaxOCRPages bounds how many pages are OCR'd per document. Default 300.
	MaxOCRPages int
	// MinPageChars: a PDF page with fewer non-space characters has no usable
	// text layer. Default 25.
	MinPageChars int
	// OCRDPI is the rasterisation resolution for OCR. Default 300.
	OCRDPI int
	// OCRLanguage is tesseract's -l argument. Default "eng".
	OCRLanguage string
	// TempDir holds page images during OCR. Default os.TempDir().
	TempDir string
	// Tool paths; default to the names on PATH.
	PDFToText, PDFToPPM, Tesseract string
}

func (o Options) withDefaults() Options {
	if o.ProcessTimeout <= 0 {
		o.ProcessTimeout = 2 * time.Minute
	}
	if o.MaxTextBytes <= 0 {
		o.MaxTextBytes = 32 << 20
	}
	if o.MaxOCRPages <= 0 {
		o.MaxOCRPages = 300
	}
	if o.MinPageChars <= 0 {
		o.MinPageChars = 25
	}
	if o.OCRDPI <= 0 {
		o.OCRDPI = 300
	}
	if o.OCRLanguage == "" {
		o.OCRLanguage = "eng"
	}
	if o.PDFToText == "" {
		o.PDFToText = "pdftotext"
	}
	if o.PDFToPPM == "" {
		o.PDFToPPM = "pdftoppm"
	}
	if o.Tesseract == "" {
		o.Tesseract = "tesseract"
	}
	return o
}

// Method names how the text was obtained.
const (
	MethodPDFText = "pdftotext"
	MethodPDFOCR  = "pdf+ocr"
	MethodImage   = "ocr"
	MethodDOCX    = "docx"
)

// Result is the extracted text of one document.
type Result struct {
	// Text is the whole document; pages are separated by a form feed (\f).
	Text string
	// Pages is the page count (1 for an image or a DOCX without page breaks).
	Pages int
	// OCRPages counts the pages read by OCR.
	OCRPages int
	Method   string
}

// Extractor extracts text with the given options.
type Extractor struct {
	opts Options
}

// New returns an Extractor.
func New(opts Options) *Extractor { return &Extractor{opts: opts.withDefaults()} }

// Extract reads the file at path, whose content type is fileType (pdf, docx,
// png, jpg, jpeg, tiff as detected at upload). An unknown or empty fileType
// is sniffed from the file's first bytes.
func (x *Extractor) Extract(ctx context.Context, path, fileType string) (*Result, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, transient("the uploaded file could not be read", fmt.Errorf("stat %s: %w", filepath.Base(path), err))
	}
	ft := strings.ToLower(strings.TrimPrefix(fileType, "."))
	switch ft {
	case "pdf", "docx", "png", "jpg", "jpeg", "tif", "tiff":
	default:
		sniffed, err := sniff(path)
		if err != nil {
			return nil, err
		}
		ft = sniffed
	}
	var (
		res *Result
		err error
	)
	switch ft {
	case "pdf":
		res, err = x.pdf(ctx, path)
	case "docx":
		res, err = x.docx(path)
	case "png", "jpg", "jpeg", "tif", "tiff":
		res, err = x.image(ctx, path)
	default:
		return nil, permanent(MsgUnsupportedType, fmt.Errorf("file type %q", fileType))
	}
	if err != nil {
		return nil, err
	}
	res.Text = clean(res.Text)
	if countNonSpace(res.Text) == 0 {
		return nil, permanent(MsgNoText, errors.New("empty text"))
	}
	return res, nil
}

func (x *Extractor) pdf(ctx context.Context, path string) (*Result, error) {
	o := x.opts
	pr, err := runBounded(ctx, o.ProcessTimeout, o.MaxTextBytes, o.PDFToText, "-layout", "-enc", "UTF-8", path, "-")
	if err != nil {
		return nil, classifyRunError(ctx, "pdftotext", err)
	}
	if pr.exitCode != 0 {
		return nil, pdfToolError("pdftotext", pr)
	}
	pages := splitPages(string(pr.stdout))
	if len(pages) == 0 {
		return nil, permanent(MsgCorruptPDF, errors.New("pdftotext found no pages"))
	}
	var empty []int
	for i, p := range pages {
		if countNonSpace(p) < o.MinPageChars {
			empty = append(empty, i)
		}
	}
	res := &Result{Pages: len(pages), Method: MethodPDFText}
	// A scan: most pages have no text layer. OCR those pages (pages that are
	// merely short in an otherwise digital PDF are left alone: OCR is slow).
	if len(empty)*2 > len(pages) {
		if len(empty) > o.MaxOCRPages {
			return nil, permanent(MsgTooLarge, fmt.Errorf("%d pages need OCR, limit %d", len(empty), o.MaxOCRPages))
		}
		dir, err := os.MkdirTemp(o.TempDir, "cl-ocr-")
		if err != nil {
			return nil, transient(MsgToolFailed, fmt.Errorf("ocr temp dir: %w", err))
		}
		defer os.RemoveAll(dir)
		total := 0
		for _, i := range empty {
			text, err := x.ocrPDFPage(ctx, path, i+1, dir)
			if err != nil {
				return nil, err
			}
			total += len(text)
			if total > o.MaxTextBytes {
				return nil, permanent(MsgTooLarge, errors.New("OCR text exceeds limit"))
			}
			pages[i] = text
		}
		res.OCRPages = len(empty)
		res.Method = MethodPDFOCR
	}
	res.Text = strings.Join(pages, "\f")
	return res, nil
}

// pdfToolError interprets a poppler tool's non-zero exit (1: cannot open
// the PDF, 3: permissions, 99: other).
func pdfToolError(tool string, pr *procResult) error {
	detail := fmt.Errorf("%s exit %d: %s", tool, pr.exitCode, firstLine(pr.stderr))
	low := strings.ToLower(pr.stderr)
	switch {
	case strings.Contains(low, "incorrect password") || strings.Contains(low, "encrypted"):
		return permanent(MsgEncryptedPDF, detail)
	case pr.exitCode == 3:
		return permanent("the PDF does not permit text extraction; upload an unrestricted copy", detail)
	case pr.exitCode == 1:
		return permanent(MsgCorruptPDF, detail)
	default:
		return transient(MsgToolFailed, detail)
	}
}

func (x *Extractor) ocrPDFPage(ctx context.Context, path string, page int, dir string) (string, error) {
	o := x.opts
	prefix := filepath.Join(dir, "p"+strconv.Itoa(page))
	n := strconv.Itoa(page)
	pr, err := runBounded(ctx, o.ProcessTimeout, 1<<10, o.PDFToPPM, "-r", strconv.Itoa(o.OCRDPI), "-png", "-gray",
		"-f", n, "-l", n, "-singlefile", path, prefix)
	if err != nil {
		return "", classifyRunError(ctx, "pdftoppm", err)
	}
	if pr.exitCode != 0 {
		return "", pdfToolError("pdftoppm", pr)
	}
	img := prefix + ".png"
	defer os.Remove(img)
	return x.tesseract(ctx, img)
}

func (x *Extractor) image(ctx context.Context, path string) (*Result, error) {
	text, err := x.tesseract(ctx, path)
	if err != nil {
		return nil, err
	}
	pages := splitPages(text) // a multi-page TIFF gives one \f per page
	if len(pages) == 0 {
		pages = []string{""}
	}
	return &Result{Text: strings.Join(pages, "\f"), Pages: len(pages), OCRPages: len(pages), Method: MethodImage}, nil
}

func (x *Extractor) tesseract(ctx context.Context, img string) (string, error) {
	o := x.opts
	pr, err := runBounded(ctx, o.ProcessTimeout, o.MaxTextBytes, o.Tesseract, img, "stdout", "-l", o.OCRLanguage, "--psm", "3")
	if err != nil {
		return "", classifyRunError(ctx, "tesseract", err)
	}
	if pr.exitCode != 0 {
		detail := fmt.Errorf("tesseract exit %d: %s", pr.exitCode, firstLine(pr.stderr))
		low := strings.ToLower(pr.stderr)
		if strings.Contains(low, "read") || strings.Contains(low, "image") || strings.Contains(low, "pix") {
			return "", permanent(MsgCorruptImage, detail)
		}
		return "", transient(MsgToolFailed, detail)
	}
	return string(pr.stdout), nil
}

// splitPages splits poppler/tesseract output, which ends every page with a
// form feed, into pages.
func splitPages(s string) []string {
	if s == "" {
		return nil
	}
	pages := strings.Split(s, "\f")
	if pages[len(pages)-1] == "" || strings.TrimSpace(pages[len(pages)-1]) == "" && len(pages) > 1 {
		pages = pages[:len(pages)-1]
	}
	return pages
}

// clean makes text safe to store: valid UTF-8, no NUL or other control
// characters except tab, newline and form feed, no trailing spaces, no
// runs of more than two blank lines, no surrounding white space other
// than form feeds.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\f':
			return r
		case r == '\r':
			return -1
		case r == '\u00a0':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	blank := 0
	for _, l := range lines {
		l = strings.TrimRightFunc(l, func(r rune) bool { return r == ' ' || r == '\t' })
		if strings.TrimSpace(l) == "" && !strings.Contains(l, "\f") {
			blank++
			if blank > 2 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	// Form feeds number the pages: a blank first or last page keeps its
	// place, so page numbers cited from the text match the document's.
	return strings.TrimFunc(strings.Join(out, "\n"), func(r rune) bool { return r != '\f' && unicode.IsSpace(r) })
}

func countNonSpace(s string) int {
	n := 0
	for _, r := range s {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// sniff detects the type from magic bytes, for callers that do not know it.
func sniff(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", transient("the uploaded file could not be read", err)
	}
	defer f.Close()
	head := make([]byte, 8)
	n, _ := f.Read(head)
	head = head[:n]
	switch {
	case strings.HasPrefix(string(head), "%PDF"):
		return "pdf", nil
	case strings.HasPrefix(string(head), "PK\x03\x04"):
		return "docx", nil
	case strings.HasPrefix(string(head), "\x89PNG"):
		return "png", nil
	case strings.HasPrefix(string(head), "\xff\xd8\xff"):
		return "jpg", nil
	case strings.HasPrefix(string(head), "II*\x00"), strings.HasPrefix(string(head), "MM\x00*"):
		return "tiff", nil
	}
	return "", permanent(MsgUnsupportedType, errors.New("unrecognised content"))
}
