package main

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/ingest"
)

// readTree returns every file under dir by slash-separated relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	return out
}

func generate(t *testing.T, hosts int, seed uint64) (string, Stats) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "estate")
	st, err := Generate(dir, hosts, seed)
	if err != nil {
		t.Fatalf("Generate(%d, %d) = %v", hosts, seed, err)
	}
	return dir, st
}

// treeDiff describes how two trees differ, or returns "".
func treeDiff(got, want map[string][]byte) string {
	var paths []string
	for p := range got {
		paths = append(paths, p)
	}
	for p := range want {
		if _, ok := got[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	var diffs []string
	for _, p := range paths {
		g, gok := got[p]
		w, wok := want[p]
		switch {
		case !gok:
			diffs = append(diffs, "missing "+p)
		case !wok:
			diffs = append(diffs, "extra "+p)
		case !bytes.Equal(g, w):
			diffs = append(diffs, "differs "+p)
		}
		if len(diffs) == 10 {
			diffs = append(diffs, "...")
			break
		}
	}
	return strings.Join(diffs, "\n")
}

func TestGenerateDeterministic(t *testing.T) {
	for _, n := range []int{1, 9, 40, 300} {
		a, sa := generate(t, n, 7)
		b, sb := generate(t, n, 7)
		if d := treeDiff(readTree(t, a), readTree(t, b)); d != "" {
			t.Errorf("Generate(%d, 7) twice gave different trees:\n%s", n, d)
		}
		if sa != sb {
			t.Errorf("Generate(%d, 7) stats %+v then %+v", n, sa, sb)
		}
		tree := readTree(t, a)
		var total int64
		for _, b := range tree {
			total += int64(len(b))
		}
		if sa.Files != len(tree) || sa.Bytes != total || sa.Hosts != n {
			t.Errorf("Generate(%d, 7) stats %+v, tree has %d files, %d bytes", n, sa, len(tree), total)
		}
	}
}

func TestGenerateSeedsDiffer(t *testing.T) {
	a, _ := generate(t, 40, 1)
	b, _ := generate(t, 40, 2)
	if treeDiff(readTree(t, a), readTree(t, b)) == "" {
		t.Errorf("Generate(40, 1) and Generate(40, 2) gave the same tree")
	}
}

func TestGenerateRejects(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, -1, MaxHosts + 1} {
		if _, err := Generate(filepath.Join(dir, "x"), n, 1); err == nil {
			t.Errorf("Generate(%d hosts) = nil error, want one", n)
		}
	}
	if _, err := Generate("", 10, 1); err == nil {
		t.Errorf("Generate(\"\") = nil error, want one")
	}
	// A folder holding someone else's files is never touched.
	foreign := filepath.Join(dir, "foreign")
	if err := os.MkdirAll(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(foreign, "notes.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(foreign, 10, 1); err == nil {
		t.Errorf("Generate into a foreign folder = nil error, want one")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("foreign file gone: %v", err)
	}
}

func TestGenerateReplacesEarlierOutput(t *testing.T) {
	dir, _ := generate(t, 120, 3)
	if _, err := Generate(dir, 40, 1); err != nil {
		t.Fatalf("Generate over earlier output = %v", err)
	}
	fresh, _ := generate(t, 40, 1)
	if d := treeDiff(readTree(t, dir), readTree(t, fresh)); d != "" {
		t.Errorf("regenerated tree differs from a fresh one:\n%s", d)
	}
}

// inventory is the part of inventory.yaml the tests check.
type inventory struct {
	Baseline string `yaml:"baseline"`
	Hosts    []struct {
		Name      string            `yaml:"name"`
		Addresses []string          `yaml:"addresses"`
		Groups    []string          `yaml:"groups"`
		OS        string            `yaml:"os"`
		Apps      []string          `yaml:"apps"`
		Dynamic   map[string]string `yaml:"dynamic"`
		RPCPorts  []string          `yaml:"rpc_ports"`
		Captures  []string          `yaml:"captures"`
	} `yaml:"hosts"`
	Policy []struct {
		Name     string   `yaml:"name"`
		From     []string `yaml:"from"`
		To       []string `yaml:"to"`
		Services []string `yaml:"services"`
	} `yaml:"policy"`
}

func TestInventoryYAML(t *testing.T) {
	for _, n := range []int{1, 5, 9, 40, 500} {
		t.Run("n="+strconv.Itoa(n), func(t *testing.T) {
			dir, _ := generate(t, n, 1)
			b, err := os.ReadFile(filepath.Join(dir, "inventory.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			// As a generic value first: is it YAML at all, with the top-level keys?
			var generic map[string]any
			if err := yaml.Unmarshal(b, &generic); err != nil {
				t.Fatalf("inventory.yaml is not YAML: %v", err)
			}
			for _, k := range []string{"baseline", "hosts", "policy"} {
				if _, ok := generic[k]; !ok {
					t.Errorf("inventory.yaml has no %q", k)
				}
			}
			hs, _ := generic["hosts"].([]any)
			if len(hs) != n {
				t.Errorf("inventory.yaml has %d hosts, want %d", len(hs), n)
			}

			var inv inventory
			if err := yaml.Unmarshal(b, &inv); err != nil {
				t.Fatalf("inventory.yaml into struct: %v", err)
			}
			if _, err := audit.ParseRange(inv.Baseline); err != nil {
				t.Errorf("baseline: %v", err)
			}
			seen := map[string]bool{}
			groups := map[string]bool{}
			for _, h := range inv.Hosts {
				if err := audit.ValidHostName(h.Name); err != nil {
					t.Errorf("host name: %v", err)
				}
				if seen[strings.ToLower(h.Name)] {
					t.Errorf("host %q listed twice", h.Name)
				}
				seen[strings.ToLower(h.Name)] = true
				if len(h.Addresses) == 0 || len(h.Groups) == 0 || h.OS == "" {
					t.Errorf("host %q lacks addresses, groups or os", h.Name)
				}
				for _, g := range h.Groups {
					groups[g] = true
				}
				for k, v := range h.Dynamic {
					if _, err := audit.ParseKeys(k); err != nil {
						t.Errorf("host %q: %v", h.Name, err)
					}
					if _, err := audit.ParseRange(v); err != nil {
						t.Errorf("host %q: %v", h.Name, err)
					}
				}
				for _, p := range h.RPCPorts {
					if _, err := audit.ParseRange(p); err != nil {
						t.Errorf("host %q rpc_ports: %v", h.Name, err)
					}
				}
				for _, c := range h.Captures {
					fi, err := os.Stat(filepath.Join(dir, c))
					if err != nil || !fi.IsDir() {
						t.Errorf("host %q: capture folder %q missing", h.Name, c)
					}
				}
			}
			for _, r := range inv.Policy {
				for _, s := range append(slices.Clone(r.From), r.To...) {
					sel, err := audit.ParseSelector(s)
					if err != nil {
						t.Errorf("policy %q: %v", r.Name, err)
					}
					if sel.Kind == audit.SelGroup && !groups[sel.Name] {
						t.Errorf("policy %q names group %q, which no host has", r.Name, sel.Name)
					}
					if sel.Kind == audit.SelHost && !seen[strings.ToLower(sel.Name)] {
						t.Errorf("policy %q names host %q, which is not listed", r.Name, sel.Name)
					}
				}
				for _, s := range r.Services {
					if _, err := audit.ParseService(s); err != nil {
						t.Errorf("policy %q: %v", r.Name, err)
					}
				}
			}
			// Every capture folder on disk belongs to a listed host.
			entries, _ := os.ReadDir(filepath.Join(dir, "captures"))
			for _, e := range entries {
				if !seen[strings.ToLower(e.Name())] {
					t.Errorf("captures/%s belongs to no host", e.Name())
				}
			}
		})
	}
}

func TestCounts(t *testing.T) {
	for n := 1; n <= 2000; n += 37 {
		c := counts(n)
		sum := 0
		for _, v := range c {
			sum += v
		}
		if sum != n {
			t.Errorf("counts(%d) sums to %d", n, sum)
		}
		if n >= len(roles) {
			for _, r := range roles {
				if c[r.id] < 1 {
					t.Errorf("counts(%d)[%s] = 0, want at least 1", n, r.id)
				}
			}
		}
	}
}

// TestLargeEstate checks names, addresses and the share of features on a
// big estate without writing it.
func TestLargeEstate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1^0x9E3779B97F4A7C15))
	big, err := newEstate(MaxHosts, r)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]string{}
	for _, h := range big.hosts {
		if o, ok := seen[h.v4]; ok {
			t.Fatalf("%s and %s share %s", o, h.name, h.v4)
		}
		seen[h.v4] = h.name
		if a := h.v4.As4(); a[1] == 0 || a[3] < 10 || a[3] == 255 {
			t.Fatalf("%s has address %s outside the plan", h.name, h.v4)
		}
	}
	e, err := newEstate(10000, r)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	addrs := map[string]bool{}
	modern, restricted, noCapt := 0, 0, 0
	for _, h := range e.hosts {
		if names[h.name] {
			t.Errorf("name %q used twice", h.name)
		}
		names[h.name] = true
		if addrs[h.v4.String()] {
			t.Errorf("address %s used twice", h.v4)
		}
		addrs[h.v4.String()] = true
		if h.ranges[tcp4] == audit.DefaultRange {
			modern++
		}
		if h.rpc != nil {
			restricted++
		}
		if h.noCapt {
			noCapt++
		}
	}
	for _, want := range []string{"DC0001", "APP0001", "LEG2003-001", "SMB01"} {
		if !names[want] {
			t.Errorf("no host %s in a 10000-host estate (numbers should widen)", want)
		}
	}
	if modern*100 < len(e.hosts)*75 {
		t.Errorf("%d of %d hosts use 49152-65535, want most", modern, len(e.hosts))
	}
	if restricted < 100 || noCapt < 50 {
		t.Errorf("restricted %d, without capture %d: features did not scale", restricted, noCapt)
	}
}

// TestEveryFeatureInExample makes sure the 40-host example shows each kind
// of problem the README talks about.
func TestEveryFeatureInExample(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1^0x9E3779B97F4A7C15))
	e, err := newEstate(40, r)
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, h := range e.hosts {
		has["lang-"+h.lang.code] = has["lang-"+h.lang.code] || h.f.netsh
		has["rpc"] = has["rpc"] || h.rpc != nil && !h.rpcSZ
		has["rpc-small"] = has["rpc-small"] || slices.Equal(h.rpc, []string{"6000-6050"})
		has["rpc-sz"] = has["rpc-sz"] || h.rpcSZ
		has["v6-differs"] = has["v6-differs"] || h.ranges[tcp4] != h.ranges[tcp6]
		has["no-capture"] = has["no-capture"] || h.noCapt
		has["below-netsh-minimum"] = has["below-netsh-minimum"] || !h.ranges[tcp4].WithinNetshLimits()
		has["hyperv"] = has["hyperv"] || len(h.exclTCP) > 1
		has["exchange"] = has["exchange"] || h.ranges[tcp4] == audit.Exchange2007Range
		has["legacy-netsh"] = has["legacy-netsh"] || h.f.netshMissing
		has["samba"] = has["samba"] || h.f.smb
		has["ps"] = has["ps"] || h.f.psUDP
		has["ipconfig-all"] = has["ipconfig-all"] || h.f.ipconfig && h.f.ipconfigAll
		for _, d := range h.declDyn {
			k := map[string]int{"tcp": tcp4, "tcp4": tcp4, "tcp6": tcp6, "udp": udp4}[d.key]
			if d.r != h.ranges[k] && !h.noCapt && (h.f.netsh || h.f.psTCP) {
				has["stale"] = true
			}
		}
	}
	for _, f := range []string{"lang-en", "lang-fr", "lang-de", "rpc", "rpc-small", "rpc-sz", "v6-differs",
		"no-capture", "below-netsh-minimum", "hyperv", "exchange", "legacy-netsh", "samba", "ps", "ipconfig-all", "stale"} {
		if !has[f] {
			t.Errorf("the 40-host example has no %s host", f)
		}
	}
}

// TestExampleUpToDate compares the committed example estate with what the
// generator writes now.
func TestExampleUpToDate(t *testing.T) {
	const example = "../../testdata/example"
	if _, err := os.Stat(example); err != nil {
		t.Skipf("%s not there yet: %v", example, err)
	}
	dir, _ := generate(t, 40, 1)
	if d := treeDiff(readTree(t, example), readTree(t, dir)); d != "" {
		t.Errorf("testdata/example is out of date; regenerate it with\n"+
			"\trm -rf testdata/example && go run ./cmd/estategen -hosts 40 -seed 1 -out testdata/example\n%s", d)
	}
}

func TestPolicyDiff(t *testing.T) {
	// Small estates drop rules whose groups are missing rather than naming
	// empty groups.
	dir, _ := generate(t, 2, 1)
	b, err := os.ReadFile(filepath.Join(dir, "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var inv inventory
	if err := yaml.Unmarshal(b, &inv); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range inv.Policy {
		got = append(got, r.Name)
	}
	want := []string{"dc-replication", "members-to-dc", "clients-to-servers"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("policy of a 2-host estate (-want +got):\n%s", d)
	}
}

// TestEveryFileRead: rpcspan reads every file of a generated estate, none
// skipped and none with a problem, so each is a real sample of a format.
func TestEveryFileRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "estate")
	if _, err := Generate(dir, 600, 7); err != nil {
		t.Fatal(err)
	}
	_, stats, err := ingest.Load([]string{dir}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Problems != 0 || len(stats.Skipped) != 0 {
		t.Errorf("%d problems, skipped %v", stats.Problems, stats.Skipped)
	}
}
