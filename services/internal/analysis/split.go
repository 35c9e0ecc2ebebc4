package analysis

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clause is one unit of a contract: a numbered section, a paragraph or a
// heading with its body. Start and End are byte offsets of the clause's
// source lines in the text given to SplitClauses (End exclusive), so callers
// can map labelled spans or highlights back onto clauses.
type Clause struct {
	Ordinal int    // 1-based position in the document
	Heading string // section heading ("12. Governing Law", "ARTICLE IV INDEMNIFICATION"), or ""
	Text    string // the clause text with whitespace normalised
	Start   int
	End     int
}

// Size limits of a clause, in bytes of normalised text.
const (
	minClauseLen = 40   // shorter fragments are merged into a neighbour
	maxClauseLen = 2400 // longer paragraphs are split at section markers or sentences
	minSplitLen  = 600  // a split never leaves a piece shorter than this
)

var (
	// A line that is only a page number: "3", "- 3 -", "Page 3", "Page 3 of 10", "iv".
	pageNumberRe = regexp.MustCompile(`(?i)^[\s\-–—]*(page\s+)?(\d{1,4}|[ivxlc]{1,6})(\s+of\s+\d{1,4})?[\s\-–—]*$`)
	// EDGAR footers in CUAD documents: "Source: ADAMS GOLF INC, 10-K, 3/21/2005".
	sourceFooterRe = regexp.MustCompile(`^Source:\s.*\d{4}\s*$`)
	// A numbering marker at the start of a line or paragraph.
	markerRe = regexp.MustCompile(`^(?:(?i:section|article|clause|schedule|exhibit|annex|appendix)\s+[0-9IVXLCivxlc]+[A-Za-z]?(?:\.\d+)*[.:]?|\d{1,3}(?:\.\d{1,3})*\.?|\((?:[a-z]{1,2}|[ivxlc]{1,6}|\d{1,3}|[A-Z])\)|[a-zA-Z]\.|[IVXLC]{1,6}\.)(?:\s+|$|["“”A-Z(\[])`)
	// A run-in heading after an optional marker: "1.2 Term. The term ...", "Governing Law: This ...".
	runInHeadingRe = regexp.MustCompile(`^((?:(?i:section|article|clause)\s+[0-9IVXLCivxlc]+(?:\.\d+)*[.:]?\s+|\d{1,3}(?:\.\d{1,3})*\.?\s+|\([a-zA-Z0-9]{1,6}\)\s+|[A-Za-z]\.\s+)?)((?:[A-Z][A-Za-z'’\-/&,]*|of|and|or|the|to|for|in|on|by|a|an|with|upon|not|non|its)(?:\s+(?:[A-Z][A-Za-z'’\-/&,]*|of|and|or|the|to|for|in|on|by|a|an|with|upon|not|non|its)){0,7})\s*[.:]\s+(?:["“(\[]?[A-Z0-9])`)
	sentenceEndRe  = regexp.MustCompile(`[.;:]["”)]?\s+["“(]?[A-Z0-9(]`)
	inlineMarkRe   = regexp.MustCompile(`\s(?:(?:Section|SECTION|Article|ARTICLE)\s+[0-9IVXLC]+(?:\.\d+)*|\d{1,2}\.\d{1,2}(?:\.\d{1,2})?|\([a-z]\)|\([ivx]{1,4}\))\s+["“]?[A-Z]`)
	spaceRe        = regexp.MustCompile(`\s+`)
	underlineRe    = regexp.MustCompile(`(?:^|\s)-{4,}(?:\s|$)`) // underlining artefacts in EDGAR text
	bareSectionRe  = regexp.MustCompile(`^(?i:article|section)\s+[0-9IVXLC]+[.:]?$`)
)

// line is one line of input with its byte range.
type line struct {
	text       string // trimmed
	start, end int
	pageBreak  bool // a form feed preceded this line
}

// block is a run of lines forming a paragraph (before merging/splitting).
type block struct {
	heading   bool
	text      string
	start     int
	end       int
	numbered  bool
	firstLine string
}

// SplitClauses splits contract text into clauses. It accepts the output of
// `pdftotext -layout`, plain text with paragraphs separated by blank lines,
// and DOCX paragraphs joined with blank lines. Page numbers, repeated page
// headers/footers and EDGAR "Source:" footers are dropped; standalone
// headings are attached to the clause that follows them; fragments are
// merged and very long paragraphs are split.
func SplitClauses(text string) []Clause {
	lines := splitLines(text)
	lines = dropFurniture(lines)
	blocks := groupBlocks(lines)
	return assemble(blocks)
}

func splitLines(text string) []line {
	var out []line
	pos := 0
	pageBreak := false
	for pos <= len(text) {
		nl := strings.IndexAny(text[pos:], "\n\f")
		end := len(text)
		if nl >= 0 {
			end = pos + nl
		}
		raw := text[pos:end]
		trimmed := strings.TrimSpace(strings.ReplaceAll(raw, "\r", ""))
		lead := len(raw) - len(strings.TrimLeft(raw, " \t\r"))
		out = append(out, line{text: trimmed, start: pos + lead, end: pos + lead + len(trimmed), pageBreak: pageBreak})
		pageBreak = false
		if nl < 0 {
			break
		}
		if text[end] == '\f' {
			pageBreak = true
		}
		pos = end + 1
	}
	return out
}

// furnitureKey normalises a line for header/footer detection: digits vary
// between pages ("Page 3"), the rest does not.
func furnitureKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsDigit(r):
			b.WriteByte('#')
		case unicode.IsSpace(r):
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// dropFurniture blanks page numbers, EDGAR footers and short lines repeated
// on many pages (running headers and footers).
func dropFurniture(lines []line) []line {
	pages := 1
	for _, l := range lines {
		if l.pageBreak {
			pages++
		}
	}
	counts := map[string]int{}
	for _, l := range lines {
		if l.text != "" && len(l.text) <= 90 {
			counts[furnitureKey(l.text)]++
		}
	}
	repeatMin := 3
	if pages >= 3 && pages/2 > repeatMin {
		repeatMin = pages / 2
	}
	for i := range lines {
		t := lines[i].text
		if t == "" {
			continue
		}
		drop := pageNumberRe.MatchString(t) || sourceFooterRe.MatchString(t)
		if !drop && pages >= 3 && len(t) <= 90 && len(t) >= 6 && !markerRe.MatchString(t) && counts[furnitureKey(t)] >= repeatMin {
			drop = true
		}
		if drop {
			lines[i].text = ""
		}
	}
	return lines
}

// isHeadingLine reports whether a line on its own is a heading: short, with
// mostly upper-case letters, or a bare "ARTICLE IV" / "Section 5" marker.
func isHeadingLine(t string) bool {
	if len(t) == 0 || len(t) > 100 {
		return false
	}
	if bareSectionRe.MatchString(t) {
		return true
	}
	upper, letters := 0, 0
	for _, r := range t {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	if letters < 3 || len(strings.Fields(t)) > 14 {
		return false
	}
	if strings.HasSuffix(t, ",") || strings.HasSuffix(t, ";") {
		return false
	}
	return float64(upper) >= 0.85*float64(letters)
}

func endsSentence(t string) bool {
	t = strings.TrimRight(t, `"”’')] `)
	if t == "" {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(t)
	return strings.ContainsRune(".;:!?", r)
}

// groupBlocks joins lines into paragraphs. A paragraph ends at a blank line,
// before a heading line, before a numbered line that follows a finished
// sentence, and after a line too long to be a wrapped layout line.
func groupBlocks(lines []line) []block {
	var blocks []block
	var cur []line
	flush := func() {
		if len(cur) == 0 {
			return
		}
		blocks = append(blocks, makeBlock(cur, false))
		cur = nil
	}
	for _, l := range lines {
		if l.text == "" {
			flush()
			continue
		}
		// An upper-case line continuing an unfinished sentence is not a heading.
		if isHeadingLine(l.text) && (len(cur) == 0 || endsSentence(cur[len(cur)-1].text)) {
			flush()
			blocks = append(blocks, makeBlock([]line{l}, true))
			continue
		}
		if len(cur) > 0 && markerRe.MatchString(l.text) && endsSentence(cur[len(cur)-1].text) {
			flush()
		}
		cur = append(cur, l)
		if len(l.text) > 250 {
			flush()
		}
	}
	flush()
	return blocks
}

func makeBlock(ls []line, heading bool) block {
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			prev := ls[i-1].text
			if strings.HasSuffix(prev, "-") && len(prev) > 1 && unicode.IsLetter(rune(prev[len(prev)-2])) && startsLower(l.text) {
				// hyphenated line break: "iron-\nwoods" -> "iron-woods"
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(l.text)
	}
	t := normSpace(b.String())
	return block{heading: heading, text: t, start: ls[0].start, end: ls[len(ls)-1].end, numbered: markerRe.MatchString(t), firstLine: ls[0].text}
}

func normSpace(s string) string {
	s = underlineRe.ReplaceAllString(s, " ")
	return strings.TrimSpace(spaceRe.ReplaceAllString(s, " "))
}

func startsLower(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLower(r)
}

// assemble attaches headings, merges fragments and splits long paragraphs.
func assemble(blocks []block) []Clause {
	var out []Clause
	var heading []string
	headingStart := -1
	pendingHeading := func() string {
		h := strings.Join(heading, " ")
		if len(h) > 200 {
			h = h[:200]
		}
		return h
	}
	var frag *Clause // accumulated tiny fragments waiting for a home
	emit := func(c Clause) {
		out = append(out, c)
	}
	for _, b := range blocks {
		if b.heading {
			if frag != nil {
				emit(*frag)
				frag = nil
			}
			if len(heading) == 0 {
				headingStart = b.start
			}
			heading = append(heading, b.text)
			if len(heading) > 2 { // "PART A" / "ARTICLE IV" / "INDEMNIFICATION": keep the two nearest
				heading = heading[len(heading)-2:]
			}
			continue
		}
		c := Clause{Text: b.text, Start: b.start, End: b.end}
		if len(heading) > 0 {
			c.Heading = pendingHeading()
			c.Start = headingStart
			heading = nil
			headingStart = -1
		} else if len(b.text) >= minClauseLen {
			c.Heading = runInHeading(b.text)
		}
		// A paragraph continuing the previous one across a page break.
		if c.Heading == "" && len(out) > 0 && frag == nil && !b.numbered && !endsSentence(out[len(out)-1].Text) {
			last := &out[len(out)-1]
			last.Text += " " + c.Text
			last.End = c.End
			continue
		}
		if len(c.Text) < minClauseLen {
			if frag == nil {
				frag = &c
			} else {
				frag.Text += " " + c.Text
				frag.End = c.End
				if frag.Heading == "" {
					frag.Heading = c.Heading
				}
			}
			continue
		}
		if frag != nil {
			if isBareMarker(frag.Text) || c.Heading == "" && !b.numbered {
				// "(a)" alone, or short lead-in: prepend to this paragraph
				c.Text = frag.Text + " " + c.Text
				c.Start = frag.Start
				if c.Heading == "" {
					c.Heading = frag.Heading
				}
			} else if len(out) > 0 && frag.Heading == "" {
				last := &out[len(out)-1]
				last.Text += " " + frag.Text
				last.End = frag.End
			} else {
				emit(*frag)
			}
			frag = nil
		}
		emit(c)
	}
	if frag != nil {
		if len(out) > 0 && frag.Heading == "" {
			last := &out[len(out)-1]
			last.Text += " " + frag.Text
			last.End = frag.End
		} else {
			emit(*frag)
		}
	}
	if len(heading) > 0 {
		emit(Clause{Heading: pendingHeading(), Text: strings.Join(heading, " "), Start: headingStart, End: blocks[len(blocks)-1].end})
	}
	var final []Clause
	for _, c := range out {
		final = append(final, splitLong(c)...)
	}
	for i := range final {
		final[i].Ordinal = i + 1
	}
	return final
}

func isBareMarker(s string) bool {
	s = strings.TrimSpace(s)
	m := markerRe.FindString(s)
	return m != "" && len(strings.TrimSpace(m)) == len(s)
}

// runInHeading returns the heading of a paragraph that starts with one:
// "12.1 Governing Law. This Agreement ..." -> "12.1 Governing Law".
func runInHeading(t string) string {
	m := runInHeadingRe.FindStringSubmatch(t)
	if m == nil {
		return ""
	}
	title := m[2]
	words := strings.Fields(title)
	if len(words) == 0 || len(title) > 80 || len(title) < 3 {
		return ""
	}
	// Reject sentences that merely start with a capitalised word ("This Agreement: ...").
	switch strings.ToLower(words[0]) {
	case "this", "the", "each", "any", "if", "in", "such", "all", "no", "a", "an", "whereas", "now", "for", "it", "upon", "notwithstanding", "subject", "except":
		if len(words) > 1 || m[1] == "" {
			return ""
		}
	}
	if m[1] == "" && len(words) > 6 {
		return ""
	}
	return normSpace(m[1] + title)
}

// splitLong cuts a clause longer than maxClauseLen into pieces, preferring
// inline section markers, then sentence ends, then spaces.
func splitLong(c Clause) []Clause {
	if len(c.Text) <= maxClauseLen {
		return []Clause{c}
	}
	// Source offsets of the pieces are interpolated: the text is normalised,
	// so positions map back to the source only approximately.
	total := len(c.Text)
	at := func(off int) int { return c.Start + int(int64(off)*int64(c.End-c.Start)/int64(total)) }
	var out []Clause
	text, off := c.Text, 0
	for len(text) > maxClauseLen {
		cut := bestCut(text)
		piece := Clause{Text: strings.TrimSpace(text[:cut]), Start: at(off), End: at(off + cut)}
		if off == 0 {
			piece.Heading = c.Heading
		} else {
			piece.Heading = pieceHeading(piece.Text, c.Heading)
		}
		out = append(out, piece)
		rest := text[cut:]
		trimmed := strings.TrimLeft(rest, " ")
		off += cut + len(rest) - len(trimmed)
		text = trimmed
	}
	return append(out, Clause{Text: text, Start: at(off), End: c.End, Heading: pieceHeading(text, c.Heading)})
}

// pieceHeading is the heading of a piece cut from a long clause: its own
// run-in heading, none if it starts a new numbered item, else the parent's.
func pieceHeading(text, parent string) string {
	if h := runInHeading(text); h != "" {
		return h
	}
	if markerRe.MatchString(text) {
		return ""
	}
	return parent
}

func bestCut(text string) int {
	window := text[:maxClauseLen]
	best := -1
	for _, m := range inlineMarkRe.FindAllStringIndex(window, -1) {
		if m[0] >= minSplitLen && endsSentence(strings.TrimSpace(text[:m[0]])) {
			best = m[0] + 1
		}
	}
	if best > 0 {
		return best
	}
	for _, m := range sentenceEndRe.FindAllStringIndex(window, -1) {
		// cut after the punctuation (and closing quote), before the next sentence
		p := m[0] + 1
		for p < len(text) && (text[p] == '"' || text[p] == ')') {
			p++
		}
		if p >= minSplitLen {
			best = p
		}
	}
	if best > 0 {
		return best
	}
	if i := strings.LastIndexByte(window, ' '); i >= minSplitLen {
		return i
	}
	return maxClauseLen
}
