package analysis

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// Facts of real CUAD contracts, checked against the CUAD labels (the expected
// values below are the labelled answers).
func TestExtractFactsOnRealContracts(t *testing.T) {
	tests := []struct {
		file                     string
		name, docType, date, law string
		expiration               string
		partyPrefix              string
	}{
		{adamsGolf + ".layout.txt", "ENDORSEMENT AGREEMENT", "Endorsement Agreement", "2005-01-13", "Kansas", "", "ADAMS GOLF, LTD."},
		{dataCall + ".layout.txt", "CONTENT LICENSING AGREEMENT", "License Agreement", "", "United States of America", "", "Data Call Technologies, Inc."},
		{raeCoBrand + ".txt", "CO-BRANDING AGREEMENT (FORM)", "Co-Branding Agreement", "1999-11-05", "California", "2000-11-05", "NETTAXI Online Communities, Inc."},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f := ExtractFacts(readTestdata(t, tc.file))
			if f.DocumentName != tc.name || f.DocumentType != tc.docType {
				t.Errorf("name/type = %q/%q, want %q/%q", f.DocumentName, f.DocumentType, tc.name, tc.docType)
			}
			if f.AgreementDate != tc.date {
				t.Errorf("agreement date = %q, want %q", f.AgreementDate, tc.date)
			}
			if f.GoverningLaw != tc.law {
				t.Errorf("governing law = %q, want %q", f.GoverningLaw, tc.law)
			}
			if f.ExpirationDate != tc.expiration {
				t.Errorf("expiration = %q, want %q", f.ExpirationDate, tc.expiration)
			}
			if !slices.ContainsFunc(f.Parties, func(p string) bool { return strings.HasPrefix(p, tc.partyPrefix) }) {
				t.Errorf("parties %q lack %q", f.Parties, tc.partyPrefix)
			}
		})
	}
}

func TestExtractFactsRules(t *testing.T) {
	text := `SUPPLY AGREEMENT

This Supply Agreement (the "Agreement") is dated as of March 3, 2015 by and between Acme Widgets, Inc., a Delaware corporation ("Acme"), and Beta Foods LLC ("Buyer").

1. Term. This Agreement shall commence on the Effective Date and continue for a term of three (3) years. Thereafter it shall automatically renew for successive one (1) year periods unless either party gives written notice of non-renewal at least ninety (90) days prior to the end of the then-current term.

2. Governing Law. This Agreement shall be governed by the laws of the State of New York, without regard to its conflict of laws principles.
`
	f := ExtractFacts(text)
	want := Facts{
		DocumentName: "SUPPLY AGREEMENT", DocumentType: "Supply Agreement",
		Parties:       []string{"Acme Widgets, Inc.", "Beta Foods LLC"},
		AgreementDate: "2015-03-03", EffectiveDate: "2015-03-03", ExpirationDate: "2018-03-03",
		RenewalTerm: "successive one (1) year periods", NoticePeriod: "ninety (90) days", GoverningLaw: "New York",
	}
	if f.DocumentName != want.DocumentName || f.DocumentType != want.DocumentType || !slices.Equal(f.Parties, want.Parties) ||
		f.AgreementDate != want.AgreementDate || f.EffectiveDate != want.EffectiveDate || f.ExpirationDate != want.ExpirationDate ||
		f.RenewalTerm != want.RenewalTerm || f.NoticePeriod != want.NoticePeriod || f.GoverningLaw != want.GoverningLaw {
		t.Fatalf("got  %+v\nwant %+v", f, want)
	}
	wantParties := []Party{{Name: "Acme Widgets, Inc.", Short: "Acme"}, {Name: "Beta Foods LLC", Role: "Buyer"}}
	for i, p := range f.PartyDetails {
		if p.Name != wantParties[i].Name || p.Role != wantParties[i].Role || p.Short != wantParties[i].Short || p.Source == nil || text[p.Source.Start:p.Source.End] != p.Name {
			t.Errorf("party %d = %+v, want %+v", i, p, wantParties[i])
		}
	}
	if f.Version != FactsVersion {
		t.Errorf("version %d", f.Version)
	}
	exp := f.Details["expiration_date"]
	if exp == nil || exp.Kind != KindDate || exp.Duration != "3 years" || exp.From != "Effective Date" || !strings.Contains(exp.Source.Text, "continue for a term of three (3) years") {
		t.Errorf("expiration details %+v", exp)
	}
	if n := f.Details["notice_period"]; n == nil || n.Duration != "90 days" {
		t.Errorf("notice details %+v", n)
	}
	if r := f.Details["renewal_term"]; r == nil || r.Duration != "1 year" {
		t.Errorf("renewal details %+v", r)
	}
	checkSources(t, text, f)
}

// checkSources: every fact cites a passage of the text that holds it.
func checkSources(t *testing.T, text string, f Facts) {
	t.Helper()
	for key, x := range f.Details {
		if x.Source == nil {
			t.Errorf("%s: no source", key)
			continue
		}
		s := x.Source
		if s.Start < 0 || s.End > len(text) || s.Start >= s.End || strings.Join(strings.Fields(text[s.Start:s.End]), " ") != s.Text {
			t.Errorf("%s: source %d-%d %q does not cite the text", key, s.Start, s.End, s.Text)
		}
	}
}

// The example: "dated June 1, 2020, effective as of July 1, 2020":
// the effective date is July 1, not the first date nearby; the parties are
// the legal names with their roles, not the role words as extra parties.
func TestEffectiveDateAndPartyRoles(t *testing.T) {
	text := "CONSULTING AGREEMENT\n\nAduro Biotech, Inc., with a place of business at 740 Heinz Avenue, Berkeley, CA 94710 (\"Aduro\") and IREYA B.V having an address at Staalwijkstraat 16, Leiden, the Netherlands, (\"Consultant\") agree to all terms and conditions of this Consulting Agreement (\"Agreement\") dated June 1, 2020, effective as of July 1, 2020 (\"Effective Date\").\n\n3. Term of Agreement. This Agreement shall begin on the Effective Date and shall continue until December 31, 2020, unless extended or earlier terminated.\n"
	f := ExtractFacts(text)
	if f.AgreementDate != "2020-06-01" || f.EffectiveDate != "2020-07-01" || f.ExpirationDate != "2020-12-31" {
		t.Errorf("dates %q %q %q", f.AgreementDate, f.EffectiveDate, f.ExpirationDate)
	}
	if len(f.PartyDetails) != 2 || f.PartyDetails[0].Name != "Aduro Biotech, Inc." || f.PartyDetails[0].Short != "Aduro" ||
		f.PartyDetails[1].Name != "IREYA B.V" || f.PartyDetails[1].Role != "Consultant" {
		t.Errorf("parties %+v", f.PartyDetails)
	}
	checkSources(t, text, f)

	enum := "ENDORSEMENT AGREEMENT\n\nThis Endorsement Agreement (\"Agreement\") is made and entered into as of August 24, 1995, by and among the following parties: (a) Kathy Ireland, Inc. (\"KI Inc.\"), furnishing the services of Kathy Ireland (\"KI\"), c/o The Sterling/Winters Co., 1900 Avenue of the Stars, Los Angeles, California 90067; (b) The Sterling/Winters Co. (\"SW\"), 1900 Avenue of the Stars, Los Angeles, California 90067; and (c) Diplomat Ambassador Eyewear Group (\"Diplomat\"), 1010 Arch Street, Philadelphia, Pennsylvania 19107.\n"
	f = ExtractFacts(enum)
	if !slices.Equal(f.Parties, []string{"Kathy Ireland, Inc.", "The Sterling/Winters Co.", "Diplomat Ambassador Eyewear Group"}) {
		t.Errorf("enumerated parties %q", f.Parties)
	}
	checkSources(t, enum, f)

	dup := "LICENSE AGREEMENT\n\nThis License Agreement is made by and between Excite, Inc., a Delaware corporation (\"Company\"), Excite (\"Excite\") and Beta Media LLC (\"Licensee\").\n"
	f = ExtractFacts(dup)
	if !slices.Equal(f.Parties, []string{"Excite, Inc.", "Beta Media LLC"}) || f.PartyDetails[0].Role != "Company" || f.PartyDetails[1].Role != "Licensee" {
		t.Errorf("parties %q %+v", f.Parties, f.PartyDetails)
	}
}

// A date the document leaves blank, a term that ends on an event and an
// unsure candidate are details, not plain values; a fact on the second
// page of pdftotext output (pages split by form feeds) says so.
func TestFactKindsAndPages(t *testing.T) {
	text := "SERVICES AGREEMENT\n\nThis Services Agreement is made and entered into this ____ day of __________, 2004 by and between Gamma Corp. (\"Gamma\") and Delta Ltd. (\"Delta\").\n\f\n" +
		"4. Term. This Agreement shall commence on the Effective Date and shall continue until the expiration of the last Royalty Term, unless earlier terminated.\n"
	f := ExtractFacts(text)
	if f.AgreementDate != "" || f.EffectiveDate != "" {
		t.Errorf("blank dates shown as values: %q %q", f.AgreementDate, f.EffectiveDate)
	}
	if a := f.Details["agreement_date"]; a == nil || a.Kind != KindBlank || !strings.Contains(a.Value, "day of") || a.Source.Page != 1 {
		t.Errorf("agreement date %+v", a)
	}
	e := f.Details["expiration_date"]
	if e == nil || e.Kind != KindEvent || !strings.Contains(e.Value, "expiration of the last Royalty Term") || e.Source.Page != 2 {
		t.Errorf("expiration %+v", e)
	}
	checkSources(t, text, f)
	for key, x := range f.Details {
		if x.Unsure && flatValue(f, key) != "" {
			t.Errorf("%s: unsure but shown as %q", key, flatValue(f, key))
		}
	}
}

func flatValue(f Facts, key string) string {
	b, _ := json.Marshal(f)
	var m map[string]any
	json.Unmarshal(b, &m)
	s, _ := m[key].(string)
	return s
}

// Version 2 keeps version 1's flat fields: a reader of version 1 finds the
// same keys with the same kinds of values.
func TestFactsJSONIsBackwardCompatible(t *testing.T) {
	f := ExtractFacts(readTestdata(t, raeCoBrand+".txt"))
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"document_name", "document_type", "agreement_date", "effective_date", "expiration_date", "renewal_term", "notice_period", "governing_law"} {
		if _, ok := m[k].(string); !ok {
			t.Errorf("%s: %T", k, m[k])
		}
	}
	if _, ok := m["parties"].([]any); !ok {
		t.Errorf("parties: %T", m["parties"])
	}
	if m["facts_version"] != float64(2) {
		t.Errorf("facts_version %v", m["facts_version"])
	}
	d, ok := m["details"].(map[string]any)
	if !ok || d["governing_law"] == nil {
		t.Fatalf("details %v", m["details"])
	}
	src := d["governing_law"].(map[string]any)["source"].(map[string]any)
	for _, k := range []string{"start", "end", "text"} {
		if _, ok := src[k]; !ok {
			t.Errorf("source lacks %s: %v", k, src)
		}
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{
		"January 13, 2005":              "2005-01-13",
		"the 1st day of September 2004": "2004-09-01",
		"14t h day of April, 2015":      "2015-04-14",
		"7/7/98":                        "1998-07-07",
		"18/9/2008":                     "2008-09-18",
		"22 Dec. 2017":                  "2017-12-22",
		"April __, 2005":                "",
	} {
		if got := ParseDate(in); got != want {
			t.Errorf("ParseDate(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTermEnd(t *testing.T) {
	const effective = "2019-02-01"
	tests := []struct{ clause, want, kind string }{
		{"This Agreement shall be valid for five (5) years from February 1, 2019 through January 31, 2024 unless terminated earlier.", "2024-01-31", KindDate},
		{"The term of the license shall commence August 1, 1995 and continue until January 30, 2000, unless sooner terminated.", "2000-01-30", KindDate},
		// a duration counts from a start date in the clause, else the effective date
		{"The term of this Agreement shall commence upon April 1, 1999 and shall continue for a period of six (6) months.", "1999-10-01", KindDate},
		{"This Agreement shall have an initial term of three (3) years.", "2022-02-01", KindDate},
		{"This Agreement shall terminate on the third anniversary of the Effective Date.", "2022-02-01", KindDate},
		{"This Agreement shall continue until the four-year anniversary of the Effective Date.", "2023-02-01", KindDate},
		{"This Agreement will continue in effect thereafter until terminated pursuant to Paragraph 4.2 below.", "perpetual", KindPerpetual},
		// a period from something the text does not date stays a period
		{"The term of this Agreement shall continue for one (1) year following the Launch Date, unless earlier terminated.", "1 year after the Launch Date", KindDuration},
		{"This Agreement shall remain in effect until the expiration of the last Royalty Term.", "until the expiration of the last Royalty Term.", KindEvent},
		{"TERM: November 01, 2014 to October 31, 2017", "2017-10-31", KindDate},
		{"Initial Term shall mean the Effective Date through the day prior to the second anniversary of the Effective Date.", "2021-01-31", KindDate},
		{"This Agreement shall terminate one (1) year from the Rig Release Date, if not terminated sooner.", "1 year after the Rig Release Date", KindDuration},
		{"The Agreement shall expire twenty (20) years from the effective date of this Agreement.", "2039-02-01", KindDate},
		// the end date after "ends at" or "extended to", not a period stated later
		{"The term of this Agreement shall commence on May 1, 2020 and ends at April 30, 2029, with automatic renewals each for a period of five (5) years.", "2029-04-30", KindDate},
		{"The Term of the Agreement is hereby extended to January 20, 2012 unless sooner terminated as provided for in the Agreement.", "2012-01-20", KindDate},
		// a notice period is not the term
		{"Either party may terminate this Agreement upon thirty (30) days prior written notice.", "", ""},
		{"Each party shall keep the other's Confidential Information secret.", "", ""},
	}
	for _, tc := range tests {
		d := newFactDoc(tc.clause)
		f := termEndIn(d, 0, len(d.norm), effective)
		got, kind := "", ""
		if f != nil {
			got, kind = f.Value, f.Kind
		}
		if got != tc.want || kind != tc.kind {
			t.Errorf("termEndIn(%q) = %q (%s), want %q (%s)", tc.clause, got, kind, tc.want, tc.kind)
		}
	}
}

// Furniture (page numbers, EDGAR footers) is blanked in place: offsets into
// the prepared text are offsets into the original.
func TestFactDocKeepsOffsets(t *testing.T) {
	text := "Intro line\n  - 3 -  \nSource: ACME CORP, 10-K, 3/21/2005\nThe   term\n\f  ends here."
	d := newFactDoc(text)
	i := strings.Index(d.norm, "term ends")
	s, e := d.rawRange(i, i+len("term ends"))
	if strings.Join(strings.Fields(text[s:e]), " ") != "term ends" || strings.Contains(d.norm, "2005") {
		t.Fatalf("norm %q; range %d-%d = %q", d.norm, s, e, text[s:e])
	}
	if src := d.source(i, i+len("term")); src.Page != 1 {
		t.Fatalf("page %d", src.Page)
	}
	if j := strings.Index(d.norm, "ends here"); d.source(j, j+4).Page != 2 {
		t.Fatalf("page %d after the form feed", d.source(j, j+4).Page)
	}
}

// The renewal term is the sentence that states a renewal, not the first
// period near the word "renewal" or "extend": the initial term ("shall
// extend for a period of five years"), a heading ("Term and Renewal"), and
// renewals stated without the word "renew" ("continue automatically for
// successive annual periods", "from year to year thereafter", "continue
// thereafter until terminated").
func TestRenewalStatements(t *testing.T) {
	preamble := "SERVICES AGREEMENT\n\nThis Services Agreement is dated as of March 3, 2015 by and between Acme Widgets, Inc. (\"Acme\") and Beta Foods LLC (\"Buyer\").\n\n"
	tests := []struct {
		clause, value, duration string
	}{
		{`7.1 Term. This Agreement shall commence on the Effective Date and shall extend for a period of five (5) years thereafter ("Initial Term"), unless terminated earlier as provided herein. This Agreement may be renewed for additional periods of one (1) year (each such additional period, a "Renewal Term") unless either Party provides notice of nonrenewal.`,
			"additional periods of one (1) year", "1 year"},
		{`3. Term and Renewal The term of this Agreement shall begin on the Effective Date and continue in effect for a period of five (5) years (the "Initial Term"). Upon expiration of the Initial Term, this Agreement shall automatically renew for consecutive one (1) year periods, unless terminated by Buyer within sixty (60) days prior to the expiration of the Initial Term.`,
			"consecutive one (1) year periods", "1 year"},
		{`10. Term. This Agreement shall continue in effect for two years from the date hereof, and thereafter shall continue automatically for successive annual periods, provided that such continuance is approved at least annually by the Board.`,
			"successive annual periods", "1 year"},
		{`10. Duration. This Agreement shall continue in effect for a period of one year from the date of its execution and from year to year thereafter provided such continuance is approved by a majority of the trustees.`,
			"year to year", "1 year"},
		{`4. Term. This Agreement shall commence on the Effective Date and continue in full force and effect until the end of the fifteenth (15th) Contract Year, and shall continue in full force and effect thereafter until terminated by either Party by providing thirty (30) days' prior written notice of termination to the other Party.`,
			"continue in full force and effect thereafter until terminated", ""},
	}
	for _, tc := range tests {
		text := preamble + tc.clause + "\n\n12. Governing Law. This Agreement shall be governed by the laws of the State of New York.\n"
		f := ExtractFacts(text)
		r := f.Details["renewal_term"]
		if r == nil || r.Value != tc.value || r.Duration != tc.duration {
			t.Errorf("%.60q...: renewal %+v, want %q (%q)", tc.clause, r, tc.value, tc.duration)
		}
		checkSources(t, text, f)
	}
}
