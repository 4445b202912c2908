package main

import (
	"io"

	"github.com/urfave/cli/v2"

	"github.com/rpcspan/rpcspan/templates"
)

func collectorCommand() *cli.Command {
	return &cli.Command{
		Name:  "collector",
		Usage: "print the PowerShell collector script to run on each Windows server",
		Description: `The script (Windows PowerShell 5.1 and later) writes one JSON object with the
host's name, addresses, its four dynamic ranges, excluded ranges and the
Rpc\Internet values. rpcspan reads that JSON like any other input.

Examples:
   rpcspan collector > collect-rpcspan.ps1
   # on a server:  .\collect-rpcspan.ps1 > DC01.json
   # fan out:      Invoke-Command -ComputerName (Get-Content servers.txt) -FilePath .\collect-rpcspan.ps1 > estate.json
   rpcspan inventory DC01.json estate.json`,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("collector: takes no arguments")
			}
			_, err := io.WriteString(c.App.Writer, templates.Collector)
			return err
		},
	}
}
