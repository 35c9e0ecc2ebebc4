package analysis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	adamsGolf  = "ADAMSGOLFINC_03_21_2005-EX-10.17-ENDORSEMENT_AGREEMENT"
	dataCall   = "DataCallTechnologies_20060918_SB-2A_EX-10.9_944510_EX-10.9_Content_License_Agreement"
	raeCoBrand = "RaeSystemsInc_20001114_10-Q_EX-10.57_2631790_EX-10.57_Co-Branding_Agreement"
)

func findClause(cs []Clause, substr string) *Clause {
	for i := range cs {
		if strings.Contains(cs[i].Text, substr) {
			return &cs[i]
		}
	}
	return nil
}

func TestSplitClausesSynthetic(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Clause // Ordinal, Heading, Text compared
	}{
		{
			name: "numbered sections with all-caps headings",
			text: "MASTER AGREEMENT\n\n1. DEFINITIONS\n\n1.1 \"Product\" means the goods listed in Exhibit A attached hereto.\n1.2 \"Territory\" means the United States of America and Canada.\n\n2. GOVERNING LAW\n\nThis Agreement shall be governed by the laws of the State of New York.\n",
			want: []Clause{
				{Ordinal: 1, Heading: "MASTER AGREEMENT 1. DEFINITIONS", Text: "1.1 \"Product\" means the goods listed in Exhibit A attached hereto."},
				{Ordinal: 2, Heading: "", Text: "1.2 \"Territory\" means the United States of America and Canada."},
				{Ordinal: 3, Heading: "2. GOVERNING LAW", Text: "This Agreement shall be governed by the laws of the State of New York."},
			},
		},
		{
			name: "run-in headings, lettered items and wrapped lines",
			text: "Section 5. Term. The term of this Agreement begins on the Effective Date\nand continues for three years.\n(a) Either party may terminate this Agreement on ninety days notice.\n(b) Termination does not affect accrued rights of either party hereunder.\n",
			want: []Clause{
				{Ordinal: 1, Heading: "Section 5. Term", Text: "Section 5. Term. The term of this Agreement begins on the Effective Date and continues for three years."},
				{Ordinal: 2, Heading: "", Text: "(a) Either party may terminate this Agreement on ninety days notice."},
				{Ordinal: 3, Heading: "", Text: "(b) Termination does not affect accrued rights of either party hereunder."},
			},
		},
		{
			name: "article headings, page numbers and running footers dropped, page-break continuation joined",
			text: "ARTICLE IV\nINDEMNIFICATION\n\nThe Supplier shall indemnify the Customer against all losses arising from\n\nAcme Confidential\n\n- 2 -\n\f" +
				"third-party claims of infringement of intellectual property rights.\n\nAcme Confidential\n\n3\n\f" +
				"ARTICLE V\nMISCELLANEOUS\n\nNotices shall be in writing and delivered by hand or by courier.\n\nAcme Confidential\n\nPage 4 of 4\n",
			want: []Clause{
				{Ordinal: 1, Heading: "ARTICLE IV INDEMNIFICATION", Text: "The Supplier shall indemnify the Customer against all losses arising from third-party claims of infringement of intellectual property rights."},
				{Ordinal: 2, Heading: "ARTICLE V MISCELLANEOUS", Text: "Notices shall be in writing and delivered by hand or by courier."},
			},
		},
		{
			name: "tiny fragments merge into their neighbour",
			text: "(a)\n\nThe Licensee shall pay the royalties set out in Schedule 2 within thirty days.\n\nBy: ______\n\nName: John Smith\n",
			want: []Clause{
				{Ordinal: 1, Text: "(a) The Licensee shall pay the royalties set out in Schedule 2 within thirty days. By: ______ Name: John Smith"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SplitClauses(tc.text)
			if len(got) != len(tc.want) {
				for _, c := range got {
					t.Logf("got %d [%s] %q", c.Ordinal, c.Heading, c.Text)
				}
				t.Fatalf("got %d clauses, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Ordinal != w.Ordinal || g.Heading != w.Heading || g.Text != w.Text {
					t.Errorf("clause %d = {%d %q %q}, want {%d %q %q}", i, g.Ordinal, g.Heading, g.Text, w.Ordinal, w.Heading, w.Text)
				}
				if g.Start < 0 || g.End > len(tc.text) || g.Start >= g.End {
					t.Errorf("clause %d has bad source range [%d,%d)", i, g.Start, g.End)
				}
			}
		})
	}
}

func TestSplitClausesSplitsHugeParagraphs(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 60; i++ {
		b.WriteString("The Distributor shall maintain complete and accurate records of all sales made under this Agreement. ")
	}
	got := SplitClauses(b.String())
	if len(got) < 2 {
		t.Fatalf("a %d-byte paragraph stayed in %d clause(s)", b.Len(), len(got))
	}
	total := 0
	for _, c := range got {
		if len(c.Text) > maxClauseLen {
			t.Errorf("clause %d has %d bytes, more than %d", c.Ordinal, len(c.Text), maxClauseLen)
		}
		if !strings.HasSuffix(c.Text, ".") {
			t.Errorf("clause %d is not cut at a sentence end: %q", c.Ordinal, c.Text[len(c.Text)-20:])
		}
		total += len(c.Text)
	}
	if total < b.Len()-len(got)*2 {
		t.Errorf("pieces hold %d bytes of %d", total, b.Len())
	}
}

// TestSplitClausesOnRealContracts checks the splitter on real CUAD contracts:
// pdftotext -layout output and CUAD's own plain text.
func TestSplitClausesOnRealContracts(t *testing.T) {
	tests := []struct {
		file        string
		minClauses  int
		heading     string // a clause with this heading ...
		textPrefix  string // ... starts with this text
		mustNotHave []string
	}{
		{adamsGolf + ".layout.txt", 60, "25. APPLICABLE LAW", "This Agreement shall be governed and construed according to the laws of the State of Kansas.",
			[]string{"Confidential Material redacted and filed separately"}},
		{adamsGolf + ".layout.txt", 60, "4. EXCLUSIVITY OF ENDORSEMENT", "During the term of this Agreement, unless otherwise authorized", nil},
		{dataCall + ".layout.txt", 40, "10 GOVERNING LAW AND VENUE", "10.1 This Agreement shall be governed and construed in accordance with the laws of the United States", nil},
		{raeCoBrand + ".txt", 60, "8.2 Convenience", "8.2 Convenience. NETTAXI may terminate this Agreement at any time for its convenience",
			[]string{"Source: RAE SYSTEMS INC", "----------"}},
	}
	for _, tc := range tests {
		t.Run(tc.file+"/"+tc.heading, func(t *testing.T) {
			text := readTestdata(t, tc.file)
			cs := SplitClauses(text)
			if len(cs) < tc.minClauses {
				t.Fatalf("%d clauses, want at least %d", len(cs), tc.minClauses)
			}
			var found *Clause
			for i := range cs {
				if cs[i].Ordinal != i+1 {
					t.Fatalf("clause %d has ordinal %d", i, cs[i].Ordinal)
				}
				if strings.TrimSpace(cs[i].Text) == "" {
					t.Fatalf("clause %d is empty", cs[i].Ordinal)
				}
				if pageNumberRe.MatchString(cs[i].Text) {
					t.Errorf("clause %d is a page number: %q", cs[i].Ordinal, cs[i].Text)
				}
				for _, bad := range tc.mustNotHave {
					if strings.Contains(cs[i].Text, bad) {
						t.Errorf("clause %d contains page furniture %q", cs[i].Ordinal, bad)
					}
				}
				if cs[i].Heading == tc.heading {
					found = &cs[i]
				}
			}
			if found == nil {
				t.Fatalf("no clause with heading %q", tc.heading)
			}
			if !strings.HasPrefix(found.Text, tc.textPrefix) {
				t.Fatalf("clause %q starts %q, want %q", tc.heading, found.Text[:min(len(found.Text), 120)], tc.textPrefix)
			}
			// The source range points at the clause in the input.
			src := normSpace(text[found.Start:found.End])
			if !strings.Contains(src, tc.textPrefix[:40]) {
				t.Fatalf("source range [%d,%d) = %q does not hold the clause", found.Start, found.End, src[:min(len(src), 200)])
			}
		})
	}
}
