package emit

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"sync"
	"text/template"

	"github.com/rpcspan/rpcspan/templates"
)

// Vendor firewall targets: cisco-asa, cisco-ios, juniper-srx, paloalto and
// fortigate render a VendorModel through the text/template files shipped
// in templates/vendor; "template:PATH" (TemplateTarget) renders a user's
// own template with the same model. Object and rule names are made valid
// and unique in Go (vendor_names.go), so templates only place them.

// VendorOptions name what the vendor outputs refer to on the firewall and
// how they name their own objects. The zero value gives the defaults.
type VendorOptions struct {
	// ACL is the access list the Cisco targets add to; "" means "rpcspan".
	// ASA takes both families in one list.
	ACL string
	// ACL6 is the IOS IPv6 access list; "" means ACL + "-v6".
	ACL6 string
	// FromZone and ToZone are the SRX and PAN-OS zones the policies join
	// ("" means "trust" and "untrust"), and FortiGate's source and
	// destination interfaces or zones ("" means "any").
	FromZone, ToZone string
	// Interface is the ASA nameif or IOS interface the ACL is bound to,
	// inbound. "" writes the binding as a comment only: binding replaces
	// whatever list the interface had, which is for a person to decide.
	Interface string
	// Prefix starts every object, rule and policy name, so that pasting the
	// output never extends or overwrites an object of the same name that
	// is already on the firewall; "" means "rpcspan-". It may hold only
	// letters, digits, "_", "." and "-", and start with a letter.
	Prefix string
	// NoPrefix leaves the prefix out.
	NoPrefix bool
	// Gateway uses the vendor's MS-RPC application gateway (Junos
	// junos-ms-rpc-tcp, PAN-OS App-ID msrpc) for rpc and rpc-udp instead
	// of written port ranges. Other vendors refuse it.
	Gateway bool
}

// prefix returns the name prefix in force.
func (o VendorOptions) prefix() string {
	switch {
	case o.NoPrefix:
		return ""
	case o.Prefix == "":
		return "rpcspan-"
	}
	return o.Prefix
}

// Check reports the first option that cannot be used as it is.
func (o VendorOptions) Check() error {
	for _, f := range []struct{ what, v string }{
		{"ACL name", o.ACL}, {"IPv6 ACL name", o.ACL6}, {"from-zone", o.FromZone}, {"to-zone", o.ToZone}, {"interface", o.Interface},
	} {
		if err := validOptionName(f.what, f.v, true); err != nil {
			return err
		}
	}
	if o.Prefix != "" {
		if err := validOptionName("object name prefix", o.Prefix, false); err != nil {
			return err
		}
		if strings.ContainsAny(o.Prefix, "/:") {
			return &optionError{"object name prefix", o.Prefix, "may hold only letters, digits and _ . -"}
		}
		if len(o.Prefix) > 24 {
			return &optionError{"object name prefix", o.Prefix, "longer than 24 characters"}
		}
	}
	return nil
}

// resolve checks o and fills in the defaults for spec.
func (o VendorOptions) resolve(spec vendorSpec) (VendorSettings, error) {
	if err := o.Check(); err != nil {
		return VendorSettings{}, err
	}
	s := VendorSettings{ACL: o.ACL, ACL6: o.ACL6, FromZone: o.FromZone, ToZone: o.ToZone, Interface: o.Interface}
	if s.ACL == "" {
		s.ACL = "rpcspan"
	}
	if s.ACL6 == "" {
		s.ACL6 = s.ACL + "-v6"
	}
	zf, zt := "trust", "untrust"
	if spec.target == "fortigate" {
		zf, zt = "any", "any"
	}
	if s.FromZone == "" {
		s.FromZone = zf
	}
	if s.ToZone == "" {
		s.ToZone = zt
	}
	return s, nil
}

// VendorEmitter renders the plan through one text/template: a shipped
// vendor template or a user's.
type VendorEmitter struct {
	spec vendorSpec
	opt  VendorOptions
	load func() (*template.Template, error)
}

// With returns a copy of v that uses opt.
func (v *VendorEmitter) With(opt VendorOptions) *VendorEmitter {
	c := *v
	c.opt = opt
	return &c
}

// WithVendorOptions returns e with opt when e is a vendor target, and e
// itself otherwise; it refuses options that cannot be used (a name with a
// space, the gateway for a vendor without one), so that the CLI can report
// them as usage errors before reading any input.
func WithVendorOptions(e Emitter, opt VendorOptions) (Emitter, error) {
	v, ok := e.(*VendorEmitter)
	if !ok {
		return e, nil
	}
	if err := opt.Check(); err != nil {
		return nil, err
	}
	if opt.Gateway && v.spec.gateway == nil {
		return nil, fmt.Errorf("%s has no MS-RPC application gateway rpcspan can use (Junos and PAN-OS have); leave out the gateway option", v.spec.title)
	}
	return v.With(opt), nil
}

// Emit renders the plan. The output is built in memory first, so that a
// template error leaves nothing half written.
func (v *VendorEmitter) Emit(w io.Writer, in *Input) error {
	t, err := v.load()
	if err != nil {
		return err
	}
	m, err := buildVendorModel(in, v.spec, v.opt)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.Grow(64 << 10)
	if err := t.Execute(&b, m); err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}

// Model returns the data the template is given, for tests and for users
// who want to see it.
func (v *VendorEmitter) Model(in *Input) (*VendorModel, error) {
	return buildVendorModel(in, v.spec, v.opt)
}

func init() {
	for _, s := range vendorSpecs {
		register(s.target, &VendorEmitter{spec: s, load: shippedTemplate(s.target)})
	}
}

// shippedTemplate parses a shipped template once, on first use.
func shippedTemplate(name string) func() (*template.Template, error) {
	return sync.OnceValues(func() (*template.Template, error) {
		text, err := templates.VendorTemplate(name)
		if err != nil {
			return nil, err
		}
		return parseVendorTemplate(name+".tmpl", text)
	})
}

// TemplateTarget returns the emitter for "--target template:PATH": the
// user's text/template at path, rendered with the VendorModel and the
// helper functions of VendorFuncs. Errors, in parsing now or in rendering
// later, name the file and line.
func TemplateTarget(path string) (Emitter, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading template: %w", err)
	}
	t, err := parseVendorTemplate(path, string(data))
	if err != nil {
		return nil, err
	}
	return &VendorEmitter{spec: templateSpec, load: func() (*template.Template, error) { return t, nil }}, nil
}

// parseVendorTemplate parses text as the template name, which errors quote
// with the line.
func parseVendorTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Funcs(VendorFuncs()).Parse(text)
}

// VendorFuncs returns the helper functions every vendor template has:
//
//	join SEP LIST    the elements of LIST (strings, ports, ...) joined by SEP
//	mask PREFIX      the IPv4 netmask of "10.0.0.0/24": 255.255.255.0
//	wildcard PREFIX  the Cisco wildcard mask of "10.0.0.0/24": 0.0.0.255
//	addr PREFIX      the address of a prefix: 10.0.0.0
//	bits PREFIX      the prefix length: 24
//	upper, lower     case conversion
//	quote TEXT       TEXT in double quotes, with anything that could end the
//	                 quote or the line (quotes, backslashes, control
//	                 characters) replaced
func VendorFuncs() template.FuncMap {
	return template.FuncMap{
		"join":     joinAny,
		"mask":     func(p string) (string, error) { return maskFunc(p, false) },
		"wildcard": func(p string) (string, error) { return maskFunc(p, true) },
		"addr": func(p string) (string, error) {
			pf, err := netip.ParsePrefix(p)
			return pf.Addr().String(), err
		},
		"bits": func(p string) (int, error) {
			pf, err := netip.ParsePrefix(p)
			return pf.Bits(), err
		},
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		"quote": func(s string) string { return `"` + vendorText(s, 1<<20) + `"` },
	}
}

// joinAny joins the elements of any slice, each formatted with fmt.
func joinAny(sep string, list any) (string, error) {
	if l, ok := list.([]string); ok {
		return strings.Join(l, sep), nil
	}
	v := reflect.ValueOf(list)
	if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
		return "", fmt.Errorf("join: want a list, got %T", list)
	}
	var b strings.Builder
	for i := range v.Len() {
		if i > 0 {
			b.WriteString(sep)
		}
		fmt.Fprint(&b, v.Index(i).Interface())
	}
	return b.String(), nil
}

// maskFunc returns the netmask or wildcard mask of an IPv4 prefix.
func maskFunc(p string, wildcard bool) (string, error) {
	pf, err := netip.ParsePrefix(p)
	if err != nil {
		return "", err
	}
	if !pf.Addr().Is4() {
		return "", fmt.Errorf("%s is IPv6: masks are written only for IPv4", p)
	}
	m := maskOf(pf.Bits())
	if wildcard {
		m = ^m
	}
	return dotted(m), nil
}
