package ingest

import (
	"io"
)

// ReadCSV reads a CSV inventory (placeholder).
func ReadCSV(r io.Reader, file string) (*Result, error) {
	return &Result{Kind: KindCSV}, nil
}
