// Package initsys is the sandbox stand-in for systemd as PID 1 of a sandbox
// host. It keeps systemd's contract for the parts kboot relies on: unit
// files and drop-ins from the three standard directories, Type=simple,
// notify, oneshot and minimal forking services, EnvironmentFile= and
// variable expansion, Requires=/Wants=/After=/Before= ordering, Restart=,
// enablement through .wants/.requires symlinks, and the job results and
// messages systemctl prints. It does not implement cgroups, sockets, timers,
// mounts, D-Bus or the journal: see docs/sandbox.md.
package initsys

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"kboot/sandbox/standins/internal/events"
	"kboot/sandbox/standins/internal/unit"
)

// Active states as systemctl is-active prints them.
const (
	stateActive       = "active"
	stateInactive     = "inactive"
	stateFailed       = "failed"
	stateActivating   = "activating"
	stateDeactivating = "deactivating"
)

// Bounds on waits that systemd lets run forever: TimeoutStartSec=0 (as in
// CentOS 7's docker.service) and waits for other units' jobs.
const (
	maxStartTimeout = 5 * time.Minute
	maxStopTimeout  = 90 * time.Second
)

// Manager is the unit manager of one sandbox host.
type Manager struct {
	root   string
	reaper *reaper

	mu     sync.Mutex
	units  map[string]*unitState
	booted bool
}

type unitState struct {
	name string
	def  *unit.Unit

	active string
	sub    string
	result string

	mainProc      *proc
	mainStart     time.Time
	mainExit      time.Time
	mainCode      string
	mainStatus    int
	activeEnter   time.Time
	inactiveEnter time.Time
	nRestarts     int
	startTimes    []time.Time
	pgids         map[int]bool
	execs         map[string][]*execRecord

	job *job
	// gen increments on every start and stop, so exit handlers and restart
	// timers of an earlier run recognise that they are stale.
	gen            int
	stopRequested  bool
	restartPending bool
}

type job struct {
	kind string
	done chan struct{}
	err  error
}

// execRecord is the run record of one Exec*= command, printed by systemctl show.
type execRecord struct {
	cmd       unit.Command
	pid       int
	startTime time.Time
	stopTime  time.Time
	code      string
	status    int
}

// NewManager creates a manager for the host whose file system is at root.
func NewManager(root string) *Manager {
	return &Manager{root: root, reaper: newReaper(), units: map[string]*unitState{}}
}

// get returns the state of a unit, loading its definition on first use.
// Units not found on disk are re-read on every access, because systemd
// does not keep them either: a unit file installed later loads on demand.
// The caller holds m.mu.
func (m *Manager) get(name string) *unitState {
	name = unit.NormalizeName(name)
	st, ok := m.units[name]
	if !ok {
		st = &unitState{name: name, active: stateInactive, sub: "dead", result: "success", pgids: map[int]bool{}, execs: map[string][]*execRecord{}}
		m.units[name] = st
	}
	if st.def == nil || (st.def.LoadState == unit.LoadNotFound && st.active == stateInactive) {
		st.def = unit.Load(m.root, name)
	}
	return st
}

// Reload drops every cached definition (systemctl daemon-reload).
func (m *Manager) Reload() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, st := range m.units {
		st.def = nil
	}
	for name := range m.units {
		m.get(name)
	}
}

// depDirs are the directories whose .wants/.requires links add dependencies
// to a unit. For targets only the administrator's directories count: the
// vendor targets of the machine the sandbox borrows /usr from would pull in
// its whole boot sequence.
func depDirs(st *unitState) []string {
	if st.def.Type() == "target" {
		return unit.SearchDirs[:2]
	}
	return unit.SearchDirs
}

func (m *Manager) requires(st *unitState) []string {
	var out []string
	if st.def.Type() != "target" {
		out = append(out, st.def.List("Unit", "Requires")...)
		out = append(out, st.def.List("Unit", "BindsTo")...)
	}
	out = append(out, unit.DirDeps(m.root, st.name, ".requires", depDirs(st))...)
	return normalizeAll(out)
}

func (m *Manager) wants(st *unitState) []string {
	var out []string
	if st.def.Type() != "target" {
		out = append(out, st.def.List("Unit", "Wants")...)
	}
	out = append(out, unit.DirDeps(m.root, st.name, ".wants", depDirs(st))...)
	return normalizeAll(out)
}

func normalizeAll(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		n = unit.NormalizeName(n)
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// orderedAfter reports whether a must wait for b: a has After=b or b has
// Before=a.
func orderedAfter(a, b *unitState) bool {
	for _, n := range a.def.List("Unit", "After") {
		if unit.NormalizeName(n) == b.name {
			return true
		}
	}
	for _, n := range b.def.List("Unit", "Before") {
		if unit.NormalizeName(n) == a.name {
			return true
		}
	}
	return false
}

// JobError is a failed job, carrying the text systemctl prints for it.
type JobError struct {
	Unit    string
	Message string
	Exit    int
}

func (e *JobError) Error() string { return e.Message }

func jobFailed(name, result string) *JobError {
	var why string
	switch result {
	case "timeout":
		why = "a timeout was exceeded"
	case "signal", "core-dump":
		why = "a fatal signal was delivered to the control process"
	case "start-limit":
		why = "start of the service was attempted too often"
	case "resources":
		why = "of a configuration or resource problem"
	case "protocol":
		why = "the service did not take the steps required by its unit configuration"
	default:
		why = "the control process exited with error code"
	}
	return &JobError{Unit: name, Exit: 1, Message: fmt.Sprintf("Job for %s failed because %s.\nSee \"systemctl status %s\" and \"journalctl -xe\" for details.", name, why, name)}
}

// Start runs a start job for the unit and its Requires=/Wants= units and
// returns when the unit is active or the job failed.
func (m *Manager) Start(name string) error {
	return m.start(unit.NormalizeName(name), nil, false)
}

func (m *Manager) start(name string, chain []string, autoRestart bool) error {
	m.mu.Lock()
	st := m.get(name)
	for st.job != nil {
		j := st.job
		m.mu.Unlock()
		if err := waitJob(j, maxStartTimeout); err != nil {
			return err
		}
		if j.kind == "start" {
			return j.err
		}
		m.mu.Lock()
	}
	switch st.def.LoadState {
	case unit.LoadNotFound:
		m.mu.Unlock()
		return &JobError{Unit: name, Exit: 5, Message: fmt.Sprintf("Failed to start %s: Unit %s not found.", name, name)}
	case unit.LoadMasked:
		m.mu.Unlock()
		return &JobError{Unit: name, Exit: 1, Message: fmt.Sprintf("Failed to start %s: Unit %s is masked.", name, name)}
	case unit.LoadError:
		m.mu.Unlock()
		return &JobError{Unit: name, Exit: 1, Message: fmt.Sprintf("Failed to start %s: Unit %s has a bad unit file setting: %s", name, name, st.def.LoadError)}
	}
	if st.active == stateActive || (st.active == stateActivating && st.sub != "auto-restart") {
		m.mu.Unlock()
		return nil
	}
	if autoRestart && st.sub != "auto-restart" {
		// Someone started or stopped the unit while the restart was pending.
		m.mu.Unlock()
		return nil
	}
	j := &job{kind: "start", done: make(chan struct{})}
	st.job = j
	if st.sub == "auto-restart" {
		// A start request overtakes a pending automatic restart.
		st.gen++
	}
	m.mu.Unlock()

	err := m.runStartJob(st, append(chain, name))

	m.mu.Lock()
	st.job = nil
	j.err = err
	close(j.done)
	m.mu.Unlock()
	return err
}

func waitJob(j *job, limit time.Duration) error {
	select {
	case <-j.done:
		return nil
	case <-time.After(limit):
		return fmt.Errorf("timed out after %s waiting for a running %s job; check the unit log under %s", limit, j.kind, events.LogDir)
	}
}

func (m *Manager) runStartJob(st *unitState, chain []string) error {
	m.mu.Lock()
	requires := m.requires(st)
	wants := m.wants(st)
	m.mu.Unlock()

	required := map[string]bool{}
	for _, r := range requires {
		required[r] = true
	}
	type depStart struct {
		st     *unitState
		result chan error
	}
	var deps []depStart
	for _, dep := range append(requires, wants...) {
		if contains(chain, dep) {
			continue
		}
		m.mu.Lock()
		depState := m.get(dep)
		missing := depState.def.LoadState == unit.LoadNotFound
		m.mu.Unlock()
		if missing {
			if required[dep] {
				m.failDependency(st)
				return &JobError{Unit: st.name, Exit: 5, Message: fmt.Sprintf("Failed to start %s: Unit %s not found.", st.name, dep)}
			}
			continue
		}
		d := depStart{st: depState, result: make(chan error, 1)}
		deps = append(deps, d)
		go func(name string) { d.result <- m.start(name, chain, false) }(dep)
	}

	for _, d := range deps {
		if !orderedAfter(st, d.st) {
			continue
		}
		var err error
		select {
		case err = <-d.result:
		case <-time.After(maxStartTimeout):
			err = fmt.Errorf("timed out waiting for %s", d.st.name)
		}
		if err != nil && required[d.st.name] {
			m.failDependency(st)
			return &JobError{Unit: st.name, Exit: 1, Message: fmt.Sprintf("A dependency job for %s failed. See 'journalctl -xe' for details.", st.name)}
		}
	}
	m.waitOrderedJobs(st)

	if st.def.Type() != "service" {
		m.mu.Lock()
		st.active, st.sub, st.result = stateActive, "active", "success"
		st.activeEnter = time.Now()
		m.mu.Unlock()
		return nil
	}
	return m.startService(st)
}

// waitOrderedJobs waits for start jobs of units that are not dependencies
// of st but that st is ordered after, as systemd orders every pair of jobs
// in the same transaction or queue.
func (m *Manager) waitOrderedJobs(st *unitState) {
	m.mu.Lock()
	var pending []*job
	for _, other := range m.units {
		if other == st || other.job == nil || other.job.kind != "start" || other.def == nil {
			continue
		}
		if orderedAfter(st, other) {
			pending = append(pending, other.job)
		}
	}
	m.mu.Unlock()
	for _, j := range pending {
		_ = waitJob(j, maxStartTimeout)
	}
}

func (m *Manager) failDependency(st *unitState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st.active != stateActive {
		st.active, st.sub = stateInactive, "dead"
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Stop runs a stop job, first stopping active units that require this one.
func (m *Manager) Stop(name string) error {
	return m.stop(unit.NormalizeName(name), nil)
}

func (m *Manager) stop(name string, chain []string) error {
	for _, dependent := range m.activeRequiredBy(name) {
		if !contains(chain, dependent) {
			_ = m.stop(dependent, append(chain, name))
		}
	}

	m.mu.Lock()
	st := m.get(name)
	for st.job != nil {
		j := st.job
		m.mu.Unlock()
		if err := waitJob(j, maxStartTimeout); err != nil {
			return err
		}
		m.mu.Lock()
	}
	if st.sub == "auto-restart" {
		st.gen++
		st.active, st.sub = stateInactive, "dead"
		st.inactiveEnter = time.Now()
		m.mu.Unlock()
		return nil
	}
	if st.active != stateActive && st.active != stateActivating {
		m.mu.Unlock()
		return nil
	}
	j := &job{kind: "stop", done: make(chan struct{})}
	st.job = j
	m.mu.Unlock()

	m.stopService(st)

	m.mu.Lock()
	st.job = nil
	close(j.done)
	m.mu.Unlock()
	return nil
}

// activeRequiredBy lists active units that have Requires= (or BindsTo=) on
// name: systemd propagates a stop of name to them, and a restart of name
// as a try-restart.
func (m *Manager) activeRequiredBy(name string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for other, st := range m.units {
		if st.def == nil || (st.active != stateActive && st.active != stateActivating) {
			continue
		}
		if contains(m.requires(st), name) {
			out = append(out, other)
		}
	}
	sort.Strings(out)
	return out
}

// Restart stops and starts the unit; active units that require it are
// restarted after it, as systemd's try-restart propagation does.
func (m *Manager) Restart(name string) error {
	name = unit.NormalizeName(name)
	dependents := m.activeRequiredBy(name)
	if err := m.stop(name, nil); err != nil {
		return err
	}
	if err := m.start(name, nil, false); err != nil {
		return err
	}
	for _, d := range dependents {
		if err := m.start(d, nil, false); err != nil {
			return err
		}
	}
	return nil
}

// IsActive reports whether the unit is active (or reloading).
func (m *Manager) IsActive(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.get(name).active == stateActive
}

// ResetFailed clears the failed state, result and start-limit counter.
func (m *Manager) ResetFailed(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.get(name)
	if st.active == stateFailed {
		st.active, st.sub = stateInactive, "dead"
	}
	st.result = "success"
	st.startTimes = nil
}

// StopAll stops every active unit, dependents first, for a shutdown.
func (m *Manager) StopAll() {
	m.mu.Lock()
	var names []string
	for name, st := range m.units {
		if st.active == stateActive || st.active == stateActivating {
			names = append(names, name)
		}
	}
	m.mu.Unlock()
	for _, n := range names {
		_ = m.Stop(n)
	}
}

func (m *Manager) unitLogPath(name string) string {
	return filepath.Join(m.root, events.LogDir, name+".log")
}

// logUnit writes a manager line into the unit's log, like the journal lines
// systemd adds around a service's own output.
func (m *Manager) logUnit(name, format string, args ...interface{}) {
	path := m.unitLogPath(name)
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "systemd: open log of %s: %v\n", name, err)
		return
	}
	defer f.Close()
	host, _ := os.Hostname()
	msg := fmt.Sprintf(format, args...)
	_, _ = f.WriteString(fmt.Sprintf("%s %s systemd[1]: %s\n", time.Now().Format(time.Stamp), host, strings.TrimSpace(msg)))
}
