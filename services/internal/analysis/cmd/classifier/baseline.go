package main

import "regexp"

// baselineKeywords is the keyword baseline the model is compared with: a
// clause belongs to a category when its heading or text matches the
// category's pattern (case-insensitive).
var baselineKeywords = map[string]string{
	"Document Name":                      `^[A-Z0-9 ,.&'\-]*AGREEMENT[A-Z ]*$`,
	"Parties":                            `\bby and between\b|\bbetween\b.*\band\b.*\(.*"`,
	"Agreement Date":                     `\bdated as of\b|\bmade and entered into\b.*\b(19|20)\d\d\b`,
	"Effective Date":                     `effective date`,
	"Expiration Date":                    `\binitial term\b|\bterm of this agreement\b`,
	"Renewal Term":                       `\brenew`,
	"Notice Period to Terminate Renewal": `\bnon-?renewal\b|notice of (its )?intent(ion)? not to renew`,
	"Governing Law":                      `governed by|governing law`,
	"Most Favored Nation":                `most favou?red|no less favou?rable`,
	"Non-Compete":                        `non-?compet|shall not compete|not engage in any business`,
	"Exclusivity":                        `\bexclusive\b|exclusivity`,
	"No-Solicit of Customers":            `solicit.{0,40}customers`,
	"Competitive Restriction Exception":  `notwithstanding.{0,80}(compet|exclusiv)`,
	"No-Solicit of Employees":            `solicit.{0,40}(employ|personnel)|\bhire\b`,
	"Non-Disparagement":                  `disparag`,
	"Termination for Convenience":        `for convenience|without cause|for any reason`,
	"Rofr/Rofo/Rofn":                     `right of first (refusal|offer|negotiation)`,
	"Change of Control":                  `change (of|in) control|merger|acquisition of`,
	"Anti-Assignment":                    `\bassign`,
	"Revenue/Profit Sharing":             `royalt|revenue share|profit shar|percent(age)? of (net|gross)`,
	"Price Restrictions":                 `price (increase|protection)|shall not (increase|raise) (the )?price`,
	"Minimum Commitment":                 `\bminimum\b`,
	"Volume Restriction":                 `\bvolume\b|in excess of`,
	"IP Ownership Assignment":            `hereby assigns?|shall (be the )?(sole and exclusive )?(property|own)`,
	"Joint IP Ownership":                 `joint(ly)? own`,
	"License Grant":                      `grants?.{0,60}licen[cs]e`,
	"Non-Transferable License":           `non-?transferable|not (be )?transferable`,
	"Affiliate License-Licensor":         `licensor.{0,40}affiliates`,
	"Affiliate License-Licensee":         `licensee.{0,40}affiliates|affiliates.{0,40}licensee`,
	"Unlimited/All-You-Can-Eat-License":  `unlimited (use|number)|enterprise(-wide)? licen`,
	"Irrevocable or Perpetual License":   `irrevocabl|perpetual`,
	"Source Code Escrow":                 `escrow`,
	"Post-Termination Services":          `(after|upon|following) (the )?(termination|expiration)`,
	"Audit Rights":                       `\baudit|inspect.{0,40}(books|records)`,
	"Uncapped Liability":                 `unlimited liability|shall not (apply|limit).{0,80}(indemnif|confidential)`,
	"Cap on Liability":                   `limitation of liability|in no event.{0,80}(exceed|liable)|aggregate liability`,
	"Liquidated Damages":                 `liquidated damages|termination fee`,
	"Warranty Duration":                  `warrant.{0,80}\b(days|months|years)\b`,
	"Insurance":                          `insurance`,
	"Covenant Not to Sue":                `not (to )?(contest|challenge)|covenant not to sue`,
	"Third Party Beneficiary":            `third[- ]party beneficiar`,
}

type baseline struct{ re []*regexp.Regexp }

func newBaseline(cats []string) *baseline {
	b := &baseline{}
	for _, c := range cats {
		p, ok := baselineKeywords[c]
		if !ok {
			p = `$^`
		}
		// Document Name is an upper-case title: match it case-sensitively.
		if c != "Document Name" {
			p = `(?i)` + p
		}
		b.re = append(b.re, regexp.MustCompile(p))
	}
	return b
}

func (b *baseline) predict(heading, text string) uint64 {
	var out uint64
	for i, re := range b.re {
		if re.MatchString(heading) || re.MatchString(text) {
			out |= 1 << i
		}
	}
	return out
}
