# Shared by bench/run.sh and bench/pgo.sh (sourced from the repository's root).
#
# apt_install NAME PACKAGE...  installs the Debian packages (as root; apt-get update only when
# the first try fails), or, when not root, says what to install and exits 1. NAME prefixes the
# messages.
apt_install() {
  local name=$1
  shift
  if [ "$(id -u)" -ne 0 ]; then
    echo "$name: missing $*; run as root or install them: apt-get install -y $*" >&2
    exit 1
  fi
  echo "$name: installing $*"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}
