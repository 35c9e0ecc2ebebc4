package extract

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
)

// PageImageSize is the longest side, in pixels, of a rendered page image:
// sharp on a high-density screen at the width the viewer shows a page.
const PageImageSize = 1600

// PDFWordBoxes runs pdftotext -bbox-layout: the XHTML of every page with its
// words and their boxes (see services/internal/pages).
func (x *Extractor) PDFWordBoxes(ctx context.Context, path string) ([]byte, error) {
	o := x.opts
	// The XHTML is about twenty times the size of the text it boxes.
	pr, err := runBounded(ctx, o.ProcessTimeout, min(20*o.MaxTextBytes, 256<<20), o.PDFToText, "-bbox-layout", "-enc", "UTF-8", path, "-")
	if err != nil {
		return nil, classifyRunError(ctx, "pdftotext -bbox-layout", err)
	}
	if pr.exitCode != 0 {
		return nil, pdfToolError("pdftotext -bbox-layout", pr)
	}
	return pr.stdout, nil
}

var renderedRE = regexp.MustCompile(`^p-0*(\d+)\.png$`)

// RenderPDFPages renders pages first..last of the PDF at path as grayscale
// PNG images (longest side PageImageSize) into dir, an empty directory, in
// one bounded pdftoppm run, and returns their paths by page number.
func (x *Extractor) RenderPDFPages(ctx context.Context, path, dir string, first, last int) (map[int]string, error) {
	o := x.opts
	pr, err := runBounded(ctx, o.ProcessTimeout, 1<<10, o.PDFToPPM, "-png", "-gray", "-scale-to", strconv.Itoa(PageImageSize),
		"-f", strconv.Itoa(first), "-l", strconv.Itoa(last), path, filepath.Join(dir, "p"))
	if err != nil {
		return nil, classifyRunError(ctx, "pdftoppm", err)
	}
	if pr.exitCode != 0 {
		return nil, pdfToolError("pdftoppm", pr)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read rendered pages: %w", err)
	}
	out := map[int]string{}
	for _, e := range entries {
		if m := renderedRE.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			out[n] = filepath.Join(dir, e.Name())
		}
	}
	return out, nil
}
