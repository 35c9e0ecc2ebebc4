package analysis

import (
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
		Parties:       []string{"Acme Widgets, Inc.", "Acme", "Beta Foods LLC", "Buyer"},
		AgreementDate: "2015-03-03", EffectiveDate: "2015-03-03", ExpirationDate: "2018-03-03",
		RenewalTerm: "successive one (1) year periods", NoticePeriod: "ninety (90) days", GoverningLaw: "New York",
	}
	if f.DocumentName != want.DocumentName || f.DocumentType != want.DocumentType || !slices.Equal(f.Parties, want.Parties) ||
		f.AgreementDate != want.AgreementDate || f.EffectiveDate != want.EffectiveDate || f.ExpirationDate != want.ExpirationDate ||
		f.RenewalTerm != want.RenewalTerm || f.NoticePeriod != want.NoticePeriod || f.GoverningLaw != want.GoverningLaw {
		t.Fatalf("got  %+v\nwant %+v", f, want)
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

func TestClauseTermEnd(t *testing.T) {
	const effective = "2019-02-01"
	tests := []struct{ clause, want string }{
		{"This Agreement shall be valid for five (5) years from February 1, 2019 through January 31, 2024 unless terminated earlier.", "2024-01-31"},
		{"The term of the license shall commence August 1, 1995 and continue until January 30, 2000, unless sooner terminated.", "2000-01-30"},
		// a duration counts from a start date in the clause, else the effective date
		{"The term of this Agreement shall commence upon April 1, 1999 and shall continue for a period of six (6) months.", "1999-10-01"},
		{"This Agreement shall have an initial term of three (3) years.", "2022-02-01"},
		{"This Agreement shall terminate on the third anniversary of the Effective Date.", "2022-02-01"},
		{"This Agreement shall continue until the four-year anniversary of the Effective Date.", "2023-02-01"},
		{"This Agreement will continue in effect thereafter until terminated pursuant to Paragraph 4.2 below.", "perpetual"},
		{"Each party shall keep the other's Confidential Information secret.", ""},
	}
	for _, tc := range tests {
		if got := clauseTermEnd(tc.clause, effective); got != tc.want {
			t.Errorf("clauseTermEnd(%q) = %q, want %q", tc.clause, got, tc.want)
		}
	}
}
