package ingest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse runs detection and every reader on any input, seeded with
// every test file of the package: whatever a file holds, reading it must
// not panic or hang, and every fact and problem must point into the file.
func FuzzParse(f *testing.F) {
	_ = filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "SOURCES.tsv") || strings.Contains(p, string(filepath.Separator)+"fuzz"+string(filepath.Separator)) {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, filepath.Base(p))
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		r := Parse(b, "f.txt")
		if r.Fatal != nil {
			if !strings.HasPrefix(r.Fatal.Error(), "f.txt") {
				t.Fatalf("fatal error %q does not name the file", r.Fatal)
			}
			return
		}
		lines := strings.Count(Decode(b), "\n") + 1
		for _, p := range r.Problems {
			if p.Src.File != "f.txt" || p.Src.Line > lines {
				t.Fatalf("problem %v points outside the file (%d lines)", p, lines)
			}
		}
		for _, h := range r.Hosts {
			for _, o := range h.Ranges {
				if o.Range.First > o.Range.Last || o.Src.Line < 1 || o.Src.Line > lines {
					t.Fatalf("bad range observation %+v (%d lines)", o, lines)
				}
			}
			for _, e := range h.Excluded {
				if e.Range.First > e.Range.Last {
					t.Fatalf("bad excluded range %+v", e)
				}
			}
		}
	})
}
