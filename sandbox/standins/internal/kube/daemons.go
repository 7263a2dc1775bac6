package kube

import (
	"fmt"
	"os"
	"strings"
	"time"

	"kboot/sandbox/standins/internal/flags"
)

// masterWait bounds how long a daemon waits for the API server at start.
const masterWait = 10 * time.Second

// requireMaster checks that the API server named by --master responds.
// --kubeconfig is accepted but not read: CentOS 7's /etc/kubernetes/config
// points the daemons at the API server with --master.
func requireMaster(program, master string) (string, bool) {
	url := masterURL(master)
	if url == "" {
		logf('F', "Neither --kubeconfig nor --master was specified: %s needs the API server (KUBE_MASTER in /etc/kubernetes/config)", program)
		return "", false
	}
	if err := waitHealthy(url+"/healthz", masterWait); err != nil {
		logf('F', "failed to reach the API server at %s: %v: start kube-apiserver first or fix --master", url, err)
		return "", false
	}
	return url, true
}

// watchMaster logs when the API server stops or starts responding, as the
// real daemons' reflectors do, without exiting.
func watchMaster(url string) {
	healthy := true
	for {
		time.Sleep(10 * time.Second)
		err := waitHealthy(url+"/healthz", 0)
		if (err == nil) != healthy {
			healthy = err == nil
			if healthy {
				logf('I', "API server %s is reachable again", url)
			} else {
				logf('E', "Failed to list *api.Node: Get %s/api/v1/nodes: %v", url, err)
			}
		}
	}
}

const controllerManagerUsage = `Usage: kube-controller-manager [flags]

Sandbox stand-in for kube-controller-manager 1.5.2 (CentOS 7
kubernetes-master). It checks --master, reads
--service-account-private-key-file and serves /healthz on --address:--port
(default 0.0.0.0:10252). The node lifecycle it stands for (a silent node
turns Unknown after 40 s) is applied by the sandbox kube-apiserver when it
returns nodes. It runs no other controllers.
`

// ControllerManagerMain runs kube-controller-manager.
func ControllerManagerMain(args []string) int {
	fs := flags.New("kube-controller-manager")
	help := commonFlags(fs)
	master := fs.String("", "master")
	address := fs.String("0.0.0.0", "address")
	port := fs.String("10252", "port")
	saKey := fs.String("", "service-account-private-key-file")
	fs.String("", "root-ca-file")
	fs.Bool(true, "leader-elect")
	fs.String("", "cluster-cidr")
	fs.String("", "service-cluster-ip-range")
	fs.Bool(false, "allocate-node-cidrs")
	fs.String("", "cluster-name")
	fs.String("40s", "node-monitor-grace-period")
	fs.String("5m0s", "pod-eviction-timeout")
	fs.String("", "cloud-provider")
	fs.String("", "cluster-signing-cert-file")
	fs.String("", "cluster-signing-key-file")
	if code, ok := parseOrExit(fs, "kube-controller-manager", controllerManagerUsage, args, help); !ok {
		return code
	}
	if key := saKey(); key != "" {
		data, err := os.ReadFile(key)
		if err != nil || !strings.Contains(string(data), "PRIVATE KEY") {
			// The real 1.5 controller manager logs this and runs without
			// the token controller.
			logf('E', "Error reading key for service account token controller: %v", describeKeyError(key, err))
		} else {
			logf('I', "Starting service account token controller with key %s", key)
		}
	}
	url, ok := requireMaster("kube-controller-manager", master())
	if !ok {
		return 255
	}
	if err := serveHealth(joinHostPort(address(), port()), nil); err != nil {
		logf('F', "%v", err)
		return 255
	}
	logf('I', "kube-controller-manager started against %s, /healthz on %s", url, joinHostPort(address(), port()))
	go watchMaster(url)
	return waitForSignal(nil)
}

func describeKeyError(path string, err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%s contains no PEM-encoded private key", path)
}

const schedulerUsage = `Usage: kube-scheduler [flags]

Sandbox stand-in for kube-scheduler 1.5.2 (CentOS 7 kubernetes-master). It
checks --master and serves /healthz on --address:--port (default
0.0.0.0:10251). It schedules no pods.
`

// SchedulerMain runs kube-scheduler.
func SchedulerMain(args []string) int {
	fs := flags.New("kube-scheduler")
	help := commonFlags(fs)
	master := fs.String("", "master")
	address := fs.String("0.0.0.0", "address")
	port := fs.String("10251", "port")
	fs.Bool(true, "leader-elect")
	fs.String("DefaultProvider", "algorithm-provider")
	fs.String("", "policy-config-file")
	fs.String("default-scheduler", "scheduler-name")
	if code, ok := parseOrExit(fs, "kube-scheduler", schedulerUsage, args, help); !ok {
		return code
	}
	url, ok := requireMaster("kube-scheduler", master())
	if !ok {
		return 255
	}
	if err := serveHealth(joinHostPort(address(), port()), nil); err != nil {
		logf('F', "%v", err)
		return 255
	}
	logf('I', "kube-scheduler started against %s, /healthz on %s", url, joinHostPort(address(), port()))
	go watchMaster(url)
	return waitForSignal(nil)
}

const proxyUsage = `Usage: kube-proxy [flags]

Sandbox stand-in for kube-proxy 1.5.2 (CentOS 7 kubernetes-node). It checks
--master and serves /healthz on --healthz-bind-address:--healthz-port
(default 127.0.0.1:10249). It programs no service rules.
`

// ProxyMain runs kube-proxy.
func ProxyMain(args []string) int {
	fs := flags.New("kube-proxy")
	help := commonFlags(fs)
	master := fs.String("", "master")
	healthzAddr := fs.String("127.0.0.1", "healthz-bind-address")
	healthzPort := fs.String("10249", "healthz-port")
	fs.String("0.0.0.0", "bind-address")
	fs.String("", "proxy-mode")
	fs.String("", "cluster-cidr")
	fs.String("", "hostname-override")
	fs.Bool(false, "masquerade-all")
	fs.String("", "proxy-port-range")
	fs.String("30s", "iptables-sync-period")
	fs.String("15m0s", "config-sync-period")
	if code, ok := parseOrExit(fs, "kube-proxy", proxyUsage, args, help); !ok {
		return code
	}
	url, ok := requireMaster("kube-proxy", master())
	if !ok {
		return 255
	}
	addr := joinHostPort(healthzAddr(), healthzPort())
	if err := serveHealth(addr, nil); err != nil {
		logf('F', "%v", err)
		return 255
	}
	logf('I', "kube-proxy started against %s, /healthz on %s", url, addr)
	go watchMaster(url)
	return waitForSignal(nil)
}
