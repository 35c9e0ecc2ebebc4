package analysis

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Risk levels, as stored in clauses.risk_level and playbook_rules.risk_level.
const (
	RiskLow    = "low"
	RiskMedium = "medium"
	RiskHigh   = "high"
)

// AnyCategory in Rule.Category makes a rule apply to clauses of every category.
const AnyCategory = "*"

// Rule is one playbook position: clauses of Category whose text matches
// Pattern (a case-insensitive Go regular expression; empty matches any text)
// get Risk with Explanation. Rules are tried by ascending Priority, then in
// order; the first match wins. It mirrors a playbook_rules row.
type Rule struct {
	Category    string
	Pattern     string
	Risk        string
	Explanation string
	Priority    int
}

// Playbook is a compiled, ordered set of rules. It is immutable.
type Playbook struct {
	rules []compiledRule
}

type compiledRule struct {
	Rule
	re *regexp.Regexp
}

// NewPlaybook validates and compiles rules.
func NewPlaybook(rules []Rule) (*Playbook, error) {
	p := &Playbook{}
	for i, r := range rules {
		switch r.Risk {
		case RiskLow, RiskMedium, RiskHigh:
		default:
			return nil, fmt.Errorf("playbook rule %d (%s): bad risk level %q", i, r.Category, r.Risk)
		}
		if r.Category == "" || strings.TrimSpace(r.Explanation) == "" {
			return nil, fmt.Errorf("playbook rule %d: category and explanation are required", i)
		}
		cr := compiledRule{Rule: r}
		if r.Pattern != "" {
			re, err := regexp.Compile("(?i)" + r.Pattern)
			if err != nil {
				return nil, fmt.Errorf("playbook rule %d (%s): %w", i, r.Category, err)
			}
			cr.re = re
		}
		p.rules = append(p.rules, cr)
	}
	sort.SliceStable(p.rules, func(i, j int) bool { return p.rules[i].Priority < p.rules[j].Priority })
	return p, nil
}

// Rules returns the playbook's rules in evaluation order.
func (p *Playbook) Rules() []Rule {
	out := make([]Rule, len(p.rules))
	for i, r := range p.rules {
		out[i] = r.Rule
	}
	return out
}

// Assess rates a clause of the given category: the first matching rule's risk
// and explanation, else low with a neutral explanation.
func (p *Playbook) Assess(category, text string) (risk, explanation string) {
	if i, ok := p.Match(category, text); ok {
		return p.rules[i].Risk, p.rules[i].Explanation
	}
	if category == Other || category == "" {
		return RiskLow, "No playbook position applies to this clause."
	}
	return RiskLow, fmt.Sprintf("Standard %s clause; no playbook position flags it.", category)
}

// Match returns the index in Rules() of the rule that rates a clause of
// the given category and text, or false when none applies.
func (p *Playbook) Match(category, text string) (int, bool) {
	for i, r := range p.rules {
		if r.Category != category && r.Category != AnyCategory {
			continue
		}
		if r.re != nil && !r.re.MatchString(text) {
			continue
		}
		return i, true
	}
	return 0, false
}

// Assess is p.Assess(category, text) for a classified clause.
func Assess(category, text string, p *Playbook) (risk, explanation string) {
	return p.Assess(category, text)
}

// DefaultPlaybook returns the compiled default rules.
func DefaultPlaybook() *Playbook {
	p, err := NewPlaybook(DefaultRules())
	if err != nil {
		panic(err) // the defaults are tested
	}
	return p
}

// DefaultRules returns a fresh copy of the default playbook: specific
// patterns first (priority 10-20), then a default per category (priority 50).
// Migration 0002_playbook.sql inserts exactly these rows.
func DefaultRules() []Rule {
	return []Rule{
		// Uncapped exposure anywhere in the contract.
		{AnyCategory, `unlimited liability|no limit(ation)? (on|of|to) (its |their |the )?liability|liability (shall|will) (be )?unlimited`, RiskHigh,
			"The clause leaves a party's liability unlimited.", 10},
		{"Uncapped Liability", ``, RiskHigh,
			"Liability for some breaches is uncapped, so losses could exceed the value of the contract.", 50},
		{"Cap on Liability", `shall not apply|will not apply|except (for|with respect to|in the case of)|excluding`, RiskMedium,
			"The liability cap has carve-outs that leave some claims uncapped.", 20},
		{"Cap on Liability", ``, RiskLow,
			"Liability is capped; check that the cap amount is adequate.", 50},
		{"Non-Compete", `worldwide|anywhere in the world|throughout the (world|united states)|any (business|product|service)|(two|three|four|five|ten|\d+) \(?\d*\)? ?years? (after|following|from)`, RiskHigh,
			"A broad non-compete restricts business by scope, territory or duration beyond the contract.", 20},
		{"Non-Compete", ``, RiskMedium,
			"The clause restricts a party from competing.", 50},
		{"Termination for Convenience", `either party|each party|both parties|any party|mutual`, RiskMedium,
			"Either party may end the contract without cause on notice.", 20},
		{"Termination for Convenience", ``, RiskHigh,
			"A party may terminate for convenience, without cause, leaving the other without the expected term.", 50},
		{"Irrevocable or Perpetual License", ``, RiskHigh,
			"The license is irrevocable or perpetual and cannot be withdrawn later.", 50},
		{"Unlimited/All-You-Can-Eat-License", ``, RiskHigh,
			"The license grants unlimited usage, with no volume or fee control.", 50},
		{"License Grant", `irrevocabl|perpetual|unlimited|royalty[- ]free|fully[- ]paid`, RiskMedium,
			"The license grant is broad (irrevocable, perpetual, unlimited or royalty-free).", 20},
		{"Notice Period to Terminate Renewal", `\b(6\d|[7-9]\d|[1-9]\d\d)\)? (calendar |business )?days|sixty|ninety|one hundred|(three|four|five|six|nine|twelve) \(?\d*\)? ?months`, RiskHigh,
			"Stopping the automatic renewal requires a long notice period that is easy to miss.", 20},
		{"Notice Period to Terminate Renewal", ``, RiskMedium,
			"A notice deadline must be met to stop the contract renewing.", 50},
		{"Renewal Term", `automatic|renew(s|ed)? (itself )?(automatically|for (successive|additional))|evergreen`, RiskMedium,
			"The contract renews automatically unless a party gives notice in time.", 20},
		{"Exclusivity", ``, RiskHigh,
			"An exclusivity commitment stops a party dealing with others.", 50},
		{"Most Favored Nation", ``, RiskMedium,
			"A most-favored-nation clause ties pricing or terms to what others are offered.", 50},
		{"IP Ownership Assignment", ``, RiskHigh,
			"Intellectual property created under the contract is assigned to the other party.", 50},
		{"Joint IP Ownership", ``, RiskMedium,
			"Jointly owned intellectual property is hard to exploit or license alone.", 50},
		{"Liquidated Damages", ``, RiskMedium,
			"Fixed damages or a termination fee are payable regardless of actual loss.", 50},
		{"Audit Rights", ``, RiskMedium,
			"The counterparty may audit books, records or premises.", 50},
		{"Change of Control", ``, RiskMedium,
			"A merger or change of ownership triggers consent, notice or termination rights.", 50},
		{"Anti-Assignment", ``, RiskLow,
			"Assignment needs consent or notice; check that affiliate transfers are allowed.", 50},
		{"No-Solicit of Customers", ``, RiskMedium,
			"A party may not solicit the other's customers.", 50},
		{"No-Solicit of Employees", ``, RiskMedium,
			"A party may not solicit or hire the other's staff.", 50},
		{"Non-Disparagement", ``, RiskMedium,
			"A party must not disparage the other.", 50},
		{"Covenant Not to Sue", ``, RiskMedium,
			"A party gives up the right to challenge or sue over certain matters.", 50},
		{"Rofr/Rofo/Rofn", ``, RiskMedium,
			"A right of first refusal, offer or negotiation limits future deals with third parties.", 50},
		{"Minimum Commitment", ``, RiskMedium,
			"A minimum purchase or volume commitment applies regardless of need.", 50},
		{"Volume Restriction", ``, RiskMedium,
			"Usage above a threshold costs more or needs consent.", 50},
		{"Price Restrictions", ``, RiskMedium,
			"Prices cannot be changed freely.", 50},
		{"Third Party Beneficiary", ``, RiskMedium,
			"A non-party can enforce rights under the contract.", 50},
		{"Post-Termination Services", ``, RiskLow,
			"Obligations continue after termination or expiry.", 50},
		{"Source Code Escrow", ``, RiskLow,
			"Source code is deposited in escrow for release on defined events.", 50},
		{"Governing Law", ``, RiskLow,
			"Sets the law that governs the contract.", 50},
	}
}

// PlaybookSQL renders rules as an idempotent INSERT into playbook_rules (a
// rule already present with the same category and pattern is skipped).
func PlaybookSQL(rules []Rule) string {
	var b strings.Builder
	b.WriteString("-- Default risk playbook (generated from analysis.DefaultRules; do not edit by hand).\n")
	b.WriteString("-- Idempotent: rows already present (same category and pattern) are left alone,\n")
	b.WriteString("-- so admins' edits survive re-running migrations.\n")
	b.WriteString("INSERT INTO playbook_rules (category, pattern, risk_level, explanation, priority)\n")
	b.WriteString("SELECT v.category, v.pattern, v.risk_level, v.explanation, v.priority\nFROM (VALUES\n")
	for i, r := range rules {
		sep := ",\n"
		if i == len(rules)-1 {
			sep = "\n"
		}
		fmt.Fprintf(&b, "    (%s, %s, %s, %s, %d)%s", sqlString(r.Category), sqlString(r.Pattern), sqlString(r.Risk), sqlString(r.Explanation), r.Priority, sep)
	}
	b.WriteString(") AS v(category, pattern, risk_level, explanation, priority)\n")
	b.WriteString("WHERE NOT EXISTS (\n    SELECT 1 FROM playbook_rules r WHERE r.category = v.category AND r.pattern = v.pattern\n);\n")
	return b.String()
}

func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
