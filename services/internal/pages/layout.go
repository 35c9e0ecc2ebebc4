package pages

import (
	"fmt"
	"strings"
)

// Layout is what the worker stores about a document's pages (at
// LayoutKey): one entry per page, with its image and whether its word
// boxes are stored (at WordsKey). A document without page images (a Word
// document) has no layout. The files are derived from the original and
// written again when the document is analyzed again.
type Layout struct {
	Pages []PageInfo `json:"pages"`
}

// PageInfo is one page of a Layout.
type PageInfo struct {
	Number int `json:"number"`
	// Width and Height are the image's size in pixels (0 without image).
	Width  int `json:"width"`
	Height int `json:"height"`
	// TextStart and TextEnd are the page's bytes in the document text.
	TextStart int `json:"text_start"`
	TextEnd   int `json:"text_end"`
	// ImageKey is the storage key of the page image ("" if none) and
	// ImageType its media type.
	ImageKey  string `json:"image_key,omitempty"`
	ImageType string `json:"image_type,omitempty"`
	// Words reports whether the page's word boxes are stored.
	Words bool `json:"words"`
}

// Keys of a document's page files: all below the document's directory, so
// they are trashed and removed with it.
func LayoutKey(documentID string) string { return "documents/" + documentID + "/pages/layout.json" }

// ImageKey is the key of a rendered page image.
func ImageKey(documentID string, page int) string {
	return fmt.Sprintf("documents/%s/pages/%d.png", documentID, page)
}

// WordsKey is the key of a page's word boxes (JSON array of Word).
func WordsKey(documentID string, page int) string {
	return fmt.Sprintf("documents/%s/pages/%d.words.json", documentID, page)
}

// OwnedBy reports whether a storage key named in a layout belongs to the
// document (its own directory), so a reader never serves another file.
func OwnedBy(key, documentID string) bool {
	prefix := "documents/" + documentID + "/"
	return strings.HasPrefix(key, prefix) && !strings.Contains(key[len(prefix):], "..")
}
