// Package ingest reads what administrators collect from Windows servers and
// what they write about them, and turns it into the audit package's estate
// model: raw "netsh" output (dynamicport, excludedportrange) in any display
// language, PowerShell Get-NetTCPSetting / Get-NetUDPSetting lists, regedit
// exports and "reg query" output of HKLM\SOFTWARE\Microsoft\Rpc\Internet,
// ipconfig, Linux ip_local_port_range and Samba smb.conf, the JSON written by
// rpcspan's collector script, and inventory files (YAML, JSON, CSV).
//
// Captures are recognised by content, not by file name, after decoding
// whatever encoding Windows wrote (UTF-16LE with BOM, UTF-8 with or without
// BOM, OEM code page 850/437) and folding CRLF line ends. One file may hold
// several captures one after another, as a batch file with echo on writes.
//
// Readers take an io.Reader and a source name and never fail on content: a
// value that cannot be read becomes an audit.Problem naming the file and
// line, and reading goes on. Load walks files and folders, decides which
// host each capture belongs to and merges everything into one audit.Estate.
package ingest
