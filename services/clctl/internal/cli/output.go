package cli

import (
	"encoding/json"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func addOutputFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "output", "o", "table", "output format: table or json")
}

// print writes v as indented JSON (-o json) or as the table table writes.
func (a *App) print(format string, v any, table func(w *tabwriter.Writer)) error {
	switch format {
	case "json":
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "table", "":
		w := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
		table(w)
		return w.Flush()
	}
	return usageError("unknown output format %q: use table or json", format)
}

// truncate shortens s to n runes for a table cell.
func truncate(s string, n int) string {
	r := []rune(s)
	for i, c := range r {
		if c == '\n' || c == '\t' {
			r[i] = ' '
		}
	}
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}
