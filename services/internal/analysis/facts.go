package analysis

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Facts are document-level facts, stored as documents.facts (JSON). Dates
// are ISO 8601 (YYYY-MM-DD) when a full date is known; empty when not found.
type Facts struct {
	DocumentName   string   `json:"document_name"`
	DocumentType   string   `json:"document_type"`
	Parties        []string `json:"parties"`
	AgreementDate  string   `json:"agreement_date"`
	EffectiveDate  string   `json:"effective_date"`
	ExpirationDate string   `json:"expiration_date"`
	RenewalTerm    string   `json:"renewal_term"`
	NoticePeriod   string   `json:"notice_period"`
	GoverningLaw   string   `json:"governing_law"`
}

const ordinal = `(?:\s?s\s?t|\s?n\s?d|\s?r\s?d|\s?t\s?h)?` // "1st", "14t h" (PDF-extraction gaps)

const month = `(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?`

var (
	dateRes = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(` + month + `)\s+(\d{1,2})` + ordinal + `\s*,?\s*(\d{4})\b`),                                    // January 13, 2005
		regexp.MustCompile(`(?i)\b(\d{1,2})` + ordinal + `\s+(?:day\s+of\s+)?(` + month + `)\s*,?\s*(?:in the year\s+)?(\d{4})\b`), // 13th day of January, 2005
		regexp.MustCompile(`\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b`),                                                                // 1/13/2005
	}
	docTitleRe  = regexp.MustCompile(`(?i)\b(agreement|contract|licen[cs]e|lease|amendment|addendum|memorandum|terms and conditions|arrangement)\b`)
	exhibitRe   = regexp.MustCompile(`(?i)^(exhibit|ex-)\s*[\d.a-z()\-]*\s*`)
	thisAgrRe   = regexp.MustCompile(`\b[Tt]his\s+((?:[A-Z][A-Za-z\-/&]*\s+){0,6}(?:Agreement|AGREEMENT|Contract|CONTRACT))`)
	partiesRe   = regexp.MustCompile(`\b(?i:by\s+and\s+(?:between|among)|between|among)\s+`)
	partiesEnd  = regexp.MustCompile(`\.\s+[A-Z][a-z]|\b(?i:whereas|recitals|witnesseth|background)\b|\s1\.?\d*\s+[A-Z]`)
	aliasRe     = regexp.MustCompile(`\(\s*(?:the\s+|each\s+a\s+|individually\s+)?(?:hereinafter\s+(?:referred\s+to\s+as\s+|called\s+)?)?["“]([^"”]{2,40})["”]`)
	effectiveRe = regexp.MustCompile(`(?i)effective\s+(?:as\s+of\s+|on\s+|from\s+)?(?:the\s+)?|["“]effective\s+date["”]|effective\s+date`)
	govLawRe    = regexp.MustCompile(`(?i)(?:governed|construed|interpreted|enforced)[^.;]{0,160}?\blaws?\s+of\s+(?:the\s+)?((?:state|commonwealth|province|republic|kingdom|people'?s republic)\s+of\s+)?([A-Z][A-Za-z.]+(?:\s+(?:of\s+)?[A-Z][A-Za-z.]+){0,3})`)
	renewalRe   = regexp.MustCompile(`(?i)\b(?:renew(?:ed|al)?|extend(?:ed)?)\b[^.;]{0,80}?\bfor\s+(?:an?\s+)?((?:additional|successive|further|consecutive|subsequent|like)\s+)?((?:[a-z\-]+\s+)?\(?\d*\)?\s*-?\s*(?:year|month|day)s?(?:\s+(?:periods?|terms?|renewal terms?))?)`)
	noticeRe    = regexp.MustCompile(`(?i)\b(?:at\s+least|not\s+less\s+than|no\s+(?:less|later|fewer)\s+than|minimum\s+of|within)?\s*((?:[a-z\-]+\s+)?\(?\d+\)?\s*(?:calendar\s+|business\s+)?(?:days|months|years)|(?:[a-z\-]+)\s+(?:calendar\s+|business\s+)?(?:days|months))\s*(?:'|’)?\s*(?:prior|before|advance|written|notice|in advance)`)
	termRe      = regexp.MustCompile(`(?i)\b(?:term|period)\s+of\s+((?:[a-z\-]+\s+)?\(?(\d+)\)?|([a-z\-]+))\s*(years?|months?)\b`)
	perpetualRe = regexp.MustCompile(`(?i)\bperpetu(al|ity)|\bindefinite(ly)?\b`)
	corpSuffix  = regexp.MustCompile(`^(?i)(inc|ltd|llc|l\.l\.c|corp|co|n\.a|l\.p|lp|llp|plc|s\.a|gmbh|ag|b\.v|limited|incorporated|pty|s\.r\.l|sa)\.?\b`)
	datedRe     = regexp.MustCompile(`(?i)\b(dated|as of|made|entered into|effective|executed|date[d]? of)\b`)
)

var numberWords = map[string]int{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
	"eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "sixty": 60, "ninety": 90}

// ExtractFacts finds document-level facts with rules over the text (the first
// pages for names, parties and dates; the whole text for law and terms). The
// term's end and the renewal term are read first from the clauses the
// embedded classifier finds most likely to state them ("Expiration Date",
// "Renewal Term"), then from the whole text.
func ExtractFacts(text string) Facts {
	var f Facts
	text = stripFurniture(text)
	doc := newScoredDoc(text)
	head := text
	if len(head) > 6000 {
		head = head[:6000]
	}
	f.DocumentName = documentName(head)
	f.DocumentType = documentType(f.DocumentName)
	f.Parties = parties(head)
	f.AgreementDate, f.EffectiveDate = agreementDates(head, text)
	f.GoverningLaw = governingLaw(text)
	f.RenewalTerm = renewalFromClause(doc)
	if f.RenewalTerm == "" {
		f.RenewalTerm = renewalTerm(text)
	}
	f.NoticePeriod = noticeFromClause(doc)
	if f.NoticePeriod == "" {
		f.NoticePeriod = noticePeriod(text)
	}
	f.ExpirationDate = termClauseEnd(doc, f.EffectiveDate)
	if f.ExpirationDate == "" {
		f.ExpirationDate = expiration(text, f.EffectiveDate)
	}
	return f
}

var (
	endDateRe     = regexp.MustCompile(`(?i)\b(?:until|through|thru|expir\w*|ending|end(?:s)?\s+on|terminat\w*\s+on|to\s+and\s+including)\b`)
	startDateRe   = regexp.MustCompile(`(?i)\b(?:commenc\w*|begin\w*|start\w*|effective|from)\b`)
	anniversaryRe = regexp.MustCompile(`(?i)\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|fifteenth|twentieth|one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2})(?:st|nd|rd|th)?\s*(?:\(\d{1,2}(?:st|nd|rd|th)?\)\s*)?(?:-?\s*years?\s+)?anniversary`)
	untilTermRe   = regexp.MustCompile(`(?i)\buntil\s+(?:it\s+is\s+|so\s+)?terminated\b|\bperpetu(?:al|ity)\b|\bindefinite(?:ly)?\b`)
)

// termClauseEnd reads the end of the initial term from the clause the
// classifier finds most likely to state it (CUAD's "Expiration Date"): the
// last date after "until", "through", "expiring"...; else a duration ("a
// term of five (5) years") counted from a start date in the same clause or
// the effective date; else "perpetual" for a term that runs until
// terminated. "" when no clause is confident enough.
func termClauseEnd(doc *scoredDoc, effective string) string {
	for _, clause := range doc.ranked("Expiration Date", 2) {
		if end := clauseTermEnd(clause, effective); end != "" {
			return end
		}
	}
	return ""
}

var renewalPhraseRes = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b(?:successive|additional|further|consecutive|subsequent|renewal)\s+(?:[\w\-()]+\s+){0,3}?(?:periods?|terms?|years?|months?)\b(?:\s+(?:periods?|terms?))?`),
	regexp.MustCompile(`(?i)\b(?:year|month)[\s-]+to[\s-]+(?:year|month)\b`),
	regexp.MustCompile(`(?i)\bsame\s+(?:duration|length|period|term)\b`),
}

// scoredDoc is a document's clauses with the classifier's probabilities,
// computed once for all the facts that use them.
type scoredDoc struct {
	clauses []Clause
	scores  [][]float64
	model   *Model
}

func newScoredDoc(text string) *scoredDoc {
	m, err := DefaultModel()
	if err != nil {
		return &scoredDoc{}
	}
	d := &scoredDoc{clauses: SplitClauses(text), model: m}
	for _, in := range FeatureInputs(d.clauses) {
		d.scores = append(d.scores, m.scores(in))
	}
	return d
}

// ranked returns up to n clause texts scored for category at half its
// threshold or more, best first.
func (d *scoredDoc) ranked(category string, n int) []string {
	if d.model == nil {
		return nil
	}
	c := slices.Index(d.model.categories, category)
	if c < 0 {
		return nil
	}
	floor := float64(d.model.threshold[c]) / 2
	var idx []int
	for i, sc := range d.scores {
		if sc[c] >= floor {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(d.scores[b][c], d.scores[a][c]) })
	var out []string
	for _, i := range idx[:min(n, len(idx))] {
		out = append(out, d.clauses[i].Text)
	}
	return out
}

// renewalFromClause reads the renewal term from the clause the classifier
// finds most likely to state it ("Renewal Term"): "renew for successive one
// (1) year periods", "year to year", "terms of the same duration".
func renewalFromClause(doc *scoredDoc) string {
	best := doc.ranked("Renewal Term", 1)
	if len(best) == 0 {
		return ""
	}
	clause := best[0]
	if v := renewalTerm(clause); v != "" {
		return v
	}
	for _, re := range renewalPhraseRes {
		if m := re.FindString(clause); m != "" {
			return normSpace(m)
		}
	}
	return ""
}

// noticeFromClause reads the notice period for stopping a renewal from the
// clause the classifier finds most likely to state it.
func noticeFromClause(doc *scoredDoc) string {
	for _, clause := range doc.ranked("Notice Period to Terminate Renewal", 1) {
		if m := noticeRe.FindStringSubmatch(clause); m != nil {
			return normSpace(m[1])
		}
	}
	return ""
}

// ordinals maps anniversary words to years.
var ordinals = map[string]int{"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
	"eighth": 8, "ninth": 9, "tenth": 10, "fifteenth": 15, "twentieth": 20}

// clauseTermEnd reads the end of a term from one clause (see termClauseEnd).
func clauseTermEnd(clause, effective string) string {
	dates := findDates(clause)
	if loc := endDateRe.FindStringIndex(clause); loc != nil {
		for i := len(dates) - 1; i >= 0; i-- {
			if dates[i].start > loc[0] {
				return dates[i].iso
			}
		}
	}
	base := effective
	if loc := startDateRe.FindStringIndex(clause); loc != nil {
		for _, d := range dates {
			if d.start > loc[0] {
				base = d.iso
				break
			}
		}
	}
	t, baseErr := time.Parse("2006-01-02", base)
	if m := anniversaryRe.FindStringSubmatch(clause); m != nil && baseErr == nil {
		w := strings.ToLower(m[1])
		n := ordinals[w]
		if n == 0 {
			n = numberWords[w]
		}
		if n == 0 {
			n = atoi(w)
		}
		if n > 0 && n <= 50 {
			return t.AddDate(n, 0, 0).Format("2006-01-02")
		}
	}
	if m := termRe.FindStringSubmatch(clause); m != nil && baseErr == nil {
		n := atoi(m[2])
		if n == 0 {
			n = numberWords[strings.ToLower(strings.Fields(m[1])[0])]
		}
		if n > 0 {
			if strings.HasPrefix(strings.ToLower(m[4]), "year") {
				return t.AddDate(n, 0, 0).Format("2006-01-02")
			}
			return t.AddDate(0, n, 0).Format("2006-01-02")
		}
	}
	if untilTermRe.MatchString(clause) && len(dates) == 0 {
		return "perpetual"
	}
	return ""
}

func documentName(head string) string {
	lines := strings.Split(head, "\n")
	for i, l := range lines {
		if i > 60 {
			break
		}
		t := normSpace(l)
		t = strings.TrimSpace(exhibitRe.ReplaceAllString(t, ""))
		if len(t) < 6 || len(t) > 120 || !docTitleRe.MatchString(t) {
			continue
		}
		if isHeadingLine(t) {
			return strings.Trim(t, " .:")
		}
	}
	if m := thisAgrRe.FindStringSubmatch(head); m != nil {
		return normSpace(m[1])
	}
	return ""
}

var docTypes = []string{
	"strategic alliance", "joint venture", "licensing", "co-branding", "distribution", "distributor", "reseller", "franchise", "license", "licence",
	"supply", "manufacturing", "development", "endorsement", "sponsorship", "promotion", "marketing", "maintenance", "hosting",
	"outsourcing", "consulting", "services", "service", "agency", "transportation", "collaboration", "cooperation", "non-compete",
	"affiliate", "employment", "lease", "loan", "purchase", "sales", "security", "escrow", "settlement", "amendment", "joint filing",
}

func documentType(name string) string {
	l := strings.ToLower(name)
	for _, t := range docTypes {
		if strings.Contains(l, t) {
			t = strings.ReplaceAll(strings.ReplaceAll(t, "licence", "license"), "licensing", "license")
			if t == "amendment" {
				return "Amendment"
			}
			return titleCase(t) + " Agreement"
		}
	}
	if name != "" {
		return "Agreement"
	}
	return ""
}

func titleCase(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		parts := strings.Split(w, "-")
		for j, p := range parts {
			if p != "" {
				parts[j] = strings.ToUpper(p[:1]) + p[1:]
			}
		}
		words[i] = strings.Join(parts, "-")
	}
	return strings.Join(words, " ")
}

// parties reads the preamble "... between A, a Delaware corporation
// ("A"), and B ("B")." and returns the names and their defined aliases.
func parties(head string) []string {
	h := normSpace(head)
	loc := partiesRe.FindStringIndex(h)
	if loc == nil {
		return nil
	}
	body := h[loc[1]:min(len(h), loc[1]+700)]
	if e := partiesEnd.FindStringIndex(body); e != nil {
		body = body[:e[0]]
	}
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		s = strings.Trim(strings.TrimSpace(s), ` ,;:"“”'`)
		s = strings.TrimPrefix(s, "and ")
		if len(s) < 2 || len(s) > 120 || seen[strings.ToLower(s)] {
			return
		}
		switch strings.ToLower(s) {
		case "the", "party", "parties", "each", "agreement", "collectively", "together":
			return
		}
		seen[strings.ToLower(s)] = true
		out = append(out, s)
	}
	// Split at top-level " and " / ";" separators between parties.
	segs := regexp.MustCompile(`(?i);\s*(?:and\s+)?|\)\s*,?\s+and\s+|,\s+and\s+|\s+and\s+(?:[A-Z][A-Za-z]*\s+){0,1}(?:[A-Z]{2,}|[A-Z][a-z]+\s+(?:Inc|LLC|Ltd|Corp|Corporation|Company|Limited))`).Split(body, -1)
	if len(segs) < 2 {
		segs = regexp.MustCompile(`\s+and\s+`).Split(body, 2)
	}
	for _, seg := range segs {
		seg = strings.TrimSpace(seg)
		name := leadingName(seg)
		add(name)
		for _, a := range aliasRe.FindAllStringSubmatch(seg, -1) {
			add(a[1])
		}
		if len(out) >= 8 {
			break
		}
	}
	return out
}

// leadingName returns the entity name at the start of a party description:
// words up to the first comma or parenthesis, keeping corporate suffixes
// ("Adams Golf, Ltd.").
func leadingName(seg string) string {
	end := len(seg)
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c == '(' {
			end = i
			break
		}
		if c == ',' {
			rest := strings.TrimSpace(seg[i+1:])
			if corpSuffix.MatchString(rest) {
				continue
			}
			end = i
			break
		}
	}
	name := strings.TrimSpace(seg[:end])
	for _, p := range []string{"by and between ", "between ", "among ", "the undersigned "} {
		if strings.HasPrefix(strings.ToLower(name), p) {
			name = name[len(p):]
		}
	}
	if len(strings.Fields(name)) > 10 {
		return ""
	}
	return name
}

type foundDate struct {
	iso   string
	start int
}

func findDates(s string) []foundDate {
	var out []foundDate
	for i, re := range dateRes {
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			g := func(k int) string { return s[m[2*k]:m[2*k+1]] }
			var mon, day, year int
			switch i {
			case 0:
				mon, day, year = monthNum(g(1)), atoi(g(2)), atoi(g(3))
			case 1:
				day, mon, year = atoi(g(1)), monthNum(g(2)), atoi(g(3))
			case 2:
				mon, day, year = atoi(g(1)), atoi(g(2)), atoi(g(3))
				if year < 100 {
					year += 1900
					if year < 1950 {
						year += 100
					}
				}
			}
			if mon > 12 && day <= 12 { // day-first numeric date: 18/9/2008
				mon, day = day, mon
			}
			if mon < 1 || mon > 12 || day < 1 || day > 31 || year < 1900 || year > 2100 {
				continue
			}
			out = append(out, foundDate{fmt.Sprintf("%04d-%02d-%02d", year, mon, day), m[0]})
		}
	}
	// order by position
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].start < out[j-1].start; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// ParseDates returns the ISO form of every date in s, in order.
func ParseDates(s string) []string {
	var out []string
	for _, d := range findDates(s) {
		out = append(out, d.iso)
	}
	return out
}

// ParseDate returns the ISO form of the first date in s, or "".
func ParseDate(s string) string {
	if d := findDates(s); len(d) > 0 {
		return d[0].iso
	}
	return ""
}

func monthNum(s string) int {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	for i, m := range []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"} {
		if strings.HasPrefix(s, m) {
			return i + 1
		}
	}
	return 0
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func agreementDates(head, text string) (agreement, effective string) {
	// Prefer a date introduced as the contract's date ("dated as of", "made
	// and entered into on", "effective as of"); else the first date.
	ds := findDates(head)
	for _, d := range ds {
		lo := max(0, d.start-100)
		if datedRe.MatchString(head[lo:d.start]) {
			agreement = d.iso
			break
		}
	}
	if agreement == "" && len(ds) > 0 {
		agreement = ds[0].iso
	}
	// An "Effective Date" definition near a date.
	for _, m := range effectiveRe.FindAllStringIndex(text, 20) {
		lo, hi := max(0, m[0]-120), min(len(text), m[1]+120)
		if near := findDates(text[lo:hi]); len(near) > 0 {
			best, dist := near[0].iso, 1<<30
			for _, d := range near {
				if dd := abs(lo + d.start - m[0]); dd < dist {
					best, dist = d.iso, dd
				}
			}
			effective = best
			break
		}
	}
	if effective == "" {
		effective = agreement
	}
	return agreement, effective
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func governingLaw(text string) string {
	m := govLawRe.FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	place := m[2]
	if i := strings.Index(place, ". "); i >= 0 {
		place = place[:i]
	}
	place = strings.TrimRight(place, ".")
	// Stop at words that end the place name.
	words := strings.Fields(place)
	for i, w := range words {
		switch strings.ToLower(w) {
		case "without", "and", "applicable", "excluding", "in", "as", "except", "that", "which", "to":
			words = words[:i]
		}
		if i >= len(words) {
			break
		}
	}
	return strings.Join(words, " ")
}

func renewalTerm(text string) string {
	m := renewalRe.FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return normSpace(m[1] + m[2])
}

func noticePeriod(text string) string {
	for _, s := range sentencesWith(text, "renew") {
		if m := noticeRe.FindStringSubmatch(s); m != nil {
			return normSpace(m[1])
		}
	}
	return ""
}

func sentencesWith(text, word string) []string {
	var out []string
	lower := strings.ToLower(text)
	off := 0
	for len(out) < 10 {
		i := strings.Index(lower[off:], word)
		if i < 0 {
			break
		}
		p := off + i
		lo := strings.LastIndexAny(text[:p], ".;\n") + 1
		if lo < p-600 {
			lo = p - 600
		}
		hi := p + 600
		if j := strings.IndexAny(text[p:min(len(text), p+600)], ".;"); j >= 0 {
			hi = p + j
		}
		hi = min(hi, len(text))
		out = append(out, text[lo:hi])
		off = p + len(word)
	}
	return out
}

// expiration returns the end of the initial term: an explicit date after
// "expire"/"until", else effective date plus "a term of N years", else
// "perpetual".
func expiration(text, effective string) string {
	for _, kw := range []string{"expire", "until", "terminat"} {
		for _, s := range sentencesWith(text, kw) {
			if !strings.Contains(strings.ToLower(s), "term") {
				continue
			}
			if ds := findDates(s); len(ds) > 0 {
				return ds[len(ds)-1].iso
			}
		}
	}
	for _, s := range sentencesWith(text, "term") {
		if m := termRe.FindStringSubmatch(s); m != nil {
			n := atoi(m[2])
			if n == 0 {
				n = numberWords[strings.ToLower(strings.Fields(m[1])[0])]
			}
			if n == 0 {
				continue
			}
			unit := strings.ToLower(m[4])
			if eff, err := time.Parse("2006-01-02", effective); err == nil {
				if strings.HasPrefix(unit, "year") {
					return eff.AddDate(n, 0, 0).Format("2006-01-02")
				}
				return eff.AddDate(0, n, 0).Format("2006-01-02")
			}
			return fmt.Sprintf("%d %s after the effective date", n, unit)
		}
	}
	for _, s := range sentencesWith(text, "term") {
		if perpetualRe.MatchString(s) {
			return "perpetual"
		}
	}
	return ""
}

// stripFurniture removes page numbers and EDGAR "Source:" footers, whose
// dates would otherwise be read as contract dates.
func stripFurniture(text string) string {
	lines := strings.Split(text, "\n")
	out := lines[:0]
	for _, l := range lines {
		t := strings.TrimSpace(strings.Trim(l, "\f"))
		if sourceFooterRe.MatchString(t) || (t != "" && pageNumberRe.MatchString(t)) {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
