package main

import (
	"github.com/urfave/cli/v2"

	"github.com/rpcspan/rpcspan/audit/report"
)

var inventoryFormats = []string{"table", "json", "yaml", "csv", "markdown"}

func inventoryCommand() *cli.Command {
	return &cli.Command{
		Name:      "inventory",
		Usage:     "print the resolved estate: every host, its ranges and where each fact came from",
		ArgsUsage: "INPUT...",
		Description: `INPUT is any mix of inventory files (YAML, JSON, CSV), raw captures
(netsh, Get-NetTCPSetting, .reg, reg query, ipconfig, smb.conf, ...),
collector JSON and folders (read recursively), or - for standard input.

Examples:
   rpcspan inventory testdata/example
   rpcspan inventory -o json inventory.yaml captures/
   rpcspan inventory --host DC01=10.1.0.10 --range DC01:tcp=49152-65535`,
		Flags: append([]cli.Flag{outputFlag(inventoryFormats...)}, inputFlags()...),
		Action: func(c *cli.Context) error {
			format, err := checkOutput(c, inventoryFormats...)
			if err != nil {
				return err
			}
			est, _, err := loadEstate(c)
			if err != nil {
				return err
			}
			inv := report.NewInventory(est)
			w := c.App.Writer
			switch format {
			case "json":
				return inv.WriteJSON(w)
			case "yaml":
				return inv.WriteYAML(w)
			case "csv":
				return inv.WriteCSV(w)
			case "markdown":
				return inv.WriteMarkdown(w)
			}
			return inv.WriteTable(w)
		},
	}
}
