package extract

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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

var renderedRE = regexp.MustCompile(`^p-0*(\d+)\.pgm$`)

// RenderPDFPages renders pages first..last of the PDF at path as grayscale
// PNG images (longest side PageImageSize) into dir, an empty directory, in
// one bounded pdftoppm run, and returns their paths by page number.
// pdftoppm writes raw PGM and the PNG is encoded here at zlib's fastest
// level: pdftoppm's own PNG output spends about 85% of the rendering time
// compressing, for files twice as large.
func (x *Extractor) RenderPDFPages(ctx context.Context, path, dir string, first, last int) (map[int]string, error) {
	o := x.opts
	pr, err := runBounded(ctx, o.ProcessTimeout, 1<<10, o.PDFToPPM, "-gray", "-scale-to", strconv.Itoa(PageImageSize),
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
		m := renderedRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, _ := strconv.Atoi(m[1])
		src := filepath.Join(dir, e.Name())
		dst := strings.TrimSuffix(src, ".pgm") + ".png"
		if err := pgmToPNG(src, dst); err != nil {
			return nil, fmt.Errorf("page %d: %w", n, err)
		}
		_ = os.Remove(src) // one page's raw pixels at a time, not a chunk's
		out[n] = dst
	}
	return out, nil
}

func pgmToPNG(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	img, err := readPGM(bufio.NewReader(in), 2*PageImageSize)
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(out, img); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// readPGM reads a binary 8-bit PGM (P5), as pdftoppm -gray writes it, of
// at most maxSide pixels a side.
func readPGM(r *bufio.Reader, maxSide int) (*image.Gray, error) {
	var v [4]int
	magic := make([]byte, 2)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "P5" {
		return nil, errors.New("not a binary PGM image")
	}
	for i := 1; i < 4; i++ {
		if err := skipSpaceAndComments(r); err != nil {
			return nil, fmt.Errorf("PGM header: %w", err)
		}
		n := 0
		digits := 0
		for {
			c, err := r.ReadByte()
			if err != nil {
				return nil, fmt.Errorf("PGM header: %w", err)
			}
			if c < '0' || c > '9' {
				if digits == 0 || !isPNMSpace(c) {
					return nil, errors.New("PGM header: malformed number")
				}
				break // the one whitespace after maxval ends the header
			}
			if n = n*10 + int(c-'0'); n > 1<<20 {
				return nil, errors.New("PGM header: number too large")
			}
			digits++
		}
		v[i] = n
	}
	w, h, maxval := v[1], v[2], v[3]
	if w <= 0 || h <= 0 || w > maxSide || h > maxSide {
		return nil, fmt.Errorf("PGM image of %dx%d pixels", w, h)
	}
	if maxval != 255 {
		return nil, fmt.Errorf("PGM maxval %d, want 255", maxval)
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	if _, err := io.ReadFull(r, img.Pix); err != nil {
		return nil, fmt.Errorf("PGM pixels: %w", err)
	}
	return img, nil
}

func isPNMSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func skipSpaceAndComments(r *bufio.Reader) error {
	for {
		c, err := r.ReadByte()
		if err != nil {
			return err
		}
		switch {
		case c == '#':
			if _, err := r.ReadString('\n'); err != nil {
				return err
			}
		case isPNMSpace(c):
		default:
			return r.UnreadByte()
		}
	}
}
