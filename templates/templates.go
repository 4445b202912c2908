// Package templates holds the text files rpcspan ships inside its binary:
// the PowerShell collector that administrators run on their servers, and
// the templates rpcspan fills in to write firewall configuration for other
// vendors and reports.
//
// The files live beside this one and are embedded with //go:embed, so that
// they can be read, reviewed and tested as what they are (a .ps1 file is
// checked by editors and linters as PowerShell) while the binary stays a
// single file. Each file is exported as a string exactly as written here;
// callers print it or parse it once.
package templates

import _ "embed"

// Collector is the PowerShell script "rpcspan collector" prints. Run on a
// Windows server (Windows PowerShell 2.0 to 5.1, or PowerShell 7), or on
// many through Invoke-Command -FilePath, it writes one JSON object per
// server: the object audit/ingest.ReadCollector reads. The text is ASCII
// only, so that any console code page or file encoding keeps it intact.
//
//go:embed collector.ps1
var Collector string
