package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"kboot/sandbox/standins/internal/events"
	"kboot/sandbox/standins/internal/flags"
)

const kubeletUsage = `Usage: kubelet [flags]

Sandbox stand-in for kubelet 1.5.2 (CentOS 7 kubernetes-node). It refuses to
start when docker does not answer on --docker-endpoint or no API server in
--api-servers answers; then it registers its node, posts node status every
10 s (Ready while docker answers /_ping) and serves /healthz on
--healthz-bind-address:--healthz-port (default 127.0.0.1:10248) and on
--address:--port (default 0.0.0.0:10250, with an empty /pods). It runs no
pods.
`

// statusInterval is kubelet 1.5's default --node-status-update-frequency.
const statusInterval = 10 * time.Second

type kubelet struct {
	apiServers []string
	nodeName   string
	address    string
	dockerSock string
	labels     map[string]string
	started    time.Time

	mu         sync.Mutex
	lastReady  string
	transition time.Time
	client     *http.Client
	docker     *http.Client
}

// KubeletMain runs kubelet.
func KubeletMain(args []string) int {
	fs := flags.New("kubelet")
	help := commonFlags(fs)
	apiServers := fs.List(true, "api-servers")
	address := fs.String("0.0.0.0", "address")
	port := fs.String("10250", "port")
	fs.String("10255", "read-only-port")
	healthzAddr := fs.String("127.0.0.1", "healthz-bind-address")
	healthzPort := fs.String("10248", "healthz-port")
	hostnameOverride := fs.String("", "hostname-override")
	nodeIP := fs.String("", "node-ip")
	dockerEndpoint := fs.String("unix:///var/run/docker.sock", "docker-endpoint")
	nodeLabels := fs.List(true, "node-labels")
	register := fs.Bool(true, "register-node")
	fs.Bool(false, "allow-privileged")
	fs.String("", "pod-infra-container-image")
	fs.List(true, "cluster-dns")
	fs.String("", "cluster-domain")
	fs.String("", "cgroup-driver")
	fs.Bool(false, "require-kubeconfig")
	fs.String("/var/lib/kubelet", "root-dir")
	fs.String("", "config", "pod-manifest-path")
	fs.String("", "network-plugin")
	fs.String("", "cni-conf-dir")
	fs.String("", "cni-bin-dir")
	fs.Bool(true, "enable-server")
	fs.String("4194", "cadvisor-port")
	fs.Bool(false, "fail-swap-on")
	fs.String("10s", "node-status-update-frequency")
	fs.String("", "cloud-provider")
	fs.String("", "container-runtime")
	fs.Bool(false, "serialize-image-pulls")
	if code, ok := parseOrExit(fs, "kubelet", kubeletUsage, args, help); !ok {
		return code
	}

	k := &kubelet{nodeName: nodeName(hostnameOverride()), address: nodeAddress(nodeIP(), hostnameOverride()),
		labels: map[string]string{}, started: time.Now(), client: &http.Client{Timeout: 5 * time.Second}}
	for _, l := range nodeLabels() {
		if key, value, ok := strings.Cut(l, "="); ok {
			k.labels[key] = value
		}
	}
	k.labels["kubernetes.io/hostname"] = k.nodeName
	k.labels["beta.kubernetes.io/os"] = "linux"
	k.labels["beta.kubernetes.io/arch"] = "amd64"

	endpoint := dockerEndpoint()
	if !strings.HasPrefix(endpoint, "unix://") {
		logf('F', "failed to run Kubelet: the sandbox kubelet supports unix:// docker endpoints only, got %q", endpoint)
		return 1
	}
	k.dockerSock = events.Root() + strings.TrimPrefix(endpoint, "unix://")
	k.docker = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", k.dockerSock)
	}}}
	if err := k.pingDocker(); err != nil {
		logf('F', "failed to run Kubelet: failed to create kubelet: failed to get docker version: Cannot connect to the Docker daemon at %s. Is the docker daemon running? (%v)", endpoint, err)
		return 1
	}

	for _, s := range apiServers() {
		k.apiServers = append(k.apiServers, masterURL(s))
	}
	if len(k.apiServers) == 0 {
		logf('F', "no --api-servers given: the sandbox kubelet does not run standalone; set KUBELET_API_SERVER in /etc/kubernetes/kubelet")
		return 1
	}
	if _, err := k.firstHealthyServer(masterWait); err != nil {
		logf('F', "failed to run Kubelet: no API server in --api-servers=%s answers: %v", strings.Join(k.apiServers, ","), err)
		return 1
	}

	if err := serveHealth(joinHostPort(healthzAddr(), healthzPort()), nil); err != nil {
		logf('F', "failed to run Kubelet: %v", err)
		return 1
	}
	pods := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]interface{}{"kind": "PodList", "apiVersion": "v1", "metadata": map[string]string{}, "items": []interface{}{}})
	}
	if err := serveHealth(joinHostPort(address(), port()), map[string]http.HandlerFunc{"/pods": pods, "/pods/": pods}); err != nil {
		logf('F', "failed to run Kubelet: %v", err)
		return 1
	}

	if register() {
		if err := k.registerNode(); err != nil {
			logf('F', "Unable to register node %q with API server: %v", k.nodeName, err)
			return 1
		}
		logf('I', "Successfully registered node %s", k.nodeName)
	}
	stop := make(chan struct{})
	go k.heartbeat(stop)
	return waitForSignal(func(context.Context) { close(stop) })
}

func nodeName(override string) string {
	if override != "" {
		return strings.ToLower(strings.TrimSpace(override))
	}
	host, _ := os.Hostname()
	return strings.ToLower(host)
}

// nodeAddress picks the InternalIP: --node-ip, an IP in --hostname-override,
// or the first global IPv4 address of the host.
func nodeAddress(nodeIP, override string) string {
	if net.ParseIP(nodeIP) != nil {
		return nodeIP
	}
	if net.ParseIP(override) != nil {
		return override
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipNet, ok := a.(*net.IPNet); ok && ipNet.IP.To4() != nil && ipNet.IP.IsGlobalUnicast() &&
			!strings.HasPrefix(ipNet.IP.String(), "10.244.") {
			return ipNet.IP.String()
		}
	}
	return "127.0.0.1"
}

func (k *kubelet) pingDocker() error {
	resp, err := k.docker.Get("http://docker/_ping")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if resp.StatusCode != http.StatusOK || string(body) != "OK" {
		return fmt.Errorf("docker /_ping returned %s %q", resp.Status, body)
	}
	return nil
}

func (k *kubelet) firstHealthyServer(limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	for {
		var lastErr error
		for _, s := range k.apiServers {
			if err := waitHealthy(s+"/healthz", 0); err == nil {
				return s, nil
			} else {
				lastErr = err
			}
		}
		if time.Now().After(deadline) {
			return "", lastErr
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (k *kubelet) request(method, path string, body interface{}) (int, []byte, error) {
	server, err := k.firstHealthyServer(0)
	if err != nil {
		return 0, nil, err
	}
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, server+path, reader)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, data, nil
}

func (k *kubelet) node() map[string]interface{} {
	return map[string]interface{}{
		"kind": "Node", "apiVersion": "v1",
		"metadata": map[string]interface{}{"name": k.nodeName, "labels": k.labels,
			"annotations": map[string]string{"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
		"spec":   map[string]interface{}{"externalID": k.nodeName},
		"status": k.status(),
	}
}

func (k *kubelet) status() map[string]interface{} {
	now := time.Now().UTC().Format(time.RFC3339)
	ready, reason, message := "True", "KubeletReady", "kubelet is posting ready status"
	if err := k.pingDocker(); err != nil {
		ready, reason, message = "False", "KubeletNotReady", "container runtime is down: "+err.Error()
	}
	k.mu.Lock()
	if ready != k.lastReady {
		k.lastReady = ready
		k.transition = time.Now()
	}
	transition := k.transition.UTC().Format(time.RFC3339)
	k.mu.Unlock()
	started := k.started.UTC().Format(time.RFC3339)
	cond := func(typ, status, reason, message, since string) map[string]string {
		return map[string]string{"type": typ, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": since, "reason": reason, "message": message}
	}
	var info syscall.Sysinfo_t
	_ = syscall.Sysinfo(&info)
	memory := fmt.Sprintf("%dKi", int64(info.Totalram)*int64(info.Unit)/1024)
	capacity := map[string]string{"cpu": fmt.Sprint(runtime.NumCPU()), "memory": memory, "pods": "110", "alpha.kubernetes.io/nvidia-gpu": "0"}
	return map[string]interface{}{
		"capacity": capacity, "allocatable": capacity,
		"conditions": []interface{}{
			cond("OutOfDisk", "False", "KubeletHasSufficientDisk", "kubelet has sufficient disk space available", started),
			cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", started),
			cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", started),
			cond("Ready", ready, reason, message, transition),
		},
		"addresses": []interface{}{
			map[string]string{"type": "LegacyHostIP", "address": k.address},
			map[string]string{"type": "InternalIP", "address": k.address},
			map[string]string{"type": "Hostname", "address": k.nodeName},
		},
		"daemonEndpoints": map[string]interface{}{"kubeletEndpoint": map[string]int{"Port": 10250}},
		"nodeInfo": map[string]string{"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "3.10.0-1160.el7.x86_64",
			"osImage": "CentOS Linux 7 (Core)", "containerRuntimeVersion": "docker://1.13.1", "kubeletVersion": Version,
			"kubeProxyVersion": Version, "operatingSystem": "linux", "architecture": "amd64"},
	}
}

// registerNode creates the node, or takes over an existing one of the same
// name (a kubelet restart), as kubelet 1.5 does.
func (k *kubelet) registerNode() error {
	code, body, err := k.request(http.MethodPost, "/api/v1/nodes", k.node())
	if err != nil {
		return err
	}
	switch code {
	case http.StatusCreated, http.StatusOK:
		return nil
	case http.StatusConflict:
		logf('I', "Node %s was previously registered", k.nodeName)
		return k.postStatus()
	}
	return fmt.Errorf("POST /api/v1/nodes returned %d: %s", code, strings.TrimSpace(string(body)))
}

func (k *kubelet) postStatus() error {
	code, body, err := k.request(http.MethodPut, "/api/v1/nodes/"+k.nodeName+"/status", map[string]interface{}{"status": k.status()})
	if err != nil {
		return err
	}
	if code == http.StatusNotFound {
		return errNodeGone
	}
	if code != http.StatusOK {
		return fmt.Errorf("PUT /api/v1/nodes/%s/status returned %d: %s", k.nodeName, code, strings.TrimSpace(string(body)))
	}
	return nil
}

var errNodeGone = fmt.Errorf("node object not found")

func (k *kubelet) heartbeat(stop chan struct{}) {
	ticker := time.NewTicker(statusInterval)
	defer ticker.Stop()
	failures := 0
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		err := k.postStatus()
		if err == errNodeGone {
			logf('W', "node %s was deleted from the API server; registering it again", k.nodeName)
			err = k.registerNode()
		}
		if err != nil {
			failures++
			// Log the first failure and then every tenth, to bound the log.
			if failures == 1 || failures%10 == 0 {
				logf('E', "Error updating node status, will retry: %v (%d failures so far)", err, failures)
			}
			continue
		}
		if failures > 0 {
			logf('I', "node status updates succeed again after %d failures", failures)
			failures = 0
		}
	}
}
