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

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// Collector is the PowerShell script "rpcspan collector" prints. Run on a
// Windows server (Windows PowerShell 2.0 to 5.1, or PowerShell 7), or on
// many through Invoke-Command -FilePath, it writes one JSON object per
// server: the object audit/ingest.ReadCollector reads. The text is ASCII
// only, so that any console code page or file encoding keeps it intact.
//
//go:embed collector.ps1
var Collector string

// Vendor holds the firewall templates "rpcspan emit --target NAME" renders
// (vendor/NAME.tmpl): text/template files given emit's VendorModel. Users
// start their own "--target template:PATH" from one of them.
//
//go:embed vendor/*.tmpl
var Vendor embed.FS

// VendorNames lists the shipped vendor templates by name (the file name
// without ".tmpl"), sorted.
func VendorNames() []string {
	entries, _ := fs.ReadDir(Vendor, "vendor")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".tmpl"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// VendorTemplate returns the text of the shipped template called name
// (".tmpl" may be given or left out).
func VendorTemplate(name string) (string, error) {
	n := strings.TrimSuffix(name, ".tmpl")
	if n == "" || strings.ContainsAny(n, `/\`) || !fs.ValidPath(n) {
		return "", fmt.Errorf("unknown template %q (want %s)", name, strings.Join(VendorNames(), ", "))
	}
	b, err := fs.ReadFile(Vendor, "vendor/"+n+".tmpl")
	if err != nil {
		return "", fmt.Errorf("unknown template %q (want %s)", name, strings.Join(VendorNames(), ", "))
	}
	return string(b), nil
}
