package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/emit/apply"
)

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:      "apply",
		Usage:     "program the nftables table inet rpcspan through netlink, atomically (Linux, root)",
		ArgsUsage: "INPUT...",
		Description: `Builds the same table as "rpcspan emit --target nftables" and replaces
table inet rpcspan in one atomic netlink transaction: a failure leaves the
previous ruleset intact, and no other table is touched. Prints what changes.

--dry-run prints the changes and changes nothing. --confirm DURATION applies,
then rolls back unless "yes" is typed within DURATION (as iptables-apply
does), so that a rule that cuts the operator's session undoes itself.

Examples:
   rpcspan apply --dry-run --hook input testdata/example
   rpcspan apply --hook forward --confirm 30s inventory.yaml captures/
   rpcspan apply --netns lab1 testdata/example`,
		Flags: append([]cli.Flag{
			hookFlag(),
			&cli.StringFlag{Name: "netns", Usage: "program the network namespace `NAME` (under /run/netns) instead of the current one"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would change and change nothing"},
			&cli.DurationFlag{Name: "confirm", Usage: "roll back unless confirmed within `DURATION` (such as 30s)"},
			baselineFlag(),
		}, inputFlags()...),
		Action: runApply,
	}
}

func runApply(c *cli.Context) error {
	hook, err := hookOption(c)
	if err != nil {
		return err
	}
	if c.IsSet("confirm") && c.Duration("confirm") <= 0 {
		return usageError("--confirm: want a positive duration such as 30s")
	}
	est, _, err := loadEstate(c)
	if err != nil {
		return err
	}
	opt := apply.Options{Hook: hook, NetNS: c.String("netns")}
	want, err := apply.Desired(audit.BuildPlan(est), opt)
	if err != nil {
		return &exitError{code: exitFindings, err: fmt.Errorf("apply: %w", err)}
	}
	cur, err := apply.Current(opt.NetNS)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("apply: reading table inet rpcspan: %w", err)}
	}
	w := c.App.Writer
	for _, line := range apply.Diff(cur, want) {
		fmt.Fprintln(w, line)
	}
	if c.Bool("dry-run") {
		fmt.Fprintln(w, "dry run: nothing changed")
		return nil
	}
	prev, err := apply.Apply(want, opt)
	if err != nil {
		return &exitError{code: exitFindings, err: fmt.Errorf("apply: %w (the previous ruleset is unchanged)", err)}
	}
	fmt.Fprintln(w, "applied table inet rpcspan")
	if d := c.Duration("confirm"); d > 0 {
		if apply.Confirm(context.Background(), c.App.ErrWriter, c.App.Reader, d) {
			fmt.Fprintln(w, "confirmed")
			return nil
		}
		if err := apply.Restore(prev, opt); err != nil {
			return &exitError{code: exitFindings, err: fmt.Errorf("apply: not confirmed, and rolling back failed: %w", err)}
		}
		return &exitError{code: exitFindings, err: fmt.Errorf("apply: not confirmed within %s: rolled back to the previous table", d)}
	}
	if len(est.Problems) > 0 {
		return &exitError{code: exitFindings, err: fmt.Errorf("apply: applied what is valid; %d input %s (see above)", len(est.Problems), plural(len(est.Problems), "problem", "problems"))}
	}
	return nil
}
