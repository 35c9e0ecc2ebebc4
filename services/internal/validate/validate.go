// Package validate is `contract-lucidity validate`: the security checks
// that run before a deployment (pre-commit, CI, the operator). Each check
// ends PASS, FAIL or WARN with a reason; any FAIL fails the run.
package validate

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Status is a check's outcome.
type Status string

const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	// Warn is a check that could not be completed or a risk that is not a
	// rule violation; it never counts as a pass of what it could not check.
	Warn Status = "WARN"
)

// Result is one check.
type Result struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// Report is a list of results.
type Report []Result

func (r *Report) add(check string, s Status, format string, args ...any) {
	*r = append(*r, Result{Check: check, Status: s, Detail: fmt.Sprintf(format, args...)})
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, x := range r {
		if x.Status == Fail {
			return true
		}
	}
	return false
}

// Count returns how many results have status s.
func (r Report) Count(s Status) int {
	n := 0
	for _, x := range r {
		if x.Status == s {
			n++
		}
	}
	return n
}

// Write prints the report as a table (with a summary line) or as JSON.
func (r Report) Write(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		out := r
		if out == nil {
			out = Report{}
		}
		return enc.Encode(struct {
			Results Report `json:"results"`
			Failed  bool   `json:"failed"`
		}{out, r.Failed()})
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STATUS\tCHECK\tDETAIL")
		for _, x := range r {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", x.Status, x.Check, x.Detail)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "%d passed, %d failed, %d warnings\n", r.Count(Pass), r.Count(Fail), r.Count(Warn))
		return err
	}
	return fmt.Errorf("unknown output format %q: use table or json", format)
}
