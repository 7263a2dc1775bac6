// Package systemctl is the sandbox stand-in for systemctl and journalctl.
// systemctl sends each invocation to the systemd stand-in's control socket
// and prints what it returns; journalctl prints the per-unit log files the
// stand-in writes in place of the journal.
package systemctl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"kboot/sandbox/standins/internal/ctl"
	"kboot/sandbox/standins/internal/events"
	"kboot/sandbox/standins/internal/unit"
)

const usage = `systemctl [OPTIONS...] {COMMAND} ...

Sandbox stand-in for systemctl (systemd 219, CentOS 7). It keeps systemctl's
commands, output formats and exit codes for: start, stop, restart,
try-restart, reload, reload-or-restart, enable [--now], disable [--now],
mask, unmask, is-active, is-enabled, is-failed, is-system-running,
daemon-reload, reset-failed, status, cat, show [-p PROP[,PROP]] [--value],
list-units. It talks to the sandbox systemd stand-in, not to D-Bus.

Options:
  -h --help           Show this help
  -p --property=NAME  Show only this property (repeatable, comma-separated)
     --value          With show: print values only
     --now            With enable/disable: also start/stop the unit
  -q --quiet          Suppress output of is-active, is-enabled, is-failed
     --no-block       Do not wait for the job to finish
  -n --lines=N        With status: number of log lines (default 10)
  -a --all            Show all properties or units, including empty ones
     --no-pager, --no-legend, -l, --full, --system, --no-ask-password
                      Accepted and ignored
`

// Main runs systemctl with the arguments after argv[0].
func Main(args []string) int {
	req := ctl.Request{}
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, bool) {
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			return "", false
		}
		switch {
		case a == "-h" || a == "--help":
			fmt.Print(usage)
			return 0
		case a == "--version":
			fmt.Println("systemd 219 (kboot sandbox stand-in)")
			return 0
		case a == "-p" || a == "--property":
			v, ok := next()
			if !ok {
				fmt.Fprintf(os.Stderr, "systemctl: option '%s' requires an argument\n", a)
				return 1
			}
			req.Properties = append(req.Properties, v)
		case strings.HasPrefix(a, "--property="):
			req.Properties = append(req.Properties, strings.TrimPrefix(a, "--property="))
		case strings.HasPrefix(a, "-p") && len(a) > 2 && !strings.HasPrefix(a, "--"):
			req.Properties = append(req.Properties, a[2:])
		case a == "--value":
			req.Value = true
		case a == "--now":
			req.Now = true
		case a == "-q" || a == "--quiet":
			req.Quiet = true
		case a == "--no-block":
			req.NoBlock = true
		case a == "-a" || a == "--all":
			req.All = true
		case a == "-n" || a == "--lines":
			v, ok := next()
			n, err := strconv.Atoi(v)
			if !ok || err != nil {
				fmt.Fprintf(os.Stderr, "systemctl: invalid --lines value %q: expected a number\n", v)
				return 1
			}
			req.Lines = n
		case strings.HasPrefix(a, "--lines="):
			n, err := strconv.Atoi(strings.TrimPrefix(a, "--lines="))
			if err != nil {
				fmt.Fprintf(os.Stderr, "systemctl: invalid %s: expected a number\n", a)
				return 1
			}
			req.Lines = n
		case a == "--no-pager" || a == "--no-legend" || a == "-l" || a == "--full" || a == "--system" ||
			a == "--no-ask-password" || a == "--plain" || strings.HasPrefix(a, "--type=") || a == "-f" || a == "--force":
		case a == "-t" || a == "--type":
			next()
		case strings.HasPrefix(a, "-") && a != "-":
			fmt.Fprintf(os.Stderr, "systemctl: unrecognized option '%s'\n", a)
			return 1
		default:
			positional = append(positional, a)
		}
	}
	if len(positional) == 0 {
		positional = []string{"list-units"}
	}
	req.Verb = positional[0]
	req.Units = positional[1:]

	resp, err := ctl.Call(events.Root(), req, 8*time.Minute)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), "connection refused") {
			fmt.Fprintln(os.Stderr, "System has not been booted with systemd as init system (PID 1). Can't operate.")
			fmt.Fprintln(os.Stderr, "Failed to connect to bus: No such file or directory")
			return 1
		}
		fmt.Fprintf(os.Stderr, "Failed to %s: %v\n", req.Verb, err)
		return 1
	}
	fmt.Fprint(os.Stdout, resp.Stdout)
	fmt.Fprint(os.Stderr, resp.Stderr)
	return resp.Exit
}

// JournalMain prints the stand-in journal of the units named with -u.
func JournalMain(args []string) int {
	var units []string
	lines := -1
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help":
			fmt.Print("journalctl [-u UNIT]... [-n N]\n\nSandbox stand-in for journalctl: prints /var/log/kboot-sandbox/<unit>.log,\nwhere the sandbox systemd stand-in writes each unit's output.\n")
			return 0
		case a == "-u" || a == "--unit":
			if i+1 < len(args) {
				i++
				units = append(units, unit.NormalizeName(args[i]))
			}
		case strings.HasPrefix(a, "--unit="):
			units = append(units, unit.NormalizeName(strings.TrimPrefix(a, "--unit=")))
		case strings.HasPrefix(a, "-u") && len(a) > 2:
			units = append(units, unit.NormalizeName(a[2:]))
		case a == "-n" || a == "--lines":
			if i+1 < len(args) {
				i++
				lines, _ = strconv.Atoi(args[i])
			}
		case strings.HasPrefix(a, "--lines="):
			lines, _ = strconv.Atoi(strings.TrimPrefix(a, "--lines="))
		case strings.HasPrefix(a, "-n") && len(a) > 2:
			lines, _ = strconv.Atoi(a[2:])
		}
	}
	if len(units) == 0 {
		units = []string{"systemd"}
	}
	for _, u := range units {
		path := filepath.Join(events.Root(), events.LogDir, u+".log")
		if u == "systemd" {
			path = filepath.Join(events.Root(), events.LogDir, "systemd.log")
		}
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Println("-- No entries --")
			continue
		}
		text := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if lines >= 0 && len(text) > lines {
			text = text[len(text)-lines:]
		}
		fmt.Println(strings.Join(text, "\n"))
	}
	return 0
}
