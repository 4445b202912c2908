package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/rpcspan/rpcspan/audit"
)

// Options are the inputs to Load besides the file paths.
type Options struct {
	// Stdin is read for the input "-".
	Stdin io.Reader
	// Hosts are --host flags: "NAME=ADDR[,ADDR...]" (ParseHostFlag).
	Hosts []string
	// Ranges are --range flags: "NAME:KEY=RANGE" (ParseRangeFlag).
	Ranges []string
}

// Stats accounts for every file and host Load saw.
type Stats struct {
	Files    int            // files read and recognised
	ByKind   map[Kind]int   // recognised files per kind
	Skipped  []SkippedFile  // files found in folders that hold nothing rpcspan reads
	Hosts    int            // hosts in the estate
	Problems int            // values that could not be read
	Formats  map[string]int // capture formats seen, by name, counting files
}

// SkippedFile is a file found while walking a folder that is not in any
// format rpcspan reads (a README, a screenshot).
type SkippedFile struct {
	Path   string
	Reason string
}

// input is one file to read, with what decides its host.
type input struct {
	path  string // as the user would write it
	root  string // the folder given on the command line that holds it, or ""
	host  string // host forced by an inventory's captures list, or ""
	named bool   // given by name on the command line (not found by walking)
}

// Load reads inventories, captures and folders (recursively) and merges
// everything into one estate. A folder's hidden entries (names starting
// with ".") are not read. Captures an inventory lists are read too, even
// when they are not named on the command line.
//
// The host of a capture is, in order: named inside it (collector JSON), the
// host whose inventory lists it under captures:, the first folder below the
// input folder that holds it, or its file name without extension.
//
// Load returns an error only when the run cannot go on: an input that does
// not exist or cannot be read, a file that cannot be parsed at all, or a bad
// flag. Bad values inside readable files are kept as the estate's Problems.
func Load(paths []string, opt Options) (*audit.Estate, *Stats, error) {
	l := &loader{
		est:    audit.NewEstate(),
		stats:  &Stats{ByKind: map[Kind]int{}, Formats: map[string]int{}},
		seen:   map[string]bool{},
		walked: map[string]bool{},
		opt:    opt,
	}
	var first []input
	for _, p := range paths {
		in, err := l.expand(p, "", true)
		if err != nil {
			return nil, nil, err
		}
		first = append(first, in...)
	}
	results, err := l.readAll(first)
	if err != nil {
		return nil, nil, err
	}
	// Inventories first: they name hosts and say which captures are whose.
	forced := map[string]string{}     // absolute capture path -> host
	forcedDirs := map[string]string{} // absolute capture folder -> host
	var second []input
	for i, r := range results {
		if r.Kind != KindInventory && r.Kind != KindCSV {
			continue
		}
		if err := l.addInventory(first[i], r); err != nil {
			return nil, nil, err
		}
		base := filepath.Dir(first[i].path)
		for _, h := range r.Hosts {
			for _, c := range h.Captures {
				p := filepath.Join(base, filepath.FromSlash(c))
				abs := absPath(p)
				if l.walked[abs] {
					// A folder walked already: its files are queued.
					forcedDirs[abs] = h.Name
					continue
				}
				fi, err := os.Stat(p)
				if err != nil {
					l.est.Problem(audit.Problem{Src: h.NameSrc, Host: h.Name, Msg: fmt.Sprintf("capture %q listed for the host cannot be read: %v", c, unwrapPathError(err))})
					continue
				}
				if fi.IsDir() {
					forcedDirs[abs] = h.Name
				} else if prev, ok := forced[abs]; ok && !strings.EqualFold(prev, h.Name) {
					l.est.Problem(audit.Problem{Src: h.NameSrc, Host: h.Name, Msg: fmt.Sprintf("capture %q is already listed for host %s; it stays with %s", c, prev, prev)})
				} else {
					forced[abs] = h.Name
				}
				in, err := l.expand(p, "", false)
				if err != nil {
					l.est.Problem(audit.Problem{Src: h.NameSrc, Host: h.Name, Msg: fmt.Sprintf("capture %q: %v", c, err)})
					continue
				}
				second = append(second, in...)
			}
		}
	}
	more, err := l.readAll(second)
	if err != nil {
		return nil, nil, err
	}
	all := append(first, second...)
	results = append(results, more...)
	for i, r := range results {
		in := all[i]
		if r.Kind == KindInventory || r.Kind == KindCSV {
			continue
		}
		abs := absPath(in.path)
		if h, ok := forced[abs]; ok {
			in.host = h
		} else {
			// The nearest listed folder above the file decides.
			for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
				if h, ok := forcedDirs[dir]; ok {
					in.host = h
					break
				}
				if parent := filepath.Dir(dir); parent == dir {
					break
				}
			}
		}
		l.addCapture(in, r)
	}
	if err := l.addFlags(); err != nil {
		return nil, nil, err
	}
	l.stats.Hosts = l.est.Len()
	l.stats.Problems = len(l.est.Problems)
	return l.est, l.stats, nil
}

type loader struct {
	est    *audit.Estate
	stats  *Stats
	seen   map[string]bool // absolute paths of files already queued
	walked map[string]bool // absolute paths of folders already walked
	opt    Options
}

// expand turns one path into the files to read: itself, or every file
// below it when it is a folder.
func (l *loader) expand(p, root string, named bool) ([]input, error) {
	if p == "-" {
		if l.seen["-"] {
			return nil, nil
		}
		l.seen["-"] = true
		return []input{{path: "-", named: true}}, nil
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, unwrapPathError(err))
	}
	if !fi.IsDir() {
		abs := absPath(p)
		if l.seen[abs] {
			return nil, nil
		}
		l.seen[abs] = true
		return []input{{path: p, root: root, named: named}}, nil
	}
	var out []input
	err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", q, unwrapPathError(err))
		}
		if q != p && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			l.walked[absPath(q)] = true
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		abs := absPath(q)
		if !l.seen[abs] {
			l.seen[abs] = true
			out = append(out, input{path: q, root: p})
		}
		return nil
	})
	return out, err
}

// readAll reads and parses files in parallel, keeping their order.
func (l *loader) readAll(ins []input) ([]*Result, error) {
	results := make([]*Result, len(ins))
	errs := make([]error, len(ins))
	workers := min(runtime.GOMAXPROCS(0)*2, len(ins))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = l.readOne(ins[i])
			}
		}()
	}
	for i := range ins {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, err
		}
		if r := results[i]; r.Fatal != nil {
			return nil, r.Fatal
		}
	}
	return results, nil
}

func (l *loader) readOne(in input) (*Result, error) {
	var r io.Reader
	if in.path == "-" {
		if l.opt.Stdin == nil {
			return nil, errors.New("reading -: no standard input")
		}
		r = l.opt.Stdin
	} else {
		f, err := os.Open(in.path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", in.path, unwrapPathError(err))
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Size() > 0 && fi.Size() <= MaxFileSize {
			// Read into a buffer of the right size: io.ReadAll's
			// doubling costs more than the parsing on 20,000 files.
			b := make([]byte, fi.Size()+1)
			n, err := io.ReadFull(f, b)
			if err != nil && err != io.ErrUnexpectedEOF {
				return nil, fmt.Errorf("reading %s: %w", in.path, err)
			}
			if n <= int(fi.Size()) {
				return parseOwned(b[:n], in.path), nil
			}
			// The file grew while being read: read the rest normally.
			r = io.MultiReader(bytes.NewReader(b[:n]), f)
		} else {
			r = f
		}
	}
	b, err := readAll(r, in.path)
	if err != nil {
		return nil, err
	}
	return parseOwned(b, in.path), nil
}

// Parse recognises what the bytes of one file hold and reads them.
func Parse(b []byte, file string) *Result { return parseText(Decode(b), file) }

func parseOwned(b []byte, file string) *Result { return parseText(decodeOwned(b), file) }

func parseText(text, file string) *Result {
	var (
		r   *Result
		err error
	)
	switch Detect(text, file) {
	case KindCollector:
		r, err = ReadCollector(strings.NewReader(text), file)
	case KindInventory:
		r, err = ReadInventory(strings.NewReader(text), file)
	case KindCSV:
		r, err = ReadCSV(strings.NewReader(text), file)
	default:
		r = parseCapture(text, file)
	}
	if err != nil { // only I/O errors, impossible on a strings.Reader
		return &Result{Fatal: err}
	}
	return r
}

// Detect tells which kind of file the decoded text is. Captures are not
// told apart here: a file that is none of the structured kinds is scanned
// for every capture format.
func Detect(text, file string) Kind {
	t := strings.TrimLeft(strings.TrimPrefix(text, "\uFEFF"), " \t\n")
	if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		if IsCollectorJSON(t) {
			return KindCollector
		}
		if isInventoryJSON(t) {
			return KindInventory
		}
		return KindCapture
	}
	ext := strings.ToLower(filepath.Ext(file))
	if ext == ".yaml" || ext == ".yml" {
		return KindInventory
	}
	rest := t
	for range 200 {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		if strings.HasPrefix(line, "hosts:") || strings.HasPrefix(line, "baseline:") || strings.HasPrefix(line, "policy:") {
			return KindInventory
		}
		if rest == "" {
			break
		}
	}
	head, _, _ := strings.Cut(t, "\n")
	fields := strings.Split(strings.ToLower(strings.TrimSpace(head)), ",")
	if len(fields) >= 2 && strings.Trim(fields[0], `" `) == "name" {
		return KindCSV
	}
	return KindCapture
}

// isInventoryJSON reports whether t is a JSON object with a "hosts" key at
// the top, or only inventory keys. Other JSON (an nft -j ruleset has a
// chain "policy" deep inside) is not an inventory. Broken JSON that
// mentions "hosts" is treated as an inventory so that its syntax error is
// reported instead of the file being skipped.
func isInventoryJSON(t string) bool {
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(t), &top); err != nil {
		return strings.Contains(t, `"hosts"`)
	}
	if _, ok := top["hosts"]; ok {
		return true
	}
	for k := range top {
		if k != "baseline" && k != "policy" {
			return false
		}
	}
	return len(top) > 0
}

func (l *loader) addInventory(in input, r *Result) error {
	l.count(in, r)
	for k, o := range r.Baseline {
		l.est.Baseline[k] = o
	}
	l.est.Policy = append(l.est.Policy, r.Policy...)
	l.est.PolicySet = l.est.PolicySet || r.PolicySet
	for _, h := range r.Hosts {
		h.Sources = append(h.Sources, audit.Source{File: in.path})
		l.est.Add(h)
	}
	for _, p := range r.Problems {
		l.est.Problem(p)
	}
	return nil
}

func (l *loader) addCapture(in input, r *Result) {
	for _, p := range r.Problems {
		l.est.Problem(p)
	}
	if r.Kind == KindUnknown {
		if in.named {
			l.est.Problem(audit.Problem{Src: audit.Source{File: in.path}, Msg: "not a capture, inventory or collector file rpcspan reads"})
		} else {
			l.stats.Skipped = append(l.stats.Skipped, SkippedFile{Path: in.path, Reason: "not a format rpcspan reads"})
		}
		return
	}
	l.count(in, r)
	for _, h := range r.Hosts {
		if h.Name == "" {
			h.Name = captureHost(in)
			if err := audit.ValidHostName(h.Name); err != nil {
				l.est.Problem(audit.Problem{Src: audit.Source{File: in.path}, Msg: fmt.Sprintf("cannot tell which host this capture belongs to (%v): put it in a folder named after the host or list it under the host's captures: in an inventory", err)})
				continue
			}
		}
		h.Sources = append(h.Sources, audit.Source{File: in.path})
		l.est.Add(h)
	}
}

func (l *loader) count(in input, r *Result) {
	l.stats.Files++
	l.stats.ByKind[r.Kind]++
	for _, f := range r.Formats {
		l.stats.Formats[f]++
	}
}

// captureHost decides a capture's host from its path when nothing else
// does: the inventory's choice, the first folder below the input folder, or
// the file name without its extension.
func captureHost(in input) string {
	if in.host != "" {
		return in.host
	}
	if in.root != "" {
		if rel, err := filepath.Rel(in.root, in.path); err == nil {
			if dir, _, ok := strings.Cut(filepath.ToSlash(rel), "/"); ok {
				return dir
			}
		}
	}
	base := filepath.Base(in.path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

func (l *loader) addFlags() error {
	for _, f := range l.opt.Hosts {
		h, err := ParseHostFlag(f)
		if err != nil {
			return err
		}
		l.est.Add(h)
	}
	for _, f := range l.opt.Ranges {
		name, obs, err := ParseRangeFlag(f)
		if err != nil {
			return err
		}
		h := l.est.Host(name)
		h.Ranges = append(h.Ranges, obs...)
		if h.NameSrc.IsZero() {
			h.NameSrc = obs[0].Src
		}
	}
	return nil
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}

// unwrapPathError drops the *fs.PathError wrapper whose text repeats the
// path the caller already names.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// sortedKinds returns the kinds in s.ByKind in a stable order.
func (s *Stats) sortedKinds() []Kind {
	var ks []Kind
	for k := range s.ByKind {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Summary says in one line what was read, for standard error.
func (s *Stats) Summary() string {
	var parts []string
	for _, k := range s.sortedKinds() {
		parts = append(parts, fmt.Sprintf("%d %s", s.ByKind[k], k))
	}
	line := fmt.Sprintf("read %d %s", s.Files, plural(s.Files, "file", "files"))
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	line += fmt.Sprintf(", %d %s", s.Hosts, plural(s.Hosts, "host", "hosts"))
	line += fmt.Sprintf(", %d %s", s.Problems, plural(s.Problems, "problem", "problems"))
	if n := len(s.Skipped); n > 0 {
		line += fmt.Sprintf(", %d %s skipped", n, plural(n, "file", "files"))
	}
	return line
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
