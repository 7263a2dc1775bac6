// Package etcdshim puts etcd 3.3's defaults in front of the machine's real
// etcd 3.4 (Debian), so that the CentOS 7 etcd package (3.3.11) keeps its
// contract in the sandbox. The shim changes only the environment and then
// execs the real binary; etcd itself does all the work.
//
// The differences it covers, both documented in etcd's 3.4 upgrade notes:
//   - etcd 3.3 warned and ignored an ETCD_* variable that a command-line
//     flag shadows; 3.4 exits with "conflicting environment variable ... is
//     shadowed by corresponding command-line flag". CentOS 7's etcd.service
//     passes --name, --data-dir and --listen-client-urls while
//     /etc/etcd/etcd.conf sets the same variables, so 3.4 would never start.
//   - etcd 3.3 served the v2 API by default (--enable-v2=true); 3.4 does not.
//   - etcdctl 3.3 spoke the v2 API unless ETCDCTL_API=3; 3.4 defaults to v3.
package etcdshim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// RealBinary is where build.sh links the machine's etcd program NAME,
// next to the stand-ins.
func RealBinary(binDir, name string) string {
	return filepath.Join(binDir, "real", name)
}

// EtcdEnvironment returns env with every ETCD_* variable that a flag in
// args shadows removed (with etcd 3.3's warning), and ETCD_ENABLE_V2=true
// added unless v2 is configured either way.
func EtcdEnvironment(args, env []string) ([]string, []string) {
	flags := map[string]bool{}
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name := strings.TrimLeft(a, "-")
		if eq := strings.IndexByte(name, '='); eq >= 0 {
			name = name[:eq]
		}
		flags["ETCD_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))] = true
	}
	var out, warnings []string
	enableV2Set := flags["ETCD_ENABLE_V2"]
	for _, kv := range env {
		key := kv
		if eq := strings.IndexByte(kv, '='); eq >= 0 {
			key = kv[:eq]
		}
		if flags[key] {
			warnings = append(warnings, fmt.Sprintf("recognized environment variable %s, but unused: shadowed by corresponding flag", key))
			continue
		}
		if key == "ETCD_ENABLE_V2" {
			enableV2Set = true
		}
		out = append(out, kv)
	}
	if !enableV2Set {
		out = append(out, "ETCD_ENABLE_V2=true")
	}
	return out, warnings
}

// EtcdctlEnvironment makes etcdctl speak the v2 API unless ETCDCTL_API is
// set, as etcdctl 3.3 did.
func EtcdctlEnvironment(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "ETCDCTL_API=") {
			return env
		}
	}
	return append(env, "ETCDCTL_API=2")
}

// Main execs the real etcd or etcdctl with the adjusted environment.
func Main(name, binDir string, args []string) int {
	real := RealBinary(binDir, name)
	if _, err := os.Stat(real); err != nil {
		fmt.Fprintf(os.Stderr, "%s (kboot sandbox shim): real %s not found at %s: install Debian's etcd-server and etcd-client on the machine, then run sandbox/standins/build.sh\n", name, name, real)
		return 1
	}
	env := os.Environ()
	if name == "etcd" {
		var warnings []string
		env, warnings = EtcdEnvironment(args, env)
		for _, w := range warnings {
			fmt.Fprintf(os.Stderr, "etcd (kboot sandbox shim, etcd 3.3 behaviour): %s\n", w)
		}
	} else {
		env = EtcdctlEnvironment(env)
	}
	argv := append([]string{"/usr/bin/" + name}, args...)
	err := syscall.Exec(real, argv, env)
	fmt.Fprintf(os.Stderr, "%s (kboot sandbox shim): exec %s: %v\n", name, real, err)
	return 1
}
