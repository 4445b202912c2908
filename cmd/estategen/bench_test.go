package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/ingest"
	"github.com/rpcspan/rpcspan/audit/report"
	"github.com/rpcspan/rpcspan/audit/rulebase"
)

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error

	bigOnce sync.Once
	bigEst  *audit.Estate
	bigErr  error
)

// benchEstate writes the 10,000-host estate once per test binary.
// RPCSPAN_BENCH_DIR names an estate written before (go run ./cmd/estategen
// -hosts 10000 -seed 1 -out DIR), to profile reading without writing.
func benchEstate(b *testing.B) string {
	if dir := os.Getenv("RPCSPAN_BENCH_DIR"); dir != "" {
		return dir
	}
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "rpcspan-bench")
		if benchErr == nil {
			_, benchErr = Generate(filepath.Join(benchDir, "estate"), 10000, 1)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return filepath.Join(benchDir, "estate")
}

// BenchmarkIngest reads a synthetic estate of 10,000 hosts (inventory plus
// about 20,700 capture files in mixed formats and encodings) and builds its
// printable inventory. Target: at most 1 s and 300 MB peak on 2 cores.
//
//	go test ./cmd/estategen -run '^$' -bench Ingest -benchtime 5x
func BenchmarkIngest(b *testing.B) {
	dir := benchEstate(b)
	b.ReportAllocs()
	var hosts int
	for b.Loop() {
		est, stats, err := ingest.Load([]string{dir}, ingest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if stats.Problems != 0 {
			b.Fatalf("%d problems reading the synthetic estate", stats.Problems)
		}
		hosts = len(report.NewInventory(est).Hosts)
	}
	if hosts != 10000 {
		b.Fatalf("read %d hosts, want 10000", hosts)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-MB")
	}
}

// bigEstate reads a 100,000-host estate written by Generate, once:
// RPCSPAN_BENCH_DIR_100K names one written before (go run ./cmd/estategen
// -hosts 100000 -seed 1 -out DIR), else it is written to a temporary folder.
func bigEstate(b *testing.B) *audit.Estate {
	bigOnce.Do(func() {
		dir := os.Getenv("RPCSPAN_BENCH_DIR_100K")
		if dir == "" {
			tmp, err := os.MkdirTemp("", "rpcspan-bench100k")
			if err != nil {
				bigErr = err
				return
			}
			defer os.RemoveAll(tmp)
			dir = filepath.Join(tmp, "estate")
			if _, bigErr = Generate(dir, 100000, 1); bigErr != nil {
				return
			}
		}
		bigEst, _, bigErr = ingest.Load([]string{dir}, ingest.Options{})
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigEst
}

// BenchmarkAuditFlows100k runs every check and builds the aggregated plan
// of a 100,000-host estate from Generate, read once beforehand. Target: at
// most 2 s and 1 GB peak on 2 cores.
//
//	go test ./cmd/estategen -run '^$' -bench AuditFlows100k -benchtime 3x -timeout 30m
func BenchmarkAuditFlows100k(b *testing.B) {
	debug.SetMemoryLimit(768 << 20) // as rpcspan's main does
	est := bigEstate(b)
	b.ReportAllocs()
	b.ResetTimer()
	var findings, rules int
	for b.Loop() {
		findings = len(audit.Check(est, audit.CheckOptions{}))
		rules = len(audit.BuildPlan(est).Rules)
	}
	b.ReportMetric(float64(findings), "findings")
	b.ReportMetric(float64(rules), "rules")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-MB")
	}
}

// BenchmarkAuditRules100k evaluates the plan of the 100,000-host estate
// from Generate against the rule base WriteRules writes for it (about
// 100,900 iptables rules), both read once beforehand: rule-gap, -unknown,
// -overbroad and -stale. Target: at most 3 s and 1.5 GB peak on 2 cores.
//
//	go test ./cmd/estategen -run '^$' -bench AuditRules100k -benchtime 3x -timeout 30m
func BenchmarkAuditRules100k(b *testing.B) {
	debug.SetMemoryLimit(768 << 20) // as rpcspan's main does
	est := bigEstate(b)
	path := filepath.Join(b.TempDir(), "estate.rules")
	if _, err := WriteRules(path, 100000, 1); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	base, err := rulebase.ParseIptablesSave(f, path)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var findings int
	for b.Loop() {
		plan := audit.BuildPlan(est)
		findings = len(rulebase.Findings(est, plan, []*rulebase.Base{base}, rulebase.Options{}))
	}
	b.ReportMetric(float64(findings), "findings")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-MB")
	}
}
