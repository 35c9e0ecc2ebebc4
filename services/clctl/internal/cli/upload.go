package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/spf13/cobra"

	"github.com/contract-lucidity/contract-lucidity/services/clctl/api"
)

func (a *App) uploadCommand() *cobra.Command {
	var output, project string
	var noWait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "upload FILE...",
		Short: "Upload documents to a project and wait for their analysis",
		Long: `Upload documents (PDF, DOCX, PNG, JPEG, TIFF) to a project, with a progress
bar per file, then wait until the pipeline has analyzed each one, showing its
stage (queued, extracting, classifying, analyzing, embedding). --no-wait
returns after the uploads. Exits 1 when an upload or an analysis fails.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			ctx := cmd.Context()
			pid, err := parseID("project", project)
			if err != nil {
				return err
			}
			for _, f := range files {
				if st, err := os.Stat(f); err != nil {
					return err
				} else if !st.Mode().IsRegular() {
					return usageError("%s is not a regular file", f)
				}
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			var docs []api.Document
			var failed []string
			for _, f := range files {
				d, err := a.uploadFile(ctx, c, pid, f)
				if err != nil {
					fmt.Fprintf(a.err, "%s: %v\n", filepath.Base(f), err)
					failed = append(failed, filepath.Base(f))
					continue
				}
				docs = append(docs, *d)
			}
			if !noWait && len(docs) > 0 {
				wctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				if docs, err = a.waitAnalysed(wctx, c, docs); err != nil {
					return err
				}
				for _, d := range docs {
					if d.PipelineStatus == "failed" {
						msg := ""
						if d.ErrorMessage != nil {
							msg = ": " + *d.ErrorMessage
						}
						fmt.Fprintf(a.err, "%s: analysis failed%s\n", d.OriginalName, msg)
						failed = append(failed, d.OriginalName)
					}
				}
			}
			if err := a.print(output, docs, func(w *tabwriter.Writer) { documentTable(w, docs) }); err != nil {
				return err
			}
			if len(failed) > 0 {
				return fmt.Errorf("%d of %d documents failed: %s", len(failed), len(files), strings.Join(failed, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project id (required)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return after the upload, without waiting for the analysis")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "how long to wait for the analysis")
	cmd.MarkFlagRequired("project")
	addOutputFlag(cmd, &output)
	return cmd
}

// uploadFile streams one file as multipart/form-data (project_id, then
// file), drawing its progress bar on stderr.
func (a *App) uploadFile(ctx context.Context, c *api.ClientWithResponses, project openapi_types.UUID, path string) (*api.Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	bar := a.newBar(filepath.Base(path), st.Size())
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	written := make(chan struct{})
	go func() {
		defer close(written)
		err := mw.WriteField("project_id", project.String())
		if err == nil {
			var part io.Writer
			if part, err = mw.CreateFormFile("file", filepath.Base(path)); err == nil {
				if _, err = io.Copy(part, io.TeeReader(f, bar)); err == nil {
					err = mw.Close()
				}
			}
		}
		pw.CloseWithError(err)
	}()
	resp, err := c.UploadWithBodyWithResponse(ctx, mw.FormDataContentType(), pr)
	pr.Close() // a writer still running (the server answered early) stops
	<-written
	if err != nil {
		bar.done("failed")
		return nil, err
	}
	if resp.JSON202 == nil {
		bar.done("refused")
		return nil, responseError(resp.HTTPResponse, resp.Body)
	}
	bar.done("uploaded")
	return resp.JSON202, nil
}

// waitAnalysed polls the documents until each is complete or failed,
// printing stage changes on stderr.
func (a *App) waitAnalysed(ctx context.Context, c *api.ClientWithResponses, docs []api.Document) ([]api.Document, error) {
	last := map[openapi_types.UUID]string{}
	for {
		pending := 0
		for i, d := range docs {
			if d.PipelineStatus == "complete" || d.PipelineStatus == "failed" {
				continue
			}
			resp, err := c.GetDocumentWithResponse(ctx, d.Id)
			if err != nil {
				return nil, fmt.Errorf("wait for %s: %w", d.OriginalName, err)
			}
			if resp.JSON200 == nil {
				return nil, fmt.Errorf("wait for %s: %w", d.OriginalName, responseError(resp.HTTPResponse, resp.Body))
			}
			docs[i] = *resp.JSON200
			d = docs[i]
			stage := fmt.Sprintf("%s (%d%%)", d.PipelineStatus, d.Progress)
			if last[d.Id] != stage {
				last[d.Id] = stage
				fmt.Fprintf(a.err, "%s: %s\n", d.OriginalName, stage)
			}
			if d.PipelineStatus != "complete" && d.PipelineStatus != "failed" {
				pending++
			}
		}
		if pending == 0 {
			return docs, nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%d documents still in analysis when --timeout ran out; see clctl documents list", pending)
			}
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// bar is a per-file progress bar: redrawn in place on a terminal, a start
// and an end line otherwise (logs, CI).
type bar struct {
	a         *App
	name      string
	total, n  int64
	tty       bool
	lastDrawn time.Time
	lastPct   int64
}

func (a *App) newBar(name string, total int64) *bar {
	b := &bar{a: a, name: name, total: total, tty: isTerminal(a.err), lastPct: -1}
	if !b.tty {
		fmt.Fprintf(a.err, "%s: uploading %s\n", name, humanBytes(total))
	}
	b.draw(false)
	return b
}

func (b *bar) Write(p []byte) (int, error) {
	b.n += int64(len(p))
	b.draw(false)
	return len(p), nil
}

func (b *bar) draw(force bool) {
	if !b.tty {
		return
	}
	pct := int64(100)
	if b.total > 0 {
		pct = b.n * 100 / b.total
	}
	if !force && pct == b.lastPct && time.Since(b.lastDrawn) < 200*time.Millisecond {
		return
	}
	b.lastPct, b.lastDrawn = pct, time.Now()
	const width = 30
	filled := int(pct * width / 100)
	fmt.Fprintf(b.a.err, "\r%-30s [%s%s] %3d%% %s/%s", truncate(b.name, 30), strings.Repeat("=", filled),
		strings.Repeat(" ", width-filled), pct, humanBytes(b.n), humanBytes(b.total))
}

func (b *bar) done(status string) {
	if b.tty {
		b.draw(true)
		fmt.Fprintf(b.a.err, " %s\n", status)
		return
	}
	fmt.Fprintf(b.a.err, "%s: %s (%s)\n", b.name, status, humanBytes(b.n))
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
