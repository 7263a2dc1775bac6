package initsys

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"kboot/sandbox/standins/internal/ctl"
	"kboot/sandbox/standins/internal/unit"
)

// Serve accepts systemctl requests on the private socket until the listener
// fails. Read-only verbs are open to every user, as systemd allows them
// without authentication; changing verbs need uid 0 (kboot uses sudo).
func (m *Manager) Serve() error {
	path := filepath.Join(m.root, ctl.SocketPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	_ = os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen on control socket %s: %w", path, err)
	}
	_ = os.Chmod(path, 0o666)
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			return fmt.Errorf("accept on control socket %s: %w", path, err)
		}
		go m.handle(conn)
	}
}

func (m *Manager) handle(conn *net.UnixConn) {
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var req ctl.Request
	if err := json.NewDecoder(conn).Decode(&req); err != nil {
		return
	}
	uid := peerUID(conn)
	resp := m.Execute(req, uid)
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_ = json.NewEncoder(conn).Encode(resp)
}

func peerUID(conn *net.UnixConn) int {
	raw, err := conn.SyscallConn()
	if err != nil {
		return -1
	}
	uid := -1
	_ = raw.Control(func(fd uintptr) {
		cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		if err == nil {
			uid = int(cred.Uid)
		}
	})
	return uid
}

var changingVerbs = map[string]bool{
	"start": true, "stop": true, "restart": true, "try-restart": true, "condrestart": true,
	"reload": true, "reload-or-restart": true, "force-reload": true, "enable": true, "disable": true,
	"daemon-reload": true, "reset-failed": true, "mask": true, "unmask": true,
}

type output struct {
	out, err strings.Builder
	exit     int
}

func (o *output) stdout(format string, args ...interface{}) { fmt.Fprintf(&o.out, format, args...) }
func (o *output) stderr(format string, args ...interface{}) { fmt.Fprintf(&o.err, format, args...) }

// Execute runs one systemctl verb and returns what systemctl prints.
func (m *Manager) Execute(req ctl.Request, uid int) ctl.Response {
	o := &output{}
	if changingVerbs[req.Verb] && uid != 0 {
		target := "execute operation"
		if len(req.Units) > 0 {
			target = fmt.Sprintf("%s %s", req.Verb, unit.NormalizeName(req.Units[0]))
		}
		o.stderr("Failed to %s: Access denied\n", target)
		return ctl.Response{Stderr: o.err.String(), Exit: 4}
	}
	units := make([]string, len(req.Units))
	for i, u := range req.Units {
		units[i] = unit.NormalizeName(u)
	}
	needUnits := map[string]bool{"daemon-reload": false, "list-units": false, "reset-failed": false, "is-system-running": false}
	if need, listed := needUnits[req.Verb]; (!listed || need) && len(units) == 0 {
		o.stderr("Too few arguments.\n")
		return ctl.Response{Stderr: o.err.String(), Exit: 1}
	}
	switch req.Verb {
	case "start", "stop", "restart", "try-restart", "condrestart", "reload", "reload-or-restart", "force-reload":
		m.runJobs(o, req, units)
	case "enable", "disable", "mask", "unmask":
		m.changeEnablement(o, req, units)
	case "is-active", "is-failed":
		m.isActive(o, req, units)
	case "is-enabled":
		m.isEnabled(o, req, units)
	case "status":
		m.status(o, req, units)
	case "show":
		m.show(o, req, units)
	case "cat":
		m.cat(o, units)
	case "daemon-reload":
		m.Reload()
	case "reset-failed":
		if len(units) == 0 {
			m.mu.Lock()
			for name := range m.units {
				units = append(units, name)
			}
			m.mu.Unlock()
		}
		for _, u := range units {
			m.ResetFailed(u)
		}
	case "list-units":
		m.listUnits(o, req)
	case "is-system-running":
		m.isSystemRunning(o, req)
	default:
		o.stderr("Unknown operation '%s'.\n", req.Verb)
		o.exit = 1
	}
	return ctl.Response{Stdout: o.out.String(), Stderr: o.err.String(), Exit: o.exit}
}

func (m *Manager) warnChanged(o *output, name string) {
	m.mu.Lock()
	st, ok := m.units[name]
	var def *unit.Unit
	if ok {
		def = st.def
	}
	m.mu.Unlock()
	if def != nil && def.LoadState != unit.LoadNotFound && def.ChangedOnDisk(m.root) {
		o.stderr("Warning: %s changed on disk. Run 'systemctl daemon-reload' to reload units.\n", name)
	}
}

func (m *Manager) runJobs(o *output, req ctl.Request, units []string) {
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(units))
	for _, name := range units {
		if req.Verb != "stop" {
			m.warnChanged(o, name)
		}
		go func(name string) {
			results <- result{name, m.runJob(req.Verb, name)}
		}(name)
	}
	if req.NoBlock {
		return
	}
	byName := map[string]error{}
	for range units {
		r := <-results
		byName[r.name] = r.err
	}
	for _, name := range units {
		err := byName[name]
		if err == nil {
			continue
		}
		var jobErr *JobError
		if errors.As(err, &jobErr) {
			o.stderr("%s\n", jobErr.Message)
			if jobErr.Exit > o.exit {
				o.exit = jobErr.Exit
			}
			continue
		}
		o.stderr("Failed to %s %s: %v\n", req.Verb, name, err)
		o.exit = 1
	}
}

func (m *Manager) runJob(verb, name string) error {
	switch verb {
	case "start":
		return m.Start(name)
	case "stop":
		return m.Stop(name)
	case "restart":
		return m.Restart(name)
	case "try-restart", "condrestart":
		if !m.IsActive(name) {
			return nil
		}
		return m.Restart(name)
	case "reload":
		reloaded, err := m.ReloadUnit(name)
		if err == nil && !reloaded {
			return &JobError{Unit: name, Exit: 1, Message: fmt.Sprintf("Failed to reload %s: Job type reload is not applicable for unit %s.", name, name)}
		}
		return err
	case "reload-or-restart", "force-reload":
		reloaded, err := m.ReloadUnit(name)
		if reloaded {
			return err
		}
		return m.Restart(name)
	}
	return fmt.Errorf("unknown job type %q", verb)
}

func (m *Manager) isActive(o *output, req ctl.Request, units []string) {
	want := stateActive
	if req.Verb == "is-failed" {
		want = stateFailed
	}
	o.exit = 3
	if req.Verb == "is-failed" {
		o.exit = 1
	}
	for _, name := range units {
		m.mu.Lock()
		st := m.get(name)
		state := st.active
		m.mu.Unlock()
		if !req.Quiet {
			o.stdout("%s\n", state)
		}
		if state == want {
			o.exit = 0
		}
	}
}

// UnitFileState is "enabled" when a .wants/.requires link in the
// administrator's directories names the unit, "enabled-runtime" for one in
// /run, "static" without an [Install] section, else "disabled".
func (m *Manager) unitFileState(def *unit.Unit) string {
	switch def.LoadState {
	case unit.LoadNotFound:
		return ""
	case unit.LoadMasked:
		return "masked"
	}
	if m.linked(def.Name, "/etc/systemd/system") {
		return "enabled"
	}
	if m.linked(def.Name, "/run/systemd/system") {
		return "enabled-runtime"
	}
	if len(def.List("Install", "WantedBy")) == 0 && len(def.List("Install", "RequiredBy")) == 0 && len(def.List("Install", "Alias")) == 0 {
		return "static"
	}
	return "disabled"
}

func (m *Manager) linked(name, dir string) bool {
	for _, suffix := range []string{".wants", ".requires"} {
		matches, _ := filepath.Glob(filepath.Join(m.root, dir, "*"+suffix, name))
		if len(matches) > 0 {
			return true
		}
	}
	return false
}

func (m *Manager) isEnabled(o *output, req ctl.Request, units []string) {
	o.exit = 1
	for _, name := range units {
		def := unit.Load(m.root, name)
		state := m.unitFileState(def)
		if state == "" {
			o.stderr("Failed to get unit file state for %s: No such file or directory\n", name)
			continue
		}
		if !req.Quiet {
			o.stdout("%s\n", state)
		}
		if state == "enabled" || state == "enabled-runtime" || state == "static" {
			o.exit = 0
		}
	}
}

func (m *Manager) changeEnablement(o *output, req ctl.Request, units []string) {
	for _, name := range units {
		def := unit.Load(m.root, name)
		switch req.Verb {
		case "mask":
			link := filepath.Join(m.root, "/etc/systemd/system", name)
			_ = os.Remove(link)
			if err := os.Symlink("/dev/null", link); err != nil {
				o.stderr("Failed to mask unit: %v\n", err)
				o.exit = 1
				continue
			}
			o.stderr("Created symlink from /etc/systemd/system/%s to /dev/null.\n", name)
			continue
		case "unmask":
			link := filepath.Join(m.root, "/etc/systemd/system", name)
			if target, err := os.Readlink(link); err == nil && target == "/dev/null" {
				_ = os.Remove(link)
				o.stderr("Removed symlink /etc/systemd/system/%s.\n", name)
			}
			continue
		}
		if def.LoadState == unit.LoadNotFound {
			o.stderr("Failed to %s unit: Unit file %s does not exist.\n", req.Verb, name)
			o.exit = 1
			continue
		}
		if req.Verb == "enable" {
			m.enable(o, def)
		} else {
			m.disable(o, name)
		}
	}
	m.Reload()
	if req.Now {
		verb := "start"
		if req.Verb == "disable" {
			verb = "stop"
		}
		m.runJobs(o, ctl.Request{Verb: verb}, units)
	}
}

func (m *Manager) enable(o *output, def *unit.Unit) {
	type link struct{ target, suffix string }
	var links []link
	for _, t := range def.List("Install", "WantedBy") {
		links = append(links, link{t, ".wants"})
	}
	for _, t := range def.List("Install", "RequiredBy") {
		links = append(links, link{t, ".requires"})
	}
	if len(links) == 0 {
		o.stderr("The unit files have no [Install] section. They are not meant to be enabled\nusing systemctl.\n")
		return
	}
	for _, l := range links {
		dir := filepath.Join("/etc/systemd/system", unit.NormalizeName(l.target)+l.suffix)
		path := filepath.Join(dir, def.Name)
		if target, err := os.Readlink(filepath.Join(m.root, path)); err == nil && target == def.FragmentPath {
			continue
		}
		if err := os.MkdirAll(filepath.Join(m.root, dir), 0o755); err != nil {
			o.stderr("Failed to enable unit: %v\n", err)
			o.exit = 1
			return
		}
		_ = os.Remove(filepath.Join(m.root, path))
		if err := os.Symlink(def.FragmentPath, filepath.Join(m.root, path)); err != nil {
			o.stderr("Failed to enable unit: %v\n", err)
			o.exit = 1
			return
		}
		o.stderr("Created symlink from %s to %s.\n", path, def.FragmentPath)
	}
}

func (m *Manager) disable(o *output, name string) {
	for _, suffix := range []string{".wants", ".requires"} {
		matches, _ := filepath.Glob(filepath.Join(m.root, "/etc/systemd/system", "*"+suffix, name))
		sort.Strings(matches)
		for _, path := range matches {
			if err := os.Remove(path); err != nil {
				o.stderr("Failed to disable unit: %v\n", err)
				o.exit = 1
				continue
			}
			o.stderr("Removed symlink %s.\n", strings.TrimPrefix(path, strings.TrimSuffix(m.root, "/")))
		}
	}
}

func (m *Manager) listUnits(o *output, req ctl.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.units))
	for name, st := range m.units {
		if req.All || st.active != stateInactive {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	o.stdout("%-40s %-9s %-10s %-12s %s\n", "UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION")
	for _, name := range names {
		st := m.units[name]
		o.stdout("%-40s %-9s %-10s %-12s %s\n", name, st.def.LoadState, st.active, st.sub, description(st.def))
	}
	o.stdout("\n%d loaded units listed.\n", len(names))
}

// isSystemRunning prints "starting" until the boot target's start job ends,
// then "running", or "degraded" when a unit failed.
func (m *Manager) isSystemRunning(o *output, req ctl.Request) {
	m.mu.Lock()
	state := "running"
	if !m.booted {
		state = "starting"
	} else {
		for _, st := range m.units {
			if st.active == stateFailed {
				state = "degraded"
			}
		}
	}
	m.mu.Unlock()
	if !req.Quiet {
		o.stdout("%s\n", state)
	}
	if state != "running" {
		o.exit = 1
	}
}
