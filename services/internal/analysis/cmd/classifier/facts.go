package main

import (
	"flag"
	"fmt"
	"regexp"
	"strings"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

// runFacts measures analysis.ExtractFacts against the CUAD labels: for each
// fact, over the contracts whose labels hold a value, how often the
// extracted value agrees with a labelled span.
func runFacts(args []string) error {
	fs := flag.NewFlagSet("facts", flag.ExitOnError)
	dir := dataFlag(fs)
	verbose := fs.Bool("v", false, "print disagreements")
	fs.Parse(args)
	ds, err := load(*dir)
	if err != nil {
		return err
	}
	type tally struct{ labelled, found, correct int }
	fields := []string{"Document Name", "Parties", "Agreement Date", "Effective Date", "Expiration Date", "Renewal Term", "Notice Period to Terminate Renewal", "Governing Law"}
	t := map[string]*tally{}
	for _, f := range fields {
		t[f] = &tally{}
	}
	for _, c := range ds.contracts {
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
		for _, field := range fields {
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
			if agrees(field, vals, spans) {
				k.correct++
			} else if *verbose {
				fmt.Printf("%s | %s: got %q, labels %q\n", c.name, field, vals, spans)
			}
		}
	}
	fmt.Printf("Document facts vs CUAD labels (%d contracts; rules, not trained)\n", len(ds.contracts))
	fmt.Printf("%-36s %8s %8s %8s %9s\n", "fact", "labelled", "found", "correct", "accuracy")
	var sumL, sumC int
	for _, f := range fields {
		k := t[f]
		sumL, sumC = sumL+k.labelled, sumC+k.correct
		fmt.Printf("%-36s %8d %8d %8d %8.1f%%\n", f, k.labelled, k.found, k.correct, 100*float64(k.correct)/float64(max(1, k.labelled)))
	}
	fmt.Printf("%-36s %8d %8s %8d %8.1f%%\n", "ALL", sumL, "", sumC, 100*float64(sumC)/float64(max(1, sumL)))
	fmt.Println("(accuracy = correct / contracts with a labelled value)")
	return nil
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

// agrees decides whether extracted values match the labelled spans of a field.
func agrees(field string, vals, spans []string) bool {
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
			if d := analysis.ParseDate(s); d != "" && d == vals[0] {
				return true
			}
			if vals[0] == "perpetual" && regexp.MustCompile(`(?i)perpetu|indefinite`).MatchString(s) {
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
