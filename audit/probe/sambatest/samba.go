//go:build linux

package sambatest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rpcspan/rpcspan/audit/probe"
)

// Samba's start and stop limits: a start is waited for up to startWait,
// a stop (children exit 1-2 s after the master) up to stopWait before the
// process group is killed.
const (
	startWait = 90 * time.Second
	stopWait  = 20 * time.Second
)

// services leaves out dns and dnsupdate, so that nothing talks to the
// host's resolver.
const services = "s3fs, rpc, nbt, wrepl, ldap, cldap, kdc, drepl, winbindd, ntp_signd, kcc"

// DC is a provisioned Samba AD domain controller in a lab's DC namespace.
type DC struct {
	Lab *Lab
	Dir string // everything of this DC lives here
	// Provisioned is how long samba-tool domain provision took.
	Provisioned time.Duration

	conf string // smb.conf as provisioned, services fixed
	cmd  *exec.Cmd
	exit chan error // receives cmd.Wait's result
	// Started is how long the last Run took until samba was ready.
	Started time.Duration
}

// Config is one scenario: the dynamic port range and more [global]
// lines, such as "rpc server port:drsuapi = 5000".
type Config struct {
	Range string // "50000-50500"
	Extra []string
}

// Provision creates a throwaway domain RS.TEST with host dc1 at DCAddr in
// dir, with every pid, socket and log path inside dir.
func Provision(lab *Lab, dir string) (*DC, error) {
	d := &DC{Lab: lab, Dir: dir}
	start := time.Now()
	opt := func(s string) string { return "--option=" + s }
	args := []string{"domain", "provision", "--targetdir=" + dir, "--realm=RS.TEST", "--domain=RS", "--server-role=dc",
		"--dns-backend=NONE", "--host-name=dc1", "--host-ip=" + DCAddr.String(), "--adminpass=Rpcspan-Test-2024!",
		opt("rpc server dynamic port range = 50000-50500"),
		opt("interfaces = lo veth0"), opt("bind interfaces only = yes"),
		opt("pid directory = " + filepath.Join(dir, "run")), opt("ncalrpc dir = " + filepath.Join(dir, "run", "ncalrpc")),
		opt("winbindd socket directory = " + filepath.Join(dir, "run", "winbindd")),
		opt("ntp signd socket directory = " + filepath.Join(dir, "run", "ntp_signd")),
		opt("log file = " + filepath.Join(dir, "log", "log.%m")), opt("dns update command = /bin/true"),
	}
	// Inside the DC namespace, where the address and interfaces it is
	// told about exist; it talks to no one.
	if out, err := lab.DC.Exec("samba-tool", args...); err != nil {
		return nil, fmt.Errorf("samba-tool domain provision: %v: %s", err, tail(out))
	}
	d.Provisioned = time.Since(start)
	for _, sub := range []string{"cache", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	b, err := os.ReadFile(d.confPath())
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "server services =") {
			lines[i] = "\tserver services = " + services
		}
	}
	d.conf = strings.Join(lines, "\n")
	return d, nil
}

func (d *DC) confPath() string { return filepath.Join(d.Dir, "etc", "smb.conf") }

// conf returns smb.conf for c: the provisioned one with the range line
// replaced and c.Extra added to [global].
func (d *DC) confFor(c Config) string {
	var out []string
	for _, l := range strings.Split(d.conf, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "rpc server dynamic port range") {
			l = "\trpc server dynamic port range = " + c.Range
		}
		out = append(out, l)
		if t == "[global]" {
			for _, e := range c.Extra {
				out = append(out, "\t"+e)
			}
		}
	}
	return strings.Join(out, "\n")
}

// Run starts samba with c and waits until its endpoint mapper answers from
// the client namespace and every ncacn_ip_tcp port it names accepts
// connections. A running samba is stopped first.
func (d *DC) Run(c Config) error {
	if d.cmd != nil {
		if err := d.Stop(); err != nil {
			return err
		}
	}
	if err := os.WriteFile(d.confPath(), []byte(d.confFor(c)), 0o644); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(d.Dir, "log", "samba.out"))
	if err != nil {
		return err
	}
	defer logf.Close()
	start := time.Now()
	cmd := d.Lab.DC.Command(context.Background(), "samba", "-F", "-s", d.confPath(), "--debug-stdout", "-d1")
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+filepath.Join(d.Dir, "private", "krb5.conf"))
	// Its own process group: samba's children are waited for and, if
	// need be, killed by group. "ip netns exec" execs samba in place, so
	// the pid is samba's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting samba: %v", err)
	}
	d.cmd, d.exit = cmd, make(chan error, 1)
	go func() { d.exit <- cmd.Wait() }()
	if err := d.waitReady(start.Add(startWait)); err != nil {
		d.Stop()
		return fmt.Errorf("samba with range %s: %v (log: %s)", c.Range, err, tail(readFile(logf.Name())))
	}
	d.Started = time.Since(start)
	return nil
}

func (d *DC) waitReady(deadline time.Time) error {
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-d.exit:
			d.exit <- err
			return fmt.Errorf("samba exited: %v", err)
		default:
		}
		rs := probe.Run(context.Background(), []probe.Target{{Name: "dc1", Addr: DCAddr}},
			probe.Options{Timeout: time.Second, Dial: d.Lab.Client.DialContext})
		r := rs[0]
		last = string(r.EPM) + " " + r.Error
		if r.EPM == probe.StatusOK && allReachable(r) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %v: last probe %s", startWait, last)
}

func allReachable(r probe.Result) bool {
	n := 0
	for _, e := range r.Endpoints {
		if e.Protocol == "ncacn_ip_tcp" {
			n++
			if e.Reachable == nil || !*e.Reachable {
				return false
			}
		}
	}
	return n > 0
}

// Stop sends SIGTERM to samba's pid and waits for it, then for its
// process group and for the groups smbd and winbindd make for themselves
// (found by the configuration file on their command lines). What is left
// after stopWait is killed.
func (d *DC) Stop() error {
	if d.cmd == nil {
		return nil
	}
	pid := d.cmd.Process.Pid
	d.cmd = nil
	syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(stopWait)
	var exitErr error
	select {
	case exitErr = <-d.exit:
	case <-time.After(stopWait):
	}
	groups := append([]int{pid}, d.stragglers()...)
	for {
		alive := slices.DeleteFunc(slices.Clone(groups), func(g int) bool { return syscall.Kill(-g, 0) != nil })
		if len(alive) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, g := range alive {
				syscall.Kill(-g, syscall.SIGKILL)
			}
			return fmt.Errorf("samba process groups %v did not stop within %v; killed", alive, stopWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ee *exec.ExitError
	if exitErr != nil && !errors.As(exitErr, &ee) {
		return exitErr
	}
	return nil
}

// stragglers returns the process groups of processes whose command line
// names this DC's smb.conf: smbd and winbindd put themselves in groups of
// their own.
func (d *DC) stragglers() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cl, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cl), d.confPath()) {
			continue
		}
		if g, err := syscall.Getpgid(pid); err == nil && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

// Endpoint is one ncacn_ip_tcp line of "rpcclient -c epmlookup".
type Endpoint struct {
	UUID    string
	Version string // "4.0"
	Port    uint16
}

var epmLine = regexp.MustCompile(`ncacn_ip_tcp:[^\[]*\[(\d+),abstract_syntax=([0-9a-fA-F-]{36})/0x([0-9a-fA-F]{8})\]`)

// RPCClientTCP runs Samba's own client from the client namespace,
// "rpcclient -c epmlookup ncacn_ip_tcp:10.250.0.1", and returns its
// ncacn_ip_tcp endpoints sorted.
func (d *DC) RPCClientTCP() ([]Endpoint, error) {
	out, err := d.Lab.Client.Exec("rpcclient", "-s", "/dev/null", "-U%", "-N", "-c", "epmlookup", "ncacn_ip_tcp:"+DCAddr.String())
	if err != nil {
		return nil, fmt.Errorf("rpcclient: %v: %s", err, tail(out))
	}
	var eps []Endpoint
	for _, m := range epmLine.FindAllStringSubmatch(string(out), -1) {
		port, _ := strconv.Atoi(m[1])
		v, _ := strconv.ParseUint(m[3], 16, 32)
		eps = append(eps, Endpoint{UUID: strings.ToLower(m[2]), Version: fmt.Sprintf("%d.%d", v&0xffff, v>>16), Port: uint16(port)})
	}
	SortEndpoints(eps)
	return eps, nil
}

// TCPEndpoints returns r's ncacn_ip_tcp endpoints in rpcclient's terms,
// sorted.
func TCPEndpoints(r probe.Result) []Endpoint {
	var eps []Endpoint
	for _, e := range r.Endpoints {
		if e.Protocol == "ncacn_ip_tcp" {
			eps = append(eps, Endpoint{UUID: e.UUID.String(), Version: e.Version, Port: e.Port})
		}
	}
	SortEndpoints(eps)
	return eps
}

// SortEndpoints orders by port, UUID and version.
func SortEndpoints(eps []Endpoint) {
	slices.SortFunc(eps, func(a, b Endpoint) int {
		if c := int(a.Port) - int(b.Port); c != 0 {
			return c
		}
		if c := strings.Compare(a.UUID, b.UUID); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
}

// Probe probes addrs from the client namespace.
func (l *Lab) Probe(ctx context.Context, targets []probe.Target, opt probe.Options) []probe.Result {
	opt.Dial = l.Client.DialContext
	return probe.Run(ctx, targets, opt)
}

// Target is a probe target for a lab address.
func Target(name string, a netip.Addr) probe.Target {
	return probe.Target{Name: name, Host: name, Addr: a}
}

func readFile(p string) []byte {
	b, _ := os.ReadFile(p)
	return b
}

// tail returns the last lines of a command's output for an error.
func tail(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, " | ")
}
