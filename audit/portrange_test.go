package audit

import (
	"testing"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in      string
		want    PortRange
		wantErr string
	}{
		{in: "49152-65535", want: PortRange{49152, 65535}},
		{in: " 1025 - 5000 ", want: PortRange{1025, 5000}},
		{in: "49152+16384", want: PortRange{49152, 65535}},
		{in: "1025+3976", want: PortRange{1025, 5000}},
		{in: "5984", want: PortRange{5984, 5984}},
		{in: "0", want: PortRange{0, 0}},
		{in: "65535", want: PortRange{65535, 65535}},
		// Parses, but breaks the netsh limits: the audit judges that.
		{in: "1000+100", want: PortRange{1000, 1099}},
		{in: "1025-1100", want: PortRange{1025, 1100}},
		{in: "49152-70000", wantErr: `port range "49152-70000": last: port 70000 outside 0-65535`},
		{in: "lots", wantErr: `port range "lots": "lots" is not a port number`},
		{in: "", wantErr: `empty port range`},
		{in: "49152+", wantErr: `port range "49152+": count: missing number of ports`},
		{in: "49152+x", wantErr: `port range "49152+x": count: "x" is not a number of ports`},
		{in: "49152+0", wantErr: `port range "49152+0": count: number of ports must be at least 1`},
		{in: "49152+16385", wantErr: `port range "49152+16385": ends at 65536, beyond 65535`},
		{in: "70000+10", wantErr: `port range "70000+10": start: port 70000 outside 0-65535`},
		{in: "5000-1025", wantErr: `port range "5000-1025": last port below first`},
		{in: "-5", wantErr: `port range "-5": first: missing port number`},
		{in: "1-2-3", wantErr: `port range "1-2-3": last: "2-3" is not a port number`},
		{in: "99999999999999999999", wantErr: `port range "99999999999999999999": port 99999999999999999999 outside 0-65535`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRange(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseRange(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRange(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPortRangeMethods(t *testing.T) {
	r := PortRange{49152, 65535}
	if r.Len() != 16384 || r.String() != "49152-65535" || !r.Contains(50000) || r.Contains(135) {
		t.Fatalf("PortRange methods wrong for %v", r)
	}
	if s, n := r.NetshArgs(); s != 49152 || n != 16384 {
		t.Fatalf("NetshArgs() = %d, %d", s, n)
	}
	if (PortRange{135, 135}).String() != "135" {
		t.Fatal("single port String")
	}
	limits := []struct {
		r    PortRange
		want bool
	}{
		{DefaultRange, true},
		{LegacyRange, true},
		{Exchange2007Range, true},
		{PortRange{1024, 65534}, false}, // the Visual Studio installer image's range
		{PortRange{1025, 1278}, false},  // 254 ports
		{PortRange{1025, 1279}, true},   // 255 ports
	}
	for _, l := range limits {
		if got := l.r.WithinNetshLimits(); got != l.want {
			t.Errorf("%v.WithinNetshLimits() = %v, want %v", l.r, got, l.want)
		}
	}
	if !(PortRange{1, 10}).Overlaps(PortRange{10, 20}) || (PortRange{1, 9}).Overlaps(PortRange{10, 20}) {
		t.Error("Overlaps wrong")
	}
}

func TestRangeFromStartCount(t *testing.T) {
	if r, err := RangeFromStartCount(1024, 64511); err != nil || r != (PortRange{1024, 65534}) {
		t.Fatalf("RangeFromStartCount(1024, 64511) = %v, %v", r, err)
	}
	for _, c := range [][2]int{{70000, 10}, {-1, 10}, {49152, 0}, {65535, 2}} {
		if _, err := RangeFromStartCount(c[0], c[1]); err == nil {
			t.Errorf("RangeFromStartCount(%d, %d): no error", c[0], c[1])
		}
	}
}

func TestPortRangeText(t *testing.T) {
	var r PortRange
	if err := r.UnmarshalText([]byte("1025+3976")); err != nil || r != LegacyRange {
		t.Fatalf("UnmarshalText = %v, %v", r, err)
	}
	b, _ := r.MarshalText()
	if string(b) != "1025-5000" {
		t.Fatalf("MarshalText = %s", b)
	}
	if err := r.UnmarshalText([]byte("x")); err == nil {
		t.Fatal("UnmarshalText(x): no error")
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"49152-65535", "49152+16384", "5984", "1-2-3", "+", "-", " 1 + 2 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err != nil {
			return
		}
		if r.First > r.Last {
			t.Fatalf("ParseRange(%q) = %v: first above last", s, r)
		}
		back, err := ParseRange(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRange(%q) = %v does not round-trip: %v, %v", s, r, back, err)
		}
	})
}
