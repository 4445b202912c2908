package ingest

import (
	"io"
)

// ReadInventory reads a YAML or JSON inventory file (placeholder).
func ReadInventory(r io.Reader, file string) (*Result, error) {
	return &Result{Kind: KindInventory}, nil
}
