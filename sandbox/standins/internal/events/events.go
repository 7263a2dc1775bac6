// Package events appends lines to the sandbox host's event log, which tests
// read to count what was installed, started and stopped on each host.
package events

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Path is the event log inside a sandbox host.
const Path = "/var/log/kboot-sandbox/events.log"

// LogDir contains the event log and the per-unit output logs.
const LogDir = "/var/log/kboot-sandbox"

// Root prefixes every path the stand-ins touch. It is "/" in a sandbox host;
// tests set KBOOT_STANDIN_ROOT to run stand-ins against a scratch directory.
func Root() string {
	if r := os.Getenv("KBOOT_STANDIN_ROOT"); r != "" {
		return r
	}
	return "/"
}

// Append writes "<RFC3339 time> <kind> <name>" as one write on an O_APPEND
// descriptor, so lines from concurrent stand-ins never interleave.
func Append(root, kind, name string) error {
	path := filepath.Join(root, Path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create event log directory for %s %s: %w", kind, name, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open event log %s: %w", path, err)
	}
	defer f.Close()
	line := fmt.Sprintf("%s %s %s\n", time.Now().UTC().Format(time.RFC3339), kind, name)
	if _, err := f.Write([]byte(line)); err != nil {
		return fmt.Errorf("append %q to event log %s: %w", line, path, err)
	}
	return nil
}
