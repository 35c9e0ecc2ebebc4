package pages

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/worker/extract"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

const sampleBBox = `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd"><html xmlns="http://www.w3.org/1999/xhtml">
<head><title></title></head>
<body><doc>
  <page width="600.000000" height="800.000000">
    <flow><block xMin="0" yMin="0" xMax="1" yMax="1">
      <line xMin="60" yMin="100" xMax="200" yMax="110">
        <word xMin="60.000000" yMin="100.000000" xMax="90.000000" yMax="110.000000">Smith</word>
        <word xMin="95.000000" yMin="100.000000" xMax="110.000000" yMax="110.000000">&amp;</word>
        <word xMin="115.000000" yMin="100.000000" xMax="200.000000" yMax="110.000000">Jones</word>
      </line>
    </block></flow>
  </page>
  <page width="300" height="400"></page>
</doc></body></html>`

func TestParseBBoxLayout(t *testing.T) {
	got, err := ParseBBoxLayout(strings.NewReader(sampleBBox))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Width != 600 || got[0].Height != 800 || got[1].Width != 300 || len(got[1].Lines) != 0 {
		t.Fatalf("pages: %+v", got)
	}
	words := got[0].Lines[0].Words
	if len(words) != 3 || words[1].Text != "&" || words[2].X1 != 200 || words[0].Y0 != 100 {
		t.Fatalf("words: %+v", words)
	}
	if _, err := ParseBBoxLayout(strings.NewReader(`<word xMin="1">x</word>`)); err == nil {
		t.Fatal("a word outside a page was accepted")
	}
}

// line builds a bbox line of words 10 units wide starting at x, at height y.
func line(x, y float64, words ...string) SourceLine {
	var l SourceLine
	for _, w := range words {
		l.Words = append(l.Words, SourceWord{Text: w, X0: x, Y0: y, X1: x + 10, Y1: y + 8})
		x += 12
	}
	return l
}

// boxOf returns the box aligned to the n-th occurrence of word in text.
func boxOf(t *testing.T, text string, words []Word, word string, n int) Box {
	t.Helper()
	for _, w := range words {
		if text[w.Start:w.End] == word {
			if n == 0 {
				return w.Box
			}
			n--
		}
	}
	t.Fatalf("%q has no box", word)
	return Box{}
}

// Two columns: -layout prints them side by side, -bbox-layout column by
// column. Every word still gets its own box.
func TestAlignFollowsThePrintedOrder(t *testing.T) {
	text := "Alpha beta      Gamma delta\nepsilon zeta    eta theta\fsecond page"
	src := []SourcePage{{Width: 100, Height: 100, Lines: []SourceLine{
		line(0, 10, "Alpha", "beta"), line(0, 20, "epsilon", "zeta"), // left column
		line(50, 10, "Gamma", "delta"), line(50, 20, "eta", "theta"), // right column
	}}}
	pages := Align(text, src)
	if len(pages) != 2 || pages[1].Words != nil || pages[1].TextStart != strings.IndexByte(text, '\f')+1 {
		t.Fatalf("pages: %+v", pages)
	}
	words := pages[0].Words
	if len(words) != 8 {
		t.Fatalf("%d words aligned, want 8", len(words))
	}
	for word, want := range map[string]Box{
		"Alpha": {0, .1, .1, .18}, "Gamma": {.5, .1, .6, .18}, "zeta": {.12, .2, .22, .28}, "theta": {.62, .2, .72, .28},
	} {
		if got := boxOf(t, text, words, word, 0); got != want {
			t.Errorf("%s: box %+v, want %+v", word, got, want)
		}
	}
	if _, exact := alignPage(text, pages[0].TextStart, pages[0].TextEnd, src[0]); exact != 8 {
		t.Errorf("%d exact pairs, want 8", exact)
	}
}

// Words only one side has (a running header in the boxes, a hyphenation
// the text joined) do not shift the words after them.
func TestAlignResynchronises(t *testing.T) {
	text := "the party of the first part shall pay the other party"
	src := []SourcePage{{Width: 100, Height: 100, Lines: []SourceLine{
		line(0, 0, "CONFIDENTIAL"),
		line(0, 10, "the", "party", "of", "the", "first", "part", "sh-", "all", "pay"),
		line(0, 20, "the", "other", "party"),
	}}}
	words := Align(text, src)[0].Words
	if got := boxOf(t, text, words, "pay", 0); got != (Box{.96, .1, 1, .18}) { // clamped to the page
		t.Errorf("pay: %+v", got)
	}
	if got := boxOf(t, text, words, "the", 2); got.Y0 != .2 || got.X0 != 0 {
		t.Errorf("third 'the': %+v, want the start of the last line", got)
	}
	if got := boxOf(t, text, words, "party", 1); got.Y0 != .2 {
		t.Errorf("last 'party': %+v", got)
	}
}

func TestHighlightsOneBoxPerLine(t *testing.T) {
	text := "one two three\nfour five\fsix seven"
	src := []SourcePage{
		{Width: 100, Height: 100, Lines: []SourceLine{line(0, 0, "one", "two", "three"), line(0, 10, "four", "five")}},
		{Width: 100, Height: 100, Lines: []SourceLine{line(0, 0, "six", "seven")}},
	}
	pages := Align(text, src)
	start := strings.Index(text, "two")
	end := strings.Index(text, "six") + len("six")
	got := Highlights(pages, start, end)
	if len(got) != 2 || got[0].Page != 1 || got[1].Page != 2 {
		t.Fatalf("highlights: %+v", got)
	}
	if len(got[0].Boxes) != 2 || got[0].Boxes[0] != (Box{.12, 0, .34, .08}) || got[0].Boxes[1] != (Box{0, .1, .22, .18}) {
		t.Errorf("page 1 boxes: %+v", got[0].Boxes)
	}
	if len(got[1].Boxes) != 1 || got[1].Boxes[0] != (Box{0, 0, .1, .08}) {
		t.Errorf("page 2 boxes: %+v", got[1].Boxes)
	}
	if h := Highlights(pages, end+1, len(text)); len(h) != 1 || h[0].Page != 2 || len(h[0].Boxes) != 1 {
		t.Errorf("a range inside page 2: %+v", h)
	}
	if h := Highlights(pages, 3, 3); len(h) != 0 {
		t.Errorf("an empty range: %+v", h)
	}
	if PageOf(text, end) != 2 || PageOf(text, 0) != 1 || PageOf(text, len(text)+5) != 2 {
		t.Error("PageOf")
	}
}

func TestWordJSONRoundTrip(t *testing.T) {
	p := Page{Number: 3, Width: 612, Height: 792, TextStart: 10, TextEnd: 20,
		Words: []Word{{Start: 10, End: 14, Box: Box{.123456, .2, .3, .4}, Line: 2}}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"words":[[10,14,0.1235,0.2,0.3,0.4,2]]`)) {
		t.Fatalf("compact form: %s", b)
	}
	var back Page
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Words[0].Box.X0 != .1235 || back.Words[0].Line != 2 || back.TextEnd != 20 {
		t.Fatalf("round trip: %+v", back)
	}
}

// On the 40 CUAD PDFs, the text the worker stores (extract, pdftotext
// -layout) and the boxes of pdftotext -bbox-layout pair almost every word
// with a box of the identical word.
func TestAlignPairsTheWordsOfRealContracts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs pdftotext on 40 contracts")
	}
	dir, err := fixtures.CUADDir()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "pdf", "*.pdf"))
	if err != nil || len(files) < 40 {
		t.Fatalf("CUAD PDFs: %d %v", len(files), err)
	}
	x := extract.New(extract.Options{})
	var tokens, paired, exact, pagesN, pagesAll int
	for _, f := range files {
		res, err := x.Extract(context.Background(), f, "pdf")
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		if res.Method != extract.MethodPDFText {
			continue // a scan: no boxes to pair
		}
		out, err := exec.Command("pdftotext", "-bbox-layout", "-enc", "UTF-8", f, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		src, err := ParseBBoxLayout(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		ranges := TextRanges(res.Text)
		if len(ranges) != len(src) {
			t.Errorf("%s: %d text pages, %d box pages", filepath.Base(f), len(ranges), len(src))
			continue
		}
		for i, r := range ranges {
			n := len(tokenize(res.Text, r[0], r[1]))
			words, ex := alignPage(res.Text, r[0], r[1], src[i])
			tokens += n
			paired += len(words)
			exact += ex
			pagesAll++
			if ex == n {
				pagesN++
			}
		}
	}
	t.Logf("%d words on %d pages: %d with a box (%.3f%%), %d with the identical word's box (%.3f%%); %d pages fully exact",
		tokens, pagesAll, paired, 100*float64(paired)/float64(tokens), exact, 100*float64(exact)/float64(tokens), pagesN)
	if float64(exact) < 0.995*float64(tokens) {
		t.Fatalf("only %d of %d words paired with their own box", exact, tokens)
	}
}
