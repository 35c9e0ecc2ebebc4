package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/spf13/cobra"

	"github.com/contract-lucidity/contract-lucidity/services/clctl/api"
)

const pageSize = 100

func parseID(kind, s string) (openapi_types.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return id, usageError("%s %q is not an id (a UUID; see the list commands)", kind, s)
	}
	return id, nil
}

func (a *App) projectsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "projects", Short: "List and create projects"}
	var output, description string
	list := &cobra.Command{
		Use: "list", Short: "List the projects you can see", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			items, err := listProjects(cmd.Context(), c)
			if err != nil {
				return err
			}
			return a.print(output, items, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "ID\tNAME\tDOCUMENTS\tMY ROLE\tCREATED")
				for _, p := range items {
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", p.Id, truncate(p.Name, 40), p.DocumentCount, p.MyRole, p.CreatedAt.Format(time.DateOnly))
				}
			})
		},
	}
	addOutputFlag(list, &output)
	create := &cobra.Command{
		Use: "create NAME", Short: "Create a project (you become its admin)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := c.CreateProjectWithResponse(cmd.Context(), api.ProjectRequest{Name: &args[0], Description: &description})
			if err != nil {
				return err
			}
			if resp.JSON201 == nil {
				return responseError(resp.HTTPResponse, resp.Body)
			}
			p := resp.JSON201
			return a.print(output, p, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "ID\tNAME")
				fmt.Fprintf(w, "%s\t%s\n", p.Id, p.Name)
			})
		},
	}
	create.Flags().StringVarP(&description, "description", "d", "", "description")
	addOutputFlag(create, &output)
	cmd.AddCommand(list, create)
	return cmd
}

func listProjects(ctx context.Context, c *api.ClientWithResponses) ([]api.Project, error) {
	var out []api.Project
	for offset := 0; ; offset += pageSize {
		limit, off := pageSize, offset
		resp, err := c.ListProjectsWithResponse(ctx, &api.ListProjectsParams{Limit: &limit, Offset: &off})
		if err != nil {
			return nil, err
		}
		if resp.JSON200 == nil {
			return nil, responseError(resp.HTTPResponse, resp.Body)
		}
		out = append(out, resp.JSON200.Items...)
		if len(resp.JSON200.Items) == 0 || int64(len(out)) >= resp.JSON200.Total {
			return out, nil
		}
	}
}

func listDocuments(ctx context.Context, c *api.ClientWithResponses, project openapi_types.UUID) ([]api.Document, error) {
	out := []api.Document{}
	for offset := 0; ; offset += pageSize {
		limit, off := pageSize, offset
		resp, err := c.ListDocumentsWithResponse(ctx, project, &api.ListDocumentsParams{Limit: &limit, Offset: &off})
		if err != nil {
			return nil, err
		}
		if resp.JSON200 == nil {
			return nil, responseError(resp.HTTPResponse, resp.Body)
		}
		out = append(out, resp.JSON200.Items...)
		if len(resp.JSON200.Items) == 0 || int64(len(out)) >= resp.JSON200.Total {
			return out, nil
		}
	}
}

func (a *App) documentsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "documents", Short: "List documents"}
	var output, project string
	list := &cobra.Command{
		Use: "list", Short: "List the documents of a project (--project) or of every visible project", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			var projects []openapi_types.UUID
			if project != "" {
				id, err := parseID("project", project)
				if err != nil {
					return err
				}
				projects = append(projects, id)
			} else {
				ps, err := listProjects(ctx, c)
				if err != nil {
					return err
				}
				for _, p := range ps {
					projects = append(projects, p.Id)
				}
			}
			docs := []api.Document{}
			for _, p := range projects {
				d, err := listDocuments(ctx, c, p)
				if err != nil {
					return err
				}
				docs = append(docs, d...)
			}
			return a.print(output, docs, func(w *tabwriter.Writer) { documentTable(w, docs) })
		},
	}
	list.Flags().StringVarP(&project, "project", "p", "", "project id")
	addOutputFlag(list, &output)
	cmd.AddCommand(list)
	return cmd
}

func documentTable(w *tabwriter.Writer, docs []api.Document) {
	fmt.Fprintln(w, "ID\tNAME\tTYPE\tSTATUS\tCLAUSES\tUPLOADED")
	for _, d := range docs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", d.Id, truncate(d.OriginalName, 40), d.FileType, d.PipelineStatus,
			d.ClauseCount, d.CreatedAt.Local().Format(time.DateTime))
	}
}

func (a *App) clausesCommand() *cobra.Command {
	var output, risk, category string
	cmd := &cobra.Command{
		Use: "clauses DOCUMENT", Short: "List the clauses of a document with their risk and latest decision", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("document", args[0])
			if err != nil {
				return err
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			params := &api.ListClausesParams{}
			if risk != "" {
				r := api.ListClausesParamsRisk(risk)
				params.Risk = &r
			}
			if category != "" {
				params.Category = &category
			}
			resp, err := c.ListClausesWithResponse(cmd.Context(), id, params)
			if err != nil {
				return err
			}
			if resp.JSON200 == nil {
				return responseError(resp.HTTPResponse, resp.Body)
			}
			items := resp.JSON200.Items
			return a.print(output, items, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "ID\t#\tCATEGORY\tRISK\tDECISION\tTEXT")
				for _, cl := range items {
					decision := "-"
					if cl.LatestDecision != nil {
						decision = string(cl.LatestDecision.Decision)
					}
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", cl.Id, cl.Ordinal, truncate(cl.Category, 30), cl.RiskLevel, decision, truncate(cl.Text, 60))
				}
			})
		},
	}
	cmd.Flags().StringVar(&risk, "risk", "", "only clauses of this risk: low, medium or high")
	cmd.Flags().StringVar(&category, "category", "", "only clauses of this category")
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *App) decideCommand() *cobra.Command {
	var output, comment string
	cmd := &cobra.Command{
		Use: "decide CLAUSE accept|reject|negotiate", Short: "Record a decision on a clause", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("clause", args[0])
			if err != nil {
				return err
			}
			d := api.DecisionRequestDecision(args[1])
			if !d.Valid() {
				return usageError("decision %q: use accept, reject or negotiate", args[1])
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			req := api.DecisionRequest{Decision: d}
			if comment != "" {
				req.Comment = &comment
			}
			resp, err := c.CreateDecisionWithResponse(cmd.Context(), id, req)
			if err != nil {
				return err
			}
			if resp.JSON201 == nil {
				return responseError(resp.HTTPResponse, resp.Body)
			}
			dec := resp.JSON201
			return a.print(output, dec, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "ID\tCLAUSE\tDECISION\tCOMMENT")
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", dec.Id, dec.ClauseId, dec.Decision, truncate(dec.Comment, 60))
			})
		},
	}
	cmd.Flags().StringVarP(&comment, "message", "m", "", "comment")
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *App) usersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "List and create users (administrators)"}
	var output, name, role string
	list := &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			users := []api.User{}
			for offset := 0; ; offset += pageSize {
				limit, off := pageSize, offset
				resp, err := c.ListUsersWithResponse(cmd.Context(), &api.ListUsersParams{Limit: &limit, Offset: &off})
				if err != nil {
					return err
				}
				if resp.JSON200 == nil {
					return responseError(resp.HTTPResponse, resp.Body)
				}
				users = append(users, resp.JSON200.Items...)
				if len(resp.JSON200.Items) == 0 || int64(len(users)) >= resp.JSON200.Total {
					break
				}
			}
			return a.print(output, users, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "ID\tEMAIL\tNAME\tROLE\tDISABLED\tLAST LOGIN")
				for _, u := range users {
					last := "-"
					if u.LastLogin != nil {
						last = u.LastLogin.Local().Format(time.DateTime)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%t\t%s\n", u.Id, u.Email, truncate(u.Name, 30), u.Role, u.Disabled, last)
				}
			})
		},
	}
	addOutputFlag(list, &output)
	create := &cobra.Command{
		Use:   "create EMAIL",
		Short: "Create a user; the initial password is prompted (stdin when not a terminal) and must be changed at first sign-in",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := api.CreateUserRequestRole(role)
			if !r.Valid() {
				return usageError("role %q: use user or admin", role)
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			pw, err := a.newPassword("Initial password: ")
			if err != nil {
				return err
			}
			req := api.CreateUserRequest{Email: openapi_types.Email(args[0]), Password: pw, Role: &r}
			if name != "" {
				req.Name = &name
			}
			resp, err := c.CreateUserWithResponse(cmd.Context(), req)
			if err != nil {
				return err
			}
			if resp.JSON201 == nil {
				return responseError(resp.HTTPResponse, resp.Body)
			}
			u := resp.JSON201
			return a.print(output, u, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "ID\tEMAIL\tROLE")
				fmt.Fprintf(w, "%s\t%s\t%s\n", u.Id, u.Email, u.Role)
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "display name")
	create.Flags().StringVar(&role, "role", "user", "role: user or admin")
	addOutputFlag(create, &output)
	cmd.AddCommand(list, create)
	return cmd
}
