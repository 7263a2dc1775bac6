package flags

import (
	"reflect"
	"testing"
)

func TestParseForms(t *testing.T) {
	fs := New("dockerd")
	bip := fs.String("", "bip")
	graph := fs.String("/var/lib/docker", "g", "graph")
	opts := fs.List(false, "storage-opt")
	servers := fs.List(true, "etcd-servers")
	selinux := fs.Bool(false, "selinux-enabled")
	masq := fs.Bool(true, "ip-masq")
	err := fs.Parse([]string{"--bip=10.244.3.1/24", "-g", "/data", "--storage-opt", "dm.basesize=20G", "--storage-opt=dm.fs=xfs",
		"--etcd-servers=http://a:2379,http://b:2379", "--selinux-enabled", "--ip-masq=false", "--unknown-flag", "-x=1"})
	if err != nil {
		t.Fatal(err)
	}
	if bip() != "10.244.3.1/24" || graph() != "/data" || !selinux() || masq() {
		t.Errorf("bip=%q graph=%q selinux=%v masq=%v", bip(), graph(), selinux(), masq())
	}
	if !reflect.DeepEqual(opts(), []string{"dm.basesize=20G", "dm.fs=xfs"}) {
		t.Errorf("storage-opt = %q", opts())
	}
	if !reflect.DeepEqual(servers(), []string{"http://a:2379", "http://b:2379"}) {
		t.Errorf("etcd-servers = %q", servers())
	}
	if len(fs.Warnings) != 2 {
		t.Errorf("warnings = %q, want two unknown flags", fs.Warnings)
	}
}

func TestParseErrors(t *testing.T) {
	fs := New("x")
	fs.String("", "bip")
	if err := fs.Parse([]string{"--bip"}); err == nil {
		t.Error("missing value accepted")
	}
	fs = New("x")
	fs.Bool(false, "debug")
	if err := fs.Parse([]string{"--debug=maybe"}); err == nil {
		t.Error("invalid boolean accepted")
	}
}
