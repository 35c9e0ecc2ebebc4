package analysis

import (
	"sort"
	"strings"
	"unicode"
)

// Source is where a fact was read: byte offsets into the text given to
// ExtractFacts (End exclusive; text[Start:End] is the cited passage), the
// 1-based page when the text has form feeds (pdftotext's page breaks; 0
// otherwise), and the passage itself (text[Start:End] with whitespace
// collapsed; a page number or running footer inside it stays).
type Source struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Page  int    `json:"page,omitempty"`
	Text  string `json:"text"`
}

// factDoc is a document prepared for the fact rules: the text with
// furniture blanked out (offsets unchanged) and a whitespace-collapsed
// copy whose every byte maps back to an offset of the original, so rules
// can match across line breaks and still cite the original text.
type factDoc struct {
	raw   string
	norm  string
	pos   []int // norm byte -> raw offset
	pages bool
}

func newFactDoc(text string) *factDoc {
	d := &factDoc{raw: text, pages: strings.Contains(text, "\f")}
	d.norm, d.pos = collapseSpace(blankFurniture(text))
	return d
}

// collapseSpace replaces whitespace runs by one space and returns, for each
// byte of the result, its offset in s.
func collapseSpace(s string) (string, []int) {
	var b strings.Builder
	b.Grow(len(s))
	pos := make([]int, 0, len(s))
	space := false
	for i, r := range s {
		if unicode.IsSpace(r) {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
				pos = append(pos, i)
			}
			space = true
			continue
		}
		space = false
		n := b.Len()
		b.WriteRune(r)
		for j := n; j < b.Len(); j++ {
			pos = append(pos, i+(j-n))
		}
	}
	return b.String(), pos
}

// rawRange maps a range of norm to the original text.
func (d *factDoc) rawRange(a, b int) (int, int) {
	if a >= b || a < 0 || b > len(d.pos) {
		return 0, 0
	}
	return d.pos[a], d.pos[b-1] + 1
}

// normAt is the norm offset of the first byte at or after raw offset off.
func (d *factDoc) normAt(off int) int { return sort.SearchInts(d.pos, off) }

// source cites norm[a:b].
func (d *factDoc) source(a, b int) *Source {
	s, e := d.rawRange(a, b)
	if s == e {
		return nil
	}
	out := &Source{Start: s, End: e, Text: strings.Join(strings.Fields(d.raw[s:e]), " ")}
	if d.pages {
		out.Page = 1 + strings.Count(d.raw[:s], "\f")
	}
	return out
}

// sentenceAround returns the norm range of the sentence holding norm[a:b]
// (bounded to 600 bytes either side), for citing a fact with its context.
func (d *factDoc) sentenceAround(a, b int) (int, int) {
	lo := max(0, a-600)
	s := lo
	for i := a - 1; i >= lo; i-- {
		if c := d.norm[i]; (c == '.' || c == ';') && i+1 < len(d.norm) && d.norm[i+1] == ' ' && !abbrevBefore(d.norm, i) {
			s = i + 2
			break
		}
	}
	hi := min(len(d.norm), b+600)
	e := hi
	for i := b; i < hi; i++ {
		if c := d.norm[i]; (c == '.' || c == ';') && (i+1 == len(d.norm) || d.norm[i+1] == ' ') && !abbrevBefore(d.norm, i) {
			e = i + 1
			break
		}
	}
	return s, e
}

// abbrevBefore reports whether the dot at i ends an abbreviation ("Inc.",
// "No.", "U.S.") rather than a sentence.
func abbrevBefore(s string, i int) bool {
	j := i
	for j > 0 && s[j-1] != ' ' {
		j--
	}
	w := strings.ToLower(s[j:i])
	switch w {
	case "inc", "ltd", "co", "corp", "no", "n.a", "l.p", "u.s", "s.a", "b.v", "mr", "ms", "dr", "st", "sec", "art", "e.g", "i.e", "etc", "u.s.a", "l.l.c", "p.c", "n.v", "ag", "s.r.l", "jr", "sr", "vs":
		return true
	}
	return len(w) == 1
}

// blankFurniture replaces page numbers and EDGAR "Source:" footers with
// spaces (their dates would otherwise be read as contract dates), keeping
// every other byte where it was.
func blankFurniture(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	for rest := text; rest != ""; {
		i := strings.IndexByte(rest, '\n')
		l := rest
		if i >= 0 {
			l, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = ""
		}
		t := strings.TrimSpace(strings.Trim(l, "\f"))
		if sourceFooterRe.MatchString(t) || (t != "" && pageNumberRe.MatchString(t)) {
			for _, r := range l {
				if r == '\n' || r == '\f' {
					b.WriteRune(r)
				} else {
					b.WriteString(strings.Repeat(" ", len(string(r))))
				}
			}
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}
