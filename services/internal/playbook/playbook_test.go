package playbook

import (
	"errors"
	"testing"
)

func ptr(s string) *string { return &s }

func rule(id, category, condition, risk string, enabled bool) Rule {
	return Rule{ID: id, Category: category, Condition: condition, Risk: risk, Explanation: id, Enabled: enabled}
}

func ids(rules []Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.ID
	}
	return out
}

func TestMergePutsAdditionsFirstAndOverridesInPlace(t *testing.T) {
	inst := []Rule{rule("i1", "Exclusivity", "", "high", true), rule("i2", "Audit Rights", "", "medium", true), rule("i3", "Governing Law", "", "low", true)}
	p := "p"
	over := rule("o2", "Audit Rights", "", "low", true)
	over.ProjectID, over.OverridesRuleID = &p, ptr("i2")
	add := rule("a1", "Exclusivity", "territory", "low", true)
	add.ProjectID = &p
	got := ids(Merge(inst, []Rule{over, add}))
	want := []string{"a1", "i1", "o2", "i3"}
	if len(got) != len(want) {
		t.Fatalf("merged %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("merged %v, want %v", got, want)
		}
	}
}

func TestCompileSkipsDisabledAndInvalidRules(t *testing.T) {
	rules := []Rule{
		rule("off", "Exclusivity", "", "low", false),
		rule("bad", "Exclusivity", "(", "low", true),
		rule("on", "Exclusivity", "", "high", true),
	}
	c, skipped := Compile(rules)
	if len(skipped) != 1 || !errors.Is(skipped[0], ErrInvalidRule) {
		t.Fatalf("skipped %v, want the invalid rule", skipped)
	}
	if r, ok := c.Match("Exclusivity", "exclusive"); !ok || r.ID != "on" {
		t.Fatalf("match %+v %v, want rule on", r, ok)
	}
	if risk, _ := c.Playbook().Assess("Exclusivity", "x"); risk != "high" {
		t.Fatalf("risk %s", risk)
	}
}

func TestPositionPrefersTheMatchingRuleThenTheCategory(t *testing.T) {
	any := rule("any", "*", "unlimited", "high", true)
	specific := rule("carve", "Cap on Liability", "except", "medium", true)
	specific.PreferredPosition = "no carve-outs"
	plain := rule("plain", "Cap on Liability", "", "low", true)
	plain.FallbackWording = "cap at fees"
	c, _ := Compile([]Rule{any, specific, plain})
	for _, tc := range []struct{ text, want string }{
		{"liability is capped except for fraud", "carve"}, // the rating rule has wording
		{"liability is capped at fees", "plain"},          // the rating rule itself
		{"unlimited liability for the cap", "carve"},      // rated by "*" (no wording): the category's first with wording
	} {
		r, ok := c.Position("Cap on Liability", tc.text)
		if !ok || r.ID != tc.want {
			t.Errorf("%q: position %q %v, want %q", tc.text, r.ID, ok, tc.want)
		}
	}
	if _, ok := c.Position("Exclusivity", "exclusive"); ok {
		t.Error("a category without wording has a position")
	}
}

func TestValidate(t *testing.T) {
	ok := []Rule{rule("a", "Exclusivity", "", "high", true), rule("b", "*", "unlimited", "high", true), rule("c", "Other", "", "low", true)}
	for _, r := range ok {
		if err := Validate(r); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	bad := []Rule{rule("a", "exclusivity", "", "high", true), rule("b", "Nope", "", "high", true),
		rule("c", "Exclusivity", "(", "high", true), rule("d", "Exclusivity", "", "severe", true),
		{Category: "Exclusivity", Risk: "high"}}
	for _, r := range bad {
		if err := Validate(r); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}
