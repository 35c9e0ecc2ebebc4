package analysis

import (
	"os"
	"strings"
	"testing"
)

func TestDefaultPlaybookAssess(t *testing.T) {
	pb := DefaultPlaybook()
	tests := []struct {
		name, category, text, risk string
	}{
		{"uncapped liability", "Uncapped Liability", "The limitations in this Section shall not apply to breaches of Section 6 (Confidentiality).", RiskHigh},
		{"no limit on liability anywhere", "Other", "Licensee shall have unlimited liability for any misuse of the Software.", RiskHigh},
		{"cap with carve-outs", "Cap on Liability", "In no event shall either party's liability exceed the fees paid, except for breaches of confidentiality.", RiskMedium},
		{"plain cap", "Cap on Liability", "In no event shall either party's aggregate liability exceed the fees paid in the prior twelve months.", RiskLow},
		{"broad non-compete", "Non-Compete", "Consultant shall not engage in any business competitive with the Company anywhere in the world.", RiskHigh},
		{"narrow non-compete", "Non-Compete", "During the Term, Distributor shall not sell competing golf clubs in Kansas.", RiskMedium},
		{"one-sided termination for convenience", "Termination for Convenience", "NETTAXI may terminate this Agreement at any time for its convenience upon sixty days notice.", RiskHigh},
		{"mutual termination for convenience", "Termination for Convenience", "Either party may terminate this Agreement for any reason upon thirty days written notice.", RiskMedium},
		{"perpetual license", "Irrevocable or Perpetual License", "Licensor grants a perpetual, irrevocable license to use the Marks.", RiskHigh},
		{"long renewal notice", "Notice Period to Terminate Renewal", "unless either party gives notice of non-renewal at least ninety (90) days before the end of the term", RiskHigh},
		{"short renewal notice", "Notice Period to Terminate Renewal", "unless either party gives notice of non-renewal at least 30 days before the end of the term", RiskMedium},
		{"auto renewal", "Renewal Term", "This Agreement shall automatically renew for successive one-year terms.", RiskMedium},
		{"exclusivity", "Exclusivity", "Distributor shall be the exclusive distributor of the Products in the Territory.", RiskHigh},
		{"most favored nation", "Most Favored Nation", "If Supplier offers better prices to any other customer, Customer shall receive those prices.", RiskMedium},
		{"ip assignment", "IP Ownership Assignment", "All work product shall be the sole property of the Company and Consultant hereby assigns all rights.", RiskHigh},
		{"liquidated damages", "Liquidated Damages", "The parties agree that liquidated damages of $10,000 per day are payable.", RiskMedium},
		{"audit rights", "Audit Rights", "Licensor may audit the books and records of Licensee once per year.", RiskMedium},
		{"governing law is ordinary", "Governing Law", "This Agreement is governed by the laws of the State of New York.", RiskLow},
		{"uncategorised clause", Other, "Headings are for convenience only.", RiskLow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			risk, why := Assess(tc.category, tc.text, pb)
			if risk != tc.risk {
				t.Fatalf("risk = %s (%s), want %s", risk, why, tc.risk)
			}
			if why == "" {
				t.Fatal("no explanation")
			}
		})
	}
}

func TestNewPlaybookRejectsBadRules(t *testing.T) {
	bad := []Rule{
		{Category: "Exclusivity", Risk: "severe", Explanation: "x"},
		{Category: "Exclusivity", Risk: RiskHigh, Explanation: ""},
		{Category: "Exclusivity", Pattern: "(", Risk: RiskHigh, Explanation: "x"},
	}
	for i, r := range bad {
		if _, err := NewPlaybook([]Rule{r}); err == nil {
			t.Errorf("rule %d accepted: %+v", i, r)
		}
	}
}

func TestPlaybookPriorityOrdersRules(t *testing.T) {
	pb, err := NewPlaybook([]Rule{
		{Category: "Exclusivity", Risk: RiskLow, Explanation: "fallback", Priority: 100},
		{Category: "Exclusivity", Pattern: "territory", Risk: RiskHigh, Explanation: "territorial", Priority: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, why := pb.Assess("Exclusivity", "exclusive in the TERRITORY"); r != RiskHigh || why != "territorial" {
		t.Fatalf("got %s %q", r, why)
	}
	if r, _ := pb.Assess("Exclusivity", "exclusive supplier"); r != RiskLow {
		t.Fatalf("got %s", r)
	}
}

func TestDefaultRulesUseKnownCategories(t *testing.T) {
	for _, r := range DefaultRules() {
		if r.Category == AnyCategory {
			continue
		}
		if c, ok := CanonicalCategory(r.Category); !ok || c != r.Category {
			t.Errorf("rule category %q is not a CUAD category name", r.Category)
		}
	}
}

// The migrations must give exactly the default rules: 0002 inserts them
// (`go run ./hack/classifier playbook-sql`), and as an applied migration is
// immutable, later ones reword them (0008: American English).
func TestPlaybookMigrationMatchesDefaults(t *testing.T) {
	b, err := os.ReadFile("../db/migrations/0002_playbook.sql")
	if err != nil {
		t.Fatal(err)
	}
	reworded := strings.NewReplacer("most-favoured-nation", "most-favored-nation").Replace(string(b))
	if reworded != PlaybookSQL(DefaultRules()) {
		t.Fatal("0002_playbook.sql, with the rewording of later migrations, differs from PlaybookSQL(DefaultRules())")
	}
}
