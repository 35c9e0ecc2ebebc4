package pages

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ParseBBoxLayout reads the XHTML of pdftotext -bbox-layout: pages with
// their size, and the words of each line with their boxes in points.
func ParseBBoxLayout(r io.Reader) ([]SourcePage, error) {
	dec := xml.NewDecoder(r)
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	var (
		pages []SourcePage
		word  *SourceWord
		text  []byte
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return pages, nil
		}
		if err != nil {
			return nil, fmt.Errorf("bbox layout: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "page":
				w, h := attrFloat(t, "width"), attrFloat(t, "height")
				pages = append(pages, SourcePage{Width: w, Height: h})
			case "line":
				if len(pages) == 0 {
					return nil, errors.New("bbox layout: line outside a page")
				}
				p := &pages[len(pages)-1]
				p.Lines = append(p.Lines, SourceLine{})
			case "word":
				word = &SourceWord{X0: attrFloat(t, "xMin"), Y0: attrFloat(t, "yMin"), X1: attrFloat(t, "xMax"), Y1: attrFloat(t, "yMax")}
				text = text[:0]
			}
		case xml.CharData:
			if word != nil {
				text = append(text, t...)
			}
		case xml.EndElement:
			if t.Name.Local != "word" || word == nil {
				continue
			}
			if len(pages) == 0 {
				return nil, errors.New("bbox layout: word outside a page")
			}
			word.Text = string(text)
			p := &pages[len(pages)-1]
			if len(p.Lines) == 0 {
				p.Lines = append(p.Lines, SourceLine{})
			}
			l := &p.Lines[len(p.Lines)-1]
			l.Words = append(l.Words, *word)
			word = nil
		}
	}
}

func attrFloat(se xml.StartElement, name string) float64 {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			f, err := strconv.ParseFloat(a.Value, 64)
			if err == nil {
				return f
			}
		}
	}
	return 0
}
