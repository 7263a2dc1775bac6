// Package docker is the sandbox stand-in for dockerd and the docker client
// of docker 1.13.1 as CentOS 7 ships it. dockerd keeps the daemon's
// contract where kboot depends on it. That covers the flags of
// docker.service and its sysconfig files, the refusal to start with an
// unusable storage setup, the docker0 bridge with --bip and --mtu, the pid
// file, and /_ping, /version and /info on /var/run/docker.sock. It runs no
// containers.
package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"kboot/sandbox/standins/internal/events"
	"kboot/sandbox/standins/internal/flags"
	"kboot/sandbox/standins/internal/sdnotify"
)

// Version and APIVersion are those of CentOS 7's docker-1.13.1 package.
const (
	Version    = "1.13.1"
	APIVersion = "1.26"
)

const dockerdUsage = `Usage: dockerd [OPTIONS]

Sandbox stand-in for dockerd 1.13.1 (CentOS 7 docker package). It keeps the
daemon's startup contract: flags and refusals, the docker0 bridge from --bip
and --mtu, the data root and storage driver, /var/run/docker.pid and the
API endpoints /_ping, /version and /info on /var/run/docker.sock. It runs
no containers. In the sandbox it refuses to start without --bip, because
docker must get its network from flannel (/run/flannel/docker).

Options (others are accepted with a warning):
  --bip CIDR                 docker0 address and prefix, such as 10.244.3.1/24
  --mtu N                    docker0 MTU (default 1500)
  -g, --graph, --data-root DIR   data root (default /var/lib/docker)
  -s, --storage-driver NAME  overlay2, overlay, devicemapper or vfs
                             (default devicemapper, as on CentOS 7)
  --storage-opt KEY=VALUE    storage driver option (repeatable)
  -b, --bridge NAME          bridge to use (default docker0; "none" skips it)
  --ip-masq                  masquerade traffic leaving the bridge (default true)
  --iptables                 let docker change iptables (default true)
  -H, --host ADDR            listen address (default unix:///var/run/docker.sock)
  -p, --pidfile FILE         pid file (default /var/run/docker.pid)
  --selinux-enabled, --log-driver, --log-opt, --exec-opt, --add-runtime,
  --default-runtime, --signature-verification, --seccomp-profile,
  --userland-proxy-path, --init-path, --insecure-registry, ...
`

type daemonConfig struct {
	root         string
	bip          string
	mtu          int
	dataRoot     string
	driver       string
	storageOpts  []string
	bridge       string
	ipMasq       bool
	iptables     bool
	hosts        []string
	pidFile      string
	logDriver    string
	cgroupDriver string
	selinux      bool
	loopLVM      bool
	driverStatus [][2]string
	thinPool     string
	insecureRegs []string
	startedAt    time.Time
	daemonID     string
}

func logf(level, format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(os.Stderr, "time=%q level=%s msg=%q\n", time.Now().UTC().Format(time.RFC3339Nano), level, msg)
}

// DaemonMain runs dockerd with the arguments after argv[0].
func DaemonMain(args []string) int {
	fs := flags.New("dockerd")
	help := fs.Bool(false, "h", "help")
	version := fs.Bool(false, "v", "version")
	bip := fs.String("", "bip")
	mtu := fs.String("0", "mtu")
	graph := fs.String("/var/lib/docker", "g", "graph", "data-root")
	driver := fs.String("", "s", "storage-driver")
	storageOpts := fs.List(false, "storage-opt")
	bridge := fs.String("docker0", "b", "bridge")
	ipMasq := fs.Bool(true, "ip-masq")
	iptables := fs.Bool(true, "iptables")
	hosts := fs.List(false, "H", "host")
	pidFile := fs.String("/var/run/docker.pid", "p", "pidfile")
	logDriver := fs.String("json-file", "log-driver")
	fs.List(false, "log-opt")
	selinux := fs.Bool(false, "selinux-enabled")
	execOpts := fs.List(false, "exec-opt")
	fs.List(false, "add-runtime")
	fs.String("", "default-runtime")
	fs.Bool(true, "signature-verification")
	fs.String("", "seccomp-profile")
	fs.String("", "userland-proxy-path")
	fs.String("", "init-path")
	insecure := fs.List(false, "insecure-registry")
	fs.List(false, "add-registry")
	fs.List(false, "block-registry")
	fs.List(false, "registry-mirror")
	fs.Bool(false, "D", "debug")
	fs.String("info", "l", "log-level")
	fs.Bool(false, "live-restore")
	fs.Bool(true, "ip-forward")
	fs.String("", "fixed-cidr")
	fs.String("", "default-gateway")
	fs.List(false, "dns")
	fs.List(false, "dns-search")
	fs.List(false, "default-ulimit")
	fs.String("", "cgroup-parent")
	fs.Bool(false, "tls")
	fs.Bool(false, "tlsverify")
	fs.String("", "tlscacert")
	fs.String("", "tlscert")
	fs.String("", "tlskey")
	fs.Bool(true, "userland-proxy")
	fs.String("", "containerd")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "%v\nSee 'dockerd --help'.\n", err)
		return 125
	}
	if help() {
		fmt.Print(dockerdUsage)
		return 0
	}
	if version() {
		fmt.Printf("Docker version %s, build 7d71120/%s (kboot sandbox stand-in)\n", Version, Version)
		return 0
	}
	for _, w := range fs.Warnings {
		logf("warning", "%s", w)
	}
	if len(fs.Args) > 0 {
		fmt.Fprintf(os.Stderr, "dockerd: \"dockerd\" requires 0 arguments, got %d: %v\nSee 'dockerd --help'.\n", len(fs.Args), fs.Args)
		return 1
	}

	cfg := &daemonConfig{
		root: events.Root(), bip: bip(), dataRoot: graph(), driver: driver(), storageOpts: storageOpts(),
		bridge: bridge(), ipMasq: ipMasq(), iptables: iptables(), hosts: hosts(), pidFile: pidFile(),
		logDriver: logDriver(), selinux: selinux(), insecureRegs: insecure(), cgroupDriver: "cgroupfs",
		startedAt: time.Now(),
	}
	for _, o := range execOpts() {
		if v, ok := strings.CutPrefix(o, "native.cgroupdriver="); ok {
			cfg.cgroupDriver = v
		}
	}
	n, err := strconv.Atoi(mtu())
	if err != nil || n < 0 {
		fmt.Fprintf(os.Stderr, "invalid argument %q for --mtu: expected a number\n", mtu())
		return 125
	}
	cfg.mtu = n
	if cfg.mtu == 0 {
		cfg.mtu = 1500
	}
	if len(cfg.hosts) == 0 {
		cfg.hosts = []string{"unix:///var/run/docker.sock"}
	}

	if err := cfg.start(); err != nil {
		logf("fatal", "Error starting daemon: %v", err)
		return 1
	}
	return cfg.serve()
}

func (c *daemonConfig) path(p string) string { return filepath.Join(c.root, p) }

// start performs the checks and setup dockerd does before it serves.
func (c *daemonConfig) start() error {
	if err := c.checkNetwork(); err != nil {
		return err
	}
	if err := c.takePidFile(); err != nil {
		return err
	}
	if err := os.MkdirAll(c.path(c.dataRoot), 0o711); err != nil {
		return fmt.Errorf("create data root %s: %w", c.dataRoot, err)
	}
	if err := c.setupStorage(); err != nil {
		os.Remove(c.path(c.pidFile))
		return fmt.Errorf("error initializing graphdriver: %w", err)
	}
	if c.bridge != "none" {
		if err := c.setupBridge(); err != nil {
			os.Remove(c.path(c.pidFile))
			return fmt.Errorf("Error initializing network controller: %w", err)
		}
	}
	id, err := c.loadDaemonID()
	if err != nil {
		return err
	}
	c.daemonID = id
	return nil
}

// checkNetwork refuses a daemon without --bip and a --bip outside the
// flannel lease: in the sandbox docker0 must sit inside FLANNEL_SUBNET so
// that pods on different nodes can reach each other over flannel.
func (c *daemonConfig) checkNetwork() error {
	if c.bip == "" {
		return errors.New("--bip is not set: in the kboot sandbox docker must get its network from flannel. Start flanneld first; docker.service reads --bip from /run/flannel/docker (docker.service.d/flannel.conf)")
	}
	ip, bipNet, err := net.ParseCIDR(c.bip)
	if err != nil {
		return fmt.Errorf("invalid --bip %q: expected an address with prefix, such as 10.244.3.1/24: %v", c.bip, err)
	}
	data, err := os.ReadFile(c.path("/run/flannel/subnet.env"))
	if err != nil {
		return nil
	}
	subnet := ""
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "FLANNEL_SUBNET="); ok {
			subnet = strings.Trim(v, "\"")
		}
	}
	if subnet == "" {
		return nil
	}
	_, leaseNet, err := net.ParseCIDR(subnet)
	if err != nil {
		return fmt.Errorf("invalid FLANNEL_SUBNET %q in /run/flannel/subnet.env: %v", subnet, err)
	}
	bipOnes, _ := bipNet.Mask.Size()
	leaseOnes, _ := leaseNet.Mask.Size()
	if !leaseNet.Contains(ip) || bipOnes < leaseOnes {
		return fmt.Errorf("--bip %s is not inside the flannel lease FLANNEL_SUBNET=%s (/run/flannel/subnet.env): restart docker after flanneld so that it reads the current /run/flannel/docker", c.bip, subnet)
	}
	return nil
}

func (c *daemonConfig) takePidFile() error {
	path := c.path(c.pidFile)
	if data, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid != os.Getpid() {
			if syscall.Kill(pid, 0) == nil {
				return fmt.Errorf("pid file found, ensure docker is not running or delete %s", c.pidFile)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o644)
}

var devicemapperOptions = map[string]bool{
	"dm.thinpooldev": true, "dm.basesize": true, "dm.loopdatasize": true, "dm.loopmetadatasize": true,
	"dm.fs": true, "dm.mkfsarg": true, "dm.mountopt": true, "dm.datadev": true, "dm.metadatadev": true,
	"dm.blocksize": true, "dm.blkdiscard": true, "dm.override_udev_sync_check": true, "dm.use_deferred_removal": true,
	"dm.use_deferred_deletion": true, "dm.min_free_space": true, "dm.xfs_nospace_max_retries": true,
	"dm.no_warn_on_loop_devices": true, "dm.libdm_log_level": true,
}

var overlay2Options = map[string]bool{"overlay2.override_kernel_check": true, "overlay2.size": true}

func (c *daemonConfig) setupStorage() error {
	if c.driver == "" {
		// With no DOCKER_STORAGE_OPTIONS, docker 1.13 on CentOS 7 picks
		// devicemapper.
		c.driver = "devicemapper"
	}
	opts := map[string]string{}
	for _, o := range c.storageOpts {
		key, value, ok := strings.Cut(o, "=")
		if !ok {
			return fmt.Errorf("%s: invalid storage option %q: expected KEY=VALUE", c.driver, o)
		}
		opts[strings.ToLower(strings.TrimSpace(key))] = strings.TrimSpace(value)
	}
	dir := filepath.Join(c.path(c.dataRoot), c.driver)
	switch c.driver {
	case "devicemapper":
		for k := range opts {
			if !devicemapperOptions[k] {
				return fmt.Errorf("devmapper: Unknown option %s", k)
			}
		}
		if dev := opts["dm.thinpooldev"]; dev != "" {
			if !c.deviceExists(dev) {
				return fmt.Errorf("devmapper: thin pool %s not found: create the LVM thin pool (lvcreate --thinpool) or fix dm.thinpooldev", dev)
			}
			c.thinPool = dev
			c.driverStatus = [][2]string{{"Pool Name", filepath.Base(dev)}, {"Pool Blocksize", "524.3 kB"}, {"Base Device Size", "10.74 GB"},
				{"Backing Filesystem", "xfs"}, {"Udev Sync Supported", "true"}, {"Deferred Removal Enabled", "true"},
				{"Library Version", "1.02.140-RHEL7 (2017-05-03)"}}
		} else {
			c.loopLVM = true
			loopDir := filepath.Join(dir, "devicemapper")
			if err := os.MkdirAll(loopDir, 0o700); err != nil {
				return fmt.Errorf("devmapper: create %s: %w", loopDir, err)
			}
			// Sparse files of the default loop sizes (100 GB data, 2 GB
			// metadata) allocate no disk space.
			for name, size := range map[string]int64{"data": 100 << 30, "metadata": 2 << 30} {
				f, err := os.OpenFile(filepath.Join(loopDir, name), os.O_CREATE|os.O_WRONLY, 0o600)
				if err != nil {
					return fmt.Errorf("devmapper: create loop file %s: %w", name, err)
				}
				_ = f.Truncate(size)
				f.Close()
			}
			if opts["dm.no_warn_on_loop_devices"] != "true" {
				logf("warning", "devmapper: Usage of loopback devices is strongly discouraged for production use. Please use `--storage-opt dm.thinpooldev` or use `man docker` to refer to dm.thinpooldev section.")
			}
			dataFile := filepath.Join(c.dataRoot, "devicemapper", "devicemapper", "data")
			c.driverStatus = [][2]string{{"Pool Name", "docker-253:0-1234567-pool"}, {"Pool Blocksize", "65.54 kB"},
				{"Base Device Size", "10.74 GB"}, {"Backing Filesystem", "xfs"}, {"Data file", "/dev/loop0"},
				{"Metadata file", "/dev/loop1"}, {"Data Space Used", "11.8 MB"}, {"Data Space Total", "107.4 GB"},
				{"Metadata Space Used", "581.6 kB"}, {"Metadata Space Total", "2.147 GB"},
				{"Thin Pool Minimum Free Space", "10.74 GB"}, {"Udev Sync Supported", "true"},
				{"Deferred Removal Enabled", "false"}, {"Deferred Deletion Enabled", "false"},
				{"Data loop file", dataFile}, {"Metadata loop file", filepath.Join(filepath.Dir(dataFile), "metadata")},
				{"Library Version", "1.02.140-RHEL7 (2017-05-03)"}}
		}
	case "overlay2", "overlay":
		for k := range opts {
			if !overlay2Options[k] || c.driver == "overlay" {
				return fmt.Errorf("%s: Unknown option %s", c.driver, k)
			}
		}
		c.driverStatus = [][2]string{{"Backing Filesystem", "xfs"}, {"Supports d_type", "true"}, {"Native Overlay Diff", "true"}}
	case "vfs":
		if len(opts) > 0 {
			return fmt.Errorf("vfs: storage options are not supported")
		}
	default:
		return fmt.Errorf("driver not supported: %s (the sandbox stand-in knows overlay2, overlay, devicemapper and vfs)", c.driver)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}

// DeclaredDevices is where a sandbox host declares block devices it cannot
// have: hosts share the machine's /dev, so a test never creates nodes
// there. A device path P counts as present when P exists or
// DeclaredDevices+P does, such as
// /etc/kboot-sandbox/devices/dev/mapper/docker-thinpool for an LVM thin
// pool that lvcreate --thinpool would make.
const DeclaredDevices = "/etc/kboot-sandbox/devices"

func (c *daemonConfig) deviceExists(dev string) bool {
	if _, err := os.Stat(c.path(dev)); err == nil {
		return true
	}
	_, err := os.Stat(c.path(filepath.Join(DeclaredDevices, dev)))
	return err == nil
}

// setupBridge creates or fixes the bridge with the real ip command: the
// --bip address (stale addresses removed) and the --mtu.
func (c *daemonConfig) setupBridge() error {
	ip, ipNet, _ := net.ParseCIDR(c.bip)
	ones, _ := ipNet.Mask.Size()
	want := fmt.Sprintf("%s/%d", ip, ones)
	if err := runIP("link", "show", c.bridge); err != nil {
		if err := runIP("link", "add", c.bridge, "type", "bridge"); err != nil {
			return fmt.Errorf("create bridge %s: %w", c.bridge, err)
		}
	}
	if err := runIP("link", "set", c.bridge, "mtu", strconv.Itoa(c.mtu)); err != nil {
		return fmt.Errorf("set MTU %d on %s: %w", c.mtu, c.bridge, err)
	}
	out, err := exec.Command("ip", "-o", "-4", "addr", "show", "dev", c.bridge).Output()
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", c.bridge, err)
	}
	present := false
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		for i, f := range fields {
			if f != "inet" || i+1 >= len(fields) {
				continue
			}
			if fields[i+1] == want {
				present = true
				continue
			}
			logf("info", "Removing stale address %s from %s (bip is %s)", fields[i+1], c.bridge, want)
			if err := runIP("addr", "del", fields[i+1], "dev", c.bridge); err != nil {
				return fmt.Errorf("remove stale address %s from %s: %w", fields[i+1], c.bridge, err)
			}
		}
	}
	if !present {
		if err := runIP("addr", "add", want, "dev", c.bridge); err != nil {
			return fmt.Errorf("add %s to %s: %w", want, c.bridge, err)
		}
	}
	if err := runIP("link", "set", c.bridge, "up"); err != nil {
		return fmt.Errorf("bring %s up: %w", c.bridge, err)
	}
	if c.iptables && c.ipMasq {
		rule := []string{"-t", "nat", "POSTROUTING", "-s", ipNet.String(), "!", "-o", c.bridge, "-j", "MASQUERADE"}
		check := append([]string{rule[0], rule[1], "-C"}, rule[2:]...)
		if exec.Command("iptables", check...).Run() != nil {
			add := append([]string{rule[0], rule[1], "-A"}, rule[2:]...)
			if out, err := exec.Command("iptables", add...).CombinedOutput(); err != nil {
				logf("warning", "could not add the MASQUERADE rule for %s: %v: %s", ipNet, err, strings.TrimSpace(string(out)))
			}
		}
	}
	logf("info", "Default bridge (%s) is assigned with an IP address %s. Daemon option --bip can be used to set a preferred IP address", c.bridge, want)
	return nil
}

func runIP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (c *daemonConfig) loadDaemonID() (string, error) {
	path := filepath.Join(c.path(c.dataRoot), ".kboot-standin-id")
	if data, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	buf := make([]byte, 12)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Read(buf); err != nil {
		return "", err
	}
	id := strings.ToUpper(fmt.Sprintf("%X", buf))
	var parts []string
	for i := 0; i+4 <= len(id); i += 4 {
		parts = append(parts, id[i:i+4])
	}
	id = strings.Join(parts, ":")
	return id, os.WriteFile(path, []byte(id+"\n"), 0o600)
}

func (c *daemonConfig) serve() int {
	mux := http.NewServeMux()
	mux.HandleFunc("/", c.handle)
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	var listeners []net.Listener
	for _, h := range c.hosts {
		proto, addr, ok := strings.Cut(h, "://")
		if !ok {
			proto, addr = "tcp", h
		}
		if proto == "unix" {
			addr = c.path(addr)
			_ = os.Remove(addr)
			if err := os.MkdirAll(filepath.Dir(addr), 0o755); err != nil {
				logf("fatal", "Error starting daemon: create %s: %v", filepath.Dir(addr), err)
				return 1
			}
		} else if proto != "tcp" && proto != "fd" {
			logf("fatal", "Error starting daemon: invalid -H %q: expected unix:// or tcp://", h)
			return 1
		}
		if proto == "fd" {
			logf("warning", "-H %s (socket activation) is not supported by the sandbox stand-in; ignored", h)
			continue
		}
		ln, err := net.Listen(proto, addr)
		if err != nil {
			logf("fatal", "Error starting daemon: listen on %s: %v", h, err)
			return 1
		}
		if proto == "unix" {
			_ = os.Chmod(addr, 0o660)
		}
		logf("info", "API listen on %s", addr)
		listeners = append(listeners, ln)
		go func() { _ = server.Serve(ln) }()
	}
	logf("info", "Daemon has completed initialization")
	logf("info", "Docker daemon commit=%q graphdriver=%s version=%s", "7d71120/"+Version, c.driver, Version)
	if err := sdnotify.Ready(); err != nil {
		logf("warning", "sd_notify READY=1 failed: %v", err)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			logf("info", "Got signal to reload configuration, reloading from: /etc/docker/daemon.json")
			continue
		}
		logf("info", "Processing signal '%v'", sig)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = server.Shutdown(ctx)
		cancel()
		for _, ln := range listeners {
			ln.Close()
		}
		os.Remove(c.path(c.pidFile))
		logf("info", "stopping containerd after receiving terminated")
		return 0
	}
	return 0
}

func (c *daemonConfig) handle(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	// Strip the API version prefix, such as /v1.26/info.
	if strings.HasPrefix(path, "/v1.") {
		if i := strings.IndexByte(path[1:], '/'); i >= 0 {
			path = path[i+1:]
		}
	}
	w.Header().Set("Api-Version", APIVersion)
	w.Header().Set("Docker-Experimental", "false")
	w.Header().Set("Server", "Docker/"+Version+" (linux)")
	switch path {
	case "/_ping":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("OK"))
	case "/version":
		writeJSON(w, c.version())
	case "/info":
		writeJSON(w, c.info())
	case "/containers/json", "/images/json":
		writeJSON(w, []interface{}{})
	default:
		w.WriteHeader(http.StatusNotFound)
		writeJSON(w, map[string]string{"message": "page not found"})
	}
}

func writeJSON(w http.ResponseWriter, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (c *daemonConfig) version() map[string]interface{} {
	return map[string]interface{}{
		"Version": Version, "ApiVersion": APIVersion, "MinAPIVersion": "1.12", "GitCommit": "7d71120/" + Version,
		"GoVersion": "go1.10.3", "Os": "linux", "Arch": "amd64", "KernelVersion": kernelVersion(),
		"BuildTime": "2020-03-16T15:53:06.000000000+00:00", "PkgVersion": "docker-1.13.1-209.git7d71120.el7.centos.x86_64",
	}
}

func kernelVersion() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return ""
	}
	var b strings.Builder
	for _, ch := range u.Release {
		if ch == 0 {
			break
		}
		b.WriteByte(byte(ch))
	}
	return b.String()
}

func (c *daemonConfig) info() map[string]interface{} {
	host, _ := os.Hostname()
	status := make([][]string, 0, len(c.driverStatus))
	for _, kv := range c.driverStatus {
		status = append(status, []string{kv[0], kv[1]})
	}
	var security []string
	if c.selinux {
		security = append(security, "selinux")
	}
	security = append(security, "seccomp")
	return map[string]interface{}{
		"ID": c.daemonID, "Containers": 0, "ContainersRunning": 0, "ContainersPaused": 0, "ContainersStopped": 0,
		"Images": 0, "Driver": c.driver, "DriverStatus": status, "DockerRootDir": c.dataRoot,
		"ServerVersion": Version, "OperatingSystem": "CentOS Linux 7 (Core)", "OSType": "linux",
		"KernelVersion": kernelVersion(), "Architecture": "x86_64", "NCPU": runtime.NumCPU(), "MemTotal": memTotal(),
		"Name": host, "LoggingDriver": c.logDriver, "CgroupDriver": c.cgroupDriver, "SecurityOptions": security,
		"IndexServerAddress": "https://index.docker.io/v1/", "InsecureRegistries": c.insecureRegs,
		"Debug": false, "SystemTime": time.Now().Format(time.RFC3339Nano),
	}
}

func memTotal() int64 {
	var info syscall.Sysinfo_t
	if syscall.Sysinfo(&info) != nil {
		return 0
	}
	return int64(info.Totalram) * int64(info.Unit)
}
