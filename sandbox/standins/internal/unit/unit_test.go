package unit

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeFile(t *testing.T, root, path, content string) {
	t.Helper()
	full := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseFileContinuationAndComments(t *testing.T) {
	text := "[Service]\n# comment\nExecStart=/usr/bin/kubelet \\\n\t    $KUBE_LOGTOSTDERR \\\n; inner comment\n\t    $KUBELET_ARGS\nRestart=on-failure\n"
	entries, err := ParseFile(strings.NewReader(text), "kubelet.service")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("got %d entries, want 2: %+v", len(entries), entries)
	}
	words, _ := SplitWords(entries[0].Value)
	want := []string{"/usr/bin/kubelet", "$KUBE_LOGTOSTDERR", "$KUBELET_ARGS"}
	if !reflect.DeepEqual(words, want) {
		t.Errorf("ExecStart words = %q, want %q", words, want)
	}
	if entries[1].Key != "Restart" || entries[1].Value != "on-failure" {
		t.Errorf("second entry = %+v", entries[1])
	}
}

func TestParseFileRejectsMissingEquals(t *testing.T) {
	_, err := ParseFile(strings.NewReader("[Service]\nExecStart /bin/true\n"), "x.service")
	if err == nil || !strings.Contains(err.Error(), "x.service:2") {
		t.Fatalf("err = %v, want a message naming x.service:2", err)
	}
}

func TestSplitWordsQuotes(t *testing.T) {
	words, err := SplitWords(`/bin/bash -c "GOMAXPROCS=$(nproc) /usr/bin/etcd --name=\"${ETCD_NAME}\"" 'single $X' a\ b`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/bin/bash", "-c", `GOMAXPROCS=$(nproc) /usr/bin/etcd --name="${ETCD_NAME}"`, "single $X", "a b"}
	if !reflect.DeepEqual(words, want) {
		t.Errorf("words = %q\nwant    %q", words, want)
	}
	if _, err := SplitWords(`"unterminated`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestExpandArgv(t *testing.T) {
	env := map[string]string{
		"OPTIONS":                "--selinux-enabled --log-driver=journald",
		"DOCKER_NETWORK_OPTIONS": " --bip=10.244.3.1/24 --ip-masq=true --mtu=1450",
		"ETCD_NAME":              "node 1",
		"EMPTY":                  "",
	}
	cases := []struct {
		in   []string
		want []string
	}{
		{[]string{"/usr/bin/dockerd", "$OPTIONS", "$DOCKER_NETWORK_OPTIONS"},
			[]string{"/usr/bin/dockerd", "--selinux-enabled", "--log-driver=journald", "--bip=10.244.3.1/24", "--ip-masq=true", "--mtu=1450"}},
		{[]string{"/bin/x", "--name=${ETCD_NAME}"}, []string{"/bin/x", "--name=node 1"}},
		{[]string{"/bin/x", "${ETCD_NAME}"}, []string{"/bin/x", "node 1"}},
		{[]string{"/bin/x", "$UNDEFINED", "$EMPTY", "after"}, []string{"/bin/x", "after"}},
		{[]string{"/bin/x", "${UNDEFINED}"}, []string{"/bin/x", ""}},
		{[]string{"/bin/sh", "-c", "n=$(nproc) $$HOME"}, []string{"/bin/sh", "-c", "n=$(nproc) $HOME"}},
		{[]string{"/bin/x", "pre$OPTIONS"}, []string{"/bin/x", "pre$OPTIONS"}},
	}
	for _, c := range cases {
		got := ExpandArgv(c.in, env)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ExpandArgv(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseEnvFileCentOSDocker(t *testing.T) {
	text := `# /etc/sysconfig/docker
OPTIONS='--selinux-enabled --log-driver=journald --signature-verification=false'
if [ -z "${DOCKER_CERT_PATH}" ]; then
    DOCKER_CERT_PATH=/etc/docker
fi
QUOTED="a \"b\" c"
TRAILING=value   
# DOCKER_STORAGE_OPTIONS = --storage-opt dm.x
DOCKER_STORAGE_OPTIONS=
`
	values, order, warnings, err := ParseEnvFile(strings.NewReader(text), "/etc/sysconfig/docker")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"OPTIONS":                "--selinux-enabled --log-driver=journald --signature-verification=false",
		"DOCKER_CERT_PATH":       "/etc/docker",
		"QUOTED":                 `a "b" c`,
		"TRAILING":               "value",
		"DOCKER_STORAGE_OPTIONS": "",
	}
	if !reflect.DeepEqual(values, want) {
		t.Errorf("values = %q\nwant     %q", values, want)
	}
	if len(order) != 5 {
		t.Errorf("order = %q, want 5 keys", order)
	}
	if len(warnings) != 2 {
		t.Errorf("warnings = %q, want the if and fi lines", warnings)
	}
}

func TestDropInOrderAndPriority(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "/usr/lib/systemd/system/docker.service", "[Service]\nExecStart=/usr/bin/dockerd $OPTIONS\nEnvironmentFile=-/etc/sysconfig/docker\n")
	writeFile(t, root, "/usr/lib/systemd/system/docker.service.d/flannel.conf", "[Service]\nEnvironmentFile=-/run/flannel/docker\n")
	writeFile(t, root, "/usr/lib/systemd/system/docker.service.d/50-vendor.conf", "[Service]\nEnvironment=A=vendor\n")
	// Same base name in /etc hides the vendor drop-in.
	writeFile(t, root, "/etc/systemd/system/docker.service.d/50-vendor.conf", "[Service]\nEnvironment=A=admin\n")
	writeFile(t, root, "/etc/systemd/system/docker.service.d/90-override.conf", "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd --debug\n")
	writeFile(t, root, "/etc/systemd/system/docker.service.d/notes.txt", "ignored")

	u := Load(root, "docker.service")
	if u.LoadState != LoadLoaded {
		t.Fatalf("LoadState = %s (%s)", u.LoadState, u.LoadError)
	}
	wantDropIns := []string{
		"/etc/systemd/system/docker.service.d/50-vendor.conf",
		"/etc/systemd/system/docker.service.d/90-override.conf",
		"/usr/lib/systemd/system/docker.service.d/flannel.conf",
	}
	if !reflect.DeepEqual(u.DropInPaths, wantDropIns) {
		t.Errorf("DropInPaths = %q\nwant          %q", u.DropInPaths, wantDropIns)
	}
	cmds, err := u.Commands("ExecStart")
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 1 || strings.Join(cmds[0].Argv, " ") != "/usr/bin/dockerd --debug" {
		t.Errorf("ExecStart after reset = %+v", cmds)
	}
	files := u.EnvironmentFiles()
	if len(files) != 2 || files[1].Path != "/run/flannel/docker" || !files[1].Optional {
		t.Errorf("EnvironmentFiles = %+v", files)
	}
	env, _ := u.Environment()
	if len(env) != 1 || env[0][1] != "admin" {
		t.Errorf("Environment = %q, want only the /etc drop-in's A=admin", env)
	}
}

func TestFragmentPriorityAndMask(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "/usr/lib/systemd/system/etcd.service", "[Unit]\nDescription=vendor\n")
	writeFile(t, root, "/etc/systemd/system/etcd.service", "[Unit]\nDescription=admin\n")
	if d := Load(root, "etcd.service").Value("Unit", "Description", ""); d != "admin" {
		t.Errorf("Description = %q, want the /etc fragment", d)
	}
	if err := os.Symlink("/dev/null", filepath.Join(root, "/etc/systemd/system/masked.service")); err != nil {
		t.Fatal(err)
	}
	if s := Load(root, "masked.service").LoadState; s != LoadMasked {
		t.Errorf("masked unit LoadState = %s", s)
	}
	if s := Load(root, "missing.service").LoadState; s != LoadNotFound {
		t.Errorf("missing unit LoadState = %s", s)
	}
}

func TestResolveEnvironmentPrecedence(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "/usr/lib/systemd/system/x.service", "[Service]\nEnvironment=A=unit B=unit\nEnvironmentFile=/etc/x/first\nEnvironmentFile=-/etc/x/missing\nEnvironmentFile=/etc/x/second\nExecStart=/bin/true\n")
	writeFile(t, root, "/etc/x/first", "A=first\nC=first\n")
	writeFile(t, root, "/etc/x/second", "C=second\n")
	u := Load(root, "x.service")
	env, _, err := u.ResolveEnvironment(root, map[string]string{"PATH": "/bin"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"PATH": "/bin", "A": "first", "B": "unit", "C": "second"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env = %q, want %q", env, want)
	}
	writeFile(t, root, "/usr/lib/systemd/system/y.service", "[Service]\nEnvironmentFile=/etc/x/missing\n")
	if _, _, err := Load(root, "y.service").ResolveEnvironment(root, nil); err == nil {
		t.Error("missing required EnvironmentFile accepted")
	}
}

func TestNeedDaemonReload(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "/usr/lib/systemd/system/x.service", "[Service]\nExecStart=/bin/true\n")
	u := Load(root, "x.service")
	if u.ChangedOnDisk(root) {
		t.Fatal("fresh unit reported as changed")
	}
	writeFile(t, root, "/etc/systemd/system/x.service.d/override.conf", "[Service]\nRestart=always\n")
	if !u.ChangedOnDisk(root) {
		t.Error("new drop-in not noticed")
	}
}
