package extract_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/worker/extract"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

// The page images are pdftoppm's own pixels: the same as its PNG output,
// page by page, at PageImageSize on the longest side.
func TestRenderPDFPagesMatchesPdftoppm(t *testing.T) {
	pdf := cuadPDF(t, adamsGolf)
	x := extract.New(extract.Options{})
	dir := t.TempDir()
	files, err := x.RenderPDFPages(context.Background(), pdf, dir, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("pages %v, want 2-4", files)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 3 {
		t.Errorf("%d files left in the directory, want the 3 PNGs", len(left))
	}
	ref := t.TempDir()
	if out, err := exec.Command("pdftoppm", "-png", "-gray", "-scale-to", strconv.Itoa(extract.PageImageSize),
		"-f", "2", "-l", "4", pdf, filepath.Join(ref, "r")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	for n := 2; n <= 4; n++ {
		got := decodePNG(t, files[n])
		want := decodePNG(t, filepath.Join(ref, "r-"+leftPad(n)+".png"))
		if got.Bounds() != want.Bounds() || max(got.Bounds().Dx(), got.Bounds().Dy()) != extract.PageImageSize {
			t.Fatalf("page %d: %v, pdftoppm %v", n, got.Bounds(), want.Bounds())
		}
		dark := 0
		for y := got.Bounds().Min.Y; y < got.Bounds().Max.Y; y++ {
			for x := got.Bounds().Min.X; x < got.Bounds().Max.X; x++ {
				g, _, _, _ := got.At(x, y).RGBA()
				w, _, _, _ := want.At(x, y).RGBA()
				if g != w {
					t.Fatalf("page %d differs from pdftoppm's at (%d,%d)", n, x, y)
				}
				if g < 0x4000 {
					dark++
				}
			}
		}
		if dark == 0 {
			t.Errorf("page %d is blank", n)
		}
	}
}

// A damaged page image is an error, not a page.
func TestRenderPDFPagesRefusesABrokenPDF(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.pdf")
	if err := os.WriteFile(bad, []byte("%PDF-1.4\nnot really"), 0o600); err != nil {
		t.Fatal(err)
	}
	if files, err := extract.New(extract.Options{}).RenderPDFPages(context.Background(), bad, t.TempDir(), 1, 2); err == nil && len(files) > 0 {
		t.Fatalf("pages of a broken PDF: %v", files)
	}
}

func leftPad(n int) string {
	s := strconv.Itoa(n)
	if len(s) < 2 {
		s = "0" + s
	}
	return s
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// BenchmarkRenderPDFPages: the 13 pages of a CUAD contract.
func BenchmarkRenderPDFPages(b *testing.B) {
	dir, _ := os.MkdirTemp("", "bench")
	defer os.RemoveAll(dir)
	cuad, err := fixtures.CUADDir()
	if err != nil {
		b.Fatal(err)
	}
	pdf := filepath.Join(cuad, "pdf", adamsGolf+".pdf")
	x := extract.New(extract.Options{})
	for i := 0; b.Loop(); i++ {
		out := filepath.Join(dir, strconv.Itoa(i))
		_ = os.MkdirAll(out, 0o700)
		if _, err := x.RenderPDFPages(context.Background(), pdf, out, 1, 13); err != nil {
			b.Fatal(err)
		}
		_ = os.RemoveAll(out)
	}
}
