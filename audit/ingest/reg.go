package ingest

// scanReg is a placeholder until the reader is written.
func scanReg(c *capture, lines []string) {}
