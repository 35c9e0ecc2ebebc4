package keydates

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

func d(s string) time.Time {
	t, err := time.Parse(isoDay, s)
	if err != nil {
		panic(err)
	}
	return t
}

// factsJSON builds facts version 2 with the given details.
func factsJSON(details map[string]*analysis.Fact) []byte {
	b, _ := json.Marshal(map[string]any{"facts_version": 2, "details": details})
	return b
}

func date(v string, unsure bool) *analysis.Fact {
	return &analysis.Fact{Value: v, Kind: analysis.KindDate, Unsure: unsure, Source: &analysis.Source{Text: "ends " + v, Page: 2}}
}

func dur(value, duration string, unsure bool) *analysis.Fact {
	return &analysis.Fact{Value: value, Kind: analysis.KindDuration, Duration: duration, Unsure: unsure, Source: &analysis.Source{Text: value}}
}

type want struct {
	kind, date string
	tentative  bool
}

func TestComputeDeadlines(t *testing.T) {
	today := d("2026-11-29")
	for _, tc := range []struct {
		name    string
		details map[string]*analysis.Fact
		want    []want
	}{
		{"a fixed end date", map[string]*analysis.Fact{"expiration_date": date("2027-06-30", false)},
			[]want{{Expiration, "2027-06-30", false}}},
		{"notice before a fixed end", map[string]*analysis.Fact{"expiration_date": date("2027-06-30", false),
			"notice_period": dur("ninety (90) days", "90 days", false)},
			[]want{{Notice, "2027-04-01", false}, {Expiration, "2027-06-30", false}}},
		{"an unsure end is tentative, and so is its notice", map[string]*analysis.Fact{"expiration_date": date("2027-06-30", true),
			"notice_period": dur("30 days", "30 days", false)},
			[]want{{Notice, "2027-05-31", true}, {Expiration, "2027-06-30", true}}},
		{"an unsure notice period only makes the notice tentative", map[string]*analysis.Fact{"expiration_date": date("2027-06-30", false),
			"notice_period": dur("30 days", "30 days", true)},
			[]want{{Notice, "2027-05-31", true}, {Expiration, "2027-06-30", false}}},
		{"a past expiration without renewal stays as it is", map[string]*analysis.Fact{"expiration_date": date("2021-07-01", false)},
			[]want{{Expiration, "2021-07-01", false}}},
		{"automatic renewal rolls the term past today", map[string]*analysis.Fact{"expiration_date": date("2021-07-01", false),
			"renewal_term":  dur("renew automatically for successive one (1) year terms", "1 year", false),
			"notice_period": dur("sixty (60) days", "60 days", false)},
			[]want{{Notice, "2027-05-02", false}, {Renewal, "2027-07-01", false}}},
		{"a missed notice deadline points to the next term", map[string]*analysis.Fact{"expiration_date": date("2020-12-15", false),
			"renewal_term":  dur("successive one year terms unless either party gives notice", "1 year", false),
			"notice_period": dur("30 days", "30 days", false)},
			// term ends 2026-12-15; notice for it was due 2026-11-15 (past): next notice is for 2027-12-15
			[]want{{Renewal, "2026-12-15", false}, {Notice, "2027-11-15", false}}},
		{"a renewal by agreement does not roll", map[string]*analysis.Fact{"expiration_date": date("2025-01-31", false),
			"renewal_term": dur("may be renewed for additional one year periods by mutual written agreement", "1 year", false)},
			[]want{{Expiration, "2025-01-31", false}}},
		{"month-end arithmetic clamps to the last day", map[string]*analysis.Fact{"expiration_date": date("2027-03-31", false),
			"notice_period": dur("one month", "1 month", false)},
			[]want{{Notice, "2027-02-28", false}, {Expiration, "2027-03-31", false}}},
		{"business days skip weekends", map[string]*analysis.Fact{"expiration_date": date("2027-01-11", false), // a Monday
			"notice_period": dur("five business days", "5 business days", false)},
			[]want{{Notice, "2027-01-04", false}, {Expiration, "2027-01-11", false}}},
		{"a term counted from the effective date", map[string]*analysis.Fact{
			"effective_date":  date("2025-02-28", false),
			"expiration_date": {Value: "three (3) years from the Effective Date", Kind: analysis.KindDuration, Duration: "3 years", From: "Effective Date"}},
			[]want{{Expiration, "2028-02-28", false}}},
		{"an unsure anchor makes the end tentative", map[string]*analysis.Fact{
			"effective_date":  date("2025-02-28", true),
			"expiration_date": {Value: "2 years after the Effective Date", Kind: analysis.KindDuration, Duration: "2 years", From: "Effective Date"}},
			[]want{{Expiration, "2027-02-28", true}}},
		{"a term from an undated anchor gives nothing", map[string]*analysis.Fact{
			"expiration_date": {Value: "1 year after the Launch Date", Kind: analysis.KindDuration, Duration: "1 year", From: "Launch Date"},
			"notice_period":   dur("30 days", "30 days", false)}, nil},
		{"an event gives nothing", map[string]*analysis.Fact{"expiration_date": {Value: "until the last Royalty Term ends", Kind: analysis.KindEvent}}, nil},
		{"perpetual gives nothing", map[string]*analysis.Fact{"expiration_date": {Value: "perpetual", Kind: analysis.KindPerpetual},
			"renewal_term": dur("automatically renews for 1 year", "1 year", false)}, nil},
		{"no facts", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Compute(factsJSON(tc.details), today)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d deadlines %+v, want %v", len(got), got, tc.want)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Kind != w.kind || g.Date.Format(isoDay) != w.date || g.Tentative != w.tentative {
					t.Errorf("deadline %d: %s %s tentative=%v, want %s %s tentative=%v (%s)", i, g.Kind, g.Date.Format(isoDay), g.Tentative,
						w.kind, w.date, w.tentative, g.Detail)
				}
				if g.Title == "" || g.Detail == "" {
					t.Errorf("deadline %d has no title or detail", i)
				}
			}
		})
	}
}

func TestComputeReadsVersionOneFacts(t *testing.T) {
	got := Compute([]byte(`{"expiration_date":"2030-01-15","notice_period":"90 days"}`), d("2026-11-29"))
	if len(got) != 1 || got[0].Kind != Expiration || got[0].Date != d("2030-01-15") {
		t.Fatalf("%+v", got)
	}
	if Compute([]byte(`not json`), d("2026-11-29")) != nil {
		t.Fatal("bad JSON gives deadlines")
	}
}

// The export is parsed back by a real iCalendar parser: every deadline is
// an all-day event with its UID, date, status and the text as written.
func TestICSParsesBack(t *testing.T) {
	long := "Last day to give notice of non-renewal; Distributor, Inc. \\ “Acme” — " + strings.Repeat("ünïcödé ", 12)
	events := []Event{
		{UID: "6f1c-notice@contract-lucidity", Date: d("2027-04-01"), Summary: long, Description: "line one\nline two, with; separators", Tentative: true},
		{UID: "6f1c-expiration@contract-lucidity", Date: d("2027-06-30"), Summary: "Contract expires"},
	}
	var buf bytes.Buffer
	stamp := time.Date(2026, 11, 29, 10, 30, 0, 0, time.UTC)
	if err := WriteICS(&buf, "Matter: Acme, Inc.", events, stamp); err != nil {
		t.Fatal(err)
	}
	raw := buf.String()
	if !strings.HasSuffix(raw, "\r\n") || strings.Contains(strings.ReplaceAll(raw, "\r\n", ""), "\n") {
		t.Fatal("lines do not all end in CRLF")
	}
	for _, l := range strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
	}
	cal, err := ical.NewDecoder(strings.NewReader(raw)).Decode()
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	if v, _ := cal.Props.Text(ical.PropVersion); v != "2.0" {
		t.Errorf("VERSION %q", v)
	}
	if p := cal.Props.Get(ical.PropProductID); p == nil || p.Value == "" {
		t.Error("no PRODID")
	}
	got := cal.Events()
	if len(got) != len(events) {
		t.Fatalf("%d events, want %d", len(got), len(events))
	}
	for i, ev := range got {
		w := events[i]
		if uid, _ := ev.Props.Text(ical.PropUID); uid != w.UID {
			t.Errorf("UID %q, want %q", uid, w.UID)
		}
		start := ev.Props.Get(ical.PropDateTimeStart)
		if start == nil || start.ValueType() != ical.ValueDate {
			t.Fatalf("DTSTART %+v is not a DATE", start)
		}
		if dt, err := start.DateTime(time.UTC); err != nil || !dt.Equal(w.Date) {
			t.Errorf("DTSTART %v %v, want %v", dt, err, w.Date)
		}
		if ds, err := ev.Props.DateTime(ical.PropDateTimeStamp, time.UTC); err != nil || !ds.Equal(stamp) {
			t.Errorf("DTSTAMP %v %v", ds, err)
		}
		if s, _ := ev.Props.Text(ical.PropSummary); s != w.Summary {
			t.Errorf("SUMMARY %q, want %q", s, w.Summary)
		}
		status, _ := ev.Props.Text(ical.PropStatus)
		if (status == "TENTATIVE") != w.Tentative {
			t.Errorf("STATUS %q for tentative=%v", status, w.Tentative)
		}
	}
	if desc, _ := got[0].Props.Text(ical.PropDescription); desc != events[0].Description {
		t.Errorf("DESCRIPTION %q", desc)
	}
}
