package initsys

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"kboot/sandbox/standins/internal/ctl"
	"kboot/sandbox/standins/internal/unit"
)

const timestampLayout = "Mon 2006-01-02 15:04:05 MST"

func formatTimestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(timestampLayout)
}

// formatAgo renders a span the way systemctl status does ("1min 5s ago").
func formatAgo(t time.Time) string {
	d := time.Since(t).Round(time.Second)
	if d < time.Second {
		return "now"
	}
	var parts []string
	if h := int(d.Hours()); h > 0 {
		parts = append(parts, fmt.Sprintf("%dh", h))
		d -= time.Duration(h) * time.Hour
	}
	if mins := int(d.Minutes()); mins > 0 {
		parts = append(parts, fmt.Sprintf("%dmin", mins))
		d -= time.Duration(mins) * time.Minute
	}
	if s := int(d.Seconds()); s > 0 && len(parts) < 2 {
		parts = append(parts, fmt.Sprintf("%ds", s))
	}
	return strings.Join(parts, " ") + " ago"
}

// snapshot is a consistent copy of a unit's state for printing.
type snapshot struct {
	st        unitState
	requires  []string
	wants     []string
	fileState string
	execs     map[string][]execRecord
	mainPID   int
}

func (m *Manager) snapshot(name string) snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.get(name)
	s := snapshot{st: *st, requires: m.requires(st), wants: m.wants(st), execs: map[string][]execRecord{}}
	for k, recs := range st.execs {
		for _, r := range recs {
			s.execs[k] = append(s.execs[k], *r)
		}
	}
	if st.mainProc != nil && st.active != stateInactive && st.active != stateFailed {
		s.mainPID = st.mainProc.pid
	}
	s.fileState = m.unitFileState(st.def)
	return s
}

func (m *Manager) status(o *output, req ctl.Request, units []string) {
	for i, name := range units {
		s := m.snapshot(name)
		def := s.st.def
		if def.LoadState == unit.LoadNotFound && s.st.active == stateInactive {
			o.stderr("Unit %s could not be found.\n", name)
			o.exit = 4
			continue
		}
		if i > 0 {
			o.stdout("\n")
		}
		m.warnChanged(o, name)
		dot := "●"
		o.stdout("%s %s - %s\n", dot, name, description(def))
		if def.LoadState == unit.LoadLoaded {
			o.stdout("   Loaded: loaded (%s; %s; vendor preset: disabled)\n", def.FragmentPath, s.fileState)
		} else {
			o.stdout("   Loaded: %s\n", def.LoadState)
		}
		lastDir := ""
		for _, d := range def.DropInPaths {
			dir := filepath.Dir(d)
			if dir != lastDir {
				label := "  Drop-In: "
				if lastDir != "" {
					label = "           "
				}
				o.stdout("%s%s\n", label, dir)
				lastDir = dir
			}
			o.stdout("           └─%s\n", filepath.Base(d))
		}
		o.stdout("   Active: %s\n", activeLine(s))
		for _, key := range []string{"ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop"} {
			for _, r := range s.execs[key] {
				if key == "ExecStart" && r.pid == s.mainPID && s.mainPID != 0 {
					continue
				}
				if r.code == "" {
					continue
				}
				o.stdout("  Process: %d %s=%s (code=%s, status=%s)\n", r.pid, key, strings.Join(r.cmd.Argv, " "), r.code, statusText(r.code, r.status))
			}
		}
		if s.mainPID != 0 {
			o.stdout(" Main PID: %d (%s)\n", s.mainPID, processName(m.root, s.mainPID))
		} else if !s.st.mainExit.IsZero() && s.st.mainCode != "" {
			o.stdout(" Main PID: (code=%s, status=%s)\n", s.st.mainCode, statusText(s.st.mainCode, s.st.mainStatus))
		}
		lines := req.Lines
		if lines == 0 {
			lines = 10
		}
		if tail := tailFile(m.unitLogPath(name), lines); tail != "" {
			o.stdout("\n%s", tail)
		}
		if s.st.active != stateActive && o.exit == 0 {
			o.exit = 3
		}
	}
}

func activeLine(s snapshot) string {
	st := s.st
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)", st.active, st.sub)
	if (st.active == stateFailed || st.sub == "auto-restart") && st.result != "success" {
		fmt.Fprintf(&b, " (Result: %s)", st.result)
	}
	since := st.activeEnter
	if st.active != stateActive {
		since = st.inactiveEnter
	}
	if !since.IsZero() {
		fmt.Fprintf(&b, " since %s; %s", formatTimestamp(since), formatAgo(since))
	}
	return b.String()
}

func processName(root string, pid int) string {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(data))
}

// tailFile returns the last n lines of a log file, reading at most 64 KiB.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return ""
	}
	const window = 64 * 1024
	offset := info.Size() - window
	if offset < 0 {
		offset = 0
	}
	buf := make([]byte, info.Size()-offset)
	if _, err := f.ReadAt(buf, offset); err != nil && len(buf) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// property is one "Name=value" line of systemctl show; repeated properties
// (EnvironmentFiles, Exec*) have one line per value.
type property struct {
	name   string
	values []string
}

func (m *Manager) properties(s snapshot) []property {
	st := s.st
	def := st.def
	one := func(name, value string) property { return property{name, []string{value}} }
	var props []property
	if def.Type() == "service" {
		props = append(props,
			one("Type", def.Value("Service", "Type", "simple")),
			one("Restart", def.Value("Service", "Restart", "no")),
			one("PIDFile", def.Value("Service", "PIDFile", "")),
			one("RemainAfterExit", yesNo(isTrue(def.Value("Service", "RemainAfterExit", "no")))),
			one("RestartUSec", usec(parseSeconds(def.Value("Service", "RestartSec", ""), 100*time.Millisecond))),
			one("TimeoutStartUSec", usec(m.startTimeout(def))),
			one("TimeoutStopUSec", usec(m.stopTimeout(def))),
			one("WatchdogUSec", "0"),
			one("NRestarts", strconv.Itoa(st.nRestarts)),
			one("MainPID", strconv.Itoa(s.mainPID)),
			one("ControlPID", "0"),
			one("Result", st.result),
			one("ExecMainStartTimestamp", formatTimestamp(st.mainStart)),
			one("ExecMainExitTimestamp", formatTimestamp(st.mainExit)),
			one("ExecMainPID", strconv.Itoa(s.mainPID)),
			one("ExecMainCode", strconv.Itoa(mainCodeNumber(st.mainCode))),
			one("ExecMainStatus", strconv.Itoa(st.mainStatus)),
		)
		for _, key := range []string{"ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop"} {
			props = append(props, property{key, execValues(def, key, s.execs[key])})
		}
		var env []string
		if pairs, err := def.Environment(); err == nil {
			for _, p := range pairs {
				env = append(env, p[0]+"="+p[1])
			}
		}
		props = append(props, one("Environment", strings.Join(env, " ")))
		var files []string
		for _, f := range def.EnvironmentFiles() {
			files = append(files, fmt.Sprintf("%s (ignore_errors=%s)", f.Path, yesNo(f.Optional)))
		}
		props = append(props, property{"EnvironmentFiles", files},
			one("WorkingDirectory", def.Value("Service", "WorkingDirectory", "")),
			one("User", def.Value("Service", "User", "")),
			one("Group", def.Value("Service", "Group", "")),
		)
	}
	names := st.name
	props = append(props,
		one("Id", st.name),
		one("Names", names),
		one("Requires", strings.Join(s.requires, " ")),
		one("Wants", strings.Join(s.wants, " ")),
		one("RequiredBy", strings.Join(m.reverseDeps(st.name, ".requires"), " ")),
		one("WantedBy", strings.Join(m.reverseDeps(st.name, ".wants"), " ")),
		one("Before", strings.Join(normalizeAll(def.List("Unit", "Before")), " ")),
		one("After", strings.Join(normalizeAll(def.List("Unit", "After")), " ")),
		one("Description", description(def)),
		one("LoadState", def.LoadState),
		one("ActiveState", st.active),
		one("SubState", st.sub),
		one("FragmentPath", def.FragmentPath),
		one("DropInPaths", strings.Join(def.DropInPaths, " ")),
		one("UnitFileState", s.fileState),
		one("UnitFilePreset", "disabled"),
		one("ActiveEnterTimestamp", formatTimestamp(st.activeEnter)),
		one("InactiveEnterTimestamp", formatTimestamp(st.inactiveEnter)),
		one("CanStart", yesNo(def.LoadState == unit.LoadLoaded)),
		one("CanReload", yesNo(len(def.Values("Service", "ExecReload")) > 0)),
		one("NeedDaemonReload", yesNo(def.LoadState != unit.LoadNotFound && def.ChangedOnDisk(m.root))),
	)
	if def.LoadState == unit.LoadError {
		props = append(props, one("LoadError", "org.freedesktop.systemd1.BadUnitSetting \""+def.LoadError+"\""))
	}
	return props
}

func (m *Manager) reverseDeps(name, suffix string) []string {
	var out []string
	for _, dir := range unit.SearchDirs[:2] {
		matches, _ := filepath.Glob(filepath.Join(m.root, dir, "*"+suffix, name))
		for _, p := range matches {
			out = append(out, strings.TrimSuffix(filepath.Base(filepath.Dir(p)), suffix))
		}
	}
	return normalizeAll(out)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func usec(d time.Duration) string {
	if d <= 0 {
		return "infinity"
	}
	var parts []string
	if mins := int(d / time.Minute); mins > 0 {
		parts = append(parts, fmt.Sprintf("%dmin", mins))
		d -= time.Duration(mins) * time.Minute
	}
	if s := int(d / time.Second); s > 0 {
		parts = append(parts, fmt.Sprintf("%ds", s))
		d -= time.Duration(s) * time.Second
	}
	if ms := int(d / time.Millisecond); ms > 0 {
		parts = append(parts, fmt.Sprintf("%dms", ms))
	}
	return strings.Join(parts, " ")
}

// mainCodeNumber maps to the CLD_* codes systemctl show prints.
func mainCodeNumber(code string) int {
	switch code {
	case "exited":
		return 1
	case "killed":
		return 2
	case "dumped":
		return 3
	}
	return 0
}

func execValues(def *unit.Unit, key string, runs []execRecord) []string {
	cmds, err := def.Commands(key)
	if err != nil {
		return nil
	}
	var out []string
	for i, c := range cmds {
		rec := execRecord{cmd: c}
		// The last len(cmds) records belong to the latest run.
		if len(runs) >= len(cmds) {
			rec = runs[len(runs)-len(cmds)+i]
		}
		start, stop := "n/a", "n/a"
		if !rec.startTime.IsZero() {
			start = formatTimestamp(rec.startTime)
		}
		if !rec.stopTime.IsZero() {
			stop = formatTimestamp(rec.stopTime)
		}
		code := "(null)"
		if rec.code != "" {
			code = rec.code
		}
		out = append(out, fmt.Sprintf("{ path=%s ; argv[]=%s ; ignore_errors=%s ; start_time=[%s] ; stop_time=[%s] ; pid=%d ; code=%s ; status=%d }",
			c.Argv[0], strings.Join(c.Argv, " "), yesNo(c.IgnoreFailure), start, stop, rec.pid, code, rec.status))
	}
	return out
}

func (m *Manager) show(o *output, req ctl.Request, units []string) {
	wanted := map[string]bool{}
	for _, p := range req.Properties {
		for _, name := range strings.Split(p, ",") {
			if name = strings.TrimSpace(name); name != "" {
				wanted[name] = true
			}
		}
	}
	for i, name := range units {
		if i > 0 && !req.Value {
			o.stdout("\n")
		}
		s := m.snapshot(name)
		for _, p := range m.properties(s) {
			if len(wanted) > 0 && !wanted[p.name] {
				continue
			}
			values := p.values
			if len(values) == 0 {
				if len(wanted) == 0 && !req.All {
					continue
				}
				values = []string{""}
			}
			for _, v := range values {
				if v == "" && len(wanted) == 0 && !req.All {
					continue
				}
				if req.Value {
					o.stdout("%s\n", v)
				} else {
					o.stdout("%s=%s\n", p.name, v)
				}
			}
		}
	}
}

func (m *Manager) cat(o *output, units []string) {
	for i, name := range units {
		def := unit.Load(m.root, name)
		if def.LoadState == unit.LoadNotFound {
			o.stderr("No files found for %s.\n", name)
			o.exit = 1
			continue
		}
		if i > 0 {
			o.stdout("\n")
		}
		files := def.DropInPaths
		if def.FragmentPath != "" {
			files = append([]string{def.FragmentPath}, files...)
		}
		for j, path := range files {
			if j > 0 {
				o.stdout("\n")
			}
			o.stdout("# %s\n", path)
			data, err := os.ReadFile(filepath.Join(m.root, path))
			if err != nil {
				o.stderr("Failed to read %s: %v\n", path, err)
				o.exit = 1
				continue
			}
			text := string(data)
			if !strings.HasSuffix(text, "\n") {
				text += "\n"
			}
			o.stdout("%s", text)
		}
	}
}
