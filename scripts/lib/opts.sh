# shellcheck shell=bash
# scripts/lib/opts.sh: what every scripts/*.sh and bench/*.sh does first. Sourced (not run)
# at the top of the script, after set -euo pipefail:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/opts.sh"   # from bench/
#   parse_opts --no-build:BUILD=0 --reps=REPS -- "$@"
#
# It sets ROOT to the repository (the folder above the script's) and makes it the working
# directory. parse_opts reads the command line: each SPEC before the -- is either
# "--name:VAR=VALUE", a switch that sets VAR to VALUE, or "--name=VAR", an option that puts the
# next argument into VAR. -h and --help print the script's header comment (from its second
# line to the first line that is not a comment) and exit 0; anything else, or an option
# without its argument, is a usage error: exit 2.

ROOT=$(cd "$(dirname "${BASH_SOURCE[1]}")/.." && pwd)
cd "$ROOT" || exit 2

opts_fail() { # MESSAGE...: "SCRIPT: MESSAGE" on stderr, exit 2
  echo "$(basename "$0"): $*" >&2
  exit 2
}

parse_opts() { # SPEC... -- ARG...
  local specs=() s a found
  while (($#)) && [[ $1 != -- ]]; do specs+=("$1"); shift; done
  (($#)) && shift
  while (($#)); do
    found=0
    for s in "${specs[@]+"${specs[@]}"}"; do
      if [[ $s == "$1="* ]]; then
        (($# >= 2)) || opts_fail "$1 needs a value"
        printf -v "${s#*=}" '%s' "$2"
        shift
        found=1
        break
      elif [[ $s == "$1:"* ]]; then
        a=${s#*:}
        printf -v "${a%%=*}" '%s' "${a#*=}"
        found=1
        break
      fi
    done
    if ((!found)); then
      case $1 in
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) opts_fail "unknown option $1 (try --help)" ;;
      esac
    fi
    shift
  done
}

opts_count() { # VALUE OPTION: VALUE must be a positive whole number, else a usage error
  [[ $1 =~ ^[1-9][0-9]*$ ]] || opts_fail "$2 must be a positive number"
}
