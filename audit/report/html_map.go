package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// LivePort is one port a probed host's endpoint mapper listed: an RPC
// server really listening there.
type LivePort struct {
	Key  audit.Key // protocol and family: tcp4 for ncacn_ip_tcp at an IPv4 address
	Port uint16
}

// The map's geometry, in SVG user units. The plot maps ports 0-65535
// linearly onto [mapPlotX0, mapPlotX1]; the columns left of it hold the
// row marks, the row labels and the lane labels.
const (
	mapWidth    = 1000.0
	mapPlotX0   = 250.0
	mapPlotX1   = 990.0
	mapTop      = 44.0 // the first row's top; band labels and the axis sit above
	mapLaneStep = 11.0 // from one lane's top to the next
	mapLaneH    = 8.0  // the height of a bar
	mapRowPad   = 4.0  // above the first and below the last lane of a row
	mapMinBar   = 1.2  // narrower bars (a few excluded ports) would vanish
	mapLabelMax = 16   // runes of a host name shown in a row label
	mapTitleMax = 20   // host names named in a row's tooltip
)

// mapAxisPorts are the labelled ports of the axis: the ends, the legacy and
// modern defaults' edges, and round numbers in between. 1025 is left out
// because its label would overlap 0's.
var mapAxisPorts = []int{0, 5000, 10000, 20000, 30000, 40000, 49152, 60000, 65535}

// portX returns the x coordinate of the left edge of port p (p may be
// 65536, the right edge of the axis).
func portX(p int) float64 {
	return mapPlotX0 + float64(p)*(mapPlotX1-mapPlotX0)/65536
}

// mapView is the port-range map: SVG geometry computed here from port
// numbers, so that the template only places what it is given, and the
// same rows as text for the table that is the map's text alternative.
type mapView struct {
	Height   float64
	AxisY    float64 // the axis line, where the bands start
	BandH    float64 // the height of the bands, down to the last row
	Axis     []mapAxisTick
	Bands    []mapBand
	Rows     []*mapRow
	Hosts    int
	Flagged  int    // rows with findings
	Desc     string // the SVG's description for screen readers
	Live     bool   // the estate was probed
	Baseline string
}

type mapAxisTick struct {
	X      float64
	Label  string
	Anchor string // text-anchor: start, middle or end, so that the ends stay inside
}

// mapBand is a vertical band across all rows: the baseline or the
// migration target.
type mapBand struct {
	Class  string // "baseline" or "target"
	X, W   float64
	Label  string
	LabelX float64
	LabelY float64
	Anchor string
}

// mapRow is one host or a group of identical hosts.
type mapRow struct {
	N      int
	Y, H   float64
	Hosts  []string
	CY     float64 // the vertical centre from the top of the row, where label and mark sit
	Stripe bool    // every other row is shaded
	Label  string  // shortened for the SVG; the table lists every name
	Title  string  // the tooltip: hosts and findings
	Sev    string  // worst finding severity: "error", "warning", "info" or ""
	Mark   string  // "E", "W" or "I": the severity as a letter, so colour is not the only signal
	IDs    []string
	Lanes  []*mapLane
	RPC    string // the Rpc\Internet restriction as text, "" without one
	Live   string // live endpoints as text, "" when none
	first  int    // index of the first host, for the order of rows
	sevKey int    // -1 without findings
}

// mapLane is one bar of a row: the dynamic range of one or more keys that
// share it, or the Rpc\Internet ports.
type mapLane struct {
	Label    string  // "all", "IPv4", "TCP", "tcp4", ... or "rpc ports"
	Dyn      bool    // a dynamic range, not the Rpc\Internet ports
	DY       float64 // the top of the bars, from the top of the row
	Class    string  // CSS classes of the bars
	Title    string
	Range    string // the range as text, for the table
	Excl     string // the excluded ranges as text
	Bars     []mapBar
	Excluded []mapBar
	Ticks    []mapBar
	Outside  []mapBar // live ports outside the host's span
}

// mapBar is a horizontal extent on the axis; C is its centre, where a
// marker points.
type mapBar struct{ X, W, C float64 }

// bar returns the bar of ports r.First..r.Last, at least mapMinBar wide
// and never past the axis.
func bar(r audit.PortRange) mapBar {
	// Both edges are rounded, so that adjacent bars meet exactly.
	x := round1(portX(int(r.First)))
	w := round1(round1(portX(int(r.Last)+1)) - x)
	if w < mapMinBar {
		w = mapMinBar
		if x+w > mapPlotX1 {
			x = round1(mapPlotX1 - w)
		}
	}
	return mapBar{x, w, round1(x + w/2)}
}

// rectPath draws bars as one path of rectangles from y to y+h, joining
// bars that touch once drawn: one element instead of one per range keeps
// the rows of hosts with many excluded blocks small.
func rectPath(bs []mapBar, y, h float64) string {
	var b strings.Builder
	for i := 0; i < len(bs); {
		x, end := bs[i].X, bs[i].X+bs[i].W
		for i++; i < len(bs) && bs[i].X <= end; i++ {
			end = max(end, bs[i].X+bs[i].W)
		}
		w := num(end - x)
		fmt.Fprintf(&b, "M%s %sh%sv%sh-%sz", num(x), num(y), w, num(h), w)
	}
	return b.String()
}

// markerPath draws a downward triangle above each bar's centre: the mark
// of a live endpoint outside the span, a shape besides the colour.
func markerPath(bs []mapBar, y float64) string {
	var b strings.Builder
	for _, r := range bs {
		fmt.Fprintf(&b, "M%s %sl-3 -5h6z", num(r.C), num(y))
	}
	return b.String()
}

// briefRanges names rs after what, listing them when there are few;
// the map's table lists them all.
func briefRanges(what string, rs []audit.PortRange) string {
	if len(rs) <= 4 {
		return what + ": " + audit.FormatRanges(rs)
	}
	return fmt.Sprintf("%s: %d ranges, %d ports", what, len(rs), audit.CountPorts(rs))
}

func bars(rs []audit.PortRange) []mapBar {
	out := make([]mapBar, len(rs))
	for i, r := range rs {
		out[i] = bar(r)
	}
	return out
}

// round1 keeps coordinates to one decimal, which is finer than a pixel at
// any sensible size and keeps the file small.
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// num formats a coordinate for the template.
func num(v float64) string { return strconv.FormatFloat(round1(v), 'f', -1, 64) }

// hostMarks is what the findings say about one host.
type hostMarks struct {
	sev audit.Severity
	ids []string
}

func findingsByHost(fs []audit.Finding) map[string]*hostMarks {
	out := map[string]*hostMarks{}
	for _, f := range fs {
		if f.Host == "" {
			continue
		}
		k := strings.ToLower(f.Host)
		m, ok := out[k]
		if !ok {
			m = &hostMarks{sev: f.Severity}
			out[k] = m
		}
		m.sev = max(m.sev, f.Severity)
		if !slices.Contains(m.ids, f.ID) {
			m.ids = append(m.ids, f.ID)
		}
	}
	for _, m := range out {
		slices.Sort(m.ids)
	}
	return out
}

// liveByHost indexes probe results by lower-case host name, each key's
// ports merged into ranges.
func liveByHost(live map[string][]LivePort) map[string]map[audit.Key][]audit.PortRange {
	out := map[string]map[audit.Key][]audit.PortRange{}
	for name, ps := range live {
		k := strings.ToLower(name)
		if out[k] == nil {
			out[k] = map[audit.Key][]audit.PortRange{}
		}
		for _, p := range ps {
			out[k][p.Key] = append(out[k][p.Key], audit.PortRange{First: p.Port, Last: p.Port})
		}
	}
	for _, byKey := range out {
		for k, rs := range byKey {
			byKey[k] = audit.MergeRanges(rs)
		}
	}
	return out
}

// laneLabel names the keys that share a lane.
func laneLabel(keys []audit.Key) string {
	switch strings.Join(keyNames(keys), " ") {
	case "tcp4 udp4 tcp6 udp6":
		return "all"
	case "tcp4 udp4":
		return "IPv4"
	case "tcp6 udp6":
		return "IPv6"
	case "tcp4 tcp6":
		return "TCP"
	case "udp4 udp6":
		return "UDP"
	}
	return strings.Join(keyNames(keys), " ")
}

func keyNames(keys []audit.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	return out
}

// hostRow builds the row of one host; its signature is equal for hosts
// whose rows look the same, which is what groups them.
func hostRow(est *audit.Estate, h *audit.Host, marks *hostMarks, live map[audit.Key][]audit.PortRange) (*mapRow, string) {
	row := &mapRow{Hosts: []string{h.Name}, sevKey: -1}
	var sig strings.Builder
	if marks != nil {
		row.sevKey = int(marks.sev)
		row.Sev = marks.sev.String()
		row.Mark = strings.ToUpper(row.Sev[:1])
		row.IDs = marks.ids
		fmt.Fprintf(&sig, "f%s%v|", row.Sev, marks.ids)
	}

	ports, inForce, issues := h.Restriction()
	restricted := inForce && len(issues) == 0 && len(ports) > 0

	type laneAcc struct {
		keys     []audit.Key
		eff      audit.Effective
		excluded []audit.PortRange
		live     []audit.PortRange
	}
	var lanes []*laneAcc
	for _, k := range audit.Keys {
		eff := est.Effective(h, k)
		ex := h.ExcludedRanges(k)
		var l *laneAcc
		for _, c := range lanes {
			if c.eff.Range == eff.Range && (c.eff.Origin == audit.Inferred) == (eff.Origin == audit.Inferred) && slices.Equal(c.excluded, ex) {
				l = c
				break
			}
		}
		if l == nil {
			l = &laneAcc{eff: eff, excluded: ex}
			lanes = append(lanes, l)
		}
		l.keys = append(l.keys, k)
		l.live = append(l.live, live[k]...)
	}
	for _, l := range lanes {
		assumed := l.eff.Origin == audit.Inferred
		ln := &mapLane{Label: laneLabel(l.keys), Dyn: true, Class: "dyn", Range: l.eff.Range.String(), Excl: audit.FormatRanges(l.excluded)}
		how := "read from the inputs"
		if assumed {
			ln.Class += " assumed"
			ln.Range += " (assumed)"
			how = "assumed: nothing was read"
		}
		if restricted {
			ln.Class += " unused"
			how += "; not used by RPC, Rpc\\Internet restricts it"
		}
		ln.Title = fmt.Sprintf("%s: dynamic range %s (%s)", strings.Join(keyNames(l.keys), ", "), l.eff.Range, how)
		if len(l.excluded) > 0 {
			ln.Title += "; " + briefRanges("excluded", l.excluded)
		}
		ln.Bars = []mapBar{bar(l.eff.Range)}
		ln.Excluded = bars(l.excluded)
		fmt.Fprintf(&sig, "l%s=%s,%v,%s|", ln.Label, l.eff.Range, assumed, ln.Excl)

		// Live ports outside the span are what a probe exposes: the firewall
		// rules would block them. 135 is the endpoint mapper, always allowed.
		span := []audit.PortRange{l.eff.Range, {First: 135, Last: 135}}
		if restricted {
			span = append(slices.Clone(ports), audit.PortRange{First: 135, Last: 135})
		}
		lv := audit.MergeRanges(l.live)
		out := audit.SubtractRanges(lv, audit.MergeRanges(span))
		ln.Ticks = bars(audit.SubtractRanges(lv, out))
		ln.Outside = bars(out)
		if len(lv) > 0 {
			ln.Title += "; " + briefRanges("live endpoints", lv)
		}
		if len(out) > 0 {
			ln.Title += ", " + briefRanges("outside the span", out)
			fmt.Fprintf(&sig, "o%s|", audit.FormatRanges(out))
		}
		row.Lanes = append(row.Lanes, ln)
	}
	var liveText []string
	for _, k := range audit.Keys {
		if rs := live[k]; len(rs) > 0 {
			liveText = append(liveText, fmt.Sprintf("%s: %d %s", k, audit.CountPorts(rs), plural(audit.CountPorts(rs), "port", "ports")))
		}
	}
	row.Live = strings.Join(liveText, "; ")

	if h.RPC != nil && (len(h.RPC.Ports) > 0 || h.RPC.PortsType != "") {
		ln := &mapLane{Label: "rpc ports", Class: "rpc", Range: audit.FormatRanges(ports)}
		state := "in force"
		switch {
		case len(issues) > 0:
			ln.Label, ln.Class, state = "rpc ports invalid", "rpc bad", "invalid, so Windows rejects it"
		case !inForce:
			ln.Label, ln.Class, state = "rpc ports off", "rpc off", "not in force (UseInternetPorts is N)"
		}
		if ln.Range == "" {
			ln.Range = "no valid entry"
		}
		ln.Title = fmt.Sprintf("Rpc\\Internet ports %s: %s", ln.Range, state)
		row.RPC = ln.Range + " (" + state + ")"
		ln.Bars = bars(ports)
		row.Lanes = append(row.Lanes, ln)
		fmt.Fprintf(&sig, "r%s=%s|", ln.Class, ln.Range)
	}
	return row, sig.String()
}

// buildMap groups identical hosts into rows (rows with findings first, the
// worst first, else in host order) and lays them out.
func buildMap(est *audit.Estate, fs []audit.Finding, live map[string][]LivePort, target *audit.PortRange) *mapView {
	hosts := est.Hosts()
	marks := findingsByHost(fs)
	probed := liveByHost(live)
	m := &mapView{Hosts: len(hosts), Live: live != nil}
	index := map[string]*mapRow{}
	var rows []*mapRow
	for i, h := range hosts {
		lower := strings.ToLower(h.Name)
		row, sig := hostRow(est, h, marks[lower], probed[lower])
		if g, ok := index[sig]; ok {
			g.Hosts = append(g.Hosts, h.Name)
			continue
		}
		row.first = i
		index[sig] = row
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(a, b *mapRow) int {
		if a.sevKey != b.sevKey {
			return b.sevKey - a.sevKey
		}
		return a.first - b.first
	})

	y := mapTop
	for i, r := range rows {
		r.N = i + 1
		r.Y = y
		r.H = 2*mapRowPad + float64(len(r.Lanes)-1)*mapLaneStep + mapLaneH
		for j, ln := range r.Lanes {
			ln.DY = mapRowPad + float64(j)*mapLaneStep
		}
		r.CY = r.H / 2
		r.Stripe = i%2 == 1
		y += r.H
		r.Label = shorten(r.Hosts[0], mapLabelMax)
		if n := len(r.Hosts); n > 1 {
			r.Label += " +" + strconv.Itoa(n-1)
		}
		r.Title = rowTitle(r)
		if r.Sev != "" {
			m.Flagged++
		}
	}
	m.Rows = rows
	m.Height = y + 6
	m.AxisY = mapTop - 4
	m.BandH = m.Height - 2 - m.AxisY
	for _, p := range mapAxisPorts {
		t := mapAxisTick{X: round1(portX(p)), Label: strconv.Itoa(p), Anchor: "middle"}
		switch p {
		case 0:
			t.Anchor = "start"
		case 65535:
			t.X, t.Anchor = mapPlotX1, "end"
		}
		m.Axis = append(m.Axis, t)
	}
	m.Bands, m.Baseline = mapBands(est, target, m.Height)
	m.Desc = fmt.Sprintf("Dynamic port ranges of %d %s in %d %s (identical hosts share a row) on an axis from 0 to 65535, with the baseline %s; %d %s findings. The table after the map lists every row.",
		m.Hosts, plural(m.Hosts, "host", "hosts"), len(rows), plural(len(rows), "row", "rows"), m.Baseline, m.Flagged, plural(m.Flagged, "row has", "rows have"))
	return m
}

// mapBands returns the baseline bands (one per distinct baseline range)
// and the migration target, with the baseline as text.
func mapBands(est *audit.Estate, target *audit.PortRange, height float64) ([]mapBand, string) {
	type acc struct {
		r     audit.PortRange
		keys  []audit.Key
		class string
	}
	var accs []*acc
	for _, k := range audit.Keys {
		r := est.BaselineRange(k).Range
		i := slices.IndexFunc(accs, func(a *acc) bool { return a.r == r })
		if i < 0 {
			accs = append(accs, &acc{r: r, class: "baseline"})
			i = len(accs) - 1
		}
		accs[i].keys = append(accs[i].keys, k)
	}
	var text []string
	var out []mapBand
	for _, a := range accs {
		label := "baseline " + a.r.String()
		if len(accs) > 1 {
			label += " (" + laneLabel(a.keys) + ")"
			text = append(text, a.r.String()+" for "+strings.Join(keyNames(a.keys), ", "))
		} else {
			text = append(text, a.r.String())
		}
		out = append(out, band("baseline", a.r, label, height))
	}
	if target != nil {
		out = append(out, band("target", *target, "target "+target.String(), height))
	}
	// Labels of bands that start at the same place would overlap; the later
	// one moves up a line.
	for i := range out {
		for j := range i {
			if out[j].LabelX == out[i].LabelX && out[j].LabelY == out[i].LabelY {
				out[i].LabelY -= 12
			}
		}
	}
	return out, strings.Join(text, "; ")
}

func band(class string, r audit.PortRange, label string, height float64) mapBand {
	b := bar(r)
	mb := mapBand{Class: class, X: b.X, W: b.W, Label: label, LabelY: 26, Anchor: "start", LabelX: b.X}
	// A band in the right half is labelled from its right edge, so that
	// the label stays inside the picture.
	if b.X > (mapPlotX0+mapPlotX1)/2 {
		mb.Anchor, mb.LabelX = "end", round1(b.X+b.W)
	}
	return mb
}

func rowTitle(r *mapRow) string {
	var b strings.Builder
	n := len(r.Hosts)
	if n == 1 {
		b.WriteString(r.Hosts[0])
	} else {
		fmt.Fprintf(&b, "%d identical hosts: %s", n, strings.Join(r.Hosts[:min(n, mapTitleMax)], ", "))
		if n > mapTitleMax {
			fmt.Fprintf(&b, " and %d more", n-mapTitleMax)
		}
	}
	if r.Sev != "" {
		fmt.Fprintf(&b, "; worst finding: %s (%s)", r.Sev, strings.Join(r.IDs, ", "))
	}
	return b.String()
}

// shorten cuts s to max runes, marking the cut with an ellipsis.
func shorten(s string, max int) string {
	rs := []rune(s)
	if len(rs) <= max {
		return s
	}
	return string(rs[:max-1]) + "…"
}
