package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

// runFacts measures analysis.ExtractFacts against the CUAD labels: for each
// fact, over the contracts whose labels hold a value, how often the
// extracted value agrees with a labelled span.
func runFacts(args []string) error {
	fs := flag.NewFlagSet("facts", flag.ExitOnError)
	dir := dataFlag(fs)
	verbose := fs.Bool("v", false, "print disagreements")
	all := fs.Bool("all", false, "all 410 contracts instead of the held-out test split (ExtractFacts uses the classifier, trained on the others)")
	dev := fs.Bool("dev", false, "the train and validation splits (for developing the rules; the test split stays unseen)")
	fs.Parse(args)
	ds, err := load(*dir)
	if err != nil {
		return err
	}
	var out io.Writer
	if *verbose {
		out = os.Stdout
	}
	which := func(s split) bool { return s == splitTest }
	switch {
	case *all:
		which = func(split) bool { return true }
	case *dev:
		which = func(s split) bool { return s != splitTest }
	}
	t, n := factsAccuracy(ds, which, out)
	fmt.Printf("Document facts vs CUAD labels (%d contracts)\n", n)
	fmt.Printf("%-36s %8s %6s %8s %9s %7s %9s %9s\n", "fact", "labelled", "shown", "correct", "accuracy", "unsure", "(correct)", "legacy")
	var sum tally
	for _, f := range factFields {
		k := t[f]
		sum.add(k)
		fmt.Printf("%-36s %8d %6d %8d %8.1f%% %7d %9d %8.1f%%\n", f, k.labelled, k.found, k.correct, 100*k.accuracy(), k.unsure, k.unsureCorrect, 100*k.legacyAccuracy())
	}
	fmt.Printf("%-36s %8d %6d %8d %8.1f%% %7d %9d %8.1f%%\n", "ALL", sum.labelled, sum.found, sum.correct, 100*sum.accuracy(), sum.unsure, sum.unsureCorrect, 100*sum.legacyAccuracy())
	pn := t[partyNames]
	fmt.Printf("party names: %d, %.1f%% of them in a labelled Parties span\n", pn.labelled, 100*pn.accuracy())
	fmt.Println("(accuracy = facts shown as sure that agree with the labels / contracts with a labelled value;")
	fmt.Println(" unsure = candidates marked unsure (not shown as values), (correct) how many of them agree;")
	fmt.Println(" legacy = the flat field under the comparison used before facts_version 2)")
	return nil
}

type tally struct{ labelled, found, correct, unsure, unsureCorrect, legacy int }

func (k tally) accuracy() float64       { return float64(k.correct) / float64(max(1, k.labelled)) }
func (k tally) legacyAccuracy() float64 { return float64(k.legacy) / float64(max(1, k.labelled)) }

func (k *tally) add(o *tally) {
	k.labelled += o.labelled
	k.found += o.found
	k.correct += o.correct
	k.unsure += o.unsure
	k.unsureCorrect += o.unsureCorrect
	k.legacy += o.legacy
}

var factFields = []string{"Document Name", "Parties", "Agreement Date", "Effective Date", "Expiration Date", "Renewal Term", "Notice Period to Terminate Renewal", "Governing Law"}

// factKeys are the JSON keys of Facts.Details for the CUAD categories.
var factKeys = map[string]string{
	"Document Name": "document_name", "Agreement Date": "agreement_date", "Effective Date": "effective_date",
	"Expiration Date": "expiration_date", "Renewal Term": "renewal_term", "Notice Period to Terminate Renewal": "notice_period",
	"Governing Law": "governing_law",
}

// factsAccuracy runs ExtractFacts over the contracts of the splits which
// accepts and tallies the agreement with the labels per fact; with verbose
// set, disagreements are written to it. It returns the tallies and the
// number of contracts.
func factsAccuracy(ds *dataset, which func(split) bool, verbose io.Writer) (map[string]*tally, int) {
	t := map[string]*tally{}
	for _, f := range factFields {
		t[f] = &tally{}
	}
	t[badSources] = &tally{}
	t[partyNames] = &tally{}
	n := 0
	for _, c := range ds.contracts {
		if !which(c.split) {
			continue
		}
		n++
		f := analysis.ExtractFacts(c.text)
		t[badSources].labelled += checkSources(c.text, f, verbose)
		for _, name := range f.Parties { // precision of the party names
			t[partyNames].labelled++
			for _, sp := range c.spans["Parties"] {
				if a, b := squash(name), squash(sp); strings.Contains(a, b) || strings.Contains(b, a) {
					t[partyNames].correct++
					break
				}
			}
		}
		flat := map[string][]string{
			"Document Name":                      {f.DocumentName},
			"Parties":                            f.Parties,
			"Agreement Date":                     {f.AgreementDate},
			"Effective Date":                     {f.EffectiveDate},
			"Expiration Date":                    {f.ExpirationDate},
			"Renewal Term":                       {f.RenewalTerm},
			"Notice Period to Terminate Renewal": {f.NoticePeriod},
			"Governing Law":                      {f.GoverningLaw},
		}
		lc := labelCheck{text: c.text, labels: c.spans}
		for _, field := range factFields {
			spans := c.spans[field]
			if len(spans) == 0 {
				continue
			}
			k := t[field]
			k.labelled++
			if vals := nonEmpty(flat[field]); len(vals) > 0 && agrees(field, vals, spans, c.spans) {
				k.legacy++
			}
			var fact *analysis.Fact
			if field == "Parties" {
				if len(f.Parties) > 0 {
					fact = &analysis.Fact{Value: strings.Join(f.Parties, " | ")}
				}
			} else {
				fact = f.Details[factKeys[field]]
			}
			if fact == nil {
				if verbose != nil {
					fmt.Fprintf(verbose, "%s | %s: MISSED, labels %q\n", c.name, field, spans)
				}
				continue
			}
			ok := false
			if field == "Parties" {
				ok = agrees(field, f.Parties, spans, c.spans)
			} else {
				ok = lc.agrees(field, fact, spans)
			}
			if fact.Unsure {
				k.unsure++
				if ok {
					k.unsureCorrect++
				}
			} else {
				k.found++
				if ok {
					k.correct++
				}
			}
			if !ok && verbose != nil {
				u := ""
				if fact.Unsure {
					u = " (unsure)"
				}
				fmt.Fprintf(verbose, "%s | %s: got %s %q%s, labels %q\n", c.name, field, fact.Kind, fact.Value, u, spans)
			}
		}
	}
	return t, n
}

// badSources counts, in factsAccuracy's tallies, facts whose source does
// not cite the text or that are unsure yet shown as a plain value.
const badSources = "(bad sources)"

// partyNames counts the party names extracted (labelled) and those found
// in a labelled Parties span (correct).
const partyNames = "(party names)"

// checkSources returns how many facts of f cite a passage that is not in
// text, or are unsure yet shown in a flat field.
func checkSources(text string, f analysis.Facts, verbose io.Writer) int {
	bad := 0
	check := func(what string, s *analysis.Source) {
		if s == nil || s.Start < 0 || s.End > len(text) || s.Start >= s.End || strings.Join(strings.Fields(text[s.Start:s.End]), " ") != s.Text ||
			(strings.Contains(text, "\f") && s.Page != 1+strings.Count(text[:s.Start], "\f")) {
			bad++
			if verbose != nil {
				fmt.Fprintf(verbose, "bad source for %s: %+v\n", what, s)
			}
		}
	}
	for k, x := range f.Details {
		check(k, x.Source)
	}
	for _, p := range f.PartyDetails {
		check("party "+p.Name, p.Source)
	}
	flat := map[string]string{"agreement_date": f.AgreementDate, "effective_date": f.EffectiveDate, "expiration_date": f.ExpirationDate,
		"renewal_term": f.RenewalTerm, "notice_period": f.NoticePeriod, "governing_law": f.GoverningLaw, "document_name": f.DocumentName}
	for k, x := range f.Details {
		if x.Unsure && flat[k] != "" {
			bad++
		}
	}
	return bad
}

// labelCheck compares a Fact with a contract's labelled spans.
type labelCheck struct {
	text   string
	labels map[string][]string
}

var (
	blankLabelRe     = regexp.MustCompile(`_{2}|\bday\s+of\s*,|^\W*(?:19|20)\d\d\W*$|^\s*,\s*(?:19|20)\d\d|\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+(?:19|20)\d\d\b`)
	perpetualLabelRe = regexp.MustCompile(`(?i)perpetu|indefinite|until\s+(?:it\s+is\s+|so\s+)?terminated|until\s+terminat|when\s+terminated|no\s+(?:fixed\s+)?(?:term|expiration)`)
	firstAboveLabel  = regexp.MustCompile(`(?i)date\s+(?:first\s+)?(?:written|set\s+forth|stated)\s+above|date\s+hereof|day\s+and\s+year\s+first`)
)

// overlaps reports whether the fact's source overlaps one of the spans.
func (lc labelCheck) overlaps(f *analysis.Fact, spans []string) bool {
	if f.Source == nil {
		return false
	}
	var loc locator
	for _, s := range spans {
		for _, part := range strings.Split(s, "<omitted>") {
			a, b := loc.locate(lc.text, part)
			if a >= 0 && a < f.Source.End && f.Source.Start < b {
				return true
			}
		}
	}
	return false
}

// agrees decides whether a Fact states what the labelled spans say:
//   - a date agrees with a span holding that date (for the expiration: its
//     last date, or its period counted from the labelled effective date);
//   - where the spans hold no full date, a blank (a form's "___ day of")
//     agrees with a blank span, and an event or a period the text does not
//     anchor ("until the expiration of the Royalty Term", "1 year after
//     the Launch Date") agrees when it was read from the labelled passage
//     and, for a period, states the same length;
//   - "perpetual" agrees with a span that says so;
//   - names, law and terms as before (the text of the value in a span).
func (lc labelCheck) agrees(field string, f *analysis.Fact, spans []string) bool {
	switch field {
	case "Agreement Date", "Effective Date":
		var dated []string
		for _, s := range spans {
			if d := analysis.ParseDate(s); d != "" {
				dated = append(dated, d)
			}
		}
		if len(dated) > 0 {
			return f.Kind == analysis.KindDate && slices.Contains(dated, f.Value)
		}
		for _, s := range spans {
			if f.Kind == analysis.KindBlank && blankLabelRe.MatchString(s) {
				return true
			}
			// "effective as of the date first written above": the labelled agreement date
			if f.Kind == analysis.KindDate && firstAboveLabel.MatchString(s) {
				for _, a := range lc.labels["Agreement Date"] {
					if analysis.ParseDate(a) == f.Value {
						return true
					}
				}
			}
		}
		return f.Kind == analysis.KindEvent && lc.overlaps(f, spans)
	case "Expiration Date":
		for _, s := range spans {
			ds := analysis.ParseDates(s)
			if len(ds) > 0 && ds[len(ds)-1] == f.Value {
				return true
			}
			end := termEnd(s, lc.labels)
			if len(ds) == 0 && end != "" && end == f.Value {
				return true
			}
			if f.Kind == analysis.KindPerpetual && perpetualLabelRe.MatchString(s) {
				return true
			}
			if len(ds) == 0 && f.Duration != "" && spanPeriod(s) == f.Duration && lc.overlaps(f, spans) && (f.Kind == analysis.KindDuration || end == "") {
				// the same period, counted from something the labels do not date
				// (another anchor: "one year following the Launch Date"; or no
				// labelled effective date to check a computed date against)
				return true
			}
			if len(ds) == 1 && spanPeriod(s) != "" && addPeriod(ds[0], spanPeriod(s)) == f.Value {
				// "commence upon April 1, 1999 and continue for six (6) months"
				return true
			}
		}
		if f.Kind == analysis.KindEvent && lc.overlaps(f, spans) {
			for _, s := range spans {
				// an event, or a choice between a period and an event ("the later of (a) twelve months ... and (b) ...")
				if len(analysis.ParseDates(s)) == 0 && (spanPeriod(s) == "" || laterOfRe.MatchString(s)) {
					return true
				}
			}
		}
		return false
	default:
		return agrees(field, []string{f.Value}, spans, lc.labels)
	}
}

// addPeriod adds a spanPeriod to an ISO date.
func addPeriod(iso, p string) string {
	t, err := time.Parse("2006-01-02", iso)
	var n int
	var unit string
	if _, err2 := fmt.Sscanf(p, "%d %s", &n, &unit); err != nil || err2 != nil {
		return ""
	}
	if strings.HasPrefix(unit, "year") {
		return t.AddDate(n, 0, 0).Format("2006-01-02")
	}
	return t.AddDate(0, n, 0).Format("2006-01-02")
}

// spanPeriod is the first period a span states, normalised like
// Fact.Duration ("3 years"), or "".
func spanPeriod(s string) string {
	m := durationRe.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	n := durationN(m)
	unit := strings.TrimSuffix(strings.ToLower(m[4]), "s")
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func nonEmpty(v []string) []string {
	var out []string
	for _, s := range v {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)

func squash(s string) string { return nonAlnum.ReplaceAllString(strings.ToLower(s), " ") }

var digitsRe = regexp.MustCompile(`\d+`)

var durationRe = regexp.MustCompile(`(?i)\b(?:(\d+)|(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|eighteen|twenty|thirty|thirty-six|sixty))\s*(?:\((\d+)\)\s*)?-?\s*(?:full\s+|calendar\s+|consecutive\s+)?(years?|months?)\b`)

// termEnd is the end of a term stated as a duration ("a term of five (5)
// years") counted from the contract's labelled effective date (else its
// agreement date), or "" when the span or the labels do not say.
func termEnd(span string, labels map[string][]string) string {
	m := durationRe.FindStringSubmatch(span)
	dayBefore := false
	if a := anniversaryLabelRe.FindStringSubmatch(span); a != nil {
		// "the third anniversary of the Effective Date" is three years
		m = []string{a[0], "", a[2], "", "years"}
		if n, ok := ordinalYears[strings.ToLower(a[2])]; ok {
			m[1] = fmt.Sprint(n)
		}
		dayBefore = a[1] != ""
	}
	if m == nil {
		return ""
	}
	n := durationN(m)
	var base string
	for _, field := range []string{"Effective Date", "Agreement Date"} {
		for _, s := range labels[field] {
			if base = analysis.ParseDate(s); base != "" {
				break
			}
		}
		if base != "" {
			break
		}
	}
	t, err := time.Parse("2006-01-02", base)
	if err != nil || n == 0 {
		return ""
	}
	d := 0
	if dayBefore {
		d = -1
	}
	if strings.HasPrefix(strings.ToLower(m[4]), "year") {
		return t.AddDate(n, 0, d).Format("2006-01-02")
	}
	return t.AddDate(0, n, d).Format("2006-01-02")
}

var (
	anniversaryLabelRe = regexp.MustCompile(`(?i)(day\s+(?:prior\s+to|before|preceding)\s+)?(?:the\s+)?\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|fifteenth|twentieth|\d{1,2}(?:st|nd|rd|th))\b\s*(?:\(\d{1,2}(?:st|nd|rd|th)?\)\s*)?anniversary`)
	ordinalYears       = map[string]int{"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "fifteenth": 15, "twentieth": 20}
	laterOfRe          = regexp.MustCompile(`(?i)\b(?:later|earlier|longer|shorter|latest|earliest)\s+of\b|\bfirst\s+to\s+occur\b|\bwhichever\b`)
)

// durationN is the number of a durationRe match: the digits in
// parentheses ("five (5)"), else the number or its word.
func durationN(m []string) int {
	n := 0
	switch {
	case m[3] != "":
		fmt.Sscan(m[3], &n)
	case m[1] != "":
		fmt.Sscan(strings.TrimRight(m[1], "stndrh"), &n)
	default:
		n, _ = analysisNumberWord(strings.ToLower(m[2]))
	}
	return n
}

// agrees decides whether extracted values match the labelled spans of a
// field; labels are all the contract's labelled spans by category.
// agrees is the comparison used before facts_version 2, on flat values.
func agrees(field string, vals, spans []string, labels map[string][]string) bool {
	switch field {
	case "Agreement Date", "Effective Date":
		for _, s := range spans {
			if analysis.ParseDate(s) == vals[0] {
				return true
			}
		}
		return false
	case "Expiration Date":
		for _, s := range spans {
			// the end date is the span's last date ("from June 1, 1998 until May 31, 2001")
			if ds := analysis.ParseDates(s); len(ds) > 0 && ds[len(ds)-1] == vals[0] {
				return true
			}
			// a term stated as a duration, counted from the labelled effective date
			if len(analysis.ParseDates(s)) == 0 && termEnd(s, labels) == vals[0] {
				return true
			}
			if vals[0] == "perpetual" && regexp.MustCompile(`(?i)perpetu|indefinite|until\s+(?:it\s+is\s+|so\s+)?terminated`).MatchString(s) {
				return true
			}
			// a computed "N years after" date agrees when the span states the same period
			if ds := digitsRe.FindAllString(vals[0], 1); len(ds) > 0 && !strings.Contains(vals[0], "-") && strings.Contains(s, ds[0]) {
				return true
			}
		}
		return false
	case "Parties":
		// every extracted party should occur in some labelled span (or vice versa)
		hits := 0
		for _, v := range vals {
			for _, s := range spans {
				a, b := squash(v), squash(s)
				if strings.Contains(a, b) || strings.Contains(b, a) {
					hits++
					break
				}
			}
		}
		return hits*2 >= len(vals) && hits > 0
	case "Renewal Term", "Notice Period to Terminate Renewal":
		v := squash(vals[0])
		for _, s := range spans {
			ss := squash(s)
			if strings.Contains(ss, v) {
				return true
			}
			if d := digitsRe.FindString(v); d != "" && strings.Contains(ss, " "+d+" ") {
				return true
			}
			for _, w := range strings.Fields(v) {
				if _, ok := analysisNumberWord(w); ok && strings.Contains(ss, w) {
					return true
				}
			}
		}
		return false
	default:
		for _, s := range spans {
			a, b := squash(vals[0]), squash(s)
			if a != "" && (strings.Contains(b, a) || strings.Contains(a, b)) {
				return true
			}
		}
		return false
	}
}

func analysisNumberWord(w string) (int, bool) {
	m := map[string]int{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
		"fifteen": 15, "eighteen": 18, "twenty": 20, "thirty": 30, "thirty-six": 36, "sixty": 60, "ninety": 90}
	n, ok := m[w]
	return n, ok
}
