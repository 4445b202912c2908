package apply

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Confirm asks on prompt whether to keep the rules just applied and reads
// one line from answer. It returns true only when that line is "yes" or
// "y" (any case, surrounding spaces ignored) and arrives within d; a
// timeout, end of input, a read error, a cancelled ctx or any other answer
// is false, so that the caller rolls back: an operator who locked himself
// out cannot answer, and silence must undo the change.
//
// The line is read on a goroutine; when the time runs out first, that
// goroutine stays blocked on answer until the reader returns (standard
// input at process exit), which is harmless for a command that ends after
// the rollback.
func Confirm(ctx context.Context, prompt io.Writer, answer io.Reader, d time.Duration) bool {
	if d <= 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	fmt.Fprintf(prompt, "Keep the new rules? Type yes within %v, or they are rolled back: ", d)
	got := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(answer).ReadString('\n')
		if err != nil && line == "" {
			close(got)
			return
		}
		got <- line
	}()
	select {
	case line, ok := <-got:
		if !ok {
			fmt.Fprintln(prompt)
			return false
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "yes", "y":
			return true
		}
		return false
	case <-ctx.Done():
		// The prompt line is still open; end it so that the caller's next
		// message starts on its own line.
		fmt.Fprintln(prompt)
		return false
	}
}
