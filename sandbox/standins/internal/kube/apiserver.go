package kube

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"kboot/sandbox/standins/internal/flags"
	"kboot/sandbox/standins/internal/sdnotify"
)

const apiserverUsage = `Usage: kube-apiserver [flags]

Sandbox stand-in for kube-apiserver 1.5.2 (CentOS 7 kubernetes-master). It
keeps the 1.5 flags and refusals and serves, on the insecure port, /healthz,
/version, /api, /api/v1, /apis, /api/v1/nodes (list, get, create, replace,
merge patch, delete, status), /api/v1/namespaces and
/api/v1/componentstatuses. Nodes are stored in etcd (v3 keys under
<etcd-prefix>/minions/). A node is Ready while its kubelet posted status
within the last 40 s (the 1.5 node-monitor-grace-period). It runs no
controllers and serves no other resources and no secure port.

Main flags:
  --etcd-servers URL[,URL]          etcd client URLs (required)
  --etcd-prefix PATH                key prefix (default /registry)
  --insecure-bind-address, --address IP   (default 127.0.0.1)
  --insecure-port, --port N         (default 8080)
  --service-cluster-ip-range CIDR   service IP range
  --admission-control P[,P]         admission plugins (1.5 names)
  --service-account-key-file FILE   needed when ServiceAccount is enabled
`

// admissionPlugins lists the admission plugin names kube-apiserver 1.5 accepts.
var admissionPlugins = map[string]bool{
	"AlwaysAdmit": true, "AlwaysDeny": true, "AlwaysPullImages": true, "DefaultStorageClass": true,
	"DenyEscalatingExec": true, "DenyExecOnPrivileged": true, "ImagePolicyWebhook": true, "InitialResources": true,
	"LimitPodHardAntiAffinityTopology": true, "LimitRanger": true, "NamespaceAutoProvision": true,
	"NamespaceExists": true, "NamespaceLifecycle": true, "OwnerReferencesPermissionEnforcement": true,
	"PersistentVolumeLabel": true, "PodNodeSelector": true, "ResourceQuota": true, "SecurityContextDeny": true,
	"ServiceAccount": true,
}

// nodeGracePeriod is kube-controller-manager 1.5's default
// --node-monitor-grace-period, after which a silent node turns Unknown.
const nodeGracePeriod = 40 * time.Second

type apiserver struct {
	etcd        *etcdClient
	prefix      string
	started     time.Time
	cmAddr      string
	schedAddr   string
	serviceCIDR string
}

// APIServerMain runs kube-apiserver with the arguments after argv[0].
func APIServerMain(args []string) int {
	fs := flags.New("kube-apiserver")
	help := commonFlags(fs)
	etcdServers := fs.List(true, "etcd-servers")
	etcdPrefix := fs.String("/registry", "etcd-prefix")
	bindAddr := fs.String("127.0.0.1", "insecure-bind-address", "address")
	port := fs.String("8080", "insecure-port", "port")
	serviceRange := fs.String("", "service-cluster-ip-range", "portal-net")
	admission := fs.List(true, "admission-control")
	saKeyFiles := fs.List(true, "service-account-key-file")
	tlsKey := fs.String("", "tls-private-key-file")
	fs.String("", "tls-cert-file")
	fs.Bool(false, "allow-privileged")
	fs.String("10250", "kubelet-port")
	fs.String("0.0.0.0", "bind-address", "public-address-override")
	fs.String("6443", "secure-port")
	fs.String("", "advertise-address")
	fs.String("etcd2", "storage-backend")
	fs.String("", "storage-media-type")
	fs.List(true, "runtime-config")
	fs.String("", "admission-control-config-file")
	fs.String("", "authorization-mode")
	fs.String("", "client-ca-file")
	fs.String("", "token-auth-file")
	fs.String("", "basic-auth-file")
	fs.String("1", "apiserver-count")
	fs.String("/var/run/kubernetes", "cert-dir")
	fs.String("", "etcd-cafile")
	fs.String("", "etcd-certfile")
	fs.String("", "etcd-keyfile")
	fs.String("", "service-node-port-range")
	fs.Bool(false, "service-account-lookup")
	fs.String("", "cloud-provider")
	fs.String("", "cloud-config")
	fs.List(true, "cors-allowed-origins")
	fs.String("400", "max-requests-inflight")
	fs.String("1800", "min-request-timeout")
	fs.String("1h0m0s", "event-ttl")
	fs.Bool(false, "enable-swagger-ui")
	fs.Bool(true, "kubelet-https")
	if code, ok := parseOrExit(fs, "kube-apiserver", apiserverUsage, args, help); !ok {
		return code
	}

	if len(etcdServers()) == 0 {
		logf('F', "--etcd-servers must be specified")
		return 255
	}
	if r := serviceRange(); r != "" {
		if _, _, err := net.ParseCIDR(r); err != nil {
			logf('F', "invalid --service-cluster-ip-range %q: %v", r, err)
			return 255
		}
	}
	for _, p := range admission() {
		if !admissionPlugins[p] {
			logf('F', "Unknown admission plugin: %s", p)
			return 255
		}
	}
	if contains(admission(), "ServiceAccount") && len(saKeyFiles()) == 0 && tlsKey() == "" {
		logf('F', "the ServiceAccount admission plugin is enabled but no --service-account-key-file (or --tls-private-key-file) is set, so service account tokens cannot be verified and every pod would be rejected with \"No API token found for service account\". Set --service-account-key-file (and --service-account-private-key-file on kube-controller-manager) or remove ServiceAccount from --admission-control")
		return 255
	}
	for _, f := range saKeyFiles() {
		data, err := os.ReadFile(f)
		if err != nil {
			logf('F', "Invalid Authentication Config: open %s: %v", f, err)
			return 255
		}
		if !strings.Contains(string(data), "-----BEGIN") {
			logf('F', "Invalid Authentication Config: %s contains no PEM-encoded key", f)
			return 255
		}
	}

	s := &apiserver{etcd: newEtcdClient(etcdServers()), prefix: strings.TrimRight(etcdPrefix(), "/"), started: time.Now(),
		cmAddr: "127.0.0.1:10252", schedAddr: "127.0.0.1:10251", serviceCIDR: serviceRange()}

	// The real 1.5 server lists its storage at startup and exits when no
	// etcd server responds.
	if err := s.waitForEtcd(10 * time.Second); err != nil {
		logf('F', "Failed to list %s/minions: %v", s.prefix, err)
		return 255
	}

	addr := joinHostPort(bindAddr(), port())
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logf('F', "failed to listen on %s: %v", addr, err)
		return 255
	}
	server := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(ln) }()
	logf('I', "Serving insecurely on %s", addr)
	if err := sdnotify.Ready(); err != nil {
		logf('W', "sd_notify READY=1 failed: %v", err)
	}
	return waitForSignal(func(ctx context.Context) { _ = server.Shutdown(ctx) })
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *apiserver) waitForEtcd(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		_, err := s.etcd.rangeKeys(s.prefix+"/minions/", prefixEnd(s.prefix+"/minions/"))
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (s *apiserver) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.etcd.get(s.prefix + "/health-probe"); err != nil {
			http.Error(w, "[-]etcd failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, versionInfo())
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]interface{}{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []map[string]string{{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host}}})
	})
	mux.HandleFunc("/apis", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]interface{}{"kind": "APIGroupList", "apiVersion": "v1", "groups": []interface{}{}})
	})
	mux.HandleFunc("/api/v1", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, resourceList())
	})
	mux.HandleFunc("/api/v1/", s.serveV1)
	return mux
}

func versionInfo() map[string]string {
	return map[string]string{"major": "1", "minor": "5", "gitVersion": Version, "gitCommit": GitCommit, "gitTreeState": "clean",
		"buildDate": "2017-07-03T15:31:10Z", "goVersion": "go1.7.4", "compiler": "gc", "platform": "linux/amd64"}
}

func resourceList() map[string]interface{} {
	resource := func(name, singular, kind, short string, namespaced bool, verbs ...string) map[string]interface{} {
		r := map[string]interface{}{"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind, "verbs": verbs}
		if short != "" {
			r["shortNames"] = []string{short}
		}
		return r
	}
	return map[string]interface{}{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": []interface{}{
		resource("nodes", "node", "Node", "no", false, "create", "delete", "get", "list", "patch", "update"),
		resource("nodes/status", "", "Node", "", false, "get", "patch", "update"),
		resource("namespaces", "namespace", "Namespace", "ns", false, "get", "list"),
		resource("componentstatuses", "componentstatus", "ComponentStatus", "cs", false, "get", "list"),
		resource("pods", "pod", "Pod", "po", true, "list"),
	}}
}

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeStatus(w http.ResponseWriter, code int, reason, message string, details map[string]string) {
	writeJSON(w, code, map[string]interface{}{"kind": "Status", "apiVersion": "v1", "metadata": map[string]string{},
		"status": "Failure", "message": message, "reason": reason, "details": details, "code": code})
}

func (s *apiserver) serveV1(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/v1/"), "/"), "/")
	switch parts[0] {
	case "nodes":
		s.serveNodes(w, r, parts[1:])
	case "namespaces":
		if r.Method != http.MethodGet {
			writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "the sandbox kube-apiserver serves namespaces read-only", nil)
			return
		}
		var items []interface{}
		for _, ns := range []string{"default", "kube-system"} {
			items = append(items, map[string]interface{}{"metadata": map[string]interface{}{"name": ns, "creationTimestamp": s.started.UTC().Format(time.RFC3339)},
				"spec": map[string]interface{}{"finalizers": []string{"kubernetes"}}, "status": map[string]string{"phase": "Active"}})
		}
		writeJSON(w, http.StatusOK, map[string]interface{}{"kind": "NamespaceList", "apiVersion": "v1", "metadata": map[string]string{}, "items": items})
	case "pods":
		writeJSON(w, http.StatusOK, map[string]interface{}{"kind": "PodList", "apiVersion": "v1", "metadata": map[string]string{}, "items": []interface{}{}})
	case "componentstatuses":
		list := s.componentStatuses()
		if strings.Contains(r.Header.Get("Accept"), "as=Table") {
			writeJSON(w, http.StatusOK, componentTable(list))
			return
		}
		writeJSON(w, http.StatusOK, list)
	default:
		writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("the server could not find the requested resource (the sandbox kube-apiserver serves nodes, namespaces, pods and componentstatuses; got %s)", r.URL.Path), nil)
	}
}

func (s *apiserver) componentStatuses() map[string]interface{} {
	var items []interface{}
	add := func(name string, err error, message string) {
		cond := map[string]string{"type": "Healthy", "status": "True", "message": message}
		if err != nil {
			cond = map[string]string{"type": "Healthy", "status": "False", "message": "", "error": err.Error()}
		}
		items = append(items, map[string]interface{}{"metadata": map[string]string{"name": name}, "conditions": []interface{}{cond}})
	}
	add("controller-manager", waitHealthy("http://"+s.cmAddr+"/healthz", 0), "ok")
	add("scheduler", waitHealthy("http://"+s.schedAddr+"/healthz", 0), "ok")
	health := s.etcd.health()
	servers := make([]string, 0, len(health))
	for server := range health {
		servers = append(servers, server)
	}
	sort.Strings(servers)
	for i, server := range servers {
		add(fmt.Sprintf("etcd-%d", i), health[server], `{"health": "true"}`)
	}
	return map[string]interface{}{"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": map[string]string{}, "items": items}
}

func (s *apiserver) nodeKey(name string) string { return s.prefix + "/minions/" + name }

func (s *apiserver) serveNodes(w http.ResponseWriter, r *http.Request, rest []string) {
	if len(rest) == 0 || rest[0] == "" {
		switch r.Method {
		case http.MethodGet:
			if r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1" {
				writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "watch is not supported by the sandbox kube-apiserver", nil)
				return
			}
			s.listNodes(w, r)
		case http.MethodPost:
			s.createNode(w, r)
		default:
			writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "method "+r.Method+" is not supported on nodes", nil)
		}
		return
	}
	name := rest[0]
	statusOnly := len(rest) > 1 && rest[1] == "status"
	if len(rest) > 1 && !statusOnly {
		writeStatus(w, http.StatusNotFound, "NotFound", "unknown node subresource "+rest[1], nil)
		return
	}
	switch r.Method {
	case http.MethodGet:
		node, rev, err := s.readNode(name)
		if err != nil {
			writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error(), nil)
			return
		}
		if node == nil {
			writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("nodes %q not found", name), map[string]string{"name": name, "kind": "nodes"})
			return
		}
		writeJSON(w, http.StatusOK, s.present(node, rev))
	case http.MethodPut, http.MethodPatch:
		s.updateNode(w, r, name, statusOnly)
	case http.MethodDelete:
		node, _, err := s.readNode(name)
		if err == nil && node == nil {
			writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("nodes %q not found", name), map[string]string{"name": name, "kind": "nodes"})
			return
		}
		if err == nil {
			err = s.etcd.delete(s.nodeKey(name))
		}
		if err != nil {
			writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error(), nil)
			return
		}
		writeJSON(w, http.StatusOK, map[string]interface{}{"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200})
	default:
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "method "+r.Method+" is not supported on a node", nil)
	}
}

func (s *apiserver) readNode(name string) (map[string]interface{}, int64, error) {
	kv, err := s.etcd.get(s.nodeKey(name))
	if err != nil || kv == nil {
		return nil, 0, err
	}
	var node map[string]interface{}
	if err := json.Unmarshal(kv.Value, &node); err != nil {
		return nil, 0, fmt.Errorf("decode node %s from etcd: %w", name, err)
	}
	return node, kv.ModRevision, nil
}

func (s *apiserver) listNodes(w http.ResponseWriter, r *http.Request) {
	prefix := s.prefix + "/minions/"
	kvs, err := s.etcd.rangeKeys(prefix, prefixEnd(prefix))
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error(), nil)
		return
	}
	items := make([]map[string]interface{}, 0, len(kvs))
	var maxRev int64
	for _, kv := range kvs {
		var node map[string]interface{}
		if json.Unmarshal(kv.Value, &node) != nil {
			continue
		}
		items = append(items, s.present(node, kv.ModRevision))
		if kv.ModRevision > maxRev {
			maxRev = kv.ModRevision
		}
	}
	if strings.Contains(r.Header.Get("Accept"), "as=Table") {
		writeJSON(w, http.StatusOK, nodeTable(items, maxRev))
		return
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{"kind": "NodeList", "apiVersion": "v1",
		"metadata": map[string]string{"selfLink": "/api/v1/nodes", "resourceVersion": strconv.FormatInt(maxRev, 10)}, "items": items})
}

func readBody(r *http.Request) (map[string]interface{}, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	var obj map[string]interface{}
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("invalid JSON body: %v", err)
	}
	return obj, nil
}

func newUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (s *apiserver) createNode(w http.ResponseWriter, r *http.Request) {
	node, err := readBody(r)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error(), nil)
		return
	}
	meta, _ := node["metadata"].(map[string]interface{})
	name, _ := meta["name"].(string)
	if name == "" {
		writeStatus(w, http.StatusUnprocessableEntity, "Invalid", "Node \"\" is invalid: metadata.name: Required value: name or generateName is required", nil)
		return
	}
	existing, _, err := s.readNode(name)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error(), nil)
		return
	}
	if existing != nil {
		writeStatus(w, http.StatusConflict, "AlreadyExists", fmt.Sprintf("nodes %q already exists", name), map[string]string{"name": name, "kind": "nodes"})
		return
	}
	meta["uid"] = newUID()
	meta["creationTimestamp"] = time.Now().UTC().Format(time.RFC3339)
	delete(meta, "resourceVersion")
	node["kind"], node["apiVersion"], node["metadata"] = "Node", "v1", meta
	rev, err := s.store(name, node)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error(), nil)
		return
	}
	logf('I', "node %s registered", name)
	writeJSON(w, http.StatusCreated, s.present(node, rev))
}

func (s *apiserver) store(name string, node map[string]interface{}) (int64, error) {
	data, err := json.Marshal(node)
	if err != nil {
		return 0, err
	}
	return s.etcd.put(s.nodeKey(name), data)
}

// updateNode handles PUT (replace) and PATCH (JSON merge patch). A
// strategic merge patch is applied the same way, except that conditions
// merge by type as in 1.5. On /status only the status changes, as with the
// real subresource.
func (s *apiserver) updateNode(w http.ResponseWriter, r *http.Request, name string, statusOnly bool) {
	current, _, err := s.readNode(name)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error(), nil)
		return
	}
	if current == nil {
		writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("nodes %q not found", name), map[string]string{"name": name, "kind": "nodes"})
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error(), nil)
		return
	}
	var updated map[string]interface{}
	if r.Method == http.MethodPut {
		updated = body
	} else {
		updated = mergePatch(current, body).(map[string]interface{})
	}
	if statusOnly {
		status := updated["status"]
		updated = current
		updated["status"] = status
	} else if r.Method == http.MethodPut {
		// Metadata the server owns survives a replace.
		meta, _ := updated["metadata"].(map[string]interface{})
		oldMeta, _ := current["metadata"].(map[string]interface{})
		if meta == nil {
			meta = map[string]interface{}{}
		}
		meta["name"], meta["uid"], meta["creationTimestamp"] = name, oldMeta["uid"], oldMeta["creationTimestamp"]
		updated["metadata"] = meta
		if _, ok := updated["status"]; !ok {
			updated["status"] = current["status"]
		}
	}
	updated["kind"], updated["apiVersion"] = "Node", "v1"
	rev, err := s.store(name, updated)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, s.present(updated, rev))
}

// mergePatch applies an RFC 7386 merge patch, except that lists of
// conditions (objects with a "type" key) merge by type.
func mergePatch(target, patch interface{}) interface{} {
	p, ok := patch.(map[string]interface{})
	if !ok {
		if list, ok := patch.([]interface{}); ok {
			if merged, ok := mergeByType(target, list); ok {
				return merged
			}
		}
		return patch
	}
	t, ok := target.(map[string]interface{})
	if !ok {
		t = map[string]interface{}{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

func mergeByType(target interface{}, patch []interface{}) ([]interface{}, bool) {
	current, ok := target.([]interface{})
	if !ok {
		return nil, false
	}
	index := map[string]int{}
	for i, item := range current {
		m, ok := item.(map[string]interface{})
		typ, _ := m["type"].(string)
		if !ok || typ == "" {
			return nil, false
		}
		index[typ] = i
	}
	out := append([]interface{}{}, current...)
	for _, item := range patch {
		m, ok := item.(map[string]interface{})
		typ, _ := m["type"].(string)
		if !ok || typ == "" {
			return nil, false
		}
		if i, found := index[typ]; found {
			out[i] = mergePatch(out[i], m)
		} else {
			out = append(out, m)
		}
	}
	return out, true
}

// present adds the server-side fields of a stored node: selfLink,
// resourceVersion (the etcd revision) and, like the 1.5 node controller
// after its grace period, a Ready condition of Unknown when the kubelet
// has not posted status for 40 s.
func (s *apiserver) present(node map[string]interface{}, rev int64) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range node {
		out[k] = v
	}
	meta := map[string]interface{}{}
	if m, ok := node["metadata"].(map[string]interface{}); ok {
		for k, v := range m {
			meta[k] = v
		}
	}
	name, _ := meta["name"].(string)
	meta["selfLink"] = "/api/v1/nodes/" + name
	meta["resourceVersion"] = strconv.FormatInt(rev, 10)
	out["metadata"] = meta
	status, _ := node["status"].(map[string]interface{})
	if status == nil {
		return out
	}
	conds, _ := status["conditions"].([]interface{})
	newStatus := map[string]interface{}{}
	for k, v := range status {
		newStatus[k] = v
	}
	var newConds []interface{}
	for _, c := range conds {
		cond, ok := c.(map[string]interface{})
		if !ok {
			continue
		}
		beat, _ := cond["lastHeartbeatTime"].(string)
		t, err := time.Parse(time.RFC3339, beat)
		if err == nil && time.Since(t) > nodeGracePeriod {
			stale := map[string]interface{}{}
			for k, v := range cond {
				stale[k] = v
			}
			stale["status"] = "Unknown"
			stale["reason"] = "NodeStatusUnknown"
			stale["message"] = "Kubelet stopped posting node status."
			cond = stale
		}
		newConds = append(newConds, cond)
	}
	newStatus["conditions"] = newConds
	out["status"] = newStatus
	return out
}

// nodeTable renders nodes as the meta.k8s.io Table that kubectl requests.
func nodeTable(items []map[string]interface{}, rev int64) map[string]interface{} {
	var rows []interface{}
	for _, node := range items {
		meta, _ := node["metadata"].(map[string]interface{})
		name, _ := meta["name"].(string)
		created, _ := meta["creationTimestamp"].(string)
		age := "<unknown>"
		if t, err := time.Parse(time.RFC3339, created); err == nil {
			age = shortDuration(time.Since(t))
		}
		ready := "Unknown"
		version := ""
		if status, ok := node["status"].(map[string]interface{}); ok {
			if conds, ok := status["conditions"].([]interface{}); ok {
				for _, c := range conds {
					if cond, ok := c.(map[string]interface{}); ok && cond["type"] == "Ready" {
						switch cond["status"] {
						case "True":
							ready = "Ready"
						case "False":
							ready = "NotReady"
						default:
							ready = "NotReady"
						}
					}
				}
			}
			if info, ok := status["nodeInfo"].(map[string]interface{}); ok {
				version, _ = info["kubeletVersion"].(string)
			}
		}
		partial := map[string]interface{}{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
		rows = append(rows, map[string]interface{}{"cells": []interface{}{name, ready, "<none>", age, version}, "object": partial})
	}
	column := func(name, typ, desc string) map[string]interface{} {
		return map[string]interface{}{"name": name, "type": typ, "format": "", "description": desc, "priority": 0}
	}
	return map[string]interface{}{"kind": "Table", "apiVersion": "meta.k8s.io/v1",
		"metadata": map[string]string{"resourceVersion": strconv.FormatInt(rev, 10)},
		"columnDefinitions": []interface{}{column("Name", "string", "Name of the node"), column("Status", "string", "Ready condition"),
			column("Roles", "string", "Node roles"), column("Age", "string", "Time since creation"), column("Version", "string", "Kubelet version")},
		"rows": rows}
}

// componentTable renders component statuses as kubectl get cs shows them.
func componentTable(list map[string]interface{}) map[string]interface{} {
	var rows []interface{}
	items, _ := list["items"].([]interface{})
	for _, it := range items {
		item, _ := it.(map[string]interface{})
		meta, _ := item["metadata"].(map[string]string)
		conds, _ := item["conditions"].([]interface{})
		status, message, errText := "Unknown", "", ""
		if len(conds) > 0 {
			cond, _ := conds[0].(map[string]string)
			status = "Healthy"
			if cond["status"] != "True" {
				status = "Unhealthy"
			}
			message, errText = cond["message"], cond["error"]
		}
		rows = append(rows, map[string]interface{}{"cells": []interface{}{meta["name"], status, message, errText},
			"object": map[string]interface{}{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}})
	}
	column := func(name string) map[string]interface{} {
		return map[string]interface{}{"name": name, "type": "string", "format": "", "description": name, "priority": 0}
	}
	return map[string]interface{}{"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": map[string]string{},
		"columnDefinitions": []interface{}{column("Name"), column("Status"), column("Message"), column("Error")}, "rows": rows}
}

func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
