package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
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
	fs.Parse(args)
	ds, err := load(*dir)
	if err != nil {
		return err
	}
	var out io.Writer
	if *verbose {
		out = os.Stdout
	}
	t, n := factsAccuracy(ds, !*all, out)
	fmt.Printf("Document facts vs CUAD labels (%d contracts)\n", n)
	fmt.Printf("%-36s %8s %8s %8s %9s\n", "fact", "labelled", "found", "correct", "accuracy")
	var sum tally
	for _, f := range factFields {
		k := t[f]
		sum.labelled, sum.correct = sum.labelled+k.labelled, sum.correct+k.correct
		fmt.Printf("%-36s %8d %8d %8d %8.1f%%\n", f, k.labelled, k.found, k.correct, 100*k.accuracy())
	}
	fmt.Printf("%-36s %8d %8s %8d %8.1f%%\n", "ALL", sum.labelled, "", sum.correct, 100*sum.accuracy())
	fmt.Println("(accuracy = correct / contracts with a labelled value)")
	return nil
}

type tally struct{ labelled, found, correct int }

func (k tally) accuracy() float64 { return float64(k.correct) / float64(max(1, k.labelled)) }

var factFields = []string{"Document Name", "Parties", "Agreement Date", "Effective Date", "Expiration Date", "Renewal Term", "Notice Period to Terminate Renewal", "Governing Law"}

// factsAccuracy runs ExtractFacts over the contracts (the test split only,
// or all) and tallies the agreement with the labels per fact; with verbose
// set, disagreements are written to it. It returns the tallies and the
// number of contracts.
func factsAccuracy(ds *dataset, testOnly bool, verbose io.Writer) (map[string]*tally, int) {
	t := map[string]*tally{}
	for _, f := range factFields {
		t[f] = &tally{}
	}
	n := 0
	for _, c := range ds.contracts {
		if testOnly && c.split != splitTest {
			continue
		}
		n++
		f := analysis.ExtractFacts(c.text)
		got := map[string][]string{
			"Document Name":                      {f.DocumentName},
			"Parties":                            f.Parties,
			"Agreement Date":                     {f.AgreementDate},
			"Effective Date":                     {f.EffectiveDate},
			"Expiration Date":                    {f.ExpirationDate},
			"Renewal Term":                       {f.RenewalTerm},
			"Notice Period to Terminate Renewal": {f.NoticePeriod},
			"Governing Law":                      {f.GoverningLaw},
		}
		for _, field := range factFields {
			spans := c.spans[field]
			if len(spans) == 0 {
				continue
			}
			k := t[field]
			k.labelled++
			vals := nonEmpty(got[field])
			if len(vals) == 0 {
				continue
			}
			k.found++
			if agrees(field, vals, spans, c.spans) {
				k.correct++
			} else if verbose != nil {
				fmt.Fprintf(verbose, "%s | %s: got %q, labels %q\n", c.name, field, vals, spans)
			}
		}
	}
	return t, n
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

var durationRe = regexp.MustCompile(`(?i)\b(?:(\d+)|(one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty))\s*(?:\(\d+\)\s*)?(years?|months?)\b`)

// termEnd is the end of a term stated as a duration ("a term of five (5)
// years") counted from the contract's labelled effective date (else its
// agreement date), or "" when the span or the labels do not say.
func termEnd(span string, labels map[string][]string) string {
	m := durationRe.FindStringSubmatch(span)
	if m == nil {
		return ""
	}
	n := 0
	if m[1] != "" {
		fmt.Sscan(m[1], &n)
	} else {
		n, _ = analysisNumberWord(strings.ToLower(m[2]))
	}
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
	if strings.HasPrefix(strings.ToLower(m[3]), "year") {
		return t.AddDate(n, 0, 0).Format("2006-01-02")
	}
	return t.AddDate(0, n, 0).Format("2006-01-02")
}

// agrees decides whether extracted values match the labelled spans of a
// field; labels are all the contract's labelled spans by category.
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
	m := map[string]int{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10, "twelve": 12, "thirty": 30, "sixty": 60, "ninety": 90}
	n, ok := m[w]
	return n, ok
}
