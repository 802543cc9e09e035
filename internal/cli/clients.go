package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse/gatehouse"
)

// Service clients (CONTRACT §10): services that introspect tokens or
// follow the revocation feed.

// scopesValue collects a repeated --scope.
type scopesValue struct{ scopes *[]string }

func (v scopesValue) String() string {
	if v.scopes == nil {
		return ""
	}
	return strings.Join(*v.scopes, ",")
}

func (v scopesValue) Set(s string) error {
	*v.scopes = append(*v.scopes, s)
	return nil
}

func clientsCommand(ctx context.Context, verb string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	name := "clients " + verb
	var c *command
	switch verb {
	case "create":
		c = newCommand(name, "Register a service client and print its client_id and client_secret, once: only a hash of the secret is kept.", "")
	case "list":
		c = newCommand(name, "List the service clients (never their secrets).", "")
	case "delete":
		c = newCommand(name, "Delete a service client: its tokens are refused from then on.", "")
	}
	o := newOptions()
	o.register(c, false)
	var scopes []string
	clientName := c.fs.String("name", "", "a name for the client (required with create)")
	c.fs.Var(scopesValue{&scopes}, "scope", "a scope of the client, repeatable: introspect, revocations (create)")
	id := c.fs.String("id", "", "the client_id (required with delete)")
	if err := c.parse(args, getenv, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case verb == "create" && *clientName == "":
		return fmt.Errorf("gatehouse %s: --name is required", name)
	case verb == "create" && len(scopes) == 0:
		return fmt.Errorf("gatehouse %s: at least one --scope is required (introspect, revocations)", name)
	case verb == "delete" && *id == "":
		return fmt.Errorf("gatehouse %s: --id is required", name)
	}
	gh, err := o.openCore(ctx, name, stderr)
	if err != nil {
		return err
	}
	defer gh.Close()
	svc := gh.Service()
	switch verb {
	case "create":
		cl, secret, err := svc.CreateClient(ctx, *clientName, scopes)
		if err != nil {
			return commandError(name, err)
		}
		fmt.Fprintf(stdout, "client_id: %s\nclient_secret: %s\n", cl.ID, secret)
		fmt.Fprintln(stderr, "The secret is shown this once; Gatehouse keeps only its hash.")
	case "list":
		cls, err := svc.Clients(ctx)
		if err != nil {
			return commandError(name, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME\tSCOPES\tCREATED")
		for _, cl := range cls {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cl.ID, cl.Name, strings.Join(cl.Scopes, " "), cl.CreatedAt.Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "delete":
		err := svc.DeleteClient(ctx, *id)
		if errors.Is(err, gatehouse.ErrNotFound) {
			return fmt.Errorf("gatehouse %s: no client %s", name, *id)
		}
		if err != nil {
			return commandError(name, err)
		}
		fmt.Fprintf(stdout, "deleted client %s\n", *id)
	}
	return nil
}
