package ingest

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestInvProbe(t *testing.T) {
	b, _ := os.ReadFile("/tmp/invhang.yaml")
	start := time.Now()
	r, _ := ReadInventory(strings.NewReader(string(b)), "x.yaml")
	t.Logf("%v %v %d", time.Since(start), r.Fatal, len(r.Problems))
}
