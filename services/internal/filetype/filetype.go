// Package filetype identifies uploaded documents by their content (magic
// bytes; DOCX as a ZIP archive with the WordprocessingML parts), never by the
// client's file name.
package filetype

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Type names as stored in documents.file_type.
const (
	PDF  = "pdf"
	DOCX = "docx"
	PNG  = "png"
	JPEG = "jpeg"
	TIFF = "tiff"
)

// HeadSize is how many leading bytes Sniff needs.
const HeadSize = 1024

// Bounds for DOCX inspection (a decompression bomb must not hurt us).
const (
	MaxZipEntries        = 10_000
	MaxDeclaredZipBytes  = 1 << 30 // sum of declared uncompressed sizes
	maxContentTypesBytes = 1 << 20
)

var (
	// ErrUnknown means the content matches no supported format.
	ErrUnknown = errors.New("unrecognised file content")
	// ErrNotDOCX means a ZIP archive that is not a Word document.
	ErrNotDOCX = errors.New("zip archive is not a DOCX document")
)

// MIME returns the media type of a detected type.
func MIME(t string) string {
	switch t {
	case PDF:
		return "application/pdf"
	case DOCX:
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case PNG:
		return "image/png"
	case JPEG:
		return "image/jpeg"
	case TIFF:
		return "image/tiff"
	}
	return "application/octet-stream"
}

// Allowed reports whether detected type t is permitted by the admin's list
// of supported extensions (jpg and jpeg both admit JPEG, tif and tiff TIFF).
func Allowed(t string, supported []string) bool {
	for _, s := range supported {
		s = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "."))
		switch {
		case s == t,
			t == JPEG && s == "jpg",
			t == TIFF && s == "tif":
			return true
		}
	}
	return false
}

// Sniff classifies the leading bytes. A ZIP archive is reported as "zip":
// call InspectDOCX on the complete file to confirm it.
func Sniff(head []byte) (string, error) {
	switch {
	case pdfHeader(head):
		return PDF, nil
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, nil
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG, nil
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return TIFF, nil
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "zip", nil
	}
	return "", ErrUnknown
}

// pdfHeader requires "%PDF-" at offset 0, where PDF writers put it. Some
// readers tolerate junk before it; accepting that would let an HTML page
// with "%PDF-" further down pass as a PDF (a polyglot served back to users).
func pdfHeader(head []byte) bool {
	return bytes.HasPrefix(head, []byte("%PDF-"))
}

// DetectFile sniffs a complete file on disk and, for ZIP archives, checks
// that it is a DOCX document.
func DetectFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, HeadSize)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	t, err := Sniff(head[:n])
	if err != nil {
		return "", err
	}
	if t != "zip" {
		return t, nil
	}
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if err := InspectDOCX(f, st.Size()); err != nil {
		return "", err
	}
	return DOCX, nil
}

// InspectDOCX checks that a ZIP archive is a Word document: bounded entry
// count and declared size, a [Content_Types].xml declaring the
// WordprocessingML main part, and a word/document.xml that starts like one.
func InspectDOCX(r io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotDOCX, err)
	}
	if len(zr.File) > MaxZipEntries {
		return fmt.Errorf("%w: %d entries", ErrNotDOCX, len(zr.File))
	}
	var total uint64
	var ctypes, document *zip.File
	for _, f := range zr.File {
		total += f.UncompressedSize64
		switch f.Name {
		case "[Content_Types].xml":
			ctypes = f
		case "word/document.xml":
			document = f
		}
	}
	if total > MaxDeclaredZipBytes {
		return fmt.Errorf("%w: declared uncompressed size too large", ErrNotDOCX)
	}
	if ctypes == nil || document == nil {
		return fmt.Errorf("%w: missing [Content_Types].xml or word/document.xml", ErrNotDOCX)
	}
	ct, err := readBounded(ctypes, maxContentTypesBytes)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotDOCX, err)
	}
	if !bytes.Contains(ct, []byte("wordprocessingml.document.main+xml")) {
		return fmt.Errorf("%w: content types do not declare a Word document", ErrNotDOCX)
	}
	doc, err := readBounded(document, 8192)
	if err != nil && !errors.Is(err, errTruncated) {
		return fmt.Errorf("%w: %v", ErrNotDOCX, err)
	}
	if !bytes.Contains(doc, []byte("document")) || !bytes.Contains(doc, []byte("<")) {
		return fmt.Errorf("%w: word/document.xml is not WordprocessingML", ErrNotDOCX)
	}
	return nil
}

var errTruncated = errors.New("entry larger than the inspection bound")

// readBounded decompresses at most limit bytes of an entry, whatever size
// the archive declares.
func readBounded(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return b[:limit], errTruncated
	}
	return b, nil
}
