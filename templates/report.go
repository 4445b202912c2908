package templates

import "embed"

// Report holds the html/template files of the HTML audit report
// ("rpcspan audit -o html"): report/audit.html is the page, which pulls in
// the style sheet and the script defined in the other files so that the
// report stays one self-contained file. audit/report parses them once and
// fills them with its view of the audit.
//
//go:embed report/*.html
var Report embed.FS
