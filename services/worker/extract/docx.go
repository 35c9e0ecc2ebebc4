package extract

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Bounds on DOCX archives, against zip bombs and absurd documents.
const (
	docxMaxEntries   = 10000
	docxMaxPartBytes = 64 << 20 // uncompressed size of one XML part we read
	docxMaxRatio     = 200      // uncompressed/compressed for a part we read
)

// docx extracts the body text of a Word document: paragraphs in order,
// tables row by row (cells separated by " | "), list items prefixed with
// their number rebuilt from numbering.xml (the number is not stored in the
// text, Word computes it).
func (x *Extractor) docx(path string) (*Result, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, permanent(MsgCorruptDOCX, fmt.Errorf("open zip: %w", err))
	}
	defer zr.Close()
	if len(zr.File) > docxMaxEntries {
		return nil, permanent(MsgCorruptDOCX, fmt.Errorf("%d zip entries", len(zr.File)))
	}
	parts := map[string]*zip.File{}
	for _, f := range zr.File {
		parts[f.Name] = f
	}
	body, ok := parts["word/document.xml"]
	if !ok {
		return nil, permanent(MsgCorruptDOCX, errors.New("no word/document.xml"))
	}
	num := newNumbering()
	if f, ok := parts["word/numbering.xml"]; ok {
		if err := readPart(f, num.parseNumbering); err != nil {
			return nil, err
		}
	}
	if f, ok := parts["word/styles.xml"]; ok {
		if err := readPart(f, num.parseStyles); err != nil {
			return nil, err
		}
	}
	var w docxWriter
	w.num = num
	w.max = x.opts.MaxTextBytes
	if err := readPart(body, w.parseBody); err != nil {
		return nil, err
	}
	text := w.out.String()
	return &Result{Text: text, Pages: 1 + strings.Count(text, "\f"), Method: MethodDOCX}, nil
}

func readPart(f *zip.File, parse func(*xml.Decoder) error) error {
	if f.UncompressedSize64 > docxMaxPartBytes {
		return permanent(MsgTooLarge, fmt.Errorf("%s is %d bytes", f.Name, f.UncompressedSize64))
	}
	if f.CompressedSize64 > 0 && f.UncompressedSize64/f.CompressedSize64 > docxMaxRatio && f.UncompressedSize64 > 1<<20 {
		return permanent(MsgCorruptDOCX, fmt.Errorf("%s: suspicious compression ratio", f.Name))
	}
	rc, err := f.Open()
	if err != nil {
		return permanent(MsgCorruptDOCX, fmt.Errorf("open %s: %w", f.Name, err))
	}
	defer rc.Close()
	// The declared size can lie: bound what is actually read too.
	lr := &io.LimitedReader{R: rc, N: docxMaxPartBytes + 1}
	dec := xml.NewDecoder(lr)
	dec.Strict = false
	if err := parse(dec); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return permanent(MsgCorruptDOCX, fmt.Errorf("parse %s: %w", f.Name, err))
	}
	if lr.N <= 0 {
		return permanent(MsgTooLarge, fmt.Errorf("%s larger than declared", f.Name))
	}
	return nil
}

// numbering holds the list definitions of numbering.xml and the running
// counters while the body is read.
type numbering struct {
	abstract map[string]map[int]*numLevel // abstractNumId -> ilvl -> level
	nums     map[string]numInstance       // numId -> instance
	styles   map[string]numRef            // paragraph styleId -> numbering
	counters map[string][]int             // abstractNumId -> counter per level
	started  map[string]bool              // numId seen (for startOverride)
}

type numLevel struct {
	start  int
	format string // decimal, lowerLetter, upperLetter, lowerRoman, upperRoman, bullet, none, ...
	text   string // e.g. "%1.%2."
}

type numInstance struct {
	abstractID string
	overrides  map[int]int // ilvl -> start override
}

type numRef struct {
	numID string
	ilvl  int
}

func newNumbering() *numbering {
	return &numbering{
		abstract: map[string]map[int]*numLevel{},
		nums:     map[string]numInstance{},
		styles:   map[string]numRef{},
		counters: map[string][]int{},
		started:  map[string]bool{},
	}
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// eachToken calls f for every token of an XML part until its end or f's
// first error.
func eachToken(dec *xml.Decoder, f func(xml.Token) error) error {
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := f(tok); err != nil {
			return err
		}
	}
}

func (n *numbering) parseNumbering(dec *xml.Decoder) error {
	var (
		curAbs  map[int]*numLevel
		curLvl  *numLevel
		curNum  *numInstance
		curNID  string
		ovrLvl  = -1
		inAbsID string
	)
	return eachToken(dec, func(tok xml.Token) error {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "abstractNum":
				inAbsID = attr(t, "abstractNumId")
				curAbs = map[int]*numLevel{}
				n.abstract[inAbsID] = curAbs
			case "lvl":
				if curAbs != nil {
					ilvl, _ := strconv.Atoi(attr(t, "ilvl"))
					curLvl = &numLevel{start: 1, format: "decimal"}
					curAbs[ilvl] = curLvl
				}
			case "start":
				if curLvl != nil {
					if v, err := strconv.Atoi(attr(t, "val")); err == nil {
						curLvl.start = v
					}
				}
			case "numFmt":
				if curLvl != nil {
					curLvl.format = attr(t, "val")
				}
			case "lvlText":
				if curLvl != nil {
					curLvl.text = attr(t, "val")
				}
			case "num":
				curNID = attr(t, "numId")
				curNum = &numInstance{overrides: map[int]int{}}
			case "abstractNumId":
				if curNum != nil {
					curNum.abstractID = attr(t, "val")
				}
			case "lvlOverride":
				ovrLvl, _ = strconv.Atoi(attr(t, "ilvl"))
			case "startOverride":
				if curNum != nil && ovrLvl >= 0 {
					if v, err := strconv.Atoi(attr(t, "val")); err == nil {
						curNum.overrides[ovrLvl] = v
					}
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "abstractNum":
				curAbs, inAbsID = nil, ""
			case "lvl":
				curLvl = nil
			case "num":
				if curNum != nil {
					n.nums[curNID] = *curNum
				}
				curNum = nil
			case "lvlOverride":
				ovrLvl = -1
			}
		}
		return nil
	})
}

func (n *numbering) parseStyles(dec *xml.Decoder) error {
	var (
		styleID string
		ref     numRef
	)
	return eachToken(dec, func(tok xml.Token) error {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "style":
				styleID, ref = attr(t, "styleId"), numRef{}
			case "numId":
				ref.numID = attr(t, "val")
			case "ilvl":
				ref.ilvl, _ = strconv.Atoi(attr(t, "val"))
			}
		case xml.EndElement:
			if t.Name.Local == "style" && styleID != "" && ref.numID != "" {
				n.styles[styleID] = ref
			}
		}
		return nil
	})
}

// label advances the counters of list numID at level ilvl and returns the
// rendered number (e.g. "2.1." or "(b)"), or "" for bullets and unknown lists.
func (n *numbering) label(numID string, ilvl int) string {
	inst, ok := n.nums[numID]
	if !ok || numID == "0" {
		return ""
	}
	levels := n.abstract[inst.abstractID]
	if levels == nil || levels[ilvl] == nil || ilvl < 0 || ilvl > 8 {
		return ""
	}
	key := inst.abstractID
	c := n.counters[key]
	if c == nil {
		c = make([]int, 9)
		for i := range c {
			c[i] = -1
		}
		n.counters[key] = c
	}
	if !n.started[numID] {
		// A num with start overrides restarts its levels the first time it is used.
		n.started[numID] = true
		for l, v := range inst.overrides {
			if l >= 0 && l < 9 {
				c[l] = v - 1
			}
		}
	}
	start := func(l int) int {
		if lv := levels[l]; lv != nil {
			return lv.start
		}
		return 1
	}
	if c[ilvl] < 0 {
		c[ilvl] = start(ilvl)
	} else {
		c[ilvl]++
	}
	for l := ilvl + 1; l < 9; l++ {
		c[l] = -1
	}
	lv := levels[ilvl]
	if lv.format == "bullet" || lv.format == "none" {
		return ""
	}
	text := lv.text
	if text == "" {
		text = "%" + strconv.Itoa(ilvl+1) + "."
	}
	for l := 0; l <= ilvl; l++ {
		ph := "%" + strconv.Itoa(l+1)
		if !strings.Contains(text, ph) {
			continue
		}
		v := c[l]
		if v < 0 {
			v = start(l)
		}
		format := "decimal"
		if levels[l] != nil {
			format = levels[l].format
		}
		text = strings.ReplaceAll(text, ph, formatNumber(v, format))
	}
	return text
}

func formatNumber(v int, format string) string {
	switch format {
	case "lowerLetter":
		return letters(v)
	case "upperLetter":
		return strings.ToUpper(letters(v))
	case "lowerRoman":
		return strings.ToLower(roman(v))
	case "upperRoman":
		return roman(v)
	case "decimalZero":
		if v < 10 {
			return "0" + strconv.Itoa(v)
		}
	}
	return strconv.Itoa(v)
}

// letters renders 1 -> a, 26 -> z, 27 -> aa (Word's scheme repeats the letter).
func letters(v int) string {
	if v <= 0 {
		return strconv.Itoa(v)
	}
	ch := byte('a' + (v-1)%26)
	return strings.Repeat(string(ch), (v-1)/26+1)
}

func roman(v int) string {
	if v <= 0 || v >= 4000 {
		return strconv.Itoa(v)
	}
	vals := []int{1000, 900, 500, 400, 100, 90, 50, 40, 10, 9, 5, 4, 1}
	syms := []string{"M", "CM", "D", "CD", "C", "XC", "L", "XL", "X", "IX", "V", "IV", "I"}
	var b strings.Builder
	for i, val := range vals {
		for v >= val {
			b.WriteString(syms[i])
			v -= val
		}
	}
	return b.String()
}

// docxWriter walks word/document.xml and writes text.
type docxWriter struct {
	num   *numbering
	max   int
	out   strings.Builder
	size  int                // bytes written anywhere, for the bound
	cells []*strings.Builder // open table cells, innermost last
	rows  [][]string         // open table rows, innermost last
}

// cur is where text goes now: the innermost open cell, or the document.
func (w *docxWriter) cur() *strings.Builder {
	if n := len(w.cells); n > 0 {
		return w.cells[n-1]
	}
	return &w.out
}

func (w *docxWriter) write(s string) {
	w.size += len(s)
	w.cur().WriteString(s)
}

func (w *docxWriter) parseBody(dec *xml.Decoder) error {
	var (
		para     strings.Builder
		inPara   int // nesting depth of w:p (text boxes can nest paragraphs)
		inText   bool
		inPPr    bool
		pStyle   string
		numID    string
		ilvl     int
		hasNumPr bool
		inDel    int
	)
	flushPara := func() {
		text := strings.TrimSpace(para.String())
		para.Reset()
		ref := numRef{numID: numID, ilvl: ilvl}
		if !hasNumPr && pStyle != "" {
			if r, ok := w.num.styles[pStyle]; ok {
				ref, hasNumPr = r, true
			}
		}
		label := ""
		if hasNumPr && ref.numID != "" {
			label = w.num.label(ref.numID, ref.ilvl)
		}
		if label != "" {
			text = strings.TrimSpace(label + " " + text)
		}
		if len(w.cells) > 0 {
			if text != "" {
				if w.cur().Len() > 0 {
					w.write(" ")
				}
				w.write(text)
			}
			return
		}
		if text == "" {
			w.write("\n")
			return
		}
		w.write(text)
		w.write("\n\n")
	}
	return eachToken(dec, func(tok xml.Token) error {
		if w.size+para.Len() > w.max {
			return permanent(MsgTooLarge, errors.New("DOCX text exceeds limit"))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "p":
				inPara++
				if inPara == 1 {
					pStyle, numID, ilvl, hasNumPr = "", "", 0, false
				}
			case "pPr":
				inPPr = true
			case "pStyle":
				if inPPr {
					pStyle = attr(t, "val")
				}
			case "numPr":
				if inPPr {
					hasNumPr = true
				}
			case "numId":
				if inPPr {
					numID = attr(t, "val")
				}
			case "ilvl":
				if inPPr {
					ilvl, _ = strconv.Atoi(attr(t, "val"))
				}
			case "t":
				inText = inDel == 0
			case "delText", "del":
				inDel++
			case "tab":
				if inPara > 0 && !inPPr {
					para.WriteString("\t")
				}
			case "br", "cr":
				if inPara > 0 {
					if attr(t, "type") == "page" && len(w.cells) == 0 {
						para.WriteString("\f")
					} else {
						para.WriteString("\n")
					}
				}
			case "tr":
				w.rows = append(w.rows, nil)
			case "tc":
				w.cells = append(w.cells, &strings.Builder{})
			}
		case xml.CharData:
			if inText {
				para.Write(t)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "delText", "del":
				if inDel > 0 {
					inDel--
				}
			case "pPr":
				inPPr = false
			case "p":
				inPara--
				if inPara == 0 {
					flushPara()
				}
			case "tc":
				if n := len(w.cells); n > 0 {
					cell := strings.Join(strings.Fields(w.cells[n-1].String()), " ")
					w.cells = w.cells[:n-1]
					if r := len(w.rows); r > 0 {
						w.rows[r-1] = append(w.rows[r-1], cell)
					}
				}
			case "tr":
				if n := len(w.rows); n > 0 {
					row := w.rows[n-1]
					w.rows = w.rows[:n-1]
					if len(w.cells) > 0 {
						w.write(" " + strings.Join(row, " | ") + " ")
					} else {
						w.write(strings.Join(row, " | ") + "\n")
					}
				}
			case "tbl":
				if len(w.cells) == 0 {
					w.write("\n")
				}
			}
		}
		return nil
	})
}
