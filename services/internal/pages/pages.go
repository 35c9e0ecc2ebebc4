// Package pages maps a document's stored text onto its pages, so the UI can
// show a clause (or the passage a fact was read from) highlighted on the
// original page.
//
// The worker stores the text pdftotext -layout extracted (pages separated
// by form feeds) and cites clauses and facts by byte offsets into it. The
// same PDF's word boxes come from pdftotext -bbox-layout: the same words,
// but in reading order (flows, blocks) rather than the printed order of the
// layout text. Align pairs every word of the text with its box: bbox lines
// are first put into rows (top to bottom, then left to right, as -layout
// prints them), then the two word sequences are matched with a diff that
// tolerates the few words the two modes split or order differently.
// Highlight turns a byte range into one rectangle per line on each page.
//
// Everything here is pure: parsing, alignment and highlighting are tested
// without a PDF tool; the worker runs the tools and stores the result.
package pages

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Box is a rectangle in fractions of the page (0..1, origin top left).
type Box struct {
	X0 float64 `json:"x0"`
	Y0 float64 `json:"y0"`
	X1 float64 `json:"x1"`
	Y1 float64 `json:"y1"`
}

// Word is one word of a page: its bytes in the document text, its box and
// the line it belongs to (words of one line are highlighted as one box).
type Word struct {
	Start, End int
	Box        Box
	Line       int
}

// MarshalJSON writes a word as [start, end, x0, y0, x1, y1, line]: a page
// holds hundreds of words.
func (w Word) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{w.Start, w.End, round4(w.Box.X0), round4(w.Box.Y0), round4(w.Box.X1), round4(w.Box.Y1), w.Line})
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (w *Word) UnmarshalJSON(b []byte) error {
	var a []float64
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	if len(a) != 7 {
		return fmt.Errorf("word: %d fields, want 7", len(a))
	}
	*w = Word{Start: int(a[0]), End: int(a[1]), Box: Box{a[2], a[3], a[4], a[5]}, Line: int(a[6])}
	return nil
}

func round4(f float64) float64 { return math.Round(f*10000) / 10000 }

// Page is one page of a document.
type Page struct {
	Number int `json:"number"` // 1-based
	// Width and Height are the page's size in the units of its source
	// (PDF points); the image's own pixel size is in Image.
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	// TextStart and TextEnd are the page's bytes in the document text.
	TextStart int `json:"text_start"`
	TextEnd   int `json:"text_end"`
	// Words are the page's words with boxes; nil when the page has none
	// (a scanned page read by OCR, or boxes that could not be read).
	Words []Word `json:"words,omitempty"`
}

// SourceWord is a word as a layout tool reports it, in page units.
type SourceWord struct {
	Text           string
	X0, Y0, X1, Y1 float64
}

// SourceLine is a line of words as the tool reports it.
type SourceLine struct {
	Words []SourceWord
}

// SourcePage is a page as the tool reports it, lines in the tool's order.
type SourcePage struct {
	Width, Height float64
	Lines         []SourceLine
}

// TextRanges returns the byte range of each page of text: pages are
// separated by form feeds.
func TextRanges(text string) [][2]int {
	var out [][2]int
	start := 0
	for i := 0; i < len(text); i++ {
		if text[i] == '\f' {
			out = append(out, [2]int{start, i})
			start = i + 1
		}
	}
	return append(out, [2]int{start, len(text)})
}

// PageOf returns the 1-based page holding byte off of text.
func PageOf(text string, off int) int {
	off = min(max(off, 0), len(text))
	return 1 + strings.Count(text[:off], "\f")
}

// Align pairs the words of text (the stored document text, pages separated
// by form feeds) with the word boxes of src, page by page. Pages beyond
// either side's count get no words.
func Align(text string, src []SourcePage) []Page {
	ranges := TextRanges(text)
	out := make([]Page, 0, max(len(ranges), len(src)))
	for i := 0; i < max(len(ranges), len(src)); i++ {
		p := Page{Number: i + 1}
		if i < len(ranges) {
			p.TextStart, p.TextEnd = ranges[i][0], ranges[i][1]
		} else {
			p.TextStart, p.TextEnd = len(text), len(text)
		}
		if i < len(src) {
			p.Width, p.Height = src[i].Width, src[i].Height
			if i < len(ranges) && p.Width > 0 && p.Height > 0 {
				p.Words, _ = alignPage(text, p.TextStart, p.TextEnd, src[i])
			}
		}
		out = append(out, p)
	}
	return out
}

// token is a whitespace-separated word of the text.
type token struct {
	start, end int
	key        string
}

func tokenize(text string, start, end int) []token {
	var out []token
	i := start
	for i < end {
		r, n := utf8.DecodeRuneInString(text[i:end])
		if unicode.IsSpace(r) {
			i += n
			continue
		}
		j := i
		for j < end {
			r, n := utf8.DecodeRuneInString(text[j:end])
			if unicode.IsSpace(r) {
				break
			}
			j += n
		}
		out = append(out, token{start: i, end: j, key: text[i:j]})
		i = j
	}
	return out
}

// placed is a source word in printed order with its line id.
type placed struct {
	SourceWord
	line int
}

// printedOrder orders a page's lines as pdftotext -layout prints them:
// rows top to bottom (lines whose vertical middles fall within half a line
// height of each other share a row), each row left to right. Words keep
// their order within a line.
func printedOrder(p SourcePage) []placed {
	type ln struct {
		id         int
		x0, y0, y1 float64
		words      []SourceWord
	}
	var lines []ln
	for i, l := range p.Lines {
		if len(l.Words) == 0 {
			continue
		}
		x := ln{id: i, x0: math.Inf(1), y0: math.Inf(1), y1: math.Inf(-1), words: l.Words}
		for _, w := range l.Words {
			x.x0, x.y0, x.y1 = min(x.x0, w.X0), min(x.y0, w.Y0), max(x.y1, w.Y1)
		}
		lines = append(lines, x)
	}
	mid := func(l ln) float64 { return (l.y0 + l.y1) / 2 }
	sort.SliceStable(lines, func(i, j int) bool { return mid(lines[i]) < mid(lines[j]) })
	var out []placed
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && mid(lines[j])-mid(lines[i]) <= (lines[i].y1-lines[i].y0)/2 {
			j++
		}
		row := lines[i:j]
		sort.SliceStable(row, func(a, b int) bool { return row[a].x0 < row[b].x0 })
		for _, l := range row {
			for _, w := range l.words {
				out = append(out, placed{w, l.id})
			}
		}
		i = j
	}
	return out
}

// lookahead bounds how far the diff looks for a resynchronising word.
const lookahead = 40

// alignPage returns the page's words with boxes, and how many of them
// were paired with a box of the identical word.
func alignPage(text string, start, end int, src SourcePage) (out []Word, exact int) {
	toks := tokenize(text, start, end)
	words := printedOrder(src)
	box := func(w placed) Box {
		clamp := func(f float64) float64 { return min(max(f, 0), 1) }
		return Box{clamp(w.X0 / src.Width), clamp(w.Y0 / src.Height), clamp(w.X1 / src.Width), clamp(w.Y1 / src.Height)}
	}
	match := func(i, j int) {
		out = append(out, Word{Start: toks[i].start, End: toks[i].end, Box: box(words[j]), Line: words[j].line})
		if toks[i].key == words[j].Text {
			exact++
		}
	}
	// agree reports whether the sequences agree at i, j and on the next
	// word too (a lone common word such as "the" does not resynchronise).
	agree := func(i, j int) bool {
		if i >= len(toks) || j >= len(words) || toks[i].key != words[j].Text {
			return false
		}
		return i+1 >= len(toks) || j+1 >= len(words) || toks[i+1].key == words[j+1].Text
	}
	i, j := 0, 0
	for i < len(toks) && j < len(words) {
		if toks[i].key == words[j].Text {
			match(i, j)
			i, j = i+1, j+1
			continue
		}
		skipped := false
		for k := 1; k <= lookahead && !skipped; k++ {
			switch {
			case agree(i, j+k): // words the text lacks
				j, skipped = j+k, true
			case agree(i+k, j): // words the boxes lack
				i, skipped = i+k, true
			}
		}
		if !skipped {
			// The same place, written differently (a ligature, a split
			// word): the position is still the best guess of the box.
			match(i, j)
			i, j = i+1, j+1
		}
	}
	return out, exact
}

// Highlight is the part of a byte range on one page.
type Highlight struct {
	Page  int   `json:"page"`
	Boxes []Box `json:"boxes"`
}

// Highlights returns, for each page that holds some of text[start:end],
// one box per line covering the range's words on that line. Pages without
// word boxes are listed with no boxes, so the caller still knows the page.
func Highlights(pages []Page, start, end int) []Highlight {
	if start >= end {
		return nil
	}
	var out []Highlight
	for _, p := range pages {
		if p.TextEnd <= start || p.TextStart >= end {
			continue
		}
		h := Highlight{Page: p.Number, Boxes: []Box{}}
		lineBox := map[int]int{} // line -> index in h.Boxes
		for _, w := range p.Words {
			if w.End <= start || w.Start >= end {
				continue
			}
			k, ok := lineBox[w.Line]
			if !ok {
				lineBox[w.Line] = len(h.Boxes)
				h.Boxes = append(h.Boxes, w.Box)
				continue
			}
			b := &h.Boxes[k]
			b.X0, b.Y0, b.X1, b.Y1 = min(b.X0, w.Box.X0), min(b.Y0, w.Box.Y0), max(b.X1, w.Box.X1), max(b.Y1, w.Box.Y1)
		}
		out = append(out, h)
	}
	return out
}
