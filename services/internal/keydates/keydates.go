// Package keydates computes a contract's deadlines from its facts (facts
// version 2, see services/internal/analysis): when it expires or renews,
// and the last day to give notice of non-renewal. It is pure: the caller
// passes today's date.
//
// A deadline computed from a fact the analyser is unsure of is returned
// Tentative (shown as such, and exported with STATUS:TENTATIVE) rather than
// dropped: a missed notice deadline costs more than a date to check.
package keydates

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

// Kinds of deadline.
const (
	Expiration = "expiration" // the contract ends
	Renewal    = "renewal"    // the current term ends and the contract renews automatically
	Notice     = "notice"     // the last day to give notice of non-renewal
)

// Deadline is one key date of a contract.
type Deadline struct {
	Kind      string
	Date      time.Time // a calendar day (UTC midnight)
	Tentative bool      // computed from a fact the analyser is unsure of
	Title     string
	Detail    string // how it was computed, in words
	// Source is the passage of the fact the date rests on (the
	// expiration, or for a notice deadline the notice period).
	Source *analysis.Source
}

// facts is the part of documents.facts the computation reads.
type facts struct {
	Version        int                       `json:"facts_version"`
	EffectiveDate  string                    `json:"effective_date"`
	AgreementDate  string                    `json:"agreement_date"`
	ExpirationDate string                    `json:"expiration_date"`
	Details        map[string]*analysis.Fact `json:"details"`
}

const isoDay = "2006-01-02"

// Compute returns the deadlines of a contract from its facts JSON, in date
// order. Facts that say nothing dated (an event, perpetual, blank, or a
// period from an undated anchor) give no deadline.
func Compute(raw []byte, today time.Time) []Deadline {
	var f facts
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil
	}
	today = day(today)
	exp, unsure, src, how := expiration(&f)
	if exp.IsZero() {
		return nil
	}
	renewal, renewalUnsure := period(f.Details["renewal_term"])
	notice, noticeUnsure := period(f.Details["notice_period"])
	automatic := renewal.n > 0 && isAutomatic(f.Details["renewal_term"])
	var out []Deadline
	end := exp
	if automatic {
		// Roll the term forward until it ends after today; then, if the
		// notice deadline for that end has passed, the renewal is certain
		// and the next actionable notice is for the term after.
		for i := 0; !end.After(today) && i < 1000; i++ {
			end = renewal.add(end, 1)
		}
		tentative := unsure || renewalUnsure
		out = append(out, Deadline{Kind: Renewal, Date: end, Tentative: tentative, Source: src,
			Title:  "Term ends; renews automatically",
			Detail: fmt.Sprintf("The term %s and renews for %s at a time unless notice is given.", how, renewal)})
		if end != exp {
			out[0].Detail = fmt.Sprintf("The first term %s (%s); it renews automatically for %s at a time.", how, exp.Format(isoDay), renewal)
		}
		if notice.n > 0 {
			termEnd := end
			n := notice.add(termEnd, -1)
			if n.Before(today) {
				termEnd = renewal.add(termEnd, 1)
				n = notice.add(termEnd, -1)
			}
			out = append(out, Deadline{Kind: Notice, Date: n, Tentative: tentative || noticeUnsure, Source: source(f.Details["notice_period"]),
				Title:  "Last day to give notice of non-renewal",
				Detail: fmt.Sprintf("%s before the term ends on %s; otherwise the contract renews for %s.", notice, termEnd.Format(isoDay), renewal)})
		}
		return byDate(out)
	}
	out = append(out, Deadline{Kind: Expiration, Date: exp, Tentative: unsure, Source: src,
		Title: "Contract expires", Detail: fmt.Sprintf("The term %s.", how)})
	if notice.n > 0 {
		out = append(out, Deadline{Kind: Notice, Date: notice.add(exp, -1), Tentative: unsure || noticeUnsure, Source: source(f.Details["notice_period"]),
			Title:  "Last day to give notice of non-renewal",
			Detail: fmt.Sprintf("%s before the contract expires on %s.", notice, exp.Format(isoDay))})
	}
	return byDate(out)
}

func byDate(ds []Deadline) []Deadline {
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].Date.Before(ds[j].Date) })
	return ds
}

func day(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }

func parseDay(s string) (time.Time, bool) {
	t, err := time.Parse(isoDay, strings.TrimSpace(s))
	return t, err == nil
}

func source(f *analysis.Fact) *analysis.Source {
	if f == nil {
		return nil
	}
	return f.Source
}

// expiration is the end of the initial term, whether it rests on an unsure
// fact, its source, and how it reads ("ends on 2021-07-01").
func expiration(f *facts) (time.Time, bool, *analysis.Source, string) {
	d := f.Details["expiration_date"]
	if d == nil {
		if f.Version < 2 { // version 1: the flat value, when it is a date
			if t, ok := parseDay(f.ExpirationDate); ok {
				return t, false, nil, "ends on " + t.Format(isoDay)
			}
		}
		return time.Time{}, false, nil, ""
	}
	switch d.Kind {
	case analysis.KindDate:
		if t, ok := parseDay(d.Value); ok {
			return t, d.Unsure, d.Source, "ends on " + t.Format(isoDay)
		}
	case analysis.KindDuration:
		p, _ := period(d)
		from, fromUnsure, ok := anchor(f, d.From)
		if p.n > 0 && ok {
			t := p.add(from, 1)
			return t, d.Unsure || fromUnsure, d.Source, fmt.Sprintf("runs %s from %s, to %s", p, from.Format(isoDay), t.Format(isoDay))
		}
	}
	return time.Time{}, false, nil, ""
}

var (
	effectiveAnchorRe = regexp.MustCompile(`(?i)^(?:the\s+)?(?:effective\s+date|commencement\s+date|start\s+date)$`)
	agreementAnchorRe = regexp.MustCompile(`(?i)^(?:the\s+)?(?:agreement\s+date|date\s+hereof|date\s+of\s+(?:this|the)\s+(?:agreement|contract)|execution(?:\s+date)?|date\s+of\s+execution|signing)$`)
)

// anchor resolves what a period counts from: an ISO date, or the effective
// or agreement date when the facts have it.
func anchor(f *facts, from string) (time.Time, bool, bool) {
	if t, ok := parseDay(from); ok {
		return t, false, true
	}
	for _, a := range []struct {
		re   *regexp.Regexp
		key  string
		flat string
	}{{effectiveAnchorRe, "effective_date", f.EffectiveDate}, {agreementAnchorRe, "agreement_date", f.AgreementDate}} {
		if !a.re.MatchString(strings.TrimSpace(from)) {
			continue
		}
		if d := f.Details[a.key]; d != nil && d.Kind == analysis.KindDate {
			t, ok := parseDay(d.Value)
			return t, d.Unsure, ok
		}
		t, ok := parseDay(a.flat)
		return t, false, ok
	}
	return time.Time{}, false, false
}

// Period is a normalised duration as the facts write it: "90 days",
// "1 year", "30 business days", "2 weeks".
type Period struct {
	n    int
	unit string // day, business day, week, month, year
}

func (p Period) String() string {
	if p.n == 1 {
		return "1 " + p.unit
	}
	return fmt.Sprintf("%d %ss", p.n, p.unit)
}

var periodRe = regexp.MustCompile(`^(\d{1,4})\s+(business day|day|week|month|year)s?$`)

// ParsePeriod reads a normalised duration.
func ParsePeriod(s string) (Period, bool) {
	m := periodRe.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return Period{}, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return Period{}, false
	}
	return Period{n: n, unit: m[2]}, true
}

func period(f *analysis.Fact) (Period, bool) {
	if f == nil {
		return Period{}, false
	}
	p, ok := ParsePeriod(f.Duration)
	if !ok {
		return Period{}, false
	}
	return p, f.Unsure
}

// add moves t by the period, forwards (sign 1) or backwards (-1). Months
// and years keep the day of the month where it exists and otherwise end on
// the month's last day (January 31 + 1 month is February 28 or 29), as a
// contract's "one month" is read; business days skip Saturdays and Sundays.
func (p Period) add(t time.Time, sign int) time.Time {
	switch p.unit {
	case "day":
		return t.AddDate(0, 0, sign*p.n)
	case "week":
		return t.AddDate(0, 0, sign*7*p.n)
	case "business day":
		for left := p.n; left > 0; {
			t = t.AddDate(0, 0, sign)
			if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
				left--
			}
		}
		return t
	case "month":
		return addMonths(t, sign*p.n)
	case "year":
		return addMonths(t, sign*12*p.n)
	}
	return t
}

func addMonths(t time.Time, months int) time.Time {
	first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, months, 0)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(t.Day(), last)-1)
}

var (
	automaticRe = regexp.MustCompile(`(?i)\bautomatic(?:al)?ly\b|\bautomatic\b|\bauto-renew|\bevergreen\b|\b(?:shall|will)\s+(?:be\s+)?(?:automatically\s+)?(?:renew|extend)|\brenews?\s+(?:itself|automatically|annually|each|for)\b|\bunless\s+(?:either|one|a|the|written|prior|notice|terminated)\b|\bthereafter\s+continue|\b(?:year|month)[\s-]+to[\s-]+(?:year|month)\b`)
	optionalRe  = regexp.MustCompile(`(?i)\bmay\s+(?:be\s+)?(?:renew|extend)|\boption\s+to\s+(?:renew|extend)|\bby\s+mutual|\bmutual(?:ly)?\s+(?:agree|written|consent)|\bupon\s+(?:the\s+)?(?:mutual|written)\s+agreement|\bif\s+the\s+parties\s+agree`)
)

// isAutomatic reports whether the renewal fact says the contract renews by
// itself (unless a party gives notice), rather than by agreement or option.
func isAutomatic(f *analysis.Fact) bool {
	if f == nil {
		return false
	}
	text := f.Value
	if f.Source != nil {
		text += " " + f.Source.Text
	}
	return automaticRe.MatchString(text) && !optionalRe.MatchString(text)
}
