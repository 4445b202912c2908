package ingest

// scanNetsh is a placeholder until the reader is written.
func scanNetsh(c *capture, lines []string) {}
