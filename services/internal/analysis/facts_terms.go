package analysis

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	// "effective as of July 1, 2020", "effective on", "commence on", "Effective Date: ..."
	effectiveOnRe = regexp.MustCompile(`(?i)\b(?:effective|commenc\w*|begin\w*|come\s+into\s+force|take\s+effect)\s+(?:date\s+)?(?:as\s+of|on|from|upon|at|is|shall\s+be|will\s+be)?\s*(?:the\s+)?(?:date\s+of\s+)?`)
	// `(the "Effective Date")`, "Effective Date" means ...
	effectiveDefRe   = regexp.MustCompile(`(?i)["“(]\s*(?:the\s+)?["“]?effective\s+date["”]?\s*["”)]|["“]effective\s+date["”]\s*(?:shall\s+)?(?:means?|shall\s+mean|is|will\s+be|shall\s+be)\b|\beffective\s+date\s*[:：]`)
	blankDayOfRe     = regexp.MustCompile(`(?i)\bthis\s+day\s+of\s*,?\s*(?:(?:19|20)\d\d)?`)
	effectiveEventRe = regexp.MustCompile(`(?i)\b(?:effective|commenc\w*|(?:come|enter)\s+into\s+(?:force|effect)|take\s+effect|begin)\s+(?:up)?on\s+(?:the\s+)?(?:execution|signing|signature|full\s+execution|signing\s+date|date\s+(?:of|on\s+which|upon\s+which|that|when|it|this|both|the\s+last)|later\s+of|earlier\s+of|latest\s+of|closing|completion|occurrence|approval|satisfaction)\b[^.;]{0,160}`)
	agreementSubjRe  = regexp.MustCompile(`(?i)\b(?:this|the)\s+(?:\w+\s+){0,3}(?:agreement|contract)\b|\bterm\b`)
	firstAboveRe     = regexp.MustCompile(`(?i)^(?:the\s+)?(?:date|day\s+and\s+year)\s+(?:first\s+)?(?:(?:written|set\s+forth|stated|mentioned|indicated)\s+)?(?:above|below|hereof|herein)|^(?:the\s+)?date\s+hereof|^(?:the\s+)?date\s+of\s+this\s+(?:agreement|contract)\b`)
	eventBeforeRe    = regexp.MustCompile(`(?i)\b(?:date|day)\s+(?:of|after|on\s+which|upon\s+which|that|when)\b[^.;]{0,120}$|\b(?:signature|execution|signed|executed|closing|approval|completion|occurrence|satisfaction|operational|launch)\b[^.;]{0,80}$`)
	eventDateRe      = regexp.MustCompile(`(?i)^(?:the\s+)?(?:date|day|time)\s+(?:of|on\s+which|upon\s+which|that|when)\b|^(?:the\s+)?(?:later|latest|earlier|earliest)\s+of\b|^(?:the\s+)?(?:execution|signing|signature|closing|completion|approval|receipt)\b|^(?:the\s+)?[A-Z][a-z]+\s+Date\b`)
)

// agreementDates finds the agreement date (the date the contract is dated
// or made) and the effective date (when it takes effect). Either may be a
// date, a blank left in a form, or an event.
func agreementDates(d *factDoc) (agreement, effective *Fact) {
	head := d.norm[:min(len(d.norm), 6000)]
	// The agreement date: the first date, or blank date, introduced as
	// the contract's date ("dated as of", "made and entered into on").
	type cand struct {
		start, end int
		iso        string
	}
	var cands []cand
	headDates := findDates(head)
	for _, dt := range headDates { // "dated", "made and entered into this 10th day of"
		if strongDatedRe.MatchString(head[max(0, dt.start-60):dt.start]) {
			cands = append(cands, cand{dt.start, dt.end, dt.iso})
			break
		}
	}
	if len(cands) == 0 {
		for _, dt := range headDates { // "as of", "effective"
			if datedRe.MatchString(head[max(0, dt.start-100):dt.start]) {
				cands = append(cands, cand{dt.start, dt.end, dt.iso})
				break
			}
		}
	}
	for _, m := range blankDateRe.FindAllStringIndex(head, -1) {
		if !strings.ContainsAny(head[m[0]:m[1]], "_") && !blankDayOfRe.MatchString(head[m[0]:m[1]]) {
			continue
		}
		if len(findDates(head[max(0, m[0]-14):min(len(head), m[1]+6)])) > 0 {
			continue // part of a real date ("14t h day of February 2020")
		}
		lo := max(0, m[0]-100)
		if datedRe.MatchString(head[lo:m[0]]) || strings.Contains(strings.ToLower(head[m[0]:m[1]]), "day of") {
			if len(findDates(head[m[0]:m[1]])) == 0 {
				cands = append(cands, cand{m[0], m[1], ""})
			}
			break
		}
	}
	if len(cands) > 0 {
		c := cands[0]
		if len(cands) > 1 && cands[1].start < c.start {
			c = cands[1]
		}
		if c.iso != "" {
			agreement = &Fact{Value: c.iso, Kind: KindDate, Source: d.source(d.sentenceAround(c.start, c.end))}
		} else {
			agreement = &Fact{Value: strings.TrimSpace(head[c.start:c.end]), Kind: KindBlank, Source: d.source(c.start, c.end)}
		}
	} else if ds := headDates; len(ds) > 0 {
		agreement = &Fact{Value: ds[0].iso, Kind: KindDate, Unsure: true, Source: d.source(d.sentenceAround(ds[0].start, ds[0].end))}
	} else {
		// no date on the first pages: a dated signature block ("Dated: 12-23-2019")
		for _, dt := range findDates(d.norm) {
			if strongDatedRe.MatchString(d.norm[max(0, dt.start-60):dt.start]) {
				agreement = &Fact{Value: dt.iso, Kind: KindDate, Unsure: true, Source: d.source(d.sentenceAround(dt.start, dt.end))}
				break
			}
		}
	}
	effective = effectiveDate(d, agreement)
	return agreement, effective
}

// effectiveDate reads when the contract takes effect: a date right after
// "effective as of" / "commence on", a date defined as the "Effective
// Date", the agreement date when the contract is effective "as of the date
// first written above" or says nothing else, or an event ("the date of the
// last signature").
func effectiveDate(d *factDoc, agreement *Fact) *Fact {
	text := d.norm
	limit := min(len(text), 60000)
	// A quoted definition of the Effective Date.
	for _, m := range effectiveDefRe.FindAllStringIndex(text[:limit], 10) {
		// a date just before `("Effective Date")`
		if ds := findDates(text[max(0, m[0]-60):m[0]]); len(ds) > 0 && strings.HasPrefix(text[m[0]:], "(") || strings.HasPrefix(text[m[0]:], "\"(") {
			if ds := findDates(text[max(0, m[0]-60):m[0]]); len(ds) > 0 {
				dt := ds[len(ds)-1]
				base := max(0, m[0]-60)
				return &Fact{Value: dt.iso, Kind: KindDate, Source: d.source(d.sentenceAround(base+dt.start, m[1]))}
			}
		}
		// an event before `(the "Effective Date")`: "on the day after the date of last signature ("Effective Date")"
		if strings.HasPrefix(strings.TrimLeft(text[m[0]:m[1]], " \""), "(") {
			s, _ := d.sentenceAround(m[0], m[1])
			a := max(s, m[0]-200)
			before := text[a:m[0]]
			if eventBeforeRe.MatchString(before) && len(findDates(before)) == 0 {
				return &Fact{Value: strings.TrimSpace(before), Kind: KindEvent, Source: d.source(a, m[1])}
			}
		}
		// "Effective Date" means <date or event>
		after := text[m[1]:min(len(text), m[1]+200)]
		after = strings.TrimLeft(after, " :,")
		if ds := findDates(after); len(ds) > 0 && (ds[0].start < 25 || ds[0].start < 70 && !strings.ContainsAny(after[:ds[0].start], ".;")) {
			a := m[1] + (len(text[m[1]:min(len(text), m[1]+200)]) - len(after)) + ds[0].start
			return &Fact{Value: ds[0].iso, Kind: KindDate, Source: d.source(d.sentenceAround(a, a+1))}
		}
		if f := eventEffective(d, m[0], m[1], after, agreement); f != nil {
			return f
		}
	}
	// "effective as of July 1, 2020", "shall commence on March 15, 2018".
	for _, m := range effectiveOnRe.FindAllStringIndex(text[:limit], 40) {
		after := text[m[1]:min(len(text), m[1]+80)]
		if ds := findDates(after); len(ds) > 0 && ds[0].start <= 12 {
			a := m[1] + ds[0].start
			if strings.Contains(strings.ToLower(text[m[0]:m[1]]), "effective") || m[0] < 20000 {
				return &Fact{Value: ds[0].iso, Kind: KindDate, Source: d.source(d.sentenceAround(a, a+1))}
			}
		}
		if strings.HasPrefix(strings.ToLower(text[m[0]:m[1]]), "effective") && firstAboveRe.MatchString(after) && agreement != nil {
			f := *agreement
			f.Source = d.source(d.sentenceAround(m[0], m[1]))
			return &f
		}
	}
	// "commences upon execution of this document", "effective upon the Closing"
	for _, m := range effectiveEventRe.FindAllStringIndex(text[:limit], 10) {
		s, e := d.sentenceAround(m[0], m[1])
		if !agreementSubjRe.MatchString(text[s:m[0]]) || strings.Contains(strings.ToLower(text[s:e]), "notice") {
			continue // "notices are effective upon receipt"
		}
		v := text[m[0]:m[1]]
		return &Fact{Value: strings.TrimSpace(v), Kind: KindEvent, Source: d.source(s, e)}
	}
	if agreement == nil {
		return nil
	}
	f := *agreement
	return &f
}

// eventEffective handles an Effective Date defined by an event or by
// reference to the agreement's date.
func eventEffective(d *factDoc, a, b int, after string, agreement *Fact) *Fact {
	if firstAboveRe.MatchString(after) && agreement != nil {
		f := *agreement
		f.Source = d.source(d.sentenceAround(a, b))
		return &f
	}
	if eventDateRe.MatchString(after) {
		s, e := d.sentenceAround(a, b)
		v := after
		if i := strings.IndexAny(v, ".;"); i > 0 {
			v = v[:i]
		}
		if len(v) > 160 {
			v = v[:160] + "…"
		}
		return &Fact{Value: strings.TrimSpace(v), Kind: KindEvent, Source: d.source(s, e)}
	}
	return nil
}

func governingLaw(d *factDoc) *Fact {
	for _, re := range []*regexp.Regexp{govLawRe, govLaw2Re, govLaw3Re} {
		for _, m := range re.FindAllStringSubmatchIndex(d.norm, 8) {
			place := d.norm[m[4]:m[5]]
			if i := strings.Index(place, ". "); i >= 0 {
				place = place[:i]
			}
			place = strings.TrimRight(place, ".")
			words := strings.Fields(place)
			for i, w := range words {
				switch strings.ToLower(w) {
				case "without", "and", "applicable", "excluding", "in", "as", "except", "that", "which", "to", "shall", "will", "other", "governing", "including":
					words = words[:i]
				}
				if i >= len(words) {
					break
				}
			}
			if len(words) == 0 {
				continue
			}
			switch strings.ToLower(words[0]) {
			case "any", "such", "this", "each", "all", "your", "the":
				continue
			}
			s, e := d.sentenceAround(m[0], m[1])
			return &Fact{Value: strings.Join(words, " "), Kind: KindText, Source: d.source(s, e)}
		}
	}
	return nil
}

var (
	renewalPhraseRes = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(?:successive|additional|further|consecutive|subsequent|renewal)\s+(?:[\w\-()]+\s+){0,3}?(?:periods?|terms?|years?|months?)\b(?:\s+(?:periods?|terms?))?`),
		regexp.MustCompile(`(?i)\b(?:year|month)[\s-]+to[\s-]+(?:year|month)\b`),
		regexp.MustCompile(`(?i)\bsame\s+(?:duration|length|period|term)\b`),
	}
	// "shall renew automatically each year", "automatic annual renewals"
	// "thereafter ... shall continue in effect until terminated by either party"
	// "shall continue in effect thereafter until terminated by either party",
	// "and indefinitely after that until terminated"
	evergreenRe = regexp.MustCompile(`(?i)\b(?:thereafter|after\s+the\s+(?:initial\s+)?term|following\s+the\s+(?:initial\s+)?term)\b[^.;]{0,80}?\bcontinue\w*\b[^.;]{0,60}?\buntil\s+(?:terminated|either\s+party|one\s+of\s+the\s+parties|a\s+party)|\bcontinue\w*\b[^.;]{0,60}?\b(?:thereafter|indefinitely\s+after\s+that|indefinitely\s+thereafter)\s+until\s+(?:terminated|either\s+party|one\s+of\s+the\s+parties|a\s+party)|\b(?:renew\w*\s+automatically|automatically\s+(?:be\s+)?renew\w*)\b`)
	// "shall continue automatically for successive annual periods"
	continueForRe = regexp.MustCompile(`(?i)\b(?:continue|remain)\w*\b[^.;]{0,60}?\bfor\s+((?:successive|additional|consecutive|subsequent|further)\s+(?:[\w\-()]+\s+){0,3}?(?:periods?|terms?|years?|months?))\b`)
	// "extended automatically on a year to year basis", "and from year to year thereafter"
	renewalEachRe = regexp.MustCompile(`(?i)\bcontinue\w*\b[^.;]{0,100}?\b(?:from\s+)?(year[\s-]+to[\s-]+year|month[\s-]+to[\s-]+month)\b|\b(?:renew\w*|extend\w*)\b[^.;]{0,40}?\b(annually|each\s+year|every\s+year|year\s+to\s+year|month\s+to\s+month|yearly|monthly)\b|\b(annual|yearly|monthly)\s+(?:automatic\s+)?(?:renewals?|extensions?)\b`)
	periodRe      = regexp.MustCompile(`(?i)\b(?:(\d{1,3})|(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|eighteen|twenty|thirty|forty|forty-five|fifty|sixty|ninety|one hundred twenty|one hundred eighty|an?))\s*(?:\(\s*(\d{1,3})\s*\)\s*)?-?\s*(calendar\s+|business\s+|full\s+|consecutive\s+)?(years?|months?|days?|weeks?)\b`)
	annualRe      = regexp.MustCompile(`(?i)\b(annual(?:ly)?|yearly|each\s+year|every\s+year|year[\s-]+to[\s-]+year)\b`)
	monthlyRe     = regexp.MustCompile(`(?i)\b(month[\s-]+to[\s-]+month|monthly)\b`)
)

// period parses the first period in s ("five (5) years", "90 days") and
// returns its length, normalised unit ("year", "month", "day", "week") and
// match range; n is 0 when there is none.
func period(s string) (n int, unit string, lo, hi int) {
	m := periodRe.FindStringSubmatchIndex(s)
	if m == nil {
		return 0, "", 0, 0
	}
	g := func(k int) string {
		if m[2*k] < 0 {
			return ""
		}
		return s[m[2*k]:m[2*k+1]]
	}
	switch {
	case g(3) != "":
		n = atoi(g(3))
	case g(1) != "":
		n = atoi(g(1))
	default:
		n = numberWords[strings.ToLower(g(2))]
	}
	unit = strings.TrimSuffix(strings.ToLower(g(5)), "s")
	if strings.EqualFold(strings.TrimSpace(g(4)), "business") {
		unit = "business day"
	}
	return n, unit, m[0], m[1]
}

func formatPeriod(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// renewalFact reads the renewal term from the clause the classifier finds
// most likely to state it ("Renewal Term"), then from a clear renewal
// statement in the runner-up or in the term clause (the one ranked for
// "Expiration Date", where initial term and renewal usually sit together),
// else, unsure, from the whole text.
func renewalFact(d *factDoc, doc *scoredDoc) *Fact {
	if f := bestRenewal(d, doc.ranked("Renewal Term", 1), renewalPhrase); f != nil {
		return f
	}
	more := doc.ranked("Renewal Term", 2)
	if len(more) > 0 {
		more = more[1:]
	}
	more = append(more, doc.ranked("Expiration Date", 1)...)
	if f := bestRenewal(d, more, renewalStated); f != nil {
		return f
	}
	var ms [][]int
	for _, re := range []*regexp.Regexp{renewalRe, renewalEachRe, evergreenRe, continueForRe} {
		ms = append(ms, re.FindAllStringIndex(d.norm, 5)...)
	}
	slices.SortFunc(ms, func(x, y []int) int { return x[0] - y[0] })
	var best *Fact
	level := renewalNone
	for _, m := range ms {
		s, e := d.sentenceAround(m[0], m[1])
		if f, l := renewalIn(d, s, e); f != nil && l > level {
			best, level = f, l
		}
	}
	if best != nil {
		best.Unsure = doc.model != nil // the classifier saw no renewal clause
	}
	return best
}

// How clearly a sentence states a renewal term, weakest first.
const (
	renewalNone   = iota
	renewalPhrase // "renewal term", "successive periods" without a verb
	renewalExtend // "extend for a period of five years" (often the initial term)
	renewalStated // "renew for successive one-year terms", "year to year", "thereafter until terminated"
)

// bestRenewal returns the clearest renewal statement (at least min) in the
// sentences of the clauses, the earliest among equals.
func bestRenewal(d *factDoc, cs []Clause, min int) *Fact {
	var best *Fact
	level := min - 1
	for _, c := range cs {
		for _, s := range d.clauseSentences(c) {
			if f, l := renewalIn(d, s[0], s[1]); f != nil && l > level {
				best, level = f, l
			}
		}
		if best != nil && level == renewalStated {
			break
		}
	}
	return best
}

func renewalIn(d *factDoc, a, b int) (*Fact, int) {
	s := d.norm[a:b]
	v, level := "", renewalNone
	if m := renewalRe.FindStringSubmatch(s); m != nil {
		v, level = normSpaceKeep(m[1]+m[2]), renewalExtend
		if m[1] != "" || strings.HasPrefix(strings.ToLower(m[0]), "renew") {
			level = renewalStated
		}
	}
	if level < renewalStated {
		if m := renewalEachRe.FindStringSubmatch(s); m != nil {
			v, level = normSpaceKeep(m[0]), renewalStated
			if m[1] != "" { // "continue ... from year to year": the period, not the sentence
				v = normSpaceKeep(m[1])
			}
		} else if m := continueForRe.FindStringSubmatch(s); m != nil {
			v, level = normSpaceKeep(m[1]), renewalStated
		} else if m := evergreenRe.FindString(s); m != "" {
			v, level = normSpaceKeep(m), renewalStated
		}
	}
	if level == renewalNone {
		for _, re := range renewalPhraseRes {
			if m := re.FindString(s); m != "" {
				v, level = normSpaceKeep(m), renewalPhrase
				break
			}
		}
	}
	if v == "" {
		return nil, renewalNone
	}
	f := &Fact{Value: v, Kind: KindDuration, Source: d.source(a, b)}
	if n, unit, _, _ := period(v); n > 0 && !annualRe.MatchString(v) {
		f.Duration = formatPeriod(n, unit)
	} else if annualRe.MatchString(v) {
		f.Duration = "1 year"
	} else if monthlyRe.MatchString(v) {
		f.Duration = "1 month"
	}
	return f, level
}

// noticeFact reads the notice period for stopping a renewal from the
// clause the classifier finds most likely to state it, else from a
// sentence about renewal.
func noticeFact(d *factDoc, doc *scoredDoc) *Fact {
	mk := func(a, b int, m []int) *Fact {
		v := normSpaceKeep(d.norm[a+m[2] : a+m[3]])
		f := &Fact{Value: v, Kind: KindDuration, Source: d.source(a, b)}
		if n, unit, _, _ := period(v); n > 0 {
			f.Duration = formatPeriod(n, unit)
		}
		return f
	}
	for _, c := range doc.ranked("Notice Period to Terminate Renewal", 1) {
		for _, s := range d.clauseSentences(c) {
			if m := noticeRe.FindStringSubmatchIndex(d.norm[s[0]:s[1]]); m != nil {
				return mk(s[0], s[1], m)
			}
		}
	}
	lower := strings.ToLower(d.norm)
	off := 0
	for k := 0; k < 10; k++ {
		i := strings.Index(lower[off:], "renew")
		if i < 0 {
			break
		}
		s, e := d.sentenceAround(off+i, off+i+5)
		if m := noticeRe.FindStringSubmatchIndex(d.norm[s:e]); m != nil {
			f := mk(s, e, m)
			f.Unsure = doc.model != nil
			return f
		}
		off = max(e, off+i+5)
	}
	return nil
}

var (
	endDateRe     = regexp.MustCompile(`(?i)\b(?:until|through|thru|expir\w*|ending|end(?:s)?\s+(?:on|at)|extended\s+to|terminat\w*|to\s+and\s+including|conclud\w*)\b`)
	startDateRe   = regexp.MustCompile(`(?i)\b(?:commenc\w*|begin\w*|start\w*|effective|from|as\s+of)\b`)
	fromToRe      = regexp.MustCompile(`(?i)\bfrom\b[^.;]{0,40}?\b(?:to|-|–)\s*$`)
	anniversaryRe = regexp.MustCompile(`(?i)\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|fifteenth|twentieth|one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2})(?:st|nd|rd|th)?\s*(?:\(\d{1,2}(?:st|nd|rd|th)?\)\s*)?(?:-?\s*years?\s+)?anniversary`)
	perpetualRe   = regexp.MustCompile(`(?i)\buntil\s+(?:it\s+is\s+|so\s+)?(?:terminated|cancel+ed)\b|\buntil\s+(?:termination|terminated)\s+(?:by|as|in|pursuant|under)\b|\bperpetu(?:al|ity)\b|\bindefinite(?:ly)?\b|\bno\s+(?:fixed\s+)?(?:term|expiration)\b|\bwill\s+end\s+when\s+terminated\b`)
	untilEventRe  = regexp.MustCompile(`(?i)\b(?:until|through|upon|on|at)\s+(?:the\s+)?((?:later|latest|earlier|earliest)\s+(?:of|to\s+occur)|expiration|expiry|termination|completion|end|conclusion|acceptance|closing|last|final|date\s+(?:of|on\s+which|that|when)|cessation|delivery|discontinuation|consummation|cancell?ation|sale|opening|exhaustion)\b[^;]{0,200}|\b(?:for\s+the\s+(?:duration|life)\s+of|for\s+(?:so\s+long|as\s+long)\s+as)\b[^;]{0,200}|\buntil\s+(?:the\s+)?(?:[A-Z][\w\-]*\s+){1,3}(?:Date|Period|Term)\b[^;]{0,120}`)
	coterminousRe = regexp.MustCompile(`(?i)\b(?:co-?terminous|during\s+the\s+(?:term|period)\s+of\s+the\b|same\s+as\s+the\s+[A-Z])`)
	termCueRe     = regexp.MustCompile(`(?i)\b(?:terms?|agreement|continue|remain|expire|valid|effect|force|duration|period)\b`)
	durTermRe     = regexp.MustCompile(`(?i)(?:\b(?:for|of|be|is|at\s+least|in|until|within\s+the\s+first|ending|expires?|terminates?|ends?|on\s+the\s+date)|\bterm\s*:)\s+(?:a\s+(?:period|term)\s+of\s+|an?\s+(?:initial\s+)?(?:period|term)\s+of\s+|the\s+(?:period|term)\s+of\s+)?$`)
	anchorRe      = regexp.MustCompile(`(?i)^\s*(?:\(\s*["“][^"”]*["”]\s*\)\s*)?,?\s*(?:commencing|beginning|starting|running|counting)?\s*(?:from|after|following|of|as\s+of|on|upon|beginning\s+on|commencing\s+on|thereafter|hereafter)\s*(?:and\s+after\s+)?(?:the\s+)?(?:date\s+of\s+)?([^,;.()]{0,60})`)
	ownDateRe     = regexp.MustCompile(`(?i)^(?:effective\s+date|date\s+hereof|date\s+first|date\s+of\s+(?:this|the)\s+(?:agreement|document|contract)|execution|signing|date\s+this|this\s+(?:agreement|document|contract)|commencement\s+date|start\s+date|signature|date\s+above|full\s+execution|such\s+date|said\s+date|the\s+date\s+of\s+execution|effective\s+time|agreement\s+date|date\s+of\s+(?:execution|signing|signature)|execution\s+date|signing\s+date|date\s+signed)`)
	rangeSepRe    = regexp.MustCompile(`(?i)^\s*,?\s*(?:to|through|thru|until|till|-|–|and\s+end(?:s|ing)\s+on|and\s+expir\w*\s+on)\s*$`)
	dayBeforeRe   = regexp.MustCompile(`(?i)\bday\s+(?:prior\s+to|before|preceding)\s+(?:the\s+)?$`)
	noticeAfterRe = regexp.MustCompile(`(?i)^\s*(?:\(\d+\)\s*)?(?:prior|advance|written|notice|after\s+(?:receipt|notice|written|the\s+(?:receipt|date\s+of\s+(?:receipt|notice)))|of\s+(?:receipt|notice|written)|following\s+(?:receipt|notice|written))|(?i)^[^.;]{0,60}\b(?:notified|breach|cure)`)
)

// expirationFact reads the end of the initial term from the clauses the
// classifier finds most likely to state it (CUAD's "Expiration Date"),
// else from sentences about the term anywhere in the text.
func expirationFact(d *factDoc, doc *scoredDoc, effective *Fact) *Fact {
	base := ""
	if effective != nil && effective.Kind == KindDate && !effective.Unsure {
		base = effective.Value
	}
	for _, c := range doc.ranked("Expiration Date", 3) {
		var best *Fact
		for _, s := range d.clauseSentences(c) {
			if f := termEndIn(d, s[0], s[1], base); f != nil && (best == nil || termRank(f) > termRank(best)) {
				best = f
			}
		}
		if best != nil {
			return resolveDefined(d, best)
		}
	}
	lower := strings.ToLower(d.norm)
	for _, cue := range []string{"term of this agreement", "initial term", "shall expire", "shall continue", "shall remain in", "will continue", "term of the agreement", "term of this", "shall terminate on", "will expire", "continue for", "a term of"} {
		off := 0
		for k := 0; k < 6; k++ {
			i := strings.Index(lower[off:], cue)
			if i < 0 {
				break
			}
			s, e := d.sentenceAround(off+i, off+i+len(cue))
			if f := termEndIn(d, s, e, base); f != nil {
				f.Unsure = doc.model != nil
				return resolveDefined(d, f)
			}
			off = max(e, off+i+len(cue))
		}
	}
	return nil
}

// termRank orders the readings of a term: a stated end date first, then
// a period counted from a known date, a period alone, an event, perpetual.
func termRank(f *Fact) int {
	switch {
	case f.Kind == KindDate && f.Duration == "":
		return 5
	case f.Kind == KindDate:
		return 4
	case f.Kind == KindDuration:
		return 3
	case f.Kind == KindEvent:
		return 2
	}
	return 1
}

var definedRefRe = regexp.MustCompile(`\b(?:the\s+)?((?:[A-Z][A-Za-z]+\s+){0,3}(?:Date|Period|Term))\b`)

// resolveDefined replaces an event that names a defined term ("on the
// Expiration Date") by the date its definition states ("\"Expiration Date\"
// means March 31, 2020"), citing the definition.
func resolveDefined(d *factDoc, f *Fact) *Fact {
	if f.Kind != KindEvent {
		return f
	}
	m := definedRefRe.FindStringSubmatch(f.Value)
	if m == nil || m[1] == "Effective Date" {
		return f
	}
	re, err := regexp.Compile(`["“]` + regexp.QuoteMeta(m[1]) + `["”]\s*(?:shall\s+)?(?:means?|shall\s+mean|is)\b`)
	if err != nil {
		return f
	}
	loc := re.FindStringIndex(d.norm)
	if loc == nil {
		return f
	}
	s, e := d.sentenceAround(loc[0], loc[1])
	ds := findDates(d.norm[loc[1]:e])
	if len(ds) == 0 {
		return f
	}
	return &Fact{Value: ds[len(ds)-1].iso, Kind: KindDate, From: m[1], Source: d.source(s, e)}
}

// termEndIn reads the end of a term from one sentence (norm[a:b]): the last
// date after "until", "through", "expiring"...; an anniversary or a period
// ("a term of five (5) years") counted from a start date in the sentence
// or the effective date; an event ("until the expiration of the Royalty
// Term"); or "perpetual" for a term that runs until terminated.
func termEndIn(d *factDoc, a, b int, effective string) *Fact {
	s := d.norm[a:b]
	if !termCueRe.MatchString(s) {
		return nil
	}
	src := d.source(a, b)
	dates := findDates(s)
	if loc := endDateRe.FindStringIndex(s); loc != nil {
		for i := len(dates) - 1; i >= 0; i-- {
			if dates[i].start > loc[0] {
				return &Fact{Value: dates[i].iso, Kind: KindDate, Source: src}
			}
		}
	}
	if len(dates) >= 2 && fromToRe.MatchString(s[:dates[len(dates)-1].start]) {
		return &Fact{Value: dates[len(dates)-1].iso, Kind: KindDate, Source: src}
	}
	for i := 0; i+1 < len(dates); i++ {
		if dates[i].end <= dates[i+1].start && rangeSepRe.MatchString(s[dates[i].end:dates[i+1].start]) {
			return &Fact{Value: dates[i+1].iso, Kind: KindDate, Source: src} // "November 01, 2014 to October 31, 2017"
		}
	}
	base, from := effective, "Effective Date"
	if loc := startDateRe.FindStringIndex(s); loc != nil {
		for _, dt := range dates {
			if dt.start > loc[0] && dt.start-loc[1] < 40 {
				base, from = dt.iso, dt.iso
				break
			}
		}
	}
	t, baseErr := time.Parse("2006-01-02", base)
	if m := anniversaryRe.FindStringSubmatchIndex(s); m != nil {
		w := strings.ToLower(s[m[2]:m[3]])
		dayBefore := dayBeforeRe.MatchString(s[max(0, m[0]-40):m[0]])
		n := ordinalDays[w]
		if n == 0 {
			n = numberWords[w]
		}
		if n == 0 {
			n = atoi(w)
		}
		if n > 0 && n <= 50 {
			f := durationEnd(n, "year", base, from, t, baseErr, src)
			if dayBefore && f.Kind == KindDate {
				f.Value = t.AddDate(n, 0, -1).Format("2006-01-02")
			}
			return f
		}
	}
	// a period right after "for", "of", "be": "continue for three (3) years"
	for off := 0; off < len(s); {
		n, unit, lo, hi := period(s[off:])
		if n == 0 {
			break
		}
		lo, hi = lo+off, hi+off
		off = hi
		if unit == "business day" || unit == "week" || !durTermRe.MatchString(s[max(0, lo-40):lo]) {
			continue
		}
		if noticeAfterRe.MatchString(s[hi:]) {
			continue
		}
		from2 := from
		if ds := findDates(s[hi:min(len(s), hi+60)]); len(ds) > 0 && ds[0].start < 25 && anchorRe.MatchString(s[hi:]) {
			base, from2 = ds[0].iso, ds[0].iso
			t, baseErr = time.Parse("2006-01-02", base)
		} else if m := anchorRe.FindStringSubmatch(s[hi:]); m != nil {
			anchor := strings.TrimSpace(m[1])
			if anchor != "" && strings.ContainsAny(anchor, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") && !ownDateRe.MatchString(anchor) && ParseDate(anchor) == "" && !strings.HasPrefix(strings.ToLower(anchor), "year") {
				// counted from something the text does not date: "one (1) year following the Launch Date"
				return &Fact{Value: fmt.Sprintf("%s after the %s", formatPeriod(n, unit), strings.TrimPrefix(anchor, "the ")), Kind: KindDuration,
					Duration: formatPeriod(n, unit), From: strings.TrimPrefix(anchor, "the "), Source: src}
			}
			if dt := ParseDate(anchor); dt != "" {
				base, from2 = dt, dt
				t, baseErr = time.Parse("2006-01-02", base)
			}
		}
		return durationEnd(n, unit, base, from2, t, baseErr, src)
	}
	if m := untilEventRe.FindStringIndex(s); m != nil && !perpetualRe.MatchString(s[m[0]:min(len(s), m[0]+40)]) {
		v := s[m[0]:m[1]]
		if i := strings.Index(v, ", unless"); i > 0 {
			v = v[:i]
		}
		if len(v) > 160 {
			v = v[:160] + "…"
		}
		return &Fact{Value: strings.TrimSpace(strings.TrimRight(v, " ,")), Kind: KindEvent, Source: src}
	}
	if perpetualRe.MatchString(s) && len(dates) == 0 {
		return &Fact{Value: "perpetual", Kind: KindPerpetual, Source: src}
	}
	if m := coterminousRe.FindStringIndex(s); m != nil {
		v := s[m[0]:min(len(s), m[0]+120)]
		return &Fact{Value: strings.TrimSpace(v), Kind: KindEvent, Source: src}
	}
	return nil
}

// durationEnd is the end of a term of n units counted from base (an ISO
// date, or "" when unknown: then the fact is the period itself).
func durationEnd(n int, unit, base, from string, t time.Time, baseErr error, src *Source) *Fact {
	p := formatPeriod(n, unit)
	if baseErr != nil || base == "" {
		return &Fact{Value: p + " after the " + from, Kind: KindDuration, Duration: p, From: from, Source: src}
	}
	var end time.Time
	switch unit {
	case "year":
		end = t.AddDate(n, 0, 0)
	case "month":
		end = t.AddDate(0, n, 0)
	default:
		end = t.AddDate(0, 0, n)
	}
	return &Fact{Value: end.Format("2006-01-02"), Kind: KindDate, Duration: p, From: from, Source: src}
}
