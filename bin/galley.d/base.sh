# bin/galley.d/base.sh: what every part of bin/galley uses, sourced (after `set -euo pipefail`)
# by bin/galley and by tests/run.sh: the repo's paths, the timeouts and how galley speaks; then
# the parts, one job each, which only define functions and their tables:
#   config.sh    the stack's settings: its services, pools and workers, pools on other hosts
#   install.sh   Debian's packages, the tools built once (galley-ferretdb, ...), building a tree
#   proc.sh      processes: start one in its own group, find it by its pid file, stop it; ports
#   servers.sh   the data tier: Redis, the store, the Sentinels (up --ha), the MongoDB-wire
#                server, sql/
#   render.sh    nginx's configs from nginx/*.conf.in, for this machine or galley's images
#   stack.sh     the pools, nginx and the live server; $RUN/env; stopping the whole stack
#   commands.sh  up, down, status, restart-pool, restart-redis, restart-mongo
#   scale.sh     scale, scale --hosts, pool-run: a running stack's pools change
# Sourced at the top level, never from a function: their `declare -A` tables stay global.

# The repo: this file is <repo>/bin/galley.d/base.sh, sourced by its real path.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SELF="$TOP/bin/galley"
STOP_TIMEOUT=${GALLEY_STOP_TIMEOUT:-10}   # seconds between SIGTERM and SIGKILL
READY_TIMEOUT=${GALLEY_READY_TIMEOUT:-60} # seconds for the whole stack to answer readyz

say() { printf 'galley: %s\n' "$*"; }
die() {
	printf 'galley: %s\n' "$*" >&2
	exit 1
}

for _galley_part in config install proc servers render stack commands scale; do
	# shellcheck source=/dev/null
	source "$TOP/bin/galley.d/$_galley_part.sh"
done
unset _galley_part
