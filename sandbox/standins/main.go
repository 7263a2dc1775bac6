// Command kboot-standin is the multi-call binary of the kboot sandbox
// stand-ins. Each keeps the contract of a CentOS 7 program that kboot drives
// (systemd, systemctl, yum, rpm, dockerd, docker, the Kubernetes 1.5
// daemons) and that cannot run in a sandbox host. It dispatches
// on the base name it was started under; build.sh creates one symlink per
// name. None of this is part of kboot's own code path.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"

	"kboot/sandbox/standins/internal/docker"
	"kboot/sandbox/standins/internal/etcdshim"
	"kboot/sandbox/standins/internal/initsys"
	"kboot/sandbox/standins/internal/kube"
	"kboot/sandbox/standins/internal/pkgmgr"
	"kboot/sandbox/standins/internal/systemctl"
)

var commands = map[string]func(args []string) int{
	"systemd":    initsys.Main,
	"systemctl":  systemctl.Main,
	"journalctl": systemctl.JournalMain,
	"yum":        func(args []string) int { return pkgmgr.YumMain(args, os.Stdin, os.Stdout, os.Stderr) },
	"rpm":        func(args []string) int { return pkgmgr.RpmMain(args, os.Stdout, os.Stderr) },
	"etcd":       func(args []string) int { return etcdshim.Main("etcd", pkgmgr.StandinBinDir(), args) },
	"etcdctl":    func(args []string) int { return etcdshim.Main("etcdctl", pkgmgr.StandinBinDir(), args) },
	"dockerd":    docker.DaemonMain,
	"docker":     docker.ClientMain,

	"kube-apiserver":          kube.APIServerMain,
	"kube-controller-manager": kube.ControllerManagerMain,
	"kube-scheduler":          kube.SchedulerMain,
	"kubelet":                 kube.KubeletMain,
	"kube-proxy":              kube.ProxyMain,
}

// aliases map the names CentOS 7 packages install (docker's -current
// binaries) to the stand-in that keeps their contract.
var aliases = map[string]string{"init": "systemd", "dockerd-current": "dockerd", "docker-current": "docker"}

func main() {
	// A sandbox host runs several stand-ins at once; a tighter GC target
	// keeps each one's resident memory small (they hold little data).
	debug.SetGCPercent(50)

	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if name == "kboot-standin" && len(args) > 0 {
		name, args = args[0], args[1:]
	}
	if alias, ok := aliases[name]; ok {
		name = alias
	}
	run, ok := commands[name]
	if !ok {
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "kboot-standin: unknown stand-in %q: start it through a symlink named one of %v (build.sh creates them)\n", name, names)
		os.Exit(2)
	}
	os.Exit(run(args))
}
