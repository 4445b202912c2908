package probe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rpcspan/rpcspan/audit"
)

// Target is one thing to probe: an address, or a name to resolve.
type Target struct {
	// Name is the target as the user wrote it, or the estate host's name.
	Name string
	// Host is the estate host the target belongs to; its span is what
	// Findings compares against. Empty for a bare address or name.
	Host string
	// Addr is the address to probe; when invalid, Name is resolved and
	// every address it resolves to is probed.
	Addr netip.Addr
}

// EstateTargets returns one target per address of every host of e, hosts
// sorted by name and each host's addresses sorted. Hosts without an
// address are left out (the audit reports them as host-no-address).
func EstateTargets(e *audit.Estate) []Target {
	var out []Target
	for _, h := range e.Hosts() {
		for _, a := range h.AddrList() {
			out = append(out, Target{Name: h.Name, Host: h.Name, Addr: a})
		}
	}
	return out
}

// Status says how the endpoint mapper query went.
type Status string

// The statuses. The zero value is not used.
const (
	StatusOK      Status = "ok"      // the endpoint map was read
	StatusRefused Status = "refused" // TCP 135 refused the connection
	// StatusTimeout: TCP 135 did not accept the connection, or accepted it
	// and did not answer, within the timeout.
	StatusTimeout Status = "timeout"
	// StatusError: anything else, such as a name that does not resolve,
	// no route to the host, or an answer that is not a valid endpoint
	// map.
	StatusError Status = "error"
)

// Endpoint is one entry of a server's endpoint map, as reported.
type Endpoint struct {
	UUID    UUID   `json:"uuid"`
	Version string `json:"version"` // "MAJOR.MINOR"
	// Name is the interface's well-known name (InterfaceName), when it
	// has one.
	Name       string `json:"name,omitempty"`
	Annotation string `json:"annotation"`
	Protocol   string `json:"protocol"`
	// Port is the TCP or UDP port (ncacn_ip_tcp, ncacn_http,
	// ncadg_ip_udp); 0, and left out, for the others.
	Port uint16 `json:"port,omitempty"`
	// Address is the tower's IP address, or the queried address when the
	// tower carries 0.0.0.0 or none (IP protocols only).
	Address netip.Addr `json:"address,omitzero"`
	// Endpoint is the named pipe (ncacn_np) or endpoint name (ncalrpc).
	Endpoint string `json:"endpoint,omitempty"`
	// Reachable says whether the port accepted a TCP connection at the
	// queried address; set for ncacn_ip_tcp only.
	Reachable *bool `json:"reachable,omitempty"`
	// Reason says why a port is not reachable: "refused", "timeout" or
	// the error.
	Reason string `json:"reason,omitempty"`
}

// Label names the endpoint's interface for messages: the well-known name
// or else the annotation, then the UUID and version.
func (e Endpoint) Label() string {
	id := e.UUID.String() + " v" + e.Version
	switch {
	case e.Name != "":
		return e.Name + " (" + id + ")"
	case e.Annotation != "":
		return strconv.Quote(e.Annotation) + " (" + id + ")"
	}
	return id
}

// Result is what probing one address found.
type Result struct {
	Target string `json:"target"`
	// Host is the estate host probed, when the target came from one.
	Host string `json:"host,omitempty"`
	// Address is the address probed; invalid (and "") when a name did not
	// resolve.
	Address netip.Addr `json:"address"`
	// Port is the endpoint mapper's port (135).
	Port      uint16     `json:"-"`
	EPM       Status     `json:"epm"`
	Endpoints []Endpoint `json:"endpoints"`
	Error     string     `json:"error,omitempty"`
	// Connected is true when the TCP connection to the endpoint mapper
	// was established, so that a failure came later, from the exchange.
	Connected bool `json:"-"`
}

// DialFunc opens a connection, like net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Options tunes Run. The zero value probes TCP 135 with the defaults.
type Options struct {
	// Timeout bounds each connect and each read (default 2s).
	Timeout time.Duration
	// Exchange bounds one whole endpoint-mapper exchange after connecting
	// (default 4 × Timeout), so that a server trickling bytes cannot hold
	// a worker forever.
	Exchange time.Duration
	// Concurrency is how many connections may be open at once, endpoint
	// mapper queries and port checks together (default 100).
	Concurrency int
	// Port is the endpoint mapper's port (default 135; tests use others).
	Port uint16
	// Dial opens connections (default: net.Dialer). Tests dial from
	// inside a network namespace with it.
	Dial DialFunc
	// Resolve looks a host name up (default: the system resolver).
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Limits bound each endpoint-mapper exchange.
	Limits Limits
	// Progress, when set, is called after each target with the number of
	// targets done and the total; calls never overlap.
	Progress func(done, total int)
}

// Defaults for Options.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultConcurrency = 100
	EPMPort            = 135
)

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Exchange <= 0 {
		o.Exchange = 4 * o.Timeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Port == 0 {
		o.Port = EPMPort
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	if o.Resolve == nil {
		o.Resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	o.Limits = o.Limits.withDefaults()
	return o
}

// prober holds one Run's shared state.
type prober struct {
	opt Options
	// sem holds one token per open connection, so that at most
	// Concurrency sockets exist at any time.
	sem chan struct{}
}

// Run probes every target: it queries the endpoint mapper, then connects
// to each distinct ncacn_ip_tcp port the map names. At most
// opt.Concurrency connections are open at once, so targets that never
// answer cost about ceil(len(targets) / Concurrency) × Timeout in all.
// Results come in the order of targets (a name resolving to several
// addresses gives one result per address, sorted). A cancelled ctx ends
// the run early; the targets not probed then carry ctx's error.
func Run(ctx context.Context, targets []Target, opt Options) []Result {
	p := &prober{opt: opt.withDefaults()}
	p.sem = make(chan struct{}, p.opt.Concurrency)
	per := make([][]Result, len(targets))
	jobs := make(chan int)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range min(p.opt.Concurrency, len(targets)) {
		wg.Go(func() {
			for i := range jobs {
				per[i] = p.target(ctx, targets[i])
				if p.opt.Progress != nil {
					mu.Lock()
					done++
					p.opt.Progress(done, len(targets))
					mu.Unlock()
				}
			}
		})
	}
feed:
	for i := range targets {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	var out []Result
	for i, rs := range per {
		if rs == nil {
			t := targets[i]
			rs = []Result{{Target: t.Name, Host: t.Host, Address: t.Addr, Port: p.opt.Port, EPM: StatusError, Error: ctx.Err().Error()}}
		}
		out = append(out, rs...)
	}
	return out
}

// target probes one target, resolving its name first when needed.
func (p *prober) target(ctx context.Context, t Target) []Result {
	if t.Addr.IsValid() {
		return []Result{p.address(ctx, t, t.Addr)}
	}
	rctx, cancel := context.WithTimeout(ctx, p.opt.Timeout)
	addrs, err := p.opt.Resolve(rctx, t.Name)
	cancel()
	if err == nil && len(addrs) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		return []Result{{Target: t.Name, Host: t.Host, Port: p.opt.Port, EPM: StatusError, Endpoints: []Endpoint{},
			Error: fmt.Sprintf("resolving %q: %v", t.Name, err)}}
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	addrs = slices.Compact(addrs)
	out := make([]Result, len(addrs))
	for i, a := range addrs {
		out[i] = p.address(ctx, t, a)
	}
	return out
}

func (p *prober) acquire(ctx context.Context) bool {
	select {
	case p.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *prober) release() { <-p.sem }

// address probes one address.
func (p *prober) address(ctx context.Context, t Target, a netip.Addr) Result {
	r := Result{Target: t.Name, Host: t.Host, Address: a, Port: p.opt.Port, Endpoints: []Endpoint{}}
	if !p.acquire(ctx) {
		r.EPM, r.Error = StatusError, ctx.Err().Error()
		return r
	}
	entries, err := p.lookup(ctx, &r)
	p.release()
	if err != nil && !r.Connected {
		r.EPM, r.Error = dialStatus(err, "TCP "+strconv.Itoa(int(p.opt.Port)), p.opt.Timeout)
		return r
	}
	switch {
	case err == nil:
		r.EPM = StatusOK
	case errors.Is(err, ErrTimeout):
		r.EPM, r.Error = StatusTimeout, "connected, but "+err.Error()
	default:
		r.EPM, r.Error = StatusError, err.Error()
	}
	r.Endpoints = endpoints(entries, a)
	p.checkPorts(ctx, &r)
	return r
}

// lookup connects to the endpoint mapper and reads the map.
func (p *prober) lookup(ctx context.Context, r *Result) ([]Entry, error) {
	conn, err := p.dial(ctx, r.Address, p.opt.Port)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	r.Connected = true
	return Lookup(ctx, conn, p.opt.Timeout, p.opt.Exchange, p.opt.Limits)
}

func (p *prober) dial(ctx context.Context, a netip.Addr, port uint16) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, p.opt.Timeout)
	defer cancel()
	return p.opt.Dial(dctx, "tcp", netip.AddrPortFrom(a, port).String())
}

// dialStatus classifies a failed connect and words it.
func dialStatus(err error, what string, timeout time.Duration) (Status, string) {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return StatusRefused, what + " refused the connection"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return StatusTimeout, fmt.Sprintf("%s did not accept a connection within %v", what, timeout)
	case errors.Is(err, context.Canceled):
		return StatusError, err.Error()
	}
	// "dial tcp 192.0.2.7:135: connect: network is unreachable" says the
	// address twice over; the errno is what the message needs.
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return StatusError, fmt.Sprintf("connecting to %s: %v", what, errno)
	}
	return StatusError, fmt.Sprintf("connecting to %s: %v", what, err)
}

// endpoints turns map entries into endpoints, in the server's order.
func endpoints(entries []Entry, queried netip.Addr) []Endpoint {
	out := make([]Endpoint, 0, len(entries))
	for _, e := range entries {
		ep := Endpoint{
			UUID:       e.Interface.UUID,
			Version:    e.Interface.Version(),
			Name:       InterfaceName(e.Interface.UUID),
			Annotation: e.Annotation,
			Protocol:   e.Tower.Protocol,
			Endpoint:   e.Tower.Endpoint,
		}
		switch ep.Protocol {
		case "ncacn_ip_tcp", "ncacn_http", "ncadg_ip_udp":
			ep.Port = e.Tower.Port
			ep.Address = e.Tower.Addr
			// The AD DC writes 0.0.0.0: "every address of mine".
			if !ep.Address.IsValid() || ep.Address.IsUnspecified() {
				ep.Address = queried
			}
		}
		out = append(out, ep)
	}
	return out
}

// checkPorts connects to every distinct ncacn_ip_tcp port of r at the
// queried address (the endpoint mapper's own port is known to be open)
// and marks the endpoints.
func (p *prober) checkPorts(ctx context.Context, r *Result) {
	type check struct {
		ok     bool
		reason string
	}
	var ports []uint16
	for _, e := range r.Endpoints {
		if e.Protocol == "ncacn_ip_tcp" && e.Port != p.opt.Port {
			ports = append(ports, e.Port)
		}
	}
	slices.SortFunc(ports, cmp.Compare)
	ports = slices.Compact(ports)
	res := make(map[uint16]check, len(ports)+1)
	res[p.opt.Port] = check{ok: true}
	results := make([]check, len(ports))
	var wg sync.WaitGroup
	for i, port := range ports {
		if !p.acquire(ctx) {
			results[i] = check{reason: ctx.Err().Error()}
			continue
		}
		wg.Go(func() {
			defer p.release()
			conn, err := p.dial(ctx, r.Address, port)
			if err != nil {
				st, msg := dialStatus(err, "TCP "+strconv.Itoa(int(port)), p.opt.Timeout)
				if st == StatusRefused || st == StatusTimeout {
					msg = string(st)
				}
				results[i] = check{reason: msg}
				return
			}
			conn.Close()
			results[i] = check{ok: true}
		})
	}
	wg.Wait()
	for i, port := range ports {
		res[port] = results[i]
	}
	for i := range r.Endpoints {
		e := &r.Endpoints[i]
		if e.Protocol != "ncacn_ip_tcp" {
			continue
		}
		c := res[e.Port]
		ok := c.ok
		e.Reachable, e.Reason = &ok, c.reason
	}
}
