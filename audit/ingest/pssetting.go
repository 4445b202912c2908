package ingest

// scanPSSetting is a placeholder until the reader is written.
func scanPSSetting(c *capture, lines []string) {}
