#!/usr/bin/env bash
# Builds the local control plane's binaries from published Go modules into a cache outside the repo.
#
# Why from source: there is no Docker engine and no download site but the package registries, so the
# binaries kind/envtest would fetch are out of reach; the Go module proxy has every release's source.
# The cache is keyed by the pinned versions: a warm machine skips this entirely.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

die() { echo "build.sh: $*" >&2; exit 1; }
command -v go >/dev/null || die "no Go toolchain on PATH: install Go 1.26 or newer (Debian: apt-get install golang-go is too old; use the machine's Go)"

key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}"
cache=${KUBE_ROLLOUTS_CACHE:-$HOME/.cache/kube-rollouts}/$key
bin=$cache/bin
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
build_date=2000-01-01T00:00:00Z   # fixed: rebuilding the same versions gives the same binaries

have() { for b in "$@"; do [ -x "$bin/$b" ] || return 1; done; }

# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl: from k8s.io/kubernetes.
# Its staging modules (k8s.io/api, ...) are `replace`d to ./staging in its own go.mod, which a dependent
# module cannot use; the wrapper replaces each with the published v0.X.Y. The list is read from that
# release's go.mod, so a version bump needs no hand edits.
build_kubernetes() {
  have kube-apiserver kube-controller-manager kube-scheduler kubectl && return 0
  local v=$KUBERNETES_VERSION minor staging w gomod
  minor=$(echo "$v" | cut -d. -f2)
  staging=v0.${v#v1.}
  w=$cache/src/kubernetes; rm -rf "$w"; mkdir -p "$w"; cd "$w"
  gomod=$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$v from the Go module proxy"
  {
    echo "module local/kube-rollouts/kubernetes"
    echo "go $(sed -n 's/^go //p' "$gomod")"
    echo "require k8s.io/kubernetes $v"
    echo "replace ("
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging"'#p' "$gomod"
    echo ")"
  } > go.mod
  local pkgs=(cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubectl)
  go get "${pkgs[@]/#/k8s.io/kubernetes/}" >/dev/null
  local x=k8s.io/component-base/version c=k8s.io/client-go/pkg/version ld="-s -w"
  for p in $x $c; do
    ld="$ld -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$build_date"
  done
  for p in "${pkgs[@]}"; do
    echo "building $(basename "$p") $v" >&2
    go build -trimpath -ldflags "$ld" -o "$bin/" "k8s.io/kubernetes/$p"
  done
}

# etcd: its server module has `replace` directives too, so `go install` refuses it; a wrapper module
# that requires it and builds its main package works.
build_etcd() {
  have etcd && return 0
  local w=$cache/src/etcd; rm -rf "$w"; mkdir -p "$w"; cd "$w"
  printf 'module local/kube-rollouts/etcd\ngo 1.24\n' > go.mod
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
  echo "building etcd $ETCD_VERSION" >&2
  go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" -o "$bin/etcd" go.etcd.io/etcd/server/v3
}

# KWOK and Helm have no replace directives: go install builds them at the pinned version.
build_kwok() {
  have kwok && return 0
  echo "building kwok $KWOK_VERSION" >&2
  GOBIN=$bin go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
}
build_helm() {
  have helm && return 0
  echo "building helm $HELM_VERSION" >&2
  GOBIN=$bin go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

case "${1:-all}" in
  path) echo "$bin"; exit 0 ;;
  all) ;;
  *) die "usage: build.sh [all|path]" ;;
esac
start=$(date +%s)
build_etcd; build_kwok; build_helm; build_kubernetes
rm -rf "$cache/src"
echo "binaries ready in $bin ($(( $(date +%s) - start ))s)" >&2
