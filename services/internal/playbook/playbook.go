// Package playbook reads the risk playbook from playbook_rules and works
// out which rules apply to a project: the installation's rules (the firm's
// positions) and the project's own, which either come first (additions) or
// take the place of one installation rule (overrides; a disabled override
// turns that rule off for the project). The backend shows and edits these
// lists; the worker assesses clauses against the compiled result.
package playbook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

// Rule is one playbook_rules row.
type Rule struct {
	ID                string
	ProjectID         *string // nil: an installation rule
	OverridesRuleID   *string // the installation rule a project rule replaces
	Category          string
	Condition         string // case-insensitive regular expression; empty: any clause of the category
	Risk              string
	Explanation       string
	PreferredPosition string
	FallbackWording   string
	Enabled           bool
	Priority          int // order within its list
	UpdatedAt         time.Time
}

// Installation reports whether r is one of the installation's rules.
func (r Rule) Installation() bool { return r.ProjectID == nil }

// Columns are the playbook_rules columns Scan reads, in order.
const Columns = `id, project_id, overrides_rule_id, category, pattern, risk_level, explanation,
	preferred_position, fallback_wording, enabled, priority, updated_at`

// Scan reads a row of Columns.
func Scan(row pgx.Row) (Rule, error) {
	var r Rule
	err := row.Scan(&r.ID, &r.ProjectID, &r.OverridesRuleID, &r.Category, &r.Condition, &r.Risk, &r.Explanation,
		&r.PreferredPosition, &r.FallbackWording, &r.Enabled, &r.Priority, &r.UpdatedAt)
	return r, err
}

// Querier is a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func list(ctx context.Context, q Querier, where string, args ...any) ([]Rule, error) {
	rows, err := q.Query(ctx, `SELECT `+Columns+` FROM playbook_rules WHERE `+where+` ORDER BY priority, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read playbook: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Rule, error) { return Scan(row) })
	if err != nil {
		return nil, fmt.Errorf("read playbook: %w", err)
	}
	return out, nil
}

// Installation lists the installation's rules in order.
func Installation(ctx context.Context, q Querier) ([]Rule, error) {
	return list(ctx, q, `project_id IS NULL`)
}

// ProjectRules lists a project's own rules (additions and overrides) in order.
func ProjectRules(ctx context.Context, q Querier, projectID string) ([]Rule, error) {
	return list(ctx, q, `project_id = $1`, projectID)
}

// ForProject is the merged list of a project (see Merge); projectID ""
// gives the installation's list.
func ForProject(ctx context.Context, q Querier, projectID string) ([]Rule, error) {
	inst, err := Installation(ctx, q)
	if err != nil || projectID == "" {
		return inst, err
	}
	own, err := ProjectRules(ctx, q, projectID)
	if err != nil {
		return nil, err
	}
	return Merge(inst, own), nil
}

// Merge is the order in which a project's clauses are assessed: the
// project's additions first (in their order), then the installation's
// rules, each replaced by the project's override of it where there is one.
// Disabled rules stay in the list (Compile skips them), so a page can show
// what is turned off.
func Merge(installation, project []Rule) []Rule {
	overrides := map[string]Rule{}
	out := make([]Rule, 0, len(installation)+len(project))
	for _, r := range project {
		if r.OverridesRuleID != nil {
			overrides[*r.OverridesRuleID] = r
			continue
		}
		out = append(out, r)
	}
	for _, r := range installation {
		if o, ok := overrides[r.ID]; ok {
			r = o
		}
		out = append(out, r)
	}
	return out
}

// Categories are the categories a rule may name: every category of the
// classifier, "Other", and "*" (any clause).
func Categories() []string {
	return append(append([]string{analysis.AnyCategory}, analysis.Categories()...), analysis.Other)
}

// Validate checks what a rule needs before it is stored: a known category,
// a risk level, an explanation and a condition that compiles.
func Validate(r Rule) error {
	if !slices.Contains(Categories(), r.Category) {
		return fmt.Errorf("category %q is not a clause category", r.Category)
	}
	_, err := analysis.NewPlaybook([]analysis.Rule{r.analysis(0)})
	return err
}

func (r Rule) analysis(order int) analysis.Rule {
	return analysis.Rule{Category: r.Category, Pattern: r.Condition, Risk: r.Risk, Explanation: r.Explanation, Priority: order}
}

// Compiled is the enabled, valid rules of a merged list, ready to assess.
type Compiled struct {
	pb    *analysis.Playbook
	rules []Rule
}

// ErrInvalidRule wraps the reason a stored rule was skipped.
var ErrInvalidRule = errors.New("invalid playbook rule")

// Compile builds the playbook of the enabled rules in list order. A rule
// that does not compile (stored before validation existed) is skipped and
// reported, rather than failing every document.
func Compile(rules []Rule) (*Compiled, []error) {
	c := &Compiled{}
	var ars []analysis.Rule
	var skipped []error
	for _, r := range rules {
		if !r.Enabled {
			continue
		}
		ar := r.analysis(len(ars))
		if _, err := analysis.NewPlaybook([]analysis.Rule{ar}); err != nil {
			skipped = append(skipped, fmt.Errorf("%w %s: %v", ErrInvalidRule, r.ID, err))
			continue
		}
		ars = append(ars, ar)
		c.rules = append(c.rules, r)
	}
	pb, err := analysis.NewPlaybook(ars)
	if err != nil { // each rule compiled alone: cannot happen
		panic(err)
	}
	c.pb = pb
	return c, skipped
}

// Playbook is the compiled analysis playbook.
func (c *Compiled) Playbook() *analysis.Playbook { return c.pb }

// Match is the rule that rates a clause.
func (c *Compiled) Match(category, text string) (Rule, bool) {
	i, ok := c.pb.Match(category, text)
	if !ok {
		return Rule{}, false
	}
	return c.rules[i], true
}

// Position is the rule whose preferred position and fallback wording a
// reviewer negotiating a clause is offered: the rule that rates the clause
// if it has wording, else the first rule of the clause's own category that
// has some.
func (c *Compiled) Position(category, text string) (Rule, bool) {
	if r, ok := c.Match(category, text); ok && hasWording(r) {
		return r, true
	}
	for _, r := range c.rules {
		if r.Category == category && hasWording(r) {
			return r, true
		}
	}
	return Rule{}, false
}

func hasWording(r Rule) bool { return r.PreferredPosition != "" || r.FallbackWording != "" }
