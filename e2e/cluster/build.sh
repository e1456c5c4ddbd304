#!/usr/bin/env bash
# Builds the local control plane's binaries from the committed, pinned wrapper modules in tools/ into
# a cache outside the repo.
#
# Why from source: there is no Docker engine and no download site but the package registries, so the
# binaries kind/envtest would fetch are out of reach; the Go module proxy has every release's source.
#
# Why it cannot drift: each tool builds from tools/<tool>/go.mod and go.sum (regenerated only by
# `make tools-update`). The modules are first downloaded (checked against go.sum), then built with
# -mod=readonly and GOPROXY=off: a build that needed any module version the committed files do not
# pin fails here instead of quietly taking whatever the proxy serves that day.
#
# The cache is keyed by the pinned versions and the wrapper modules' contents: a warm machine skips
# this entirely. `build.sh path` prints the binary folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=$here/tools
# shellcheck source=versions.env
. "$here/versions.env"

die() { echo "build.sh: $*" >&2; exit 1; }

# Two sets, each cached under its own key so that one changing does not rebuild the other: the
# control plane (every cluster needs it) and Flux's two controllers (built on demand, only for the
# GitOps test: `build.sh flux`).
digest() { (cd "$tools" && cat "$@" | sha256sum | cut -c1-12); }
root=${KUBE_ROLLOUTS_CACHE:-$HOME/.cache/kube-rollouts}
case "${1:-all}" in
  all|path)
    key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}"
    key="${key}_$(digest {etcd,helm,kubernetes,kwok}/go.mod {etcd,helm,kubernetes,kwok}/go.sum)"
    what="control plane"
    # component  module-dir  package  version
    COMPONENTS=(
      "etcd        etcd        go.etcd.io/etcd/server/v3                 $ETCD_VERSION"
      "kwok        kwok        sigs.k8s.io/kwok/cmd/kwok                 $KWOK_VERSION"
      "helm        helm        helm.sh/helm/v3/cmd/helm                  $HELM_VERSION"
      "kube-apiserver          kubernetes k8s.io/kubernetes/cmd/kube-apiserver          $KUBERNETES_VERSION"
      "kube-controller-manager kubernetes k8s.io/kubernetes/cmd/kube-controller-manager $KUBERNETES_VERSION"
      "kube-scheduler          kubernetes k8s.io/kubernetes/cmd/kube-scheduler          $KUBERNETES_VERSION"
      "kubectl                 kubernetes k8s.io/kubernetes/cmd/kubectl                 $KUBERNETES_VERSION"
    )
    estimate="about 10 minutes" ;;
  flux|flux-path)
    key="flux-source-${FLUX_SOURCE_CONTROLLER_VERSION}_kustomize-${FLUX_KUSTOMIZE_CONTROLLER_VERSION}"
    key="${key}_$(digest {flux-source,flux-kustomize}/go.mod {flux-source,flux-kustomize}/go.sum)"
    what="Flux"
    COMPONENTS=(
      "source-controller    flux-source    github.com/fluxcd/source-controller    $FLUX_SOURCE_CONTROLLER_VERSION"
      "kustomize-controller flux-kustomize github.com/fluxcd/kustomize-controller $FLUX_KUSTOMIZE_CONTROLLER_VERSION"
    )
    estimate="about 25 minutes (source-controller carries every cloud SDK)" ;;
  argo-rollouts|argo-rollouts-path)
    key="argo-rollouts-${ARGO_ROLLOUTS_VERSION}_$(digest argo-rollouts/go.mod argo-rollouts/go.sum)"
    what="Argo Rollouts"
    COMPONENTS=(
      "rollouts-controller argo-rollouts github.com/argoproj/argo-rollouts/cmd/rollouts-controller $ARGO_ROLLOUTS_VERSION"
    )
    estimate="about 10 minutes" ;;
  *) die "usage: build.sh [all|path|flux|flux-path|argo-rollouts|argo-rollouts-path]" ;;
esac
cache=$root/$key
bin=$cache/bin
logs=$cache/logs
case "${1:-all}" in *path) echo "$bin"; exit 0 ;; esac

missing=()
for c in "${COMPONENTS[@]}"; do
  read -r name _ <<<"$c"
  [ -x "$bin/$name" ] || missing+=("$c")
done
[ ${#missing[@]} -eq 0 ] && exit 0

command -v go >/dev/null || die "no Go toolchain on PATH and the $what binaries are not built yet: install Go 1.26 or newer, then retry"
mkdir -p "$bin" "$logs"
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
build_date=2000-01-01T00:00:00Z   # fixed: rebuilding the same versions gives the same binaries

elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# ldflags that stamp each binary with the version it reports (as the release builds do).
ldflags() {
  local name=$1 v=$2 p ld="-s -w"
  case $name in
    etcd) ld="$ld -X go.etcd.io/etcd/api/v3/version.GitSHA=$v" ;;
    kwok) ld="$ld -X sigs.k8s.io/kwok/pkg/consts.Version=$v" ;;
    helm) ld="$ld -X helm.sh/helm/v3/internal/version.version=$v" ;;
    rollouts-controller) ld="$ld -X github.com/argoproj/argo-rollouts/utils/version.version=${v#v}" ;;
    *-controller) ;;   # Flux's controllers stamp no version (their release builds set none either)
    *)
      for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld="$ld -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$(echo "$v" | cut -d. -f2)"
        ld="$ld -X $p.gitTreeState=clean -X $p.buildDate=$build_date"
      done ;;
  esac
  echo "$ld"
}

# Runs one command for a component with its output in the component's log; on failure, says which
# component, which command, and shows the last lines of its output.
run_logged() {
  local label=$1 log=$2 started=$3; shift 3
  echo "\$ (cd ${PWD#"$here"/} && $*)" >>"$log"
  if ! "$@" >>"$log" 2>&1; then
    {
      echo "build.sh: $label failed after $(elapsed "$started")"
      echo "  command: (cd $PWD && $*)"
      echo "  last lines of its output (full log: $log):"
      tail -n 25 "$log" | sed 's/^/    /'
    } >&2
    exit 1
  fi
}

total_start=$(date +%s)
echo "$what: building ${#missing[@]} binaries once from the pinned Go modules in e2e/cluster/tools" \
  "($estimate on 2 cores with empty Go caches; later runs reuse $bin)" >&2

downloaded=" "
i=0
for c in "${missing[@]}"; do
  read -r name dir pkg version <<<"$c"
  i=$((i + 1))
  label="[$i/${#missing[@]}] $name $version"
  log=$logs/$name.log; : >"$log"
  started=$(date +%s)
  cd "$tools/$dir"
  if [[ $downloaded != *" $dir "* ]]; then
    echo "$label: downloading the modules pinned in tools/$dir/go.sum" >&2
    run_logged "$label (module download)" "$log" "$started" go mod download
    downloaded="$downloaded$dir "
  fi
  echo "$label: building" >&2
  GOPROXY=off run_logged "$label" "$log" "$started" \
    go build -trimpath -ldflags "$(ldflags "$name" "$version")" -o "$bin/.$name.partial" "$pkg"
  if [[ $name == rollouts-controller ]]; then
    # Argo's CRDs, from the module zip the binary was built from (manifests/crds/).
    src=$(GOPROXY=off go list -m -f '{{.Dir}}' github.com/argoproj/argo-rollouts)
    mkdir -p "$cache/crds"
    cp "$src"/manifests/crds/*-crd.yaml "$cache/crds/"
    chmod u+w "$cache"/crds/*.yaml
  elif [[ $name == *-controller ]]; then
    # Flux's CRDs come from the same module zip the binary was built from (config/crd/bases/).
    src=$(GOPROXY=off go list -m -f '{{.Dir}}' "$pkg")
    mkdir -p "$cache/crds"
    cp "$src"/config/crd/bases/*.yaml "$cache/crds/"
    chmod u+w "$cache"/crds/*.yaml   # copies of the read-only module cache
  fi
  mv "$bin/.$name.partial" "$bin/$name"
  echo "$label: done in $(elapsed "$started")" >&2
done
echo "$what: binaries ready in $bin ($(elapsed "$total_start"))" >&2
