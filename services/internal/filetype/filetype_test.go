package filetype

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// MinimalDOCX is a tiny valid Word document.
func minimalDOCX(t *testing.T) []byte {
	return zipOf(t, map[string]string{
		"[Content_Types].xml": `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
		"word/document.xml":   `<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Hi</w:t></w:r></w:p></w:body></w:document>`,
	})
}

func detect(t *testing.T, content []byte) (string, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "upload")
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return DetectFile(p)
}

func TestDetectByContent(t *testing.T) {
	cases := []struct {
		name    string
		content []byte
		want    string
		err     error
	}{
		{"pdf", []byte("%PDF-1.7\n1 0 obj"), PDF, nil},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), PNG, nil},
		{"jpeg", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F'}, JPEG, nil},
		{"tiff le", []byte("II*\x00\x08\x00\x00\x00"), TIFF, nil},
		{"tiff be", []byte("MM\x00*\x00\x00\x00\x08"), TIFF, nil},
		{"docx", minimalDOCX(t), DOCX, nil},
		{"plain zip", zipOf(t, map[string]string{"a.txt": "hello"}), "", ErrNotDOCX},
		{"zip with parts but wrong content types", zipOf(t, map[string]string{
			"[Content_Types].xml": `<Types/>`, "word/document.xml": `<w:document/>`}), "", ErrNotDOCX},
		{"text", []byte("hello world"), "", ErrUnknown},
		{"html", []byte("<html><script>alert(1)</script>"), "", ErrUnknown},
		{"html before a pdf header", []byte("<html><script>alert(1)</script></html>\n%PDF-1.4\n1 0 obj"), "", ErrUnknown},
		{"byte order mark before a pdf header", []byte("\xef\xbb\xbf%PDF-1.4\n"), "", ErrUnknown},
		{"empty", nil, "", ErrUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := detect(t, tc.content)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestDOCXDecompressionIsBounded(t *testing.T) {
	// A Word document whose document.xml inflates to 64 MiB is inspected
	// without inflating it whole.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("[Content_Types].xml")
	w.Write([]byte(`wordprocessingml.document.main+xml`))
	w, _ = zw.Create("word/document.xml")
	w.Write([]byte(`<w:document>`))
	w.Write(bytes.Repeat([]byte{' '}, 64<<20))
	zw.Close()
	if buf.Len() > 1<<20 {
		t.Fatalf("bomb fixture is not compressed: %d bytes", buf.Len())
	}
	got, err := detect(t, buf.Bytes())
	if err != nil || got != DOCX {
		t.Fatalf("got %q %v", got, err)
	}
}

func TestAllowedHonoursAliases(t *testing.T) {
	if !Allowed(JPEG, []string{"jpg"}) || !Allowed(TIFF, []string{"TIF"}) || !Allowed(PDF, []string{".pdf"}) {
		t.Fatal("alias not honoured")
	}
	if Allowed(PNG, []string{"pdf", "docx"}) {
		t.Fatal("png allowed by a list without it")
	}
}
