package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	hosts := flag.Int("hosts", 40, "number of hosts (1-100000)")
	seed := flag.Uint64("seed", 1, "seed of the generator; each seed gives another estate")
	out := flag.String("out", "", "folder to write (required)")
	rules := flag.String("rules", "", "also write a matching iptables-save rule base to `FILE` (for rpcspan audit --rules)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: estategen -hosts N -seed S -out DIR [-rules FILE]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	st, err := Generate(*out, *hosts, *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "estategen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "estategen: %d hosts, %d files, %d bytes in %s\n", st.Hosts, st.Files, st.Bytes, *out)
	if *rules != "" {
		n, err := WriteRules(*rules, *hosts, *seed)
		if err != nil {
			fmt.Fprintln(os.Stderr, "estategen:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "estategen: %d rules in %s\n", n, *rules)
	}
}
