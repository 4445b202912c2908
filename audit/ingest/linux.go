package ingest

// scanLinux is a placeholder until the reader is written.
func scanLinux(c *capture, lines []string) {}
