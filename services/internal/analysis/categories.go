package analysis

import "strings"

// Other is the category of a clause that matches none of the CUAD categories.
const Other = "Other"

// categoryNames are the 41 CUAD v1 categories, spelled and ordered exactly as
// in the dataset's category_descriptions.csv. The first eight hold values
// (names, parties, dates, terms, law); the other 33 are yes/no clause types.
var categoryNames = [...]string{
	"Document Name",
	"Parties",
	"Agreement Date",
	"Effective Date",
	"Expiration Date",
	"Renewal Term",
	"Notice Period to Terminate Renewal",
	"Governing Law",
	"Most Favored Nation",
	"Non-Compete",
	"Exclusivity",
	"No-Solicit of Customers",
	"Competitive Restriction Exception",
	"No-Solicit of Employees",
	"Non-Disparagement",
	"Termination for Convenience",
	"Rofr/Rofo/Rofn",
	"Change of Control",
	"Anti-Assignment",
	"Revenue/Profit Sharing",
	"Price Restrictions",
	"Minimum Commitment",
	"Volume Restriction",
	"IP Ownership Assignment",
	"Joint IP Ownership",
	"License Grant",
	"Non-Transferable License",
	"Affiliate License-Licensor",
	"Affiliate License-Licensee",
	"Unlimited/All-You-Can-Eat-License",
	"Irrevocable or Perpetual License",
	"Source Code Escrow",
	"Post-Termination Services",
	"Audit Rights",
	"Uncapped Liability",
	"Cap on Liability",
	"Liquidated Damages",
	"Warranty Duration",
	"Insurance",
	"Covenant Not to Sue",
	"Third Party Beneficiary",
}

// numValueCategories is how many of categoryNames (at the front) hold values
// rather than being yes/no clause types.
const numValueCategories = 8

// Categories returns the 41 CUAD category names in dataset order.
func Categories() []string { return append([]string(nil), categoryNames[:]...) }

// ClauseCategories returns the 33 yes/no clause categories.
func ClauseCategories() []string { return append([]string(nil), categoryNames[numValueCategories:]...) }

// IsClauseCategory reports whether name is one of the 33 yes/no clause categories.
func IsClauseCategory(name string) bool {
	for _, c := range categoryNames[numValueCategories:] {
		if c == name {
			return true
		}
	}
	return false
}

// CanonicalCategory maps a category name in any capitalisation (the CUAD
// label files write "Cap On Liability", "Ip Ownership Assignment") to its
// canonical spelling; ok is false for unknown names.
func CanonicalCategory(name string) (canonical string, ok bool) {
	for _, c := range categoryNames {
		if strings.EqualFold(c, strings.TrimSpace(name)) {
			return c, true
		}
	}
	return "", false
}
