#!/usr/bin/env bash
# Regenerates the committed wrapper modules (e2e/cluster/tools/<tool>/go.mod and go.sum) from the
# versions pinned in ../versions.env. This is the only place that asks the Go module proxy which
# modules a release needs; build.sh then builds exactly what these files say, with -mod=readonly and
# the proxy turned off, so a module version published later can never change what a clean clone builds.
#
#   make tools-update            # all tools
#   make tools-update TOOLS=helm # one tool
#
# A version bump: edit one line of versions.env, run this, commit versions.env and the changed go.mod/go.sum.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../versions.env
. "$here/../versions.env"
die() { echo "tools-update: $*" >&2; exit 1; }
command -v go >/dev/null || die "no Go toolchain on PATH (Go 1.26 or newer)"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

# A fresh module directory with a go.mod header; the tool directives and requirements are then
# added by `go get -tool PKG@EXACT_VERSION` and completed by `go mod tidy`.
fresh() {
  local dir=$here/$1 go=$2
  rm -f "$dir/go.mod" "$dir/go.sum"; mkdir -p "$dir"
  printf 'module local/kube-rollouts/tools/%s\n\ngo %s\n' "$1" "$go" > "$dir/go.mod"
}
finish() {  # finish TOOL [TIDY-FLAGS...]
  local tool=$1; shift
  (cd "$here/$tool" && go mod tidy "$@" && go mod verify >/dev/null)
  echo "tools-update: $tool pinned ($(grep -c . "$here/$tool/go.sum") go.sum lines)" >&2
}

# Kubernetes keeps its staging modules (k8s.io/api, ...) `replace`d to ./staging in its own go.mod,
# which a dependent module cannot use: the wrapper replaces each with the published v0.X.Y of the
# same release, read from that release's go.mod so a bump needs no hand edits.
update_kubernetes() {
  local v=$KUBERNETES_VERSION staging=v0.${KUBERNETES_VERSION#v1.} gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$v from the Go module proxy"
  fresh kubernetes "$(sed -n 's/^go //p' "$gomod")"
  {
    echo
    echo "// The release's staging modules, at the published version of the same release."
    echo "replace ("
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging"'#p' "$gomod"
    echo ")"
  } >> "$here/kubernetes/go.mod"
  local p
  (cd "$here/kubernetes" && for p in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    go get -tool "k8s.io/kubernetes/cmd/$p@$v"
  done)
  finish kubernetes
}

# etcd's server module has `replace` directives of its own, so `go install` refuses it; a wrapper
# module that requires it builds its main package.
update_etcd() {
  fresh etcd 1.24
  (cd "$here/etcd" && go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  finish etcd
}
update_kwok() {
  fresh kwok 1.24
  (cd "$here/kwok" && go get -tool "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
  finish kwok
}
update_helm() {
  fresh helm 1.24
  (cd "$here/helm" && go get -tool "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
  finish helm
}

# Flux's controllers keep their api module `replace`d to ./api, so `go install` refuses them (and
# Argo Rollouts, built only for the side-by-side benchmark, pins its k8s.io modules by replaces). A
# wrapper module per controller requires the release (whose go.mod requires the published api module
# of the same version) and copies the release's other, non-local replaces (the go-digest pin, the
# kustomize pins), read from its go.mod so a bump needs no hand edits: the build then uses the
# module versions the release itself was built with. One wrapper per controller, not one for both:
# a shared module graph would lift one controller's dependencies to the other's versions.
update_flux() {  # update_flux TOOL MODULE VERSION [MAIN-PACKAGE (default: MODULE)]
  local tool=$1 module=$2 v=$3 pkg=${4:-$2} gomod
  gomod=$(go mod download -json "$module@$v" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  [ -f "$gomod" ] || die "could not download $module@$v from the Go module proxy"
  fresh "$tool" "$(sed -n 's/^go //p' "$gomod")"
  local replaces
  replaces=$(go mod edit -json "$gomod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    new = r["New"]
    if new.get("Version"):  # a local ./path replace has no version: the published module stands in
        old = r["Old"]["Path"] + ("@" + r["Old"]["Version"] if r["Old"].get("Version") else "")
        print(old + "=" + new["Path"] + "@" + new["Version"])
')
  (cd "$here/$tool" && for r in $replaces; do go mod edit -replace "$r"; done && go get -tool "$pkg@$v")
  # -e: `go mod tidy` also resolves the imports of the controllers' own tests (their test servers),
  # and the module proxy withholds some of those versions; the build never needs them, and build.sh
  # proves it (GOPROXY=off, -mod=readonly).
  finish "$tool" -e
}

for tool in ${TOOLS:-etcd kwok helm kubernetes flux-source flux-kustomize argo-rollouts}; do
  case $tool in
    etcd|kwok|helm|kubernetes) "update_$tool" ;;
    flux-source) update_flux flux-source github.com/fluxcd/source-controller "$FLUX_SOURCE_CONTROLLER_VERSION" ;;
    flux-kustomize) update_flux flux-kustomize github.com/fluxcd/kustomize-controller "$FLUX_KUSTOMIZE_CONTROLLER_VERSION" ;;
    argo-rollouts) update_flux argo-rollouts github.com/argoproj/argo-rollouts "$ARGO_ROLLOUTS_VERSION" \
      github.com/argoproj/argo-rollouts/cmd/rollouts-controller ;;
    *) die "unknown tool $tool (one of: etcd kwok helm kubernetes flux-source flux-kustomize argo-rollouts)" ;;
  esac
done
