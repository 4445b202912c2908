package ingest

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf16"
)

// utf16LE encodes s as UTF-16LE, as Windows PowerShell 5.1's ">" and
// regedit write files, after a byte order mark when bom is set. Line ends
// stay as s has them.
func utf16LE(s string, bom bool) []byte {
	var b []byte
	if bom {
		b = append(b, 0xFF, 0xFE)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

// readTestdata returns the file at testdata/elem..., failing the test when
// it cannot be read.
func readTestdata(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedDir adds every file of dir except SOURCES.tsv as a fuzz seed.
func seedDir(f *testing.F, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "SOURCES.tsv" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
