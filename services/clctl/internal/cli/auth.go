package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"text/tabwriter"

	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/spf13/cobra"

	"github.com/contract-lucidity/contract-lucidity/services/clctl/api"
	"github.com/contract-lucidity/contract-lucidity/services/clctl/internal/tokenstore"
)

func (a *App) loginCommand() *cobra.Command {
	var email string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in and keep the tokens in the OS keyring",
		Long: `Sign in with email and password. The password is read without echo; when
standard input is not a terminal, one line of it is the password (and, when
the server demands a new one, the next line is the new password).

The access and refresh tokens are stored in the OS keyring only. Without a
reachable keyring clctl refuses, before asking for the password.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := a.session()
			if err != nil {
				return err
			}
			if err := s.store.Check(); err != nil {
				return err
			}
			if email == "" {
				if email, err = a.prompt("Email: "); err != nil {
					return err
				}
			}
			pw, err := a.promptSecret("Password: ")
			if err != nil {
				return err
			}
			resp, err := s.api.LoginWithResponse(ctx, api.LoginRequest{Email: openapi_types.Email(email), Password: pw})
			if err != nil {
				return fmt.Errorf("sign in to %s: %w", s.server, err)
			}
			if resp.JSON200 == nil {
				if resp.StatusCode() == http.StatusUnauthorized {
					return errors.New("wrong email or password, or the account is locked or disabled")
				}
				return fmt.Errorf("sign in: %w", responseError(resp.HTTPResponse, resp.Body))
			}
			tr := resp.JSON200
			if tr.User.MustChangePassword {
				if tr, err = a.changePassword(ctx, s, tr, pw); err != nil {
					return err
				}
			}
			previous, _ := s.store.Load()
			if err := s.store.Save(s.tokens(tr)); err != nil {
				// Nothing may outlive a failed save: revoke what was issued.
				s.revoke(ctx, tr.RefreshToken, tr.AccessToken)
				return err
			}
			if previous != nil {
				// The session this login replaces ends on the server too.
				_ = s.revoke(ctx, previous.RefreshToken, previous.AccessToken)
			}
			fmt.Fprintf(a.err, "Logged in to %s as %s (%s). The tokens are in %s.\n",
				s.server, tr.User.Email, tr.User.Role, tokenstore.KeyringName())
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "email (prompted when empty)")
	return cmd
}

// changePassword handles the forced password change at first sign-in and
// returns the tokens the server issues with the new password.
func (a *App) changePassword(ctx context.Context, s *session, tr *api.TokenResponse, current string) (*api.TokenResponse, error) {
	fmt.Fprintln(a.err, "The server requires a new password before anything else (at least 12 characters).")
	pw, err := a.newPassword("New password: ")
	if err == nil {
		var resp *api.ChangePasswordResponse
		resp, err = s.api.ChangePasswordWithResponse(ctx, api.ChangePasswordRequest{CurrentPassword: current, NewPassword: pw},
			bearer(tr.AccessToken))
		if err == nil && resp.JSON200 != nil {
			return resp.JSON200, nil
		}
		if err == nil {
			err = fmt.Errorf("change the password: %w", responseError(resp.HTTPResponse, resp.Body))
		}
	}
	s.revoke(ctx, tr.RefreshToken, tr.AccessToken)
	return nil, err
}

// revoke ends a refresh token family on the server (best effort).
func (s *session) revoke(ctx context.Context, refresh, access string) error {
	var body api.LogoutRequest
	if refresh != "" {
		body.RefreshToken = &refresh
	}
	resp, err := s.api.LogoutWithResponse(ctx, body, bearer(access))
	if err != nil {
		return err
	}
	if resp.StatusCode() != http.StatusNoContent {
		return responseError(resp.HTTPResponse, resp.Body)
	}
	return nil
}

func (a *App) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the session on the server and delete the tokens from the keyring",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.session()
			if err != nil {
				return err
			}
			t, err := s.store.Load()
			if errors.Is(err, tokenstore.ErrNotFound) {
				return s.notLoggedIn()
			}
			if err != nil {
				return err
			}
			revokeErr := s.revoke(cmd.Context(), t.RefreshToken, t.AccessToken)
			if err := s.store.Delete(); err != nil {
				return err
			}
			if revokeErr != nil {
				return fmt.Errorf("the tokens were deleted from the keyring, but the server did not revoke the session "+
					"(it ends when the refresh token expires): %w", revokeErr)
			}
			fmt.Fprintf(a.err, "Logged out of %s.\n", s.server)
			return nil
		},
	}
}

func (a *App) whoamiCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show the signed-in user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := c.MeWithResponse(cmd.Context())
			if err != nil {
				return err
			}
			if resp.JSON200 == nil {
				return responseError(resp.HTTPResponse, resp.Body)
			}
			u := resp.JSON200
			return a.print(output, u, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "EMAIL\tNAME\tROLE\tSERVER")
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Email, u.Name, u.Role, a.sess.server)
			})
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}
