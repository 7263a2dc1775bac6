package initsys

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"kboot/sandbox/standins/internal/events"
)

// BaseTools are the host commands the systemd stand-in links into /usr/bin
// at boot, standing for the systemd, yum and rpm packages of a CentOS 7
// base install.
var BaseTools = []string{"systemctl", "journalctl", "yum", "rpm"}

const usage = `systemd (kboot sandbox stand-in) [OPTIONS...]

Sandbox stand-in for systemd as PID 1 of a kboot sandbox host. It keeps the
contract of systemd 219 (CentOS 7) for the parts kboot relies on: unit files
and drop-ins in /etc/systemd/system, /run/systemd/system and
/usr/lib/systemd/system; Type=simple, notify, oneshot and forking services;
EnvironmentFile=, Environment= and $VAR/${VAR} expansion; Requires=, Wants=,
After=, Before=; Restart=; enablement through .wants/.requires links. It is
not systemd: no cgroups, sockets, timers, mounts, D-Bus or journal.

At boot it links systemctl, journalctl, yum and rpm into /usr/bin, creates
the runtime directories of tmpfiles.d "d" lines under /run, and starts the
units linked in multi-user.target.wants/. Service output goes to
/var/log/kboot-sandbox/<unit>.log, events to /var/log/kboot-sandbox/events.log.
SIGTERM stops all units and exits.

Options:
  -h --help          Show this help
     --unit=UNIT     Start UNIT instead of multi-user.target
`

// Main runs the manager; it returns only on a usage error or a shutdown.
func Main(args []string) int {
	target := "multi-user.target"
	for _, a := range args {
		switch {
		case a == "-h" || a == "--help":
			fmt.Print(usage)
			return 0
		case strings.HasPrefix(a, "--unit="):
			target = strings.TrimPrefix(a, "--unit=")
		case a == "--system" || a == "--log-target=console":
		default:
			fmt.Fprintf(os.Stderr, "systemd: unrecognized option '%s'; see --help\n", a)
			return 1
		}
	}
	root := events.Root()
	if os.Getpid() != 1 {
		if root == "/" {
			fmt.Fprintf(os.Stderr, "systemd: this sandbox stand-in must run as PID 1 of a sandbox host's PID namespace (running as PID %d); start it through the fleet's boot step\n", os.Getpid())
			return 1
		}
		// Tests run the manager against a scratch root; as a subreaper it
		// still collects the orphans of its services.
		_ = setChildSubreaper()
	}

	m := NewManager(root)
	m.prepareHost()

	shutdown := make(chan os.Signal, 1)
	signal.Notify(shutdown, syscall.SIGTERM, syscall.SIGINT, syscall.SIGPWR)
	serveErr := make(chan error, 1)
	go func() { serveErr <- m.Serve() }()
	go func() {
		m.bootLog("Reached boot, starting %s", target)
		if err := m.Start(target); err != nil {
			m.bootLog("Starting %s failed: %v", target, err)
		}
		m.mu.Lock()
		m.booted = true
		m.mu.Unlock()
		m.bootLog("Startup finished: %s", target)
	}()

	select {
	case sig := <-shutdown:
		m.bootLog("Received %s, stopping all units", sig)
		done := make(chan struct{})
		go func() { m.StopAll(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * maxStopTimeout):
			m.bootLog("Stopping units timed out after %s; exiting anyway", 2*maxStopTimeout)
		}
		return 0
	case err := <-serveErr:
		m.bootLog("Control socket failed: %v", err)
		return 1
	}
}

func setChildSubreaper() error {
	const prSetChildSubreaper = 36
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func (m *Manager) bootLog(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(os.Stderr, "systemd: %s\n", msg)
	path := filepath.Join(m.root, events.LogDir, "systemd.log")
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
		fmt.Fprintf(f, "%s %s\n", time.Now().Format(time.RFC3339), msg)
		f.Close()
	}
}

// prepareHost does what a CentOS 7 base install and early boot would have
// done for the services kboot manages: the state directories, the base
// tools on PATH, and tmpfiles.d runtime directories on the fresh /run.
func (m *Manager) prepareHost() {
	for _, dir := range []string{"/run/systemd/system", "/run/systemd/notify", events.LogDir, "/var/lib/rpm-standin", "/etc/yum.repos.d", "/etc/sysconfig"} {
		if err := os.MkdirAll(filepath.Join(m.root, dir), 0o755); err != nil {
			m.bootLog("Failed to create %s: %v", dir, err)
		}
	}
	if exe, err := os.Executable(); err == nil && m.root == "/" {
		binDir := filepath.Dir(exe)
		for _, tool := range BaseTools {
			target := filepath.Join(binDir, tool)
			link := filepath.Join("/usr/bin", tool)
			if current, err := os.Readlink(link); err == nil && current == target {
				continue
			}
			_ = os.Remove(link)
			if err := os.Symlink(target, link); err != nil {
				m.bootLog("Failed to link %s to %s: %v", link, target, err)
			}
		}
	}
	m.hideLocalShadows()
	m.createTmpfilesDirs()
}

// shadowedCommands are the commands of the sandbox packages and base tools.
// A copy of one in /usr/local of the machine the sandbox runs on (this
// machine has a Docker 28 client in /usr/local/bin) would come first on
// PATH in every host, where CentOS 7 keeps /usr/local empty.
var shadowedCommands = []string{"systemctl", "journalctl", "yum", "rpm", "etcd", "etcdctl", "flanneld", "docker", "dockerd",
	"kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"}

// hideLocalShadows removes such copies from the host's /usr overlay; the
// machine's own files stay untouched.
func (m *Manager) hideLocalShadows() {
	if m.root != "/" {
		return
	}
	for _, dir := range []string{"/usr/local/bin", "/usr/local/sbin"} {
		for _, name := range shadowedCommands {
			path := filepath.Join(dir, name)
			if _, err := os.Lstat(path); err != nil {
				continue
			}
			if err := os.Remove(path); err != nil {
				m.bootLog("Failed to hide %s, which shadows the sandbox package's %s: %v", path, name, err)
				continue
			}
			m.bootLog("Hid %s, which would shadow the sandbox package's %s on PATH", path, name)
		}
	}
}

// createTmpfilesDirs applies the "d" and "D" lines of tmpfiles.d for paths
// under /run, because /run is a fresh tmpfs on every boot (the kubernetes
// package, for one, declares /run/kubernetes there). Other line types and
// paths are left alone.
func (m *Manager) createTmpfilesDirs() {
	byName := map[string]string{}
	for _, dir := range []string{"/usr/lib/tmpfiles.d", "/run/tmpfiles.d", "/etc/tmpfiles.d"} {
		matches, _ := filepath.Glob(filepath.Join(m.root, dir, "*.conf"))
		for _, p := range matches {
			byName[filepath.Base(p)] = p
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := os.Open(byName[n])
		if err != nil {
			continue
		}
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			fields := strings.Fields(scanner.Text())
			if len(fields) < 2 || (fields[0] != "d" && fields[0] != "D") {
				continue
			}
			path := strings.Replace(fields[1], "/var/run/", "/run/", 1)
			if !strings.HasPrefix(path, "/run/") {
				continue
			}
			mode := os.FileMode(0o755)
			if len(fields) > 2 {
				if v, err := strconv.ParseUint(fields[2], 8, 32); err == nil {
					mode = os.FileMode(v)
				}
			}
			full := filepath.Join(m.root, path)
			if err := os.MkdirAll(full, mode); err != nil {
				continue
			}
			_ = os.Chmod(full, mode)
			if len(fields) > 4 && fields[3] != "-" {
				if account, err := lookupUser(m.root, fields[3]); err == nil {
					gid := account.gid
					if g, err := lookupGroup(m.root, fields[4]); err == nil {
						gid = g
					}
					_ = os.Chown(full, int(account.uid), int(gid))
				}
			}
		}
		f.Close()
	}
}
