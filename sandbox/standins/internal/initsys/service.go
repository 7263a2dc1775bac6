package initsys

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"kboot/sandbox/standins/internal/events"
	"kboot/sandbox/standins/internal/unit"
)

// proc is one spawned process; done closes when the reaper collects it.
type proc struct {
	pid    int
	done   chan struct{}
	status syscall.WaitStatus
	// spawnCode is set when the process could not be started at all, with
	// the exit status systemd reports for that step (203/EXEC, 200/CHDIR...).
	spawnCode int
}

func (p *proc) exitDescription() (code string, status int) {
	if p.spawnCode != 0 {
		return "exited", p.spawnCode
	}
	switch {
	case p.status.Exited():
		return "exited", p.status.ExitStatus()
	case p.status.Signaled() && p.status.CoreDump():
		return "dumped", int(p.status.Signal())
	case p.status.Signaled():
		return "killed", int(p.status.Signal())
	}
	return "exited", 0
}

// result maps an exit to systemd's Result= value. Like systemd, a main
// process ended by SIGHUP, SIGINT, SIGTERM or SIGPIPE exited cleanly.
func (p *proc) result(mainProcess bool) string {
	code, status := p.exitDescription()
	switch code {
	case "exited":
		if status == 0 {
			return "success"
		}
		return "exit-code"
	case "dumped":
		return "core-dump"
	}
	if mainProcess {
		switch syscall.Signal(status) {
		case syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE:
			return "success"
		}
	}
	return "signal"
}

var exitNames = map[int]string{0: "SUCCESS", 1: "FAILURE", 2: "INVALIDARGUMENT", 3: "NOTIMPLEMENTED", 4: "NOPERMISSION", 5: "NOTINSTALLED", 6: "NOTCONFIGURED", 7: "NOTRUNNING", 200: "CHDIR", 203: "EXEC", 217: "USER", 226: "NAMESPACE"}

func statusText(code string, status int) string {
	if code == "exited" {
		if name, ok := exitNames[status]; ok {
			return fmt.Sprintf("%d/%s", status, name)
		}
		return strconv.Itoa(status)
	}
	name := strings.TrimPrefix(strings.ToUpper(syscall.Signal(status).String()), "SIG")
	if n, ok := signalNames[syscall.Signal(status)]; ok {
		name = n
	}
	return fmt.Sprintf("%d/%s", status, name)
}

var signalNames = map[syscall.Signal]string{syscall.SIGHUP: "HUP", syscall.SIGINT: "INT", syscall.SIGKILL: "KILL", syscall.SIGTERM: "TERM", syscall.SIGSEGV: "SEGV", syscall.SIGABRT: "ABRT", syscall.SIGPIPE: "PIPE", syscall.SIGQUIT: "QUIT"}

func parseSeconds(v string, def time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return def
	}
	if v == "infinity" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(n * float64(time.Second))
	}
	// systemd time spans such as "5s", "2min", "1min 30s", "100ms".
	total := time.Duration(0)
	for _, part := range strings.Fields(strings.NewReplacer("min", "m", "sec", "s", "msec", "ms", "hour", "h").Replace(v)) {
		d, err := time.ParseDuration(part)
		if err != nil {
			return def
		}
		total += d
	}
	return total
}

func (m *Manager) startTimeout(def *unit.Unit) time.Duration {
	d := parseSeconds(def.Value("Service", "TimeoutStartSec", def.Value("Service", "TimeoutSec", "")), 90*time.Second)
	if d <= 0 || d > maxStartTimeout {
		return maxStartTimeout
	}
	return d
}

func (m *Manager) stopTimeout(def *unit.Unit) time.Duration {
	d := parseSeconds(def.Value("Service", "TimeoutStopSec", def.Value("Service", "TimeoutSec", "")), 90*time.Second)
	if d <= 0 || d > maxStopTimeout {
		return maxStopTimeout
	}
	return d
}

// startLimit enforces systemd's default StartLimitBurst=5 within
// StartLimitIntervalSec=10s (both settable in [Unit] or, as in CentOS 7's
// systemd 219, [Service]). It returns false when the limit is hit.
func (m *Manager) startLimit(st *unitState) bool {
	interval := parseSeconds(st.def.Value("Unit", "StartLimitIntervalSec", st.def.Value("Service", "StartLimitInterval", "")), 10*time.Second)
	burst, err := strconv.Atoi(st.def.Value("Unit", "StartLimitBurst", st.def.Value("Service", "StartLimitBurst", "5")))
	if err != nil {
		burst = 5
	}
	if interval <= 0 || burst <= 0 {
		return true
	}
	now := time.Now()
	kept := st.startTimes[:0]
	for _, t := range st.startTimes {
		if now.Sub(t) < interval {
			kept = append(kept, t)
		}
	}
	st.startTimes = kept
	if len(kept) >= burst {
		return false
	}
	st.startTimes = append(st.startTimes, now)
	return true
}

func (m *Manager) startService(st *unitState) error {
	m.mu.Lock()
	def := st.def
	autoRestart := st.restartPending
	st.restartPending = false
	if !m.startLimit(st) {
		st.active, st.sub, st.result = stateFailed, "failed", "start-limit"
		m.mu.Unlock()
		m.logUnit(st.name, "%s: Start request repeated too quickly.", st.name)
		m.logUnit(st.name, "Failed to start %s.", description(def))
		return jobFailed(st.name, "start-limit")
	}
	if autoRestart {
		// NRestarts counts automatic restarts that ran, not those the start
		// limit refused.
		st.nRestarts++
	}
	st.gen++
	gen := st.gen
	st.active, st.sub, st.result = stateActivating, "start-pre", "success"
	st.pgids = map[int]bool{}
	st.execs = map[string][]*execRecord{}
	st.mainProc = nil
	m.mu.Unlock()

	m.logUnit(st.name, "Starting %s...", description(def))
	deadline := time.Now().Add(m.startTimeout(def))
	typ := def.Value("Service", "Type", "simple")

	if err := m.makeRuntimeDirectories(def); err != nil {
		m.logUnit(st.name, "%v", err)
		return m.startFailed(st, gen, "resources")
	}

	if result := m.runCommands(st, gen, "ExecStartPre", deadline, 0); result != "success" {
		return m.startFailed(st, gen, result)
	}

	mainCmds, err := def.Commands("ExecStart")
	if err != nil {
		m.logUnit(st.name, "%v", err)
		return m.startFailed(st, gen, "resources")
	}
	if len(mainCmds) == 0 {
		m.logUnit(st.name, "%s has no ExecStart= setting, which is only allowed for Type=oneshot services. Refusing.", st.name)
		if typ != "oneshot" {
			return m.startFailed(st, gen, "resources")
		}
	}
	if len(mainCmds) > 1 && typ != "oneshot" {
		m.logUnit(st.name, "%s has more than one ExecStart= setting, which is only allowed for Type=oneshot services. Refusing.", st.name)
		return m.startFailed(st, gen, "resources")
	}

	m.mu.Lock()
	st.sub = "start"
	m.mu.Unlock()
	if err := events.Append(m.root, "start", st.name); err != nil {
		fmt.Fprintf(os.Stderr, "systemd: %v\n", err)
	}

	var main *proc
	switch typ {
	case "oneshot":
		if result := m.runCommands(st, gen, "ExecStart", deadline, 0); result != "success" {
			return m.startFailed(st, gen, result)
		}
	case "notify":
		notify, err := m.openNotifySocket(st.name)
		if err != nil {
			m.logUnit(st.name, "%v", err)
			return m.startFailed(st, gen, "resources")
		}
		main = m.spawn(st, gen, "ExecStart", mainCmds[0], map[string]string{"NOTIFY_SOCKET": notify.path})
		m.setMain(st, main)
		result := notify.waitReady(main, deadline)
		notify.close()
		if result == "timeout" {
			m.logUnit(st.name, "%s start operation timed out. Terminating.", st.name)
		}
		if result != "success" {
			return m.startFailed(st, gen, result)
		}
	case "forking":
		p := m.spawn(st, gen, "ExecStart", mainCmds[0], nil)
		if result := m.waitProc(st, p, deadline, false); result != "success" {
			return m.startFailed(st, gen, result)
		}
		main = m.adoptPIDFile(st, def)
		m.setMain(st, main)
	default:
		main = m.spawn(st, gen, "ExecStart", mainCmds[0], nil)
		m.setMain(st, main)
		if main.spawnCode != 0 {
			return m.startFailed(st, gen, "exit-code")
		}
	}

	m.mu.Lock()
	st.sub = "start-post"
	m.mu.Unlock()
	mainPID := 0
	if main != nil {
		mainPID = main.pid
	}
	if result := m.runCommands(st, gen, "ExecStartPost", deadline, mainPID); result != "success" {
		return m.startFailed(st, gen, result)
	}

	m.mu.Lock()
	if st.gen != gen {
		m.mu.Unlock()
		return nil
	}
	st.activeEnter = time.Now()
	switch {
	case typ == "oneshot" && isTrue(def.Value("Service", "RemainAfterExit", "no")):
		st.active, st.sub = stateActive, "exited"
	case typ == "oneshot":
		st.active, st.sub = stateInactive, "dead"
		st.inactiveEnter = time.Now()
	case main == nil:
		st.active, st.sub = stateActive, "exited"
	default:
		st.active, st.sub = stateActive, "running"
	}
	m.mu.Unlock()
	m.logUnit(st.name, "Started %s.", description(def))
	if main != nil {
		go m.watchMain(st, gen, main)
	}
	return nil
}

func description(def *unit.Unit) string {
	return def.Value("Unit", "Description", def.Name)
}

func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "true", "1", "on":
		return true
	}
	return false
}

func (m *Manager) setMain(st *unitState, p *proc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st.mainProc = p
	if p != nil {
		st.mainStart = time.Now()
	}
}

// startFailed kills what is left of a failed start and applies Restart=, as
// systemd does for a start that fails (the start job itself still fails).
func (m *Manager) startFailed(st *unitState, gen int, result string) error {
	m.killUnit(st, syscall.SIGKILL)
	m.logUnit(st.name, "Failed to start %s.", description(st.def))
	m.afterExit(st, gen, result)
	return jobFailed(st.name, result)
}

// afterExit moves a unit whose run ended on its own into failed, inactive
// or auto-restart according to Restart=.
func (m *Manager) afterExit(st *unitState, gen int, result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st.gen != gen || st.stopRequested {
		return
	}
	st.mainProc = nil
	st.result = result
	st.inactiveEnter = time.Now()
	if shouldRestart(st.def.Value("Service", "Restart", "no"), result) {
		st.active, st.sub = stateActivating, "auto-restart"
		delay := parseSeconds(st.def.Value("Service", "RestartSec", ""), 100*time.Millisecond)
		name := st.name
		time.AfterFunc(delay, func() {
			m.mu.Lock()
			stale := st.gen != gen || st.sub != "auto-restart"
			if !stale {
				st.restartPending = true
			}
			m.mu.Unlock()
			if stale {
				return
			}
			m.logUnit(name, "%s holdoff time over, scheduling restart.", name)
			_ = m.start(name, nil, true)
		})
		return
	}
	if result == "success" {
		st.active, st.sub = stateInactive, "dead"
	} else {
		st.active, st.sub = stateFailed, "failed"
	}
}

func shouldRestart(policy, result string) bool {
	switch policy {
	case "always":
		return true
	case "on-success":
		return result == "success"
	case "on-failure":
		return result != "success"
	case "on-abnormal":
		return result == "signal" || result == "core-dump" || result == "timeout" || result == "watchdog"
	case "on-abort":
		return result == "signal" || result == "core-dump"
	case "on-watchdog":
		return result == "watchdog"
	}
	return false
}

func (m *Manager) watchMain(st *unitState, gen int, p *proc) {
	<-p.done
	code, status := p.exitDescription()
	m.mu.Lock()
	if st.gen == gen {
		st.mainExit = time.Now()
		st.mainCode, st.mainStatus = code, status
	}
	stopping := st.stopRequested || st.gen != gen
	m.mu.Unlock()
	if stopping {
		return
	}
	result := p.result(true)
	m.logUnit(st.name, "%s: main process exited, code=%s, status=%s", st.name, code, statusText(code, status))
	if result != "success" {
		m.logUnit(st.name, "Unit %s entered failed state.", st.name)
	}
	// Like systemd's default KillMode=control-group, the rest of the
	// unit's processes go when its main process is gone.
	m.killUnit(st, syscall.SIGTERM)
	m.afterExit(st, gen, result)
}

// runCommands runs the Exec*= commands of key one after another and
// returns the systemd result of the first failure not prefixed with "-".
func (m *Manager) runCommands(st *unitState, gen int, key string, deadline time.Time, mainPID int) string {
	cmds, err := st.def.Commands(key)
	if err != nil {
		m.logUnit(st.name, "%v", err)
		return "resources"
	}
	for _, cmd := range cmds {
		extra := map[string]string{}
		if mainPID > 0 {
			extra["MAINPID"] = strconv.Itoa(mainPID)
		}
		p := m.spawn(st, gen, key, cmd, extra)
		result := m.waitProc(st, p, deadline, false)
		if result == "success" {
			continue
		}
		code, status := p.exitDescription()
		m.logUnit(st.name, "%s: control process exited, code=%s status=%s", st.name, code, statusText(code, status))
		if cmd.IgnoreFailure && result != "timeout" {
			continue
		}
		return result
	}
	return "success"
}

// waitProc waits for a control process until the start deadline, killing
// it when the deadline passes.
func (m *Manager) waitProc(st *unitState, p *proc, deadline time.Time, mainProcess bool) string {
	select {
	case <-p.done:
		return p.result(mainProcess)
	case <-time.After(time.Until(deadline)):
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
		return "timeout"
	}
}

// baseEnvironment is the environment systemd gives every service before
// Environment= and EnvironmentFile= apply.
func (m *Manager) baseEnvironment() map[string]string {
	env := map[string]string{
		"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG": "en_US.UTF-8",
	}
	if r := os.Getenv("KBOOT_STANDIN_ROOT"); r != "" {
		env["KBOOT_STANDIN_ROOT"] = r
	}
	return env
}

// spawn starts one Exec*= command with the unit's environment, working
// directory and user; output goes to the unit's log. A command that cannot
// be started comes back as an exited proc with systemd's status for the
// failed step.
func (m *Manager) spawn(st *unitState, gen int, key string, cmd unit.Command, extra map[string]string) *proc {
	p := &proc{done: make(chan struct{})}
	rec := &execRecord{cmd: cmd, startTime: time.Now()}
	m.mu.Lock()
	st.execs[key] = append(st.execs[key], rec)
	m.mu.Unlock()

	fail := func(code int, step string, err error) *proc {
		m.logUnit(st.name, "Failed at step %s spawning %s: %v", step, cmd.Argv[0], err)
		p.spawnCode = code
		rec.code, rec.status, rec.stopTime = "exited", code, time.Now()
		close(p.done)
		return p
	}

	base := m.baseEnvironment()
	for k, v := range extra {
		base[k] = v
	}
	def := st.def
	user := def.Value("Service", "User", "")
	var cred *syscall.Credential
	if user != "" && user != "root" {
		account, err := lookupUser(m.root, user)
		if err != nil {
			return fail(217, "USER", err)
		}
		cred = &syscall.Credential{Uid: account.uid, Gid: account.gid}
		base["USER"], base["LOGNAME"], base["HOME"], base["SHELL"] = user, user, account.home, account.shell
	}
	if group := def.Value("Service", "Group", ""); group != "" && cred != nil {
		if gid, err := lookupGroup(m.root, group); err == nil {
			cred.Gid = gid
		}
	}
	env, warnings, err := def.ResolveEnvironment(m.root, base)
	for _, w := range warnings {
		m.logUnit(st.name, "%s", w)
	}
	if err != nil {
		return fail(1, "ENVIRONMENT", err)
	}
	argv := unit.ExpandArgv(cmd.Argv, env)
	if len(argv) == 0 {
		return fail(203, "EXEC", errors.New("empty command line after variable expansion"))
	}

	dir := "/"
	if wd := def.Value("Service", "WorkingDirectory", ""); wd != "" {
		optional := strings.HasPrefix(wd, "-")
		wd = strings.TrimPrefix(wd, "-")
		if wd == "~" {
			wd = env["HOME"]
		}
		full := filepath.Join(m.root, wd)
		if info, err := os.Stat(full); err == nil && info.IsDir() {
			dir = full
		} else if !optional {
			return fail(200, "CHDIR", fmt.Errorf("changing to the requested working directory %s failed: no such directory", wd))
		}
	} else if cred != nil {
		dir = "/"
	}

	logFile, err := os.OpenFile(m.unitLogPath(st.name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fail(209, "STDOUT", err)
	}
	defer logFile.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(208, "STDIN", err)
	}
	defer devNull.Close()

	envList := make([]string, 0, len(env))
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	attr := &os.ProcAttr{
		Dir:   dir,
		Env:   envList,
		Files: []*os.File{devNull, logFile, logFile},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Credential: cred},
	}
	// Program paths are real paths even when tests run the manager against a
	// scratch root: only configuration and state live under the root.
	pid, ch, err := m.reaper.start(argv[0], argv, attr)
	if err != nil {
		return fail(203, "EXEC", err)
	}
	p.pid = pid
	rec.pid = pid
	m.mu.Lock()
	if st.gen == gen {
		st.pgids[pid] = true
	}
	m.mu.Unlock()
	go func() {
		p.status = <-ch
		code, status := p.exitDescription()
		m.mu.Lock()
		rec.code, rec.status, rec.stopTime = code, status, time.Now()
		delete(st.pgids, pid)
		m.mu.Unlock()
		close(p.done)
	}()
	return p
}

// killUnit signals every process group the unit started.
func (m *Manager) killUnit(st *unitState, sig syscall.Signal) {
	m.mu.Lock()
	var groups []int
	for pgid := range st.pgids {
		groups = append(groups, pgid)
	}
	m.mu.Unlock()
	for _, g := range groups {
		_ = syscall.Kill(-g, sig)
	}
}

func (m *Manager) stopService(st *unitState) {
	m.mu.Lock()
	if st.def.Type() != "service" {
		st.active, st.sub = stateInactive, "dead"
		st.inactiveEnter = time.Now()
		m.mu.Unlock()
		return
	}
	st.stopRequested = true
	st.active, st.sub = stateDeactivating, "stop"
	main := st.mainProc
	gen := st.gen
	m.mu.Unlock()

	m.logUnit(st.name, "Stopping %s...", description(st.def))
	deadline := time.Now().Add(m.stopTimeout(st.def))
	mainPID := 0
	if main != nil {
		mainPID = main.pid
	}
	m.runCommands(st, gen, "ExecStop", deadline, mainPID)
	m.killUnit(st, syscall.SIGTERM)
	if main != nil {
		_ = syscall.Kill(main.pid, syscall.SIGTERM)
		select {
		case <-main.done:
		case <-time.After(time.Until(deadline)):
			m.logUnit(st.name, "%s stop-sigterm timed out. Killing.", st.name)
			m.killUnit(st, syscall.SIGKILL)
			_ = syscall.Kill(main.pid, syscall.SIGKILL)
			select {
			case <-main.done:
			case <-time.After(5 * time.Second):
			}
		}
	}
	m.runCommands(st, gen, "ExecStopPost", time.Now().Add(m.stopTimeout(st.def)), 0)
	if err := events.Append(m.root, "stop", st.name); err != nil {
		fmt.Fprintf(os.Stderr, "systemd: %v\n", err)
	}

	m.mu.Lock()
	st.gen++
	st.stopRequested = false
	st.mainProc = nil
	st.active, st.sub = stateInactive, "dead"
	st.inactiveEnter = time.Now()
	m.mu.Unlock()
	m.logUnit(st.name, "Stopped %s.", description(st.def))
}

// Reload runs ExecReload= with $MAINPID; it returns false when the unit has
// no ExecReload=, so reload-or-restart falls back to a restart.
func (m *Manager) ReloadUnit(name string) (bool, error) {
	name = unit.NormalizeName(name)
	m.mu.Lock()
	st := m.get(name)
	cmds, _ := st.def.Commands("ExecReload")
	active := st.active == stateActive
	gen := st.gen
	mainPID := 0
	if st.mainProc != nil {
		mainPID = st.mainProc.pid
	}
	m.mu.Unlock()
	if !active || len(cmds) == 0 {
		return false, nil
	}
	m.logUnit(name, "Reloading %s.", description(st.def))
	if result := m.runCommands(st, gen, "ExecReload", time.Now().Add(m.startTimeout(st.def)), mainPID); result != "success" {
		return true, &JobError{Unit: name, Exit: 1, Message: fmt.Sprintf("Job for %s failed because the control process exited with error code.\nSee \"systemctl status %s\" and \"journalctl -xe\" for details.", name, name)}
	}
	m.logUnit(name, "Reloaded %s.", description(st.def))
	return true, nil
}

func (m *Manager) makeRuntimeDirectories(def *unit.Unit) error {
	for _, name := range def.List("Service", "RuntimeDirectory") {
		dir := filepath.Join(m.root, "/run", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("%s: create RuntimeDirectory %s: %w", def.Name, dir, err)
		}
		if user := def.Value("Service", "User", ""); user != "" && user != "root" {
			if account, err := lookupUser(m.root, user); err == nil {
				_ = os.Chown(dir, int(account.uid), int(account.gid))
			}
		}
	}
	return nil
}

// adoptPIDFile reads PIDFile= of a Type=forking service after its parent
// exited and watches the daemon, which PID 1 reaps as an orphan.
func (m *Manager) adoptPIDFile(st *unitState, def *unit.Unit) *proc {
	path := def.Value("Service", "PIDFile", "")
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(m.root, path))
	if err != nil {
		m.logUnit(st.name, "PID file %s not readable (yet?) after start: %v", path, err)
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return nil
	}
	ch := m.reaper.watch(pid)
	p := &proc{pid: pid, done: make(chan struct{})}
	go func() {
		p.status = <-ch
		close(p.done)
	}()
	return p
}

// notifySocket is the sd_notify datagram socket of one service start.
type notifySocket struct {
	path  string
	conn  *net.UnixConn
	ready chan struct{}
}

func (m *Manager) openNotifySocket(name string) (*notifySocket, error) {
	dir := filepath.Join(m.root, "/run/systemd/notify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create notify socket directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, name)
	_ = os.Remove(path)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("listen on notify socket %s: %w", path, err)
	}
	// The service may run as another user (etcd runs as User=etcd).
	_ = os.Chmod(path, 0o777)
	n := &notifySocket{path: path, conn: conn, ready: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		signalled := false
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			scanner := bufio.NewScanner(strings.NewReader(string(buf[:k])))
			for scanner.Scan() {
				if scanner.Text() == "READY=1" && !signalled {
					signalled = true
					close(n.ready)
				}
			}
		}
	}()
	return n, nil
}

func (n *notifySocket) waitReady(main *proc, deadline time.Time) string {
	select {
	case <-n.ready:
		return "success"
	case <-main.done:
		// READY=1 may arrive just before the exit; prefer it.
		select {
		case <-n.ready:
			return "success"
		default:
		}
		if r := main.result(false); r != "success" {
			return r
		}
		return "protocol"
	case <-time.After(time.Until(deadline)):
		_ = syscall.Kill(-main.pid, syscall.SIGTERM)
		return "timeout"
	}
}

func (n *notifySocket) close() {
	_ = n.conn.Close()
	_ = os.Remove(n.path)
}
