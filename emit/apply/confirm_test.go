package apply

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// errReader fails every read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("broken terminal") }

func TestConfirm(t *testing.T) {
	tests := []struct {
		name   string
		answer io.Reader
		want   bool
	}{
		{"yes", strings.NewReader("yes\n"), true},
		{"y", strings.NewReader("y\n"), true},
		{"YES with spaces and CRLF", strings.NewReader("  YES \r\n"), true},
		{"y without newline at EOF", strings.NewReader("y"), true},
		{"no", strings.NewReader("no\n"), false},
		{"empty line", strings.NewReader("\n"), false},
		{"yes later", strings.NewReader("maybe\nyes\n"), false},
		{"yesterday", strings.NewReader("yesterday\n"), false},
		{"EOF", strings.NewReader(""), false},
		{"read error", errReader{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var prompt bytes.Buffer
			if got := Confirm(context.Background(), &prompt, tc.answer, 5*time.Second); got != tc.want {
				t.Errorf("Confirm(%s) = %v, want %v", tc.name, got, tc.want)
			}
			if !strings.HasPrefix(prompt.String(), "Keep the new rules? Type yes within 5s, or they are rolled back: ") {
				t.Errorf("prompt = %q", prompt.String())
			}
		})
	}
}

// Silence rolls back: a reader that never answers times out at d, and a
// cancelled context or a zero duration give false at once.
func TestConfirmTimeout(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	var prompt bytes.Buffer
	start := time.Now()
	if Confirm(context.Background(), &prompt, pr, 50*time.Millisecond) {
		t.Error("Confirm with no answer = true, want false")
	}
	if el := time.Since(start); el < 50*time.Millisecond || el > 5*time.Second {
		t.Errorf("Confirm returned after %v, want about 50ms", el)
	}
	if !strings.HasSuffix(prompt.String(), "rolled back: \n") {
		t.Errorf("prompt after timeout = %q, want it to end the line", prompt.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Confirm(ctx, io.Discard, pr, time.Hour) {
		t.Error("Confirm with a cancelled context = true")
	}
	if Confirm(context.Background(), io.Discard, strings.NewReader("yes\n"), 0) {
		t.Error("Confirm with d = 0 = true")
	}
}

// An answer that comes in time counts even when it arrives late in the
// window.
func TestConfirmSlowAnswer(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		time.Sleep(20 * time.Millisecond)
		io.WriteString(pw, "yes\n")
	}()
	if !Confirm(context.Background(), io.Discard, pr, 5*time.Second) {
		t.Error("Confirm with a slow yes = false")
	}
	pw.Close()
}
