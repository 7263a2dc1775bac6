package etcdshim

import (
	"reflect"
	"strings"
	"testing"
)

func TestFlagShadowsEnvironment(t *testing.T) {
	args := []string{"--name=kbt1", "--data-dir=/var/lib/etcd/default.etcd", "--listen-client-urls", "http://127.0.0.1:2379"}
	env := []string{"PATH=/bin", "ETCD_NAME=default", "ETCD_LISTEN_CLIENT_URLS=http://localhost:2379", "ETCD_INITIAL_CLUSTER=a=http://x:2380"}
	got, warnings := EtcdEnvironment(args, env)
	want := []string{"PATH=/bin", "ETCD_INITIAL_CLUSTER=a=http://x:2380", "ETCD_ENABLE_V2=true"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("env = %q, want %q", got, want)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "ETCD_NAME, but unused: shadowed by corresponding flag") {
		t.Errorf("warnings = %q", warnings)
	}
}

func TestEnableV2KeptWhenConfigured(t *testing.T) {
	got, _ := EtcdEnvironment(nil, []string{"ETCD_ENABLE_V2=false"})
	if !reflect.DeepEqual(got, []string{"ETCD_ENABLE_V2=false"}) {
		t.Errorf("env = %q", got)
	}
	got, _ = EtcdEnvironment([]string{"--enable-v2=false"}, nil)
	if len(got) != 0 {
		t.Errorf("env = %q, want no default when --enable-v2 is given", got)
	}
}

func TestEtcdctlDefaultsToV2(t *testing.T) {
	if got := EtcdctlEnvironment([]string{"A=1"}); !reflect.DeepEqual(got, []string{"A=1", "ETCDCTL_API=2"}) {
		t.Errorf("env = %q", got)
	}
	if got := EtcdctlEnvironment([]string{"ETCDCTL_API=3"}); !reflect.DeepEqual(got, []string{"ETCDCTL_API=3"}) {
		t.Errorf("env = %q", got)
	}
}
