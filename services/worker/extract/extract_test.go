package extract_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/contract-lucidity/contract-lucidity/services/worker/extract"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

const adamsGolf = "ADAMSGOLFINC_03_21_2005-EX-10.17-ENDORSEMENT_AGREEMENT"

func cuadPDF(t *testing.T, name string) string {
	t.Helper()
	dir, err := fixtures.CUADDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "pdf", name+".pdf")
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var wordRE = regexp.MustCompile(`[a-z0-9]{3,}`)

func words(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range wordRE.FindAllString(strings.ToLower(s), -1) {
		out[w] = true
	}
	return out
}

// recall is the share of ref's distinct words found in got.
func recall(ref, got string) float64 {
	r, g := words(ref), words(got)
	if len(r) == 0 {
		return 0
	}
	hit := 0
	for w := range r {
		if g[w] {
			hit++
		}
	}
	return float64(hit) / float64(len(r))
}

func TestPDFTextMatchesCUADText(t *testing.T) {
	t.Parallel()
	pdfs, err := fixtures.CUADPDFs()
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := fixtures.CUADDir()
	x := extract.New(extract.Options{})
	// Every fourth contract keeps the test quick while covering varied layouts.
	for i := 0; i < len(pdfs); i += 4 {
		pdf := pdfs[i]
		name := fixtures.ContractName(pdf)
		t.Run(name, func(t *testing.T) {
			ref, err := os.ReadFile(filepath.Join(dir, "txt", name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := x.Extract(context.Background(), pdf, "pdf")
			if err != nil {
				t.Fatal(err)
			}
			if res.Pages < 1 || res.Method != extract.MethodPDFText {
				t.Errorf("pages=%d method=%s", res.Pages, res.Method)
			}
			if got := strings.Count(res.Text, "\f") + 1; got != res.Pages {
				t.Errorf("text has %d pages, result says %d", got, res.Pages)
			}
			if r := recall(string(ref), res.Text); r < 0.9 {
				t.Errorf("only %.2f of the CUAD text's words found in the extraction", r)
			}
			if strings.ContainsRune(res.Text, 0) {
				t.Error("NUL byte in text")
			}
		})
	}
}

func TestImageOCRFromRenderedCUADPage(t *testing.T) {
	t.Parallel()
	png, err := fixtures.RenderPage(cuadPDF(t, adamsGolf), 2, 200, "png")
	if err != nil {
		t.Fatal(err)
	}
	res, err := extract.New(extract.Options{}).Extract(context.Background(), writeTemp(t, "page.png", png), "png")
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != extract.MethodImage || res.Pages != 1 || res.OCRPages != 1 {
		t.Errorf("method=%s pages=%d ocr=%d", res.Method, res.Pages, res.OCRPages)
	}
	for _, w := range []string{"ENDORSEMENT AGREEMENT", "TOM WATSON", "ADAMS GOLF", "WITNESSETH"} {
		if !strings.Contains(res.Text, w) {
			t.Errorf("OCR text lacks %q:\n%s", w, res.Text)
		}
	}
}

func TestScannedPDFIsOCRd(t *testing.T) {
	t.Parallel()
	scan, err := fixtures.ScannedPDF(cuadPDF(t, adamsGolf), 2, 150)
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "scan.pdf", scan)
	x := extract.New(extract.Options{OCRDPI: 200, TempDir: t.TempDir()})
	res, err := x.Extract(context.Background(), path, "pdf")
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != extract.MethodPDFOCR || res.Pages != 1 || res.OCRPages != 1 {
		t.Errorf("method=%s pages=%d ocr=%d", res.Method, res.Pages, res.OCRPages)
	}
	for _, w := range []string{"ENDORSEMENT", "WATSON", "CONSULTANT"} {
		if !strings.Contains(res.Text, w) {
			t.Errorf("OCR text lacks %q:\n%s", w, res.Text)
		}
	}
}

func TestDOCXParagraphsTablesAndNumbering(t *testing.T) {
	t.Parallel()
	docx, err := fixtures.SampleDOCX()
	if err != nil {
		t.Fatal(err)
	}
	res, err := extract.New(extract.Options{}).Extract(context.Background(), writeTemp(t, "a.docx", docx), "docx")
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != extract.MethodDOCX {
		t.Errorf("method %s", res.Method)
	}
	want := []string{
		fixtures.DOCXTitle,
		"1. Definitions",
		`1.1. "Services" means`,
		`1.2. "Fees" means`,
		"2. Term and Termination",
		"2.1. This Agreement commences",
		"(a) either party may terminate",
		"(b) Globex may terminate for convenience",
		"3. Governing Law",
		"3.1. " + fixtures.DOCXGoverningLaw,
		"first bullet point",
		"Party | Role | Notice address",
		"Acme Corp. | Provider | 1 Main St, Springfield",
		"Globex LLC | Customer | 2 Elm Rd, Shelbyville",
		"IN WITNESS WHEREOF",
	}
	last := -1
	for _, w := range want {
		i := strings.Index(res.Text, w)
		if i < 0 {
			t.Errorf("text lacks %q", w)
			continue
		}
		if i < last {
			t.Errorf("%q out of order", w)
		}
		last = i
	}
	if strings.Contains(res.Text, "• first") || strings.Contains(res.Text, "4. first") {
		t.Error("bullet rendered as a number")
	}
	if t.Failed() {
		t.Logf("text:\n%s", res.Text)
	}
}

func TestFailuresAreClassified(t *testing.T) {
	t.Parallel()
	enc, err := fixtures.EncryptedPDF("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	adams, err := os.ReadFile(cuadPDF(t, adamsGolf))
	if err != nil {
		t.Fatal(err)
	}
	notZip := []byte("PK\x03\x04 this is not really a zip archive")
	noBody, err := fixtures.Zip(map[string]string{"[Content_Types].xml": "<Types/>"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file, fileType string
		data                 []byte
		opts                 extract.Options
		permanent            bool
		msg                  string
	}{
		{"password-protected PDF", "enc.pdf", "pdf", enc, extract.Options{}, true, extract.MsgEncryptedPDF},
		{"corrupt PDF", "bad.pdf", "pdf", fixtures.CorruptPDF(), extract.Options{}, true, extract.MsgCorruptPDF},
		{"truncated PDF", "cut.pdf", "pdf", adams[:2000], extract.Options{}, true, extract.MsgCorruptPDF},
		{"corrupt DOCX", "bad.docx", "docx", notZip, extract.Options{}, true, extract.MsgCorruptDOCX},
		{"DOCX without body", "empty.docx", "docx", noBody, extract.Options{}, true, extract.MsgCorruptDOCX},
		{"corrupt image", "bad.png", "png", []byte("\x89PNG\r\n\x1a\nnot an image"), extract.Options{}, true, extract.MsgCorruptImage},
		{"text over the output bound", "big.pdf", "pdf", adams, extract.Options{MaxTextBytes: 1000}, true, extract.MsgTooLarge},
		{"process timeout", "slow.pdf", "pdf", adams, extract.Options{ProcessTimeout: time.Nanosecond}, false, extract.MsgTimeout},
		{"missing tool", "a.pdf", "pdf", adams, extract.Options{PDFToText: "/nonexistent/pdftotext"}, false, extract.MsgToolFailed},
		{"unknown content", "a.bin", "", []byte("just some bytes"), extract.Options{}, true, extract.MsgUnsupportedType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := writeTemp(t, c.file, c.data)
			_, err := extract.New(c.opts).Extract(context.Background(), path, c.fileType)
			if err == nil {
				t.Fatal("no error")
			}
			var e *extract.Error
			if !errors.As(err, &e) {
				t.Fatalf("not an extract.Error: %v", err)
			}
			if e.Permanent != c.permanent || extract.IsPermanent(err) != c.permanent {
				t.Errorf("permanent=%v, want %v (%v)", e.Permanent, c.permanent, err)
			}
			if got := extract.UserMessage(err, "?"); got != c.msg {
				t.Errorf("message %q, want %q (%v)", got, c.msg, err)
			}
			if strings.Contains(e.Message, path) {
				t.Error("user message contains the file path")
			}
		})
	}
}

func TestCancelledContextIsNotAFileError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := extract.New(extract.Options{}).Extract(ctx, cuadPDF(t, adamsGolf), "pdf")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if extract.IsPermanent(err) {
		t.Error("cancellation classified as permanent")
	}
}

// A blank cover page and a blank last page keep their places: the page of
// a passage counted from the form feeds is its page in the PDF, and the
// text has as many pages as the document.
func TestBlankFirstAndLastPagesKeepPageNumbers(t *testing.T) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetFont("Helvetica", "", 11)
	pdf.AddPage() // blank cover
	pdf.AddPage()
	pdf.MultiCell(0, 5.5, "1. Term. This Agreement is governed by the laws of the State of New York and runs for three years.", "", "L", false)
	pdf.AddPage()
	pdf.MultiCell(0, 5.5, "2. Notices. Notices are given in writing to the addresses stated above by either party.", "", "L", false)
	pdf.AddPage() // blank back page
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		t.Fatal(err)
	}
	res, err := extract.New(extract.Options{}).Extract(context.Background(), writeTemp(t, "cover.pdf", buf.Bytes()), "pdf")
	if err != nil {
		t.Fatal(err)
	}
	page := func(s string) int {
		i := strings.Index(res.Text, s)
		if i < 0 {
			t.Fatalf("%q not in the text %q", s, res.Text)
		}
		return 1 + strings.Count(res.Text[:i], "\f")
	}
	if res.Pages != 4 || 1+strings.Count(res.Text, "\f") != 4 {
		t.Fatalf("pages %d, form feeds %d: %q", res.Pages, strings.Count(res.Text, "\f"), res.Text)
	}
	if p := page("governed"); p != 2 {
		t.Errorf("the governing law sentence is on page %d of the text, page 2 of the PDF", p)
	}
	if p := page("Notices"); p != 3 {
		t.Errorf("the notices clause is on page %d of the text, page 3 of the PDF", p)
	}
}
