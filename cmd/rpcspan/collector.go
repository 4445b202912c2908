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
		Description: `The script (Windows PowerShell 2.0 to 5.1, PowerShell 7; it only reads) writes
one JSON object with the host's name, addresses, its four dynamic ranges,
excluded ranges, the Rpc\Internet values and, unless -NoFirewall, its inbound
Windows Firewall rules (netsh ... show rule name=all dir=in verbose). rpcspan
reads that JSON like any other input; "rpcspan audit" checks the firewall
rules as the host's own.

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
