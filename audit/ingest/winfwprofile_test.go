package ingest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/text/encoding/charmap"

	"github.com/rpcspan/rpcspan/audit"
)

// fwp builds the profile settings a capture named "f" should yield;
// state and inbound lines of 0 mean not shown.
func fwp(profile string, state audit.FirewallState, stateLine int, inbound audit.InboundAction, inboundLine int) audit.FirewallProfile {
	p := audit.FirewallProfile{Profile: profile, State: state, Inbound: inbound}
	if stateLine > 0 {
		p.StateSrc = audit.Source{File: "f", Line: stateLine}
	}
	if inboundLine > 0 {
		p.InboundSrc = audit.Source{File: "f", Line: inboundLine}
	}
	return p
}

// fwpWant is what one capture should yield.
type fwpWant struct {
	Profiles []audit.FirewallProfile
	Problems []string // "LINE: message"
	Formats  []string
}

func fwpGot(text string) fwpWant {
	c := newCapture("f")
	scanFWProfile(c, SplitLines(text))
	got := fwpWant{Profiles: c.host.FirewallProfiles, Formats: c.formats}
	for _, p := range c.problems {
		got.Problems = append(got.Problems, p.Error())
	}
	return got
}

// netshProfileText renders one netsh profile block as English Windows
// prints it with "show allprofiles" (header and labels as given), state
// and policy on the 3rd and 4th line of the block.
func netshProfileText(header, stateLabel, state, policyLabel, policy string) string {
	s := header + "\n" + strings.Repeat("-", 70) + "\n"
	if state != "" {
		s += pad38(stateLabel) + state + "\n"
	}
	if policy != "" {
		s += pad38(policyLabel) + policy + "\n"
	}
	return s + pad38("LocalFirewallRules") + "N/A (GPO-store only)\n" +
		pad38("InboundUserNotification") + "Enable\n\nLogging:\n" +
		pad38("LogAllowedConnections") + "Disable\n" + pad38("MaxFileSize") + "4096\n\n"
}

func pad38(s string) string {
	for len([]rune(s)) < 38 {
		s += " "
	}
	return s
}

var (
	fmtNetshProfile = []string{formatNetshProfile}
	fmtPSProfile    = []string{formatPSProfile}
)

func TestFWProfileCorpus(t *testing.T) {
	const (
		on, off, unk             = audit.FirewallOn, audit.FirewallOff, audit.FirewallStateUnknown
		block, always, allow, no = audit.InboundBlock, audit.InboundBlockAlways, audit.InboundAllow, audit.InboundNotShown
	)
	tests := []struct {
		file string
		want fwpWant
	}{
		// The state after "set allprofiles state off" is the one read
		// last; its policy line replaces the first one's too.
		{"show_currentprofile_en_on_then_off_pentest_blog.txt", fwpWant{
			Profiles: []audit.FirewallProfile{fwp("domain", off, 28, block, 29)}, Formats: fmtNetshProfile}},
		// The echoed allprofiles says the first block is Domain.
		{"show_allprofiles_fr_domain_only_tp_reseau.txt", fwpWant{
			Profiles: []audit.FirewallProfile{fwp("domain", on, 4, block, 5)}, Formats: fmtNetshProfile}},
		{"get-netfirewallprofile_all_disabled_nl_writeup.txt", fwpWant{
			Profiles: []audit.FirewallProfile{
				fwp("domain", off, 7, block, 8), fwp("private", off, 26, block, 27), fwp("public", off, 45, block, 46)},
			Formats: fmtPSProfile}},
		{"get-netfirewallprofile_domain_disabled_evilwinrm_snip.txt", fwpWant{
			Profiles: []audit.FirewallProfile{fwp("domain", off, 4, block, 5)}, Formats: fmtPSProfile}},
		// No echoed command, but three blocks: Domain, Private, Public.
		{"show_allprofiles_de_cp850_synthetic.txt", fwpWant{
			Profiles: []audit.FirewallProfile{
				fwp("domain", on, 4, block, 5), fwp("private", off, 20, block, 21), fwp("public", on, 36, always, 37)},
			Formats: fmtNetshProfile}},
		{"show_allprofiles_en_ps51_utf16_synthetic.txt", fwpWant{
			Profiles: []audit.FirewallProfile{
				fwp("domain", off, 6, block, 7), fwp("private", on, 22, allow, 23), fwp("public", on, 38, always, 39)},
			Formats: fmtNetshProfile}},
		{"show_allprofiles_state_fr_synthetic.txt", fwpWant{
			Profiles: []audit.FirewallProfile{
				fwp("domain", off, 5, no, 0), fwp("private", on, 9, no, 0), fwp("public", on, 13, no, 0)},
			Formats: fmtNetshProfile}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := fwpGot(Decode(readTestdata(t, "corpus", "winfwprofile", tt.file)))
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("scanFWProfile(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestFWProfileSynthetic(t *testing.T) {
	const (
		on, off, unk          = audit.FirewallOn, audit.FirewallOff, audit.FirewallStateUnknown
		block, always, allow  = audit.InboundBlock, audit.InboundBlockAlways, audit.InboundAllow
		unkIn, notShown, none = audit.InboundUnknown, audit.InboundNotShown, audit.FirewallStateNotShown
	)
	en := func(profile, state, policy string) string {
		return netshProfileText(profile+" Profile Settings:", "State", state, "Firewall Policy", policy)
	}
	de := func(header, state, policy string) string {
		return netshProfileText(header, "Status", state, "Firewallrichtlinie", policy)
	}
	psProfile := func(name string, fields ...string) string {
		s := "Name                            : " + name + "\n"
		for _, f := range fields {
			k, v, _ := strings.Cut(f, "=")
			s += pad38(k)[:32] + ": " + v + "\n"
		}
		return s + "\n"
	}
	tests := []struct {
		name string
		in   string
		want fwpWant
	}{
		{"English headers decide without echo", en("Public", "ON", "AllowInbound,AllowOutbound"), fwpWant{
			Profiles: []audit.FirewallProfile{fwp("public", on, 3, allow, 4)}, Formats: fmtNetshProfile}},
		{"single-profile command names a translated block",
			"C:\\>netsh advfirewall show privateprofile\n" + de("Privates Profil-Einstellungen:", "AUS", "BlockInbound,AllowOutbound") + "OK.\n",
			fwpWant{Profiles: []audit.FirewallProfile{fwp("private", off, 4, block, 5)}, Formats: fmtNetshProfile}},
		{"abbreviated command in netsh's shell",
			"netsh advfirewall>sh pub\n\n" + de("Öffentliches Profil-Einstellungen:", "EIN", "NotConfigured,AllowOutbound"),
			fwpWant{Profiles: []audit.FirewallProfile{fwp("public", on, 5, block, 6)}, Formats: fmtNetshProfile}},
		{"currentprofile with a translated header cannot be told",
			"PS C:\\> netsh advfirewall show currentprofile\n\n" + de("Domänenprofil-Einstellungen:", "EIN", "BlockInbound,AllowOutbound"),
			fwpWant{Problems: []string{`f:3: netsh advfirewall: which profile the settings under "Domänenprofil-Einstellungen" belong to cannot be told ` +
				`(a translated header, and no echoed "netsh advfirewall show allprofiles" before it); they are not used`}, Formats: fmtNetshProfile}},
		{"translated single block without echo cannot be told",
			de("Einstellungen für Privates Profil:", "EIN", "BlockInbound,AllowOutbound"),
			fwpWant{Problems: []string{`f:1: netsh advfirewall: which profile the settings under "Einstellungen für Privates Profil" belong to cannot be told ` +
				`(a translated header, and no echoed "netsh advfirewall show allprofiles" before it); they are not used`}, Formats: fmtNetshProfile}},
		{"a state word not known is unknown",
			"C:\\>netsh advfirewall show domainprofile\n" + netshProfileText("Configuración de perfil de dominio:", "Estado", "ACTIVAR", "Directiva de firewall", "BlockInbound,AllowOutbound"),
			fwpWant{Profiles: []audit.FirewallProfile{fwp("domain", unk, 4, block, 5)},
				Problems: []string{`f:4: netsh advfirewall domain profile: state "ACTIVAR" is not a word rpcspan knows (ON/OFF, EIN/AUS, Actif/Inactif); the profile's state is unknown`},
				Formats:  fmtNetshProfile}},
		{"a policy not known is unknown", en("Domain", "ON", "PermitirEntrada,PermitirSalida"),
			fwpWant{Profiles: []audit.FirewallProfile{fwp("domain", on, 3, unkIn, 4)},
				Problems: []string{`f:4: netsh advfirewall domain profile: firewall policy "PermitirEntrada,PermitirSalida": want BlockInbound, BlockInboundAlways, ` +
					`AllowInbound or NotConfigured, a comma and the outbound action; the default inbound action is unknown`},
				Formats: fmtNetshProfile}},
		{"show allprofiles firewallpolicy",
			"C:\\>netsh advfirewall show allprofiles firewallpolicy\n" +
				"Domänenprofil-Einstellungen:\n" + strings.Repeat("-", 70) + "\n" + pad38("Firewallrichtlinie") + "AllowInbound,AllowOutbound\n\nOK.\n",
			fwpWant{Profiles: []audit.FirewallProfile{fwp("domain", none, 0, allow, 4)}, Formats: fmtNetshProfile}},
		{"show allprofiles settings tells neither",
			"Domain Profile Settings:\n" + strings.Repeat("-", 70) + "\n" + pad38("LocalFirewallRules") + "N/A (GPO-store only)\n" +
				pad38("RemoteManagement") + "Disable\n",
			fwpWant{Formats: fmtNetshProfile}},
		{"trailing spaces, tabs and comment prefix",
			"  # Domain Profile Settings:   \n  # " + strings.Repeat("-", 70) + "  \n  # State\t\tOFF  \n",
			fwpWant{Profiles: []audit.FirewallProfile{fwp("domain", off, 3, notShown, 0)}, Formats: fmtNetshProfile}},
		{"a block cut after its dashes is nothing",
			"Domain Profile Settings:\n" + strings.Repeat("-", 70) + "\n", fwpWant{}},
		{"dashes without header", "\n" + strings.Repeat("-", 70) + "\nState                                 OFF\n", fwpWant{}},
		{"a rule listing is not profile settings",
			"Rule Name:                            Domain\n" + strings.Repeat("-", 70) + "\nEnabled:                              Yes\n", fwpWant{}},
		{"show global is not profile settings",
			"Global Settings:\n" + strings.Repeat("-", 70) + "\nIPsec:\nStrongCRLCheck                        0:Disabled\n", fwpWant{}},
		{"dynamicport is not profile settings",
			"Protocol tcp Dynamic Port Range\n" + strings.Repeat("-", 33) + "\nStart Port      : 49152\n", fwpWant{}},
		{"three untitled blocks after another command's output are positional",
			"C:\\>netsh advfirewall firewall show rule name=none\nNo rules match the specified criteria.\n\n" +
				de("Domänenprofil-Einstellungen:", "EIN", "BlockInbound,AllowOutbound") +
				de("Privates Profil-Einstellungen:", "EIN", "BlockInbound,AllowOutbound") +
				de("Öffentliches Profil-Einstellungen:", "AUS", "BlockInbound,AllowOutbound") + "OK.\n",
			fwpWant{Profiles: []audit.FirewallProfile{
				fwp("domain", on, 6, block, 7), fwp("private", on, 17, block, 18), fwp("public", off, 28, block, 29)},
				Formats: fmtNetshProfile}},
		{"two translated blocks without echo cannot be told",
			de("Domänenprofil-Einstellungen:", "EIN", "BlockInbound,AllowOutbound") +
				de("Privates Profil-Einstellungen:", "EIN", "BlockInbound,AllowOutbound") + "OK.\n",
			fwpWant{Problems: []string{
				`f:1: netsh advfirewall: which profile the settings under "Domänenprofil-Einstellungen" belong to cannot be told ` +
					`(a translated header, and no echoed "netsh advfirewall show allprofiles" before it); they are not used`,
				`f:12: netsh advfirewall: which profile the settings under "Privates Profil-Einstellungen" belong to cannot be told ` +
					`(a translated header, and no echoed "netsh advfirewall show allprofiles" before it); they are not used`},
				Formats: fmtNetshProfile}},
		{"Get-NetFirewallProfile ActiveStore",
			psProfile("Domain", "Enabled=True", "DefaultInboundAction=Block", "DefaultOutboundAction=Allow", "AllowInboundRules=True") +
				psProfile("Private", "Enabled=NotConfigured", "DefaultInboundAction=Allow") +
				psProfile("Public", "Enabled=True", "DefaultInboundAction=Allow", "AllowInboundRules=False"),
			fwpWant{Profiles: []audit.FirewallProfile{
				fwp("domain", on, 2, block, 3), fwp("private", on, 8, allow, 9), fwp("public", on, 12, always, 14)},
				Formats: fmtPSProfile}},
		{"Get-NetFirewallProfile values not known",
			psProfile("Domain", "Enabled=Maybe", "DefaultInboundAction=Drop") + psProfile("Public", "AllowInboundRules=Sometimes"),
			fwpWant{Profiles: []audit.FirewallProfile{fwp("domain", unk, 2, unkIn, 3), fwp("public", none, 0, unkIn, 6)},
				Problems: []string{
					`f:2: Get-NetFirewallProfile domain: Enabled "Maybe": want True, False or NotConfigured; the profile's state is unknown`,
					`f:3: Get-NetFirewallProfile domain: DefaultInboundAction "Drop": want Block, Allow or NotConfigured; the default inbound action is unknown`,
					`f:6: Get-NetFirewallProfile public: AllowInboundRules "Sometimes": want True, False or NotConfigured; the default inbound action is unknown`},
				Formats: fmtPSProfile}},
		{"Get-NetFirewallRule named like a profile is a rule",
			psProfile("Domain", "DisplayName=Domain", "Enabled=False", "Direction=Inbound", "Action=Allow") + psProfile("Other", "Enabled=False"),
			fwpWant{}},
		{"netsh and PowerShell in one file: the later line wins",
			psProfile("Domain", "Enabled=False", "DefaultInboundAction=Allow") + en("Domain", "ON", ""),
			fwpWant{Profiles: []audit.FirewallProfile{fwp("domain", on, 7, allow, 3)},
				Formats: []string{formatNetshProfile, formatPSProfile}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fwpGot(tt.in)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("scanFWProfile(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestFWProfileEncodings reads the same capture as PowerShell 5.1's ">"
// (UTF-16LE with BOM, CRLF) and cmd.exe (code page 850) write it.
func TestFWProfileEncodings(t *testing.T) {
	text := "C:\\>netsh advfirewall show allprofiles\n" +
		netshProfileText("Paramètres Profil de domaine :", "État", "Inactif", "Stratégie de pare-feu", "BlockInbound,AllowOutbound")
	cp850, err := charmap.CodePage850.NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []audit.FirewallProfile{fwp("domain", audit.FirewallOff, 4, audit.InboundBlock, 5)}
	for name, b := range map[string][]byte{"utf16": utf16LE(strings.ReplaceAll(text, "\n", "\r\n"), true), "cp850": []byte(cp850)} {
		r := Parse(b, "f")
		if len(r.Hosts) != 1 {
			t.Fatalf("%s: Parse = %+v, want one host", name, r)
		}
		if diff := cmp.Diff(want, r.Hosts[0].FirewallProfiles); diff != "" {
			t.Errorf("%s: profiles mismatch (-want +got):\n%s", name, diff)
		}
	}
}

// TestFWProfileMerge: captures of one host merge setting by setting, the
// one added last winning, as Estate.Add merges hosts.
func TestFWProfileMerge(t *testing.T) {
	est := audit.NewEstate()
	for i, text := range []string{
		"Domain Profile Settings:\n" + strings.Repeat("-", 70) + "\nState      ON\nFirewall Policy       AllowInbound,AllowOutbound\n",
		"Name    : Domain\nEnabled : False\n\nName    : Public\nEnabled : True\n",
	} {
		r := Parse([]byte(text), "c"+string(rune('1'+i)))
		h := r.Hosts[0]
		h.Name = "DC01"
		est.Add(h)
	}
	h := est.Host("DC01")
	want := []audit.FirewallProfile{
		{Profile: "domain", State: audit.FirewallOff, StateSrc: audit.Source{File: "c2", Line: 2},
			Inbound: audit.InboundAllow, InboundSrc: audit.Source{File: "c1", Line: 4}},
		{Profile: "public", State: audit.FirewallOn, StateSrc: audit.Source{File: "c2", Line: 5}},
	}
	if diff := cmp.Diff(want, h.FirewallProfiles); diff != "" {
		t.Errorf("merged profiles mismatch (-want +got):\n%s", diff)
	}
	if p, ok := h.FirewallProfile("private"); ok {
		t.Errorf("FirewallProfile(private) = %+v, want none", p)
	}
	var srcs []string
	for _, s := range h.SourceList() {
		srcs = append(srcs, s.String())
	}
	if want := []string{"c1:4", "c2:2", "c2:5"}; !cmp.Equal(want, srcs) {
		t.Errorf("SourceList = %q, want %q", srcs, want)
	}
}

func FuzzFWProfile(f *testing.F) {
	seedDir(f, "testdata/corpus/winfwprofile")
	f.Add([]byte("C:\\>netsh adv show dom\nX:\n----------\nY  Z\nW  A,B\n"))
	f.Add([]byte("Name : Public\nEnabled : x\nAllowInboundRules : False\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := SplitLines(Decode(data))
		c := newCapture("f")
		scanFWProfile(c, lines)
		inFile := func(s audit.Source) bool { return s.File == "f" && s.Line >= 1 && s.Line <= len(lines) }
		seen := map[string]bool{}
		for _, p := range c.host.FirewallProfiles {
			if p.Profile != "domain" && p.Profile != "private" && p.Profile != "public" || seen[p.Profile] {
				t.Fatalf("bad or repeated profile %+v", p)
			}
			seen[p.Profile] = true
			if (p.State == audit.FirewallStateNotShown) != p.StateSrc.IsZero() || !p.StateSrc.IsZero() && !inFile(p.StateSrc) {
				t.Fatalf("state without its line, or outside the file: %+v", p)
			}
			if (p.Inbound == audit.InboundNotShown) != p.InboundSrc.IsZero() || !p.InboundSrc.IsZero() && !inFile(p.InboundSrc) {
				t.Fatalf("inbound action without its line, or outside the file: %+v", p)
			}
			if p.State == audit.FirewallStateNotShown && p.Inbound == audit.InboundNotShown {
				t.Fatalf("profile recorded without anything shown: %+v", p)
			}
		}
		for _, p := range c.problems {
			if !inFile(p.Src) || p.Msg == "" {
				t.Fatalf("bad problem %+v", p)
			}
		}
		if len(c.host.FirewallProfiles) > 0 && len(c.formats) == 0 {
			t.Fatalf("profiles recorded without a format")
		}
	})
}

// FuzzProfileHints: the cheap pre-check never hides profile settings the
// scanners would have read.
func FuzzProfileHints(f *testing.F) {
	seedDir(f, "testdata/corpus/winfwprofile")
	f.Add([]byte("name : Domain\nEnabled : False\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		lines := SplitLines(Decode(in))
		netsh, ps := profileHints(lines)
		if !netsh && len(scanNetshProfiles(newCapture("f"), lines, "")) > 0 {
			t.Errorf("netsh blocks read behind a negative hint")
		}
		if !ps && len(scanPSProfiles(newCapture("f"), lines)) > 0 {
			t.Errorf("Get-NetFirewallProfile blocks read behind a negative hint")
		}
	})
}
