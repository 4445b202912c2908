package ingest

import (
	"io"
)

// ReadCollector reads the JSON written by the collector script (placeholder).
func ReadCollector(r io.Reader, file string) (*Result, error) {
	return &Result{Kind: KindCollector}, nil
}
