package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/contract-lucidity/contract-lucidity/services/clctl/api"
)

func (a *App) reportCommand() *cobra.Command {
	var format, file string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "report DOCUMENT --format pdf|html -o FILE",
		Short: "Generate a document's report and download it (-o - writes it to stdout)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := parseID("document", args[0])
			if err != nil {
				return err
			}
			f := api.DownloadReportParamsFormat(format)
			if !f.Valid() {
				return usageError("format %q: use pdf or html", format)
			}
			if file == "" {
				return usageError("-o FILE is required (- for stdout)")
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			resp, err := c.CreateReportWithResponse(ctx, id)
			if err != nil {
				return err
			}
			if resp.JSON202 == nil {
				return responseError(resp.HTTPResponse, resp.Body)
			}
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			rep, err := a.waitReport(wctx, c, resp.JSON202)
			if err != nil {
				return err
			}
			dl, err := c.DownloadReport(ctx, rep.Id, &api.DownloadReportParams{Format: &f})
			if err != nil {
				return err
			}
			defer dl.Body.Close()
			if dl.StatusCode != http.StatusOK {
				body, _ := io.ReadAll(io.LimitReader(dl.Body, 64<<10))
				return responseError(dl, body)
			}
			n, err := writeOut(file, a.out, dl.Body)
			if err != nil {
				return err
			}
			if file != "-" {
				fmt.Fprintf(a.err, "Wrote %s (%s, %s).\n", file, format, humanBytes(n))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "pdf", "pdf or html")
	cmd.Flags().StringVarP(&file, "output", "o", "", "file to write (- for stdout)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the report")
	return cmd
}

func (a *App) waitReport(ctx context.Context, c *api.ClientWithResponses, rep *api.Report) (*api.Report, error) {
	last := ""
	for {
		if string(rep.Status) != last {
			last = string(rep.Status)
			fmt.Fprintf(a.err, "report: %s\n", last)
		}
		switch rep.Status {
		case "complete":
			return rep, nil
		case "failed":
			msg := "no reason given"
			if rep.ErrorMessage != nil {
				msg = *rep.ErrorMessage
			}
			return nil, fmt.Errorf("the report failed: %s", msg)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, errors.New("the report was not ready when --timeout ran out")
			}
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
		resp, err := c.GetReportWithResponse(ctx, rep.Id)
		if err != nil {
			return nil, err
		}
		if resp.JSON200 == nil {
			return nil, responseError(resp.HTTPResponse, resp.Body)
		}
		rep = resp.JSON200
	}
}

// writeOut writes r to path atomically (a temporary file renamed into
// place, so a failed download leaves no half file), or to stdout for "-".
func writeOut(path string, stdout io.Writer, r io.Reader) (int64, error) {
	if path == "-" {
		return io.Copy(stdout, r)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".clctl-report-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return n, err
}
