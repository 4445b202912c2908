<#
.SYNOPSIS
    Reports this server's RPC port settings to rpcspan as one JSON object.

.DESCRIPTION
    Writes one JSON object describing this Windows server to standard output:
    its name, DNS name, operating system and addresses; the dynamic
    (ephemeral) port range of TCP and UDP over IPv4 and IPv6 ("netsh int ipv4
    show dynamicport tcp" and the other three); the excluded port ranges
    ("netsh int ipv4 show excludedportrange protocol=tcp" and the other
    three); the RPC port restriction under
    HKLM\SOFTWARE\Microsoft\Rpc\Internet (Ports, PortsInternetAvailable,
    UseInternetPorts, and the registry type Ports was written with); and,
    unless -NoFirewall is given, the state and default inbound action of
    the Windows Firewall profiles as "netsh advfirewall show allprofiles"
    prints them and the inbound Windows Firewall rules as "netsh
    advfirewall firewall show rule name=all dir=in verbose" lists them,
    one string per line, which rpcspan audits as the server's own rule
    base (a profile that is off admits everything).

    The script only reads: it changes nothing on the server and needs no
    module. Whatever it cannot read is listed under "errors" and the rest is
    still reported, so one failing command never loses a host.

    netsh output is read by position, not by its labels, so the script works
    on Windows in any display language.

    It runs on Windows PowerShell 2.0 to 5.1 (Windows Server 2008 R2 and
    later) and on PowerShell 7. On Windows PowerShell 2.0, which has no
    ConvertTo-Json, it writes the JSON itself.

.PARAMETER OutFile
    Write the JSON to this file, encoded as UTF-8, instead of to standard
    output.

.PARAMETER NoFirewall
    Leave the Windows Firewall rules and profile settings out. The rules
    are most of the output: netsh lists every inbound rule, enabled or
    not, in 10 to 20 lines, so a few hundred rules make a few hundred
    kilobytes per server. Without them rpcspan cannot check the server's
    own firewall, only its ports.

.EXAMPLE
    .\collector.ps1 > DC01.json

    Reports the local server. Give DC01.json to rpcspan as it is.

.EXAMPLE
    Invoke-Command -ComputerName (Get-Content servers.txt) -FilePath .\collector.ps1 > estate.json

    Runs the script on every server listed in servers.txt (PowerShell
    remoting, as an administrator of those servers). Each server returns one
    JSON object; estate.json holds them one after another, which rpcspan
    reads as it is. Servers that cannot be reached are reported by
    Invoke-Command on the console and are missing from the file.

.EXAMPLE
    Invoke-Command -ComputerName (Get-Content servers.txt) -ScriptBlock { param($Text) & ([scriptblock]::Create($Text)) -NoFirewall } -ArgumentList (Get-Content .\collector.ps1 | Out-String) > estate.json

    The fan-out above without the firewall rules. Invoke-Command -FilePath
    passes arguments by position only, which a switch does not take, so
    the script travels as text and runs as a script block.

.EXAMPLE
    .\collector.ps1 -OutFile "\\fileserver\rpcspan\$env:COMPUTERNAME.json"

    Writes the report of the local server to a share, as UTF-8.

.NOTES
    Windows PowerShell 5.1 (and older) writes UTF-16LE with a byte order mark
    when output is redirected with ">" or ">>"; rpcspan reads that as it is.
    To write UTF-8 instead, pipe the output to Out-File:

        Invoke-Command -ComputerName (Get-Content servers.txt) -FilePath .\collector.ps1 |
            Out-File -FilePath estate.json -Encoding utf8

    If the execution policy refuses to run the script, run it as
    "powershell.exe -ExecutionPolicy Bypass -File .\collector.ps1".
    Invoke-Command -FilePath is not subject to the remote execution policy.

    The JSON keys are: rpcspan_collector (format version, 1), host, fqdn, os,
    addresses, dynamic, excluded, rpc_internet, errors, firewall_profiles
    and firewall_rules (both left out with -NoFirewall). A key of dynamic
    or excluded, firewall_profiles or firewall_rules, is null when netsh
    could not be read for it; the reason is in errors.

    Printed by "rpcspan collector"; do not edit, print it again instead.
#>
[CmdletBinding()]
param(
    [string]$OutFile,
    [switch]$NoFirewall
)

# Errors of cmdlets must reach the catch blocks below rather than scroll by.
$ErrorActionPreference = 'Stop'

# Maps are OrderedDictionary objects rather than [ordered]@{} or
# [pscustomobject]@{}, which Windows PowerShell 2.0 does not know: the keys
# then come out in the order written here on every version.
function New-Map {
    return New-Object System.Collections.Specialized.OrderedDictionary
}

# Lists are ArrayList objects. The leading comma keeps PowerShell from
# unrolling the list into its (possibly zero) items on the way out.
function New-List {
    return ,(New-Object System.Collections.ArrayList)
}

# Get-OneLine squeezes command output or an error message into one line.
function Get-OneLine {
    param([string]$Text, [int]$Max = 300)
    $t = ($Text -replace '\s+', ' ').Trim()
    if ($t.Length -gt $Max) {
        $t = $t.Substring(0, $Max) + '...'
    }
    return $t
}

# What could not be collected; reported under "errors".
$gaps = New-List

function Add-Gap {
    param([string]$What, $ErrorRecord)
    $text = $What
    if ($null -ne $ErrorRecord) {
        $text = $What + ': ' + (Get-OneLine ([string]$ErrorRecord.Exception.Message))
    }
    [void]$gaps.Add($text)
}

# Get-Instance reads a WMI class through CIM where the cmdlet exists
# (PowerShell 3.0 and later, and PowerShell 7, which has no Get-WmiObject),
# else through WMI.
function Get-Instance {
    param([string]$Class, [string]$Filter)
    $arguments = @{ 'ClassName' = $Class; 'ErrorAction' = 'Stop' }
    if ($Filter) {
        $arguments['Filter'] = $Filter
    }
    if (Get-Command Get-CimInstance -ErrorAction SilentlyContinue) {
        return Get-CimInstance @arguments
    }
    $arguments.Remove('ClassName')
    $arguments['Class'] = $Class
    return Get-WmiObject @arguments
}

# Invoke-Netsh runs netsh and returns its output lines. netsh reports most
# failures on standard output with exit code 1; standard error is folded in
# so that its text reaches the error list too, under 'Continue' so that
# Windows PowerShell does not turn it into a terminating error. Output that
# contains NothingText (what netsh prints, with exit code 1, when there is
# nothing to list) is returned rather than thrown.
function Invoke-Netsh {
    param([string[]]$Arguments, [string]$NothingText)
    $ErrorActionPreference = 'Continue'
    $lines = @(& netsh.exe @Arguments 2>&1 | ForEach-Object { [string]$_ })
    if ($LASTEXITCODE -ne 0) {
        if ($NothingText -and ($lines -join ' ').Contains($NothingText)) {
            return $lines
        }
        throw ('exit code ' + $LASTEXITCODE + ': ' + (Get-OneLine ($lines -join ' ')))
    }
    return $lines
}

# Get-DynamicPortRange reads "netsh int ipvN show dynamicport PROTO":
#
#   Protocol tcp Dynamic Port Range
#   ---------------------------------
#   Start Port      : 49152
#   Number of Ports : 16384
#
# The header and labels are translated on non-English Windows, so the two
# "label : integer" lines after the dashes are taken by position.
function Get-DynamicPortRange {
    param([string]$Family, [string]$Proto)
    $lines = @(Invoke-Netsh @('int', $Family, 'show', 'dynamicport', $Proto))
    $numbers = New-List
    $afterDashes = $false
    foreach ($line in $lines) {
        if (-not $afterDashes) {
            if ($line -match '^\s*-{3,}\s*$') {
                $afterDashes = $true
            }
            continue
        }
        if ($line -match ':\s*(\d{1,5})\s*$') {
            [void]$numbers.Add([int]$matches[1])
            if ($numbers.Count -eq 2) {
                break
            }
        }
    }
    if ($numbers.Count -lt 2) {
        throw ('no start port and number of ports in the output: ' + (Get-OneLine ($lines -join ' ')))
    }
    $range = New-Map
    $range['start'] = $numbers[0]
    $range['count'] = $numbers[1]
    return $range
}

# Get-ExcludedPortRanges reads "netsh int ipvN show excludedportrange
# protocol=PROTO": after a dashed table header, rows of a start and an end
# port, "*" marking exclusions an administrator added. A machine without
# exclusions prints the header and no rows.
function Get-ExcludedPortRanges {
    param([string]$Family, [string]$Proto)
    $lines = @(Invoke-Netsh @('int', $Family, 'show', 'excludedportrange', ('protocol=' + $Proto)))
    $ranges = New-List
    $inTable = $false
    foreach ($line in $lines) {
        if ($line -match '^\s*-{3,}[\s-]*$') {
            $inTable = $true
            continue
        }
        if ($inTable -and $line -match '^\s*(\d{1,5})\s+(\d{1,5})\s*(\*?)\s*$') {
            $row = New-Map
            $row['start'] = [int]$matches[1]
            $row['end'] = [int]$matches[2]
            $row['administered'] = ($matches[3] -eq '*')
            [void]$ranges.Add($row)
        }
    }
    if (-not $inTable) {
        throw ('no port exclusion table in the output: ' + (Get-OneLine ($lines -join ' ')))
    }
    return ,$ranges
}

# Get-FirewallRuleLines returns the inbound Windows Firewall rules as
# "netsh advfirewall firewall show rule name=all dir=in verbose" prints
# them, one string per line, unchanged: rpcspan reads the blocks by
# position, whatever the display language. Only verbose shows the Program
# and Service conditions that limit a rule to one process. Without any
# inbound rule netsh exits with 1 and "No rules match the specified
# criteria.", which rpcspan reads as no rules; in another language that
# message is reported as an error, as is any other failure (the Windows
# Firewall service stopped, say).
function Get-FirewallRuleLines {
    $lines = @(Invoke-Netsh @('advfirewall', 'firewall', 'show', 'rule', 'name=all', 'dir=in', 'verbose') 'No rules match')
    $list = New-List
    foreach ($line in $lines) {
        [void]$list.Add([string]$line)
    }
    return ,$list
}

# Get-FirewallProfileLines returns "netsh advfirewall show allprofiles"
# as printed, one string per line: for each of the Domain, Private and
# Public profiles, in that order, a header, a line of dashes, "State ON"
# and "Firewall Policy BlockInbound,AllowOutbound". The header and those
# two labels are translated on non-English Windows, so rpcspan reads the
# blocks by position; a failure (the Windows Firewall service stopped,
# say) is reported as an error.
function Get-FirewallProfileLines {
    $lines = @(Invoke-Netsh @('advfirewall', 'show', 'allprofiles'))
    $list = New-List
    foreach ($line in $lines) {
        [void]$list.Add([string]$line)
    }
    return ,$list
}

# Test-ServerAddress tells whether an address can be a server's address in
# a firewall rule: not loopback, not link-local (fe80::/10, 169.254.0.0/16),
# not unspecified or multicast.
function Test-ServerAddress {
    param([string]$Text)
    $ip = $null
    if (-not [System.Net.IPAddress]::TryParse($Text, [ref]$ip)) {
        return $false
    }
    if ([System.Net.IPAddress]::IsLoopback($ip)) {
        return $false
    }
    if ($ip.AddressFamily -eq [System.Net.Sockets.AddressFamily]::InterNetworkV6) {
        if ($ip.IsIPv6LinkLocal -or $ip.IsIPv6Multicast -or $ip.Equals([System.Net.IPAddress]::IPv6Any)) {
            return $false
        }
        return $true
    }
    $bytes = $ip.GetAddressBytes()
    if ($bytes[0] -eq 0 -or $bytes[0] -ge 224) {
        return $false
    }
    if ($bytes[0] -eq 169 -and $bytes[1] -eq 254) {
        return $false
    }
    return $true
}

function Add-Address {
    param($List, [string]$Text)
    $t = $Text.Split('%')[0]
    if ((Test-ServerAddress $t) -and -not $List.Contains($t)) {
        [void]$List.Add($t)
    }
}

# Get-LocalMachineKey opens HKLM in the 64-bit view, so that a 32-bit
# PowerShell on 64-bit Windows does not read the WOW64 copy of SOFTWARE.
# RegistryView needs .NET 4; Windows PowerShell 2.0 keeps the default view.
function Get-LocalMachineKey {
    try {
        return [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, [Microsoft.Win32.RegistryView]::Registry64)
    } catch {
        return [Microsoft.Win32.Registry]::LocalMachine
    }
}

# Get-RegTypeName turns a RegistryValueKind into the name regedit shows.
function Get-RegTypeName {
    param($Kind)
    switch ([string]$Kind) {
        'String' { return 'REG_SZ' }
        'ExpandString' { return 'REG_EXPAND_SZ' }
        'MultiString' { return 'REG_MULTI_SZ' }
        'DWord' { return 'REG_DWORD' }
        'QWord' { return 'REG_QWORD' }
        'Binary' { return 'REG_BINARY' }
        'None' { return 'REG_NONE' }
    }
    return ('REG_' + ([string]$Kind).ToUpper())
}

# Get-PortsStrings returns the strings of the Ports value exactly as stored,
# one per REG_MULTI_SZ string, so that rpcspan can judge every entry as RPC
# would. A REG_SZ or REG_DWORD gives one string; a REG_BINARY is read as the
# UTF-16 strings a REG_MULTI_SZ would hold.
function Get-PortsStrings {
    param($Key, $Kind)
    $list = New-List
    $value = $Key.GetValue('Ports', $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
    if ([string]$Kind -eq 'Binary') {
        $text = [System.Text.Encoding]::Unicode.GetString([byte[]]$value)
        foreach ($s in $text.Split([char]0)) {
            if ($s.Length -gt 0) {
                [void]$list.Add($s)
            }
        }
        return ,$list
    }
    foreach ($s in @($value)) {
        if ($null -ne $s) {
            [void]$list.Add([string]$s)
        }
    }
    return ,$list
}

# Format-JsonString and ConvertTo-CollectorJson write JSON on Windows
# PowerShell 2.0, which has no ConvertTo-Json. Quotes, backslashes and
# control characters (a tab in a firewall rule's description, say) are
# escaped as JSON requires; so is everything outside ASCII, each UTF-16
# unit as \uXXXX, so that the JSON survives a console code page when the
# output is redirected from cmd.exe. Most strings need no escape and are
# taken whole: the firewall rules are thousands of them.
function Format-JsonString {
    param([string]$Text)
    if ($Text -cnotmatch '[\x00-\x1f\x22\x5c\x7f-\uffff]') {
        return '"' + $Text + '"'
    }
    $sb = New-Object System.Text.StringBuilder
    [void]$sb.Append('"')
    foreach ($ch in $Text.ToCharArray()) {
        $code = [int]$ch
        if ($code -eq 34) {
            [void]$sb.Append('\"')
        } elseif ($code -eq 92) {
            [void]$sb.Append('\\')
        } elseif ($code -eq 9) {
            [void]$sb.Append('\t')
        } elseif ($code -eq 10) {
            [void]$sb.Append('\n')
        } elseif ($code -eq 13) {
            [void]$sb.Append('\r')
        } elseif ($code -lt 32 -or $code -gt 126) {
            [void]$sb.Append(('\u{0:x4}' -f $code))
        } else {
            [void]$sb.Append($ch)
        }
    }
    [void]$sb.Append('"')
    return $sb.ToString()
}

function ConvertTo-CollectorJson {
    param($Value, [string]$Indent)
    if ($null -eq $Value) {
        return 'null'
    }
    if ($Value -is [bool]) {
        if ($Value) {
            return 'true'
        }
        return 'false'
    }
    if ($Value -is [int] -or $Value -is [long]) {
        return [string]$Value
    }
    if ($Value -is [string]) {
        return Format-JsonString $Value
    }
    $inner = $Indent + '    '
    $parts = New-List
    if ($Value -is [System.Collections.IDictionary]) {
        foreach ($k in $Value.Keys) {
            $item = $Value[$k]
            [void]$parts.Add($inner + (Format-JsonString ([string]$k)) + ': ' + (ConvertTo-CollectorJson $item $inner))
        }
        if ($parts.Count -eq 0) {
            return '{}'
        }
        return "{`r`n" + ($parts -join ",`r`n") + "`r`n" + $Indent + '}'
    }
    if ($Value -is [System.Collections.IEnumerable]) {
        foreach ($item in $Value) {
            [void]$parts.Add($inner + (ConvertTo-CollectorJson $item $inner))
        }
        if ($parts.Count -eq 0) {
            return '[]'
        }
        return "[`r`n" + ($parts -join ",`r`n") + "`r`n" + $Indent + ']'
    }
    return Format-JsonString ([string]$Value)
}

# Name, DNS name and operating system.
$computer = [string]$env:COMPUTERNAME
$fqdn = $null
try {
    $fqdn = [string][System.Net.Dns]::GetHostEntry($computer).HostName
} catch {
    try {
        $cs = @(Get-Instance 'Win32_ComputerSystem' '')[0]
        $fqdn = [string]$cs.DNSHostName
        if ($cs.PartOfDomain) {
            $fqdn = $fqdn + '.' + [string]$cs.Domain
        }
    } catch {
        Add-Gap 'DNS name of this computer' $_
    }
}

$os = $null
try {
    $os = [string]@(Get-Instance 'Win32_OperatingSystem' '')[0].Caption
} catch {
    Add-Gap 'Win32_OperatingSystem' $_
}

# Addresses: Get-NetIPAddress where it exists (Windows Server 2012 and
# later), else the adapters' WMI configuration. Temporary (privacy) and
# randomly generated IPv6 addresses come and go, so no firewall rule can use
# them; Get-NetIPAddress marks them with the suffix origin Random.
$addresses = New-List
$haveAddresses = $false
if (Get-Command Get-NetIPAddress -ErrorAction SilentlyContinue) {
    try {
        foreach ($a in @(Get-NetIPAddress -ErrorAction Stop)) {
            if ([string]$a.SuffixOrigin -eq 'Random') {
                continue
            }
            $state = [string]$a.AddressState
            if ($state -eq 'Invalid' -or $state -eq 'Duplicate' -or $state -eq 'Deprecated') {
                continue
            }
            Add-Address $addresses ([string]$a.IPAddress)
        }
        $haveAddresses = $true
    } catch {
        Add-Gap 'Get-NetIPAddress' $_
    }
}
if (-not $haveAddresses) {
    try {
        foreach ($cfg in @(Get-Instance 'Win32_NetworkAdapterConfiguration' 'IPEnabled = TRUE')) {
            foreach ($ip in @($cfg.IPAddress)) {
                if ($null -ne $ip) {
                    Add-Address $addresses ([string]$ip)
                }
            }
        }
    } catch {
        Add-Gap 'Win32_NetworkAdapterConfiguration' $_
    }
}

# Dynamic and excluded port ranges, in rpcspan's key order.
$dynamic = New-Map
$excluded = New-Map
foreach ($key in @('tcp4', 'udp4', 'tcp6', 'udp6')) {
    $proto = $key.Substring(0, 3)
    $family = 'ipv' + $key.Substring(3)
    $dynamic[$key] = $null
    try {
        $dynamic[$key] = Get-DynamicPortRange $family $proto
    } catch {
        Add-Gap ('netsh int ' + $family + ' show dynamicport ' + $proto) $_
    }
    $excluded[$key] = $null
    try {
        $excluded[$key] = Get-ExcludedPortRanges $family $proto
    } catch {
        Add-Gap ('netsh int ' + $family + ' show excludedportrange protocol=' + $proto) $_
    }
}

# The Windows Firewall profiles' state and default inbound action, and
# the inbound rules, unless -NoFirewall leaves them out. null when netsh
# could not show them; the reason is in errors.
$fwProfiles = $null
if (-not $NoFirewall) {
    try {
        $fwProfiles = Get-FirewallProfileLines
    } catch {
        Add-Gap 'netsh advfirewall show allprofiles' $_
    }
}
$firewall = $null
if (-not $NoFirewall) {
    try {
        $firewall = Get-FirewallRuleLines
    } catch {
        Add-Gap 'netsh advfirewall firewall show rule name=all dir=in verbose' $_
    }
}

# The RPC port restriction (KB154596). Every key is written, null when the
# value is absent, so that an absent value and an empty one differ.
$rpc = New-Map
$rpc['present'] = $false
$rpc['ports'] = $null
$rpc['ports_type'] = $null
$rpc['ports_internet_available'] = $null
$rpc['use_internet_ports'] = $null
try {
    $hklm = Get-LocalMachineKey
    $rpcKey = $hklm.OpenSubKey('SOFTWARE\Microsoft\Rpc\Internet')
    if ($null -ne $rpcKey) {
        $rpc['present'] = $true
        $names = @($rpcKey.GetValueNames())
        if ($names -contains 'Ports') {
            $kind = $rpcKey.GetValueKind('Ports')
            $rpc['ports'] = Get-PortsStrings $rpcKey $kind
            $rpc['ports_type'] = Get-RegTypeName $kind
        }
        if ($names -contains 'PortsInternetAvailable') {
            $rpc['ports_internet_available'] = [string]$rpcKey.GetValue('PortsInternetAvailable')
        }
        if ($names -contains 'UseInternetPorts') {
            $rpc['use_internet_ports'] = [string]$rpcKey.GetValue('UseInternetPorts')
        }
        $rpcKey.Close()
    }
} catch {
    Add-Gap 'registry HKLM\SOFTWARE\Microsoft\Rpc\Internet' $_
}

$report = New-Map
$report['rpcspan_collector'] = 1
$report['host'] = $computer
$report['fqdn'] = $fqdn
$report['os'] = $os
$report['addresses'] = $addresses
$report['dynamic'] = $dynamic
$report['excluded'] = $excluded
$report['rpc_internet'] = $rpc
$report['errors'] = $gaps
if (-not $NoFirewall) {
    $report['firewall_profiles'] = $fwProfiles
}
# Last, after the short keys: the listing runs to thousands of lines.
if (-not $NoFirewall) {
    $report['firewall_rules'] = $firewall
}

if (Get-Command ConvertTo-Json -ErrorAction SilentlyContinue) {
    # -Depth matters: Windows PowerShell's default of 2 silently turns the
    # excluded range lists into strings.
    $json = ConvertTo-Json -InputObject $report -Depth 8
} else {
    $json = ConvertTo-CollectorJson $report ''
}

if ($OutFile) {
    Out-File -FilePath $OutFile -InputObject $json -Encoding utf8
} else {
    $json
}
