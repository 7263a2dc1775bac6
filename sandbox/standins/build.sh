#!/usr/bin/env bash
# Build the kboot sandbox stand-ins (one multi-call binary, kboot-standin,
# plus one symlink per stand-in name) and the real flanneld into
# ${KBOOT_CACHE:-$HOME/.cache/kboot}/sandbox-bin/. Idempotent: a hash of the
# sources decides whether kboot-standin is rebuilt, and flanneld is built
# once per flannel version.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KBOOT_CACHE:-$HOME/.cache/kboot}"
bin="$cache/sandbox-bin"
go="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
flannel_version="v0.28.9"
names=(systemd systemctl journalctl yum rpm etcd etcdctl dockerd docker kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

# Never let the go command fetch a newer toolchain at build time.
export GOTOOLCHAIN=local
export CGO_ENABLED=0

if [[ ! -x "$go" ]]; then
  echo "build.sh: go not found (looked for \$GO, go on PATH, /usr/local/go/bin/go); install Go 1.22 or newer" >&2
  exit 1
fi
mkdir -p "$bin"
# Several callers (fleet up, tests) may run this at once: serialize them.
exec 9>"$bin/.build.lock"
if ! flock -w 600 9; then
  echo "build.sh: timed out after 600 s waiting for another build.sh holding $bin/.build.lock" >&2
  exit 1
fi

# --- kboot-standin ----------------------------------------------------------
source_hash="$(cd "$here" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name 'build.sh' \) -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
if [[ -x "$bin/kboot-standin" && "$(cat "$bin/.kboot-standin.hash" 2>/dev/null)" == "$source_hash" ]]; then
  echo "build.sh: kboot-standin is up to date ($bin)"
else
  echo "build.sh: building kboot-standin into $bin"
  (cd "$here" && "$go" build -trimpath -ldflags '-s -w' -o "$bin/kboot-standin.new" .)
  mv -f "$bin/kboot-standin.new" "$bin/kboot-standin"
  echo "$source_hash" > "$bin/.kboot-standin.hash"
fi
for name in "${names[@]}"; do
  if [[ "$(readlink "$bin/$name" 2>/dev/null)" != "kboot-standin" ]]; then
    ln -sfn kboot-standin "$bin/$name"
  fi
done

# --- the machine's etcd and etcdctl, behind the etcd 3.3 shim -------------
# Inside a host, /usr/bin/etcd becomes the shim (the etcd package links it),
# which hides the machine's binary; the shim execs this copy instead.
# The copies keep their names (real/etcd) so that pgrep and pidof find etcd.
mkdir -p "$bin/real"
rm -f "$bin/real-etcd" "$bin/real-etcdctl"
for tool in etcd etcdctl; do
  if [[ ! -x "/usr/bin/$tool" ]]; then
    echo "build.sh: /usr/bin/$tool not found; the sandbox etcd package needs Debian's etcd-server and etcd-client (run build.sh again after installing them)" >&2
    continue
  fi
  if ! cmp -s "/usr/bin/$tool" "$bin/real/$tool"; then
    ln -f "/usr/bin/$tool" "$bin/real/$tool" 2>/dev/null || cp -f "/usr/bin/$tool" "$bin/real/$tool"
  fi
done

# --- flanneld (the real one) ------------------------------------------------
# flannel's main.go imports every backend; the tencentvpc backend needs
# github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc, which the Go
# module proxy here does not serve. The build drops that one import (a
# build-time patch of a copy in the cache; no flannel code is committed).
# The sandbox uses the vxlan backend, which is unaffected.
flannel_stamp="$bin/.flanneld.version"
if [[ -x "$bin/flanneld" && "$(cat "$flannel_stamp" 2>/dev/null)" == "$flannel_version" ]]; then
  echo "build.sh: flanneld $flannel_version is up to date"
else
  echo "build.sh: building flanneld $flannel_version (first build takes about a minute)"
  module_dir="$("$go" mod download -json "github.com/flannel-io/flannel@$flannel_version" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  if [[ -z "$module_dir" || ! -f "$module_dir/main.go" ]]; then
    echo "build.sh: go mod download of github.com/flannel-io/flannel@$flannel_version did not return a module directory" >&2
    exit 1
  fi
  src="$cache/flannel-src-$flannel_version"
  rm -rf "$src"
  cp -r "$module_dir" "$src"
  chmod -R u+w "$src"
  if ! grep -q 'flannel/pkg/backend/tencentvpc"' "$src/main.go"; then
    echo "build.sh: flannel $flannel_version main.go no longer imports the tencentvpc backend; review the patch in build.sh" >&2
    exit 1
  fi
  sed -i '/flannel\/pkg\/backend\/tencentvpc"/d' "$src/main.go"
  # The udp backend is written in cgo, so flanneld is built with cgo on.
  (cd "$src" && CGO_ENABLED=1 "$go" build -mod=mod -trimpath \
    -ldflags "-s -w -X github.com/flannel-io/flannel/pkg/version.Version=$flannel_version" \
    -o "$bin/flanneld.new" .)
  mv -f "$bin/flanneld.new" "$bin/flanneld"
  echo "$flannel_version" > "$flannel_stamp"
  rm -rf "$src"
fi
echo "$bin"
