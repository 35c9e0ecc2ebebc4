package analysis

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// FactsVersion is the shape of Facts: 2 added facts_version, details and
// party_details next to the flat fields of version 1 (unchanged meaning).
const FactsVersion = 2

// Facts are document-level facts, stored as documents.facts (JSON).
//
// The flat fields are version 1's and keep its meaning: dates are ISO 8601
// (YYYY-MM-DD) and empty when not found; expiration_date may also be
// "perpetual" or a period the text does not anchor to a date ("2 years
// after the Launch Date"). A flat field is empty when the analyser is
// unsure: the candidate is then only in Details, marked Unsure.
//
// Details holds every fact found (keyed by the flat field's JSON name) with
// its kind, the period it was resolved from and the passage it was read
// from; PartyDetails holds the parties with their roles.
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

	Version      int              `json:"facts_version"`
	PartyDetails []Party          `json:"party_details,omitempty"`
	Details      map[string]*Fact `json:"details,omitempty"`
}

// Kinds of Fact.
const (
	KindText      = "text"      // a name, a type, a jurisdiction
	KindDate      = "date"      // Value is an ISO date
	KindBlank     = "blank"     // the document leaves the date blank ("this ___ day of ____, 2004"); Value is the text
	KindEvent     = "event"     // the date is an event ("until the expiration of the Royalty Term"); Value is the text
	KindDuration  = "duration"  // a period (Duration), counted From something the text does not date
	KindPerpetual = "perpetual" // runs until terminated
)

// Fact is one extracted fact with its provenance.
type Fact struct {
	Value string `json:"value"`
	Kind  string `json:"kind"`
	// Unsure: the rule that found Value is often wrong; show it as a
	// candidate, not as the document's value (the flat field is empty).
	Unsure   bool    `json:"unsure,omitempty"`
	Duration string  `json:"duration,omitempty"` // a normalised period: "3 years", "90 days"
	From     string  `json:"from,omitempty"`     // what Duration counts from: "Effective Date", "2019-02-01", "Launch Date"
	Source   *Source `json:"source,omitempty"`
}

// Party is a party to the contract: its legal name as the preamble writes
// it, the role the contract gives it ("Licensor", "Company") and its short
// name ("Excite"), when defined.
type Party struct {
	Name   string  `json:"name"`
	Role   string  `json:"role,omitempty"`
	Short  string  `json:"short_name,omitempty"`
	Source *Source `json:"source,omitempty"`
}

const ordinal = `(?:\s?s\s?t|\s?n\s?d|\s?r\s?d|\s?t\s?h)?` // "1st", "14t h" (PDF-extraction gaps)

const month = `(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?`

var (
	dateRes = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(` + month + `)\s+(\d{1,2})` + ordinal + `\s*,?\s*(\d{4})\b`),                                                                                                                  // January 13, 2005
		regexp.MustCompile(`(?i)\b(\d{1,2})` + ordinal + `\)?\s+(?:day\s+)?(?:of\s+)?(?:(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday),?\s+)?(` + month + `)\s*,?\s*(?:in the year\s+)?(\d{4})\b`), // 13th day of January, 2005
		regexp.MustCompile(`\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b|\b(\d{1,2})-(\d{1,2})-(\d{4}|\d{2})\b`),                                                                                                        // 1/13/2005
		regexp.MustCompile(`(?i)\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|[a-z]+teenth|twentieth|twenty-[a-z]+|thirtieth|thirty-first)\s+day\s+of\s+(` + month + `)\s*,?\s*(\d{4})\b`), // first day of July, 2017
	}
	docTitleRe    = regexp.MustCompile(`(?i)\b(agreement|contract|licen[cs]e|lease|amendment|addendum|memorandum|terms and conditions|arrangement)\b`)
	exhibitRe     = regexp.MustCompile(`(?i)^(exhibit|ex-)\s*[\d.a-z()\-]*\s*`)
	thisAgrRe     = regexp.MustCompile(`\b[Tt]his\s+((?:[A-Z][A-Za-z\-/&]*\s+){0,6}(?:Agreement|AGREEMENT|Contract|CONTRACT))`)
	partiesRe     = regexp.MustCompile(`\b(?i:by\s+and\s+(?:between|among)|between|among)\s*:?\s+`)
	partiesEnd    = regexp.MustCompile(`\.\s+[A-Z][a-z]|\b(?i:whereas|recitals|witnesseth|background)\b|\s1(?:\.\d+)*\.?\s+[A-Z]`)
	aliasRe       = regexp.MustCompile(`\(\s*(?:the\s+|each\s+a\s+|individually\s+|collectively\s+|hereinafter\s+)?(?:(?:hereinafter|herein|sometimes)\s+)?(?:(?:referred\s+to|called|known)\s+(?:as\s+)?)?(?:the\s+)?["“']([^"”']{2,40})["”']`)
	govLawRe      = regexp.MustCompile(`(?i:governed|construed|interpreted|enforced|governs?)[^.;]{0,160}?\b(?i:laws?)(?:,[^,;.]{0,50},)?\s+(?i:of)\s+(?:(?i:the)\s+)?((?i:state|commonwealth|province|republic|kingdom|people'?s republic|federal republic)\s+(?i:of)\s+)?([A-Z][A-Za-z.]+(?:\s+(?:of\s+)?[A-Z][A-Za-z.]+){0,3})`)
	govLaw2Re     = regexp.MustCompile(`\b(?i:legislation|laws?)\s+(?i:of)\s+(?:(?i:the)\s+)?((?i:state|commonwealth|province|republic|kingdom|people'?s republic)\s+(?i:of)\s+)?([A-Z][A-Za-z.]+(?:\s+(?:of\s+)?[A-Z][A-Za-z.]+){0,3})[^.;]{0,60}?\b(?i:shall\s+(?:apply|govern)|governs?\b)`)
	govLaw3Re     = regexp.MustCompile(`(?i:governed|construed)\s+(?i:by|in\s+accordance\s+with|under)\s+(?:(?i:the)\s+)?()([A-Z][A-Za-z]+)\s+(?i:laws?)\b`)
	renewalRe     = regexp.MustCompile(`(?i)\b(?:renew(?:ed|al)?|extend(?:ed)?)\b[^.;]{0,80}?\bfor\s+(?:an?\s+)?((?:additional|successive|further|consecutive|subsequent|like)\s+)?((?:(?:[a-z\-]+|\(?\d+\)?)\s*-?\s*){0,4}?(?:year|month|day)s?(?:\s+(?:periods?|terms?|renewal terms?))?)`)
	noticeRe      = regexp.MustCompile(`(?i)\b(?:at\s+least|not\s+less\s+than|no\s+(?:less|later|fewer)\s+than|minimum\s+of|within)?\s*((?:[a-z\-]+\s+)?\(?\d+\)?\s*(?:calendar\s+|business\s+)?(?:days|months|years)|(?:[a-z\-]+)\s+(?:calendar\s+|business\s+)?(?:days|months))\s*(?:'|’)?\s*(?:prior|before|advance|written|notice|in advance)`)
	corpSuffix    = regexp.MustCompile(`^(?i)(inc|ltd|llc|l\.l\.c|corp|co|n\.a|l\.p|lp|llp|plc|s\.a|gmbh|ag|b\.v|limited|incorporated|pty|s\.r\.l|sa|s\.p\.a|n\.v)\.?\b`)
	datedRe       = regexp.MustCompile(`(?i)\b(dated|as of|made|entered into|effective|executed|date[d]? of|signed)\b`)
	strongDatedRe = regexp.MustCompile(`(?i)\b(?:dated|made|entered\s+into|executed|signed|concluded|date[d]?\s+of|agreement\s+date|date)\b[^.;]{0,40}$|\bdate[d]?\s*:\s*$`)
	// A date the document leaves blank: "this ___ day of ______, 2004",
	// "November ___, 2006", "____________, 1996", "this day of , 2012".
	blankDateRe = regexp.MustCompile(`(?i)(?:(?:this\s+|the\s+)?(?:_+\s*|\[\s*\]\s*|\s)day\s+of\s*(?:_+|` + month + `)?|` + month + `\s*_+|_{3,}(?:\s*_+)?)\s*,?\s*(?:(?:19|20)[\d_]{2})?`)
)

var numberWords = map[string]int{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
	"eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
	"twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100, "one hundred twenty": 120,
	"one hundred eighty": 180, "a": 1, "an": 1}

// ExtractFacts finds document-level facts with rules over the text (the
// first pages for names, parties and dates; the whole text for law and
// terms). The term, the renewal term and the notice period are read first
// from the clauses the embedded classifier finds most likely to state them.
// Offsets in Sources are into text as given.
func ExtractFacts(text string) Facts {
	f := Facts{Version: FactsVersion, Details: map[string]*Fact{}}
	d := newFactDoc(text)
	doc := newScoredDoc(d)
	set := func(key string, flat *string, x *Fact) {
		if x == nil || x.Value == "" {
			return
		}
		f.Details[key] = x
		if x.Unsure {
			return
		}
		switch x.Kind {
		case KindBlank:
			return
		case KindEvent, KindDuration:
			if key == "agreement_date" || key == "effective_date" {
				return // the flat date fields hold ISO dates only
			}
		}
		*flat = x.Value
	}
	name := documentName(d)
	set("document_name", &f.DocumentName, name)
	if name != nil {
		set("document_type", &f.DocumentType, &Fact{Value: documentType(name.Value), Kind: KindText, Source: name.Source})
	}
	f.PartyDetails = parties(d)
	for _, p := range f.PartyDetails {
		f.Parties = append(f.Parties, p.Name)
	}
	agreement, effective := agreementDates(d)
	set("agreement_date", &f.AgreementDate, agreement)
	set("effective_date", &f.EffectiveDate, effective)
	set("governing_law", &f.GoverningLaw, governingLaw(d))
	set("renewal_term", &f.RenewalTerm, renewalFact(d, doc))
	set("notice_period", &f.NoticePeriod, noticeFact(d, doc))
	set("expiration_date", &f.ExpirationDate, expirationFact(d, doc, effective))
	if len(f.Details) == 0 {
		f.Details = nil
	}
	return f
}

// scoredDoc is a document's clauses with the classifier's probabilities,
// computed once for all the facts that use them.
type scoredDoc struct {
	clauses []Clause
	scores  [][]float64
	model   *Model
}

func newScoredDoc(d *factDoc) *scoredDoc {
	m, err := DefaultModel()
	if err != nil {
		return &scoredDoc{}
	}
	s := &scoredDoc{clauses: SplitClauses(blankFurniture(d.raw)), model: m}
	for _, in := range FeatureInputs(s.clauses) {
		s.scores = append(s.scores, m.scores(in))
	}
	return s
}

// ranked returns up to n clauses scored for category at half its threshold
// or more, best first.
func (s *scoredDoc) ranked(category string, n int) []Clause {
	if s.model == nil {
		return nil
	}
	c := slices.Index(s.model.categories, category)
	if c < 0 {
		return nil
	}
	floor := float64(s.model.threshold[c]) / 2
	var idx []int
	for i, sc := range s.scores {
		if sc[c] >= floor {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(s.scores[b][c], s.scores[a][c]) })
	var out []Clause
	for _, i := range idx[:min(n, len(idx))] {
		out = append(out, s.clauses[i])
	}
	return out
}

// clauseSentences returns the norm ranges of the sentences of a clause.
func (d *factDoc) clauseSentences(c Clause) [][2]int {
	a, b := d.normAt(c.Start), d.normAt(c.End)
	return d.sentences(a, b)
}

// sentences splits norm[a:b] into sentences (norm ranges).
func (d *factDoc) sentences(a, b int) [][2]int {
	var out [][2]int
	for _, s := range SplitSentences(d.norm[a:b]) {
		out = append(out, [2]int{a + s.Start, a + s.End})
	}
	return out
}

func documentName(d *factDoc) *Fact {
	off := 0
	for i := 0; i <= 60 && off < min(len(d.raw), 6000); i++ {
		end := strings.IndexByte(d.raw[off:], '\n')
		if end < 0 {
			end = len(d.raw) - off
		}
		l := d.raw[off : off+end]
		lineStart := off
		off += end + 1
		t := normSpace(strings.Trim(l, "\f"))
		t = strings.TrimSpace(exhibitRe.ReplaceAllString(t, ""))
		if len(t) < 6 || len(t) > 120 || !docTitleRe.MatchString(t) || !isHeadingLine(t) {
			continue
		}
		t = strings.Trim(t, " .:")
		a := d.normAt(lineStart)
		return &Fact{Value: t, Kind: KindText, Source: d.source(a, d.normAt(lineStart+len(strings.TrimRight(l, " \t\r\f"))))}
	}
	head := d.norm[:min(len(d.norm), 6000)]
	if m := thisAgrRe.FindStringSubmatchIndex(head); m != nil {
		return &Fact{Value: head[m[2]:m[3]], Kind: KindText, Source: d.source(m[2], m[3])}
	}
	return nil
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

type foundDate struct {
	iso        string
	start, end int
}

var ordinalDays = map[string]int{"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10,
	"eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
	"nineteenth": 19, "twentieth": 20, "thirtieth": 30, "thirty-first": 31}

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
				if m[2] >= 0 {
					mon, day, year = atoi(g(1)), atoi(g(2)), atoi(g(3))
				} else {
					mon, day, year = atoi(g(4)), atoi(g(5)), atoi(g(6))
				}
				if year < 100 {
					year += 1900
					if year < 1950 {
						year += 100
					}
				}
			case 3:
				w := strings.ToLower(g(1))
				day = ordinalDays[w]
				if strings.HasPrefix(w, "twenty-") {
					day = 20 + ordinalDays[strings.TrimPrefix(w, "twenty-")]
				}
				mon, year = monthNum(g(2)), atoi(g(3))
			}
			if mon > 12 && day <= 12 { // day-first numeric date: 18/9/2008
				mon, day = day, mon
			}
			if mon < 1 || mon > 12 || day < 1 || day > 31 || year < 1900 || year > 2100 {
				continue
			}
			out = append(out, foundDate{fmt.Sprintf("%04d-%02d-%02d", year, mon, day), m[0], m[1]})
		}
	}
	slices.SortStableFunc(out, func(a, b foundDate) int { return cmp.Compare(a.start, b.start) })
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

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func normSpaceKeep(s string) string { return strings.Join(strings.Fields(s), " ") }
