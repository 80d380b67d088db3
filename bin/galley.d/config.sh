# bin/galley.d/config.sh: the stack's settings (bin/galley help, "environment"): the run and
# build folders, the services (fcgi/*/main.c), each one's pools, workers and pool settings,
# and its pools on other hosts (the pools file, GALLEY_PRIVATE_ADDR).

load_config() {
	RUN=${GALLEY_RUN:-$TOP/.run}
	mkdir -p "$RUN"
	RUN=$(cd "$RUN" && pwd)
	BUILD=${GALLEY_BUILD:-$TOP/build}
	[[ $BUILD == /* ]] || BUILD="$TOP/$BUILD"
	# Unix socket paths are limited to 107 bytes; sock/<svc>-<n>.sock must fit.
	((${#RUN} <= 80)) || die "GALLEY_RUN is too long for unix socket paths (max 80): $RUN"
	find_services
}

# find_services: SERVICES=(every fcgi/<svc>/ that has a main.c).
find_services() {
	SERVICES=()
	local d
	for d in "$TOP"/fcgi/*/main.c; do
		[[ -e $d ]] || continue
		d=${d%/main.c}
		SERVICES+=("${d##*/}")
	done
	((${#SERVICES[@]} > 0)) || die "no services in $TOP/fcgi/*/main.c"
}

# svc_default_workers SVC: workers per pool when nothing says otherwise. payments 4: a
# payment waits on the provider (two calls), orders and stock for most of its ~50 ms and
# spends ~2 ms of CPU, so 8 paid at a time by 2 pools of 2 queued past the bound on waiting
# (lib/admit.h) and a third of them were refused (docs/performance.md, "Fewer round trips
# per order"); the others 2.
svc_default_workers() {
	case $1 in
	payments) echo 4 ;;
	*) echo 2 ;;
	esac
}

# svc_setting SVC POOLS|WORKERS: GALLEY_<SVC>_<WHAT>, else GALLEY_<WHAT>, else 2 (workers:
# svc_default_workers).
svc_setting() {
	local svc=${1^^} what=$2 v dflt=2
	svc=${svc//-/_}
	[[ $what != WORKERS ]] || dflt=$(svc_default_workers "$1")
	local per="GALLEY_${svc}_${what}" all="GALLEY_${what}"
	v=${!per:-${!all:-$dflt}}
	# No local pool is fine for a service with pools on other hosts (the pools file).
	[[ $what == POOLS && $v == 0 && -n ${REMOTE_POOLS[$1]:-} ]] && { echo 0; return 0; }
	[[ $v =~ ^[1-9][0-9]?$ ]] || die "$per / $all must be 1..99, got '$v'"
	echo "$v"
}

# svc_inflight TARGET SVC: the requests nginx lets in flight at once to SVC's pools (its
# bounded queue, nginx.conf.in): pools x workers x GALLEY_INFLIGHT_PER_WORKER [8]. In the
# containers the pools are replicas nginx cannot count: GALLEY_INFLIGHT [256] per service.
svc_inflight() {
	local per
	per=$(svc_inflight_per_worker "$2")
	[[ $per =~ ^[1-9][0-9]{0,2}$ ]] || die "GALLEY_INFLIGHT_PER_WORKER / GALLEY_${2^^}_INFLIGHT_PER_WORKER must be 1..999, got '$per'"
	if [[ $1 == local ]]; then
		# A pool on another host counts as one of GALLEY_<SVC>_WORKERS workers too.
		local remote
		remote=$(wc -w <<<"${REMOTE_POOLS[$2]:-}")
		echo $((($(svc_setting "$2" POOLS) + remote) * $(svc_setting "$2" WORKERS) * per))
	else
		echo "${GALLEY_INFLIGHT:-256}"
	fi
}

# svc_inflight_per_worker SVC: GALLEY_<SVC>_INFLIGHT_PER_WORKER, else
# GALLEY_INFLIGHT_PER_WORKER [8]. What waits in front of a worker waits for the requests
# ahead of it: the count over the service's rate (Little's law). 8 reads at full speed
# (~0.2 ms each) are under 2 ms, but at twice the peak of a service held to a tenth of a core
# p99 of the reads let in was 81-178 ms with 16 a worker, 40-96 ms with 8 (docs/performance.md,
# "Overload: shorter queues"); a shop that would rather refuse than queue sets it lower.
svc_inflight_per_worker() {
	local per="GALLEY_${1^^}_INFLIGHT_PER_WORKER"
	echo "${!per:-${GALLEY_INFLIGHT_PER_WORKER:-8}}"
}

svc_binary() { echo "$BUILD/fcgi/$1/galley-$1"; }

# svc_pool_setting SVC NAME DEFAULT: a pool setting of galley-pool (fcgi/pool/pool.h):
# GALLEY_<SVC>_<NAME>, else GALLEY_<NAME>, else DEFAULT; a whole number.
svc_pool_setting() {
	local svc=${1^^} v
	svc=${svc//-/_}
	local per="GALLEY_${svc}_$2" all="GALLEY_$2"
	v=${!per:-${!all:-$3}}
	[[ $v =~ ^[0-9]{1,10}$ ]] || die "$per / $all must be a whole number, got '$v'"
	echo "$v"
}

# The settings galley-pool reads (and its workers: the QUEUE_ ones, lib/admit.h, and
# DB_TIMEOUT_MS, lib/conf.c), per service as GALLEY_<SVC>_<NAME> too (svc_pool_setting).
POOL_SETTINGS=(SLOW_MS:1000 REQUEST_TIMEOUT_S:30 MAX_REQUESTS:0 QUEUE_WAIT_MS:25 QUEUE_BURST_MS:100
	DB_TIMEOUT_MS:2000)

# ---------------------------------------------------------------- pools on other hosts

# REMOTE_POOLS[SVC]: the addresses (HOST:PORT, space-separated) of SVC's pools on other
# hosts, from the pools file; nginx's upstream for SVC names them beside its local pools.
# A pools file (GALLEY_POOLS_FILE; up copies it to $RUN/pools, which scale --hosts edits) has
# one pool a line, "SVC HOST:PORT", "#" starting a comment; HOST is an IPv4 address.
declare -A REMOTE_POOLS=()

# pool_addr_ok ADDR: ADDR is IPv4:PORT on a loopback or private (RFC 1918) address. A
# FastCGI port is never public: anyone who reaches it is trusted as nginx (the identity
# headers), and Debian's libfcgi carries only half the fix for CVE-2025-23016 (README).
pool_addr_ok() {
	local ip=${1%:*} port=${1##*:} a b c d
	[[ $1 == *:* && $port =~ ^[1-9][0-9]{0,4}$ ]] && ((port <= 65534)) || {
		POOL_ADDR_WHY="not HOST:PORT with a port 1..65534 (the next port is its status)"
		return 1
	}
	IFS=. read -r a b c d <<<"$ip"
	if ! [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || ((a > 255 || b > 255 || c > 255 || d > 255)); then
		POOL_ADDR_WHY="'$ip' is not an IPv4 address (a.b.c.d)"
		return 1
	fi
	((a == 127 || a == 10 || (a == 172 && b >= 16 && b <= 31) || (a == 192 && b == 168))) && return 0
	POOL_ADDR_WHY="$ip is not a loopback (127/8) or private (10/8, 172.16/12, 192.168/16) address: a FastCGI port must never be public"
	return 1
}

# pools_load FILE: REMOTE_POOLS from FILE, checked strictly; dies naming the line at the
# first unknown service, bad or public address, or address listed twice.
pools_load() {
	local file=$1 line n=0 svc addr extra status
	local -A seen=() status_of=()
	REMOTE_POOLS=()
	[[ -r $file ]] || die "pools file $file: cannot read it"
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		line=${line%%#*}
		read -r svc addr extra <<<"$line" || true
		[[ -z $svc ]] && continue
		[[ -n $addr && -z $extra ]] || die "pools file $file:$n: expected 'SERVICE HOST:PORT', got '$line'"
		[[ " ${SERVICES[*]} " == *" $svc "* ]] ||
			die "pools file $file:$n: no service '$svc' (services: ${SERVICES[*]})"
		pool_addr_ok "$addr" || die "pools file $file:$n: $addr: $POOL_ADDR_WHY"
		[[ -z ${seen[$addr]:-} ]] || die "pools file $file:$n: $addr is listed twice (line ${seen[$addr]}): one address is one pool"
		status=$(pool_status_addr "$addr")
		[[ -z ${status_of[$addr]:-}${seen[$status]:-} ]] ||
			die "pools file $file:$n: $addr and the next port (a pool's status) clash with line ${status_of[$addr]:-${seen[$status]}}"
		seen[$addr]=$n
		status_of[$status]=$n
		REMOTE_POOLS[$svc]+="${REMOTE_POOLS[$svc]:+ }$addr"
	done <"$file"
	return 0
}

# pools_write FILE: REMOTE_POOLS as a pools file.
pools_write() {
	local svc a
	{
		echo "# galley pools on other hosts: SERVICE HOST:PORT (bin/galley up, scale --hosts)"
		for svc in "${SERVICES[@]}"; do
			for a in ${REMOTE_POOLS[$svc]:-}; do echo "$svc $a"; done
		done
	} >"$1.tmp"
	mv -f "$1.tmp" "$1"
}

# pool_hosts: the distinct hosts of every remote pool, one a line.
pool_hosts() {
	local svc a
	for svc in "${!REMOTE_POOLS[@]}"; do
		for a in ${REMOTE_POOLS[$svc]}; do echo "${a%:*}"; done
	done | sort -u
}

# private_setup: PRIVATE, this host's address on the network the pools' hosts share
# (GALLEY_PRIVATE_ADDR, private or loopback range, assigned to an interface here). With it,
# the cache Redis, the store and nginx's internal listener also listen there, the
# MongoDB-wire server listens there (galley-ferretdb takes one address), and the URLs the
# workers get name it, so $RUN/env serves `pool-run` on another host as it is.
private_setup() {
	PRIVATE=${GALLEY_PRIVATE_ADDR:-}
	[[ -n $PRIVATE ]] || return 0
	pool_addr_ok "$PRIVATE:1" || die "GALLEY_PRIVATE_ADDR: ${POOL_ADDR_WHY/:1 / }"
	[[ $PRIVATE != 127.0.0.1 ]] || die "GALLEY_PRIVATE_ADDR: 127.0.0.1 is this host's loopback: name the address the pools' hosts reach"
	ip -4 -o addr show 2>/dev/null | grep -qF " $PRIVATE/" ||
		die "GALLEY_PRIVATE_ADDR: $PRIVATE is not an address of this host (ip -4 addr)"
}

# data_host: where the workers reach the data tier and the internal listener.
data_host() { echo "${PRIVATE:-127.0.0.1}"; }

# pools_setup: up's pools on other hosts: GALLEY_POOLS_FILE checked and copied to $RUN/pools.
pools_setup() {
	REMOTE_POOLS=()
	rm -f "$RUN/pools"
	[[ -n ${GALLEY_POOLS_FILE:-} ]] || return 0
	pools_load "$GALLEY_POOLS_FILE"
	pools_need_private
	pools_write "$RUN/pools"
}

# pools_need_private: dies when there are pools on other hosts but no private address for
# them to reach the data tier and the internal listener on.
pools_need_private() {
	[[ -z $(pool_hosts) || -n ${PRIVATE:-} ]] ||
		die "pools on other hosts ($(pool_hosts | paste -sd' ')) need GALLEY_PRIVATE_ADDR: this host's address they reach Redis, the store, the MongoDB-wire server and the internal listener on (README, Pools on other hosts)"
}

# pool_command SVC NAME ADDR WORKERS BIN: POOL_CMD, the command that runs one pool of WORKERS
# workers of BIN listening on ADDR (unix:PATH, or HOST:PORT), named NAME (SVC-N) in its status
# and logs: the one place a pool's command line is made (up, restart-pool, scale, pool-run).
# galley-pool gets SVC's pool settings (POOL_SETTINGS) in its environment.
pool_command() {
	local svc=$1 name=$2 addr=$3 workers=$4 bin=$5 kv
	POOL_CMD=(env)
	for kv in "${POOL_SETTINGS[@]}"; do
		POOL_CMD+=("GALLEY_${kv%%:*}=$(svc_pool_setting "$svc" "${kv%%:*}" "${kv#*:}")")
	done
	POOL_CMD+=("$BUILD/fcgi/pool/galley-pool" --listen "$addr" --workers "$workers" --name "$name")
	# A pool on TCP answers its status on the next port (a Unix socket's: beside it).
	[[ $addr == unix:* ]] || POOL_CMD+=(--status "$(pool_status_addr "$addr")")
	POOL_CMD+=(--)
	worker_wrap
	POOL_CMD+=("${WORKER_WRAP[@]}" "$bin")
}

# worker_wrap: WORKER_WRAP, the words of GALLEY_WORKER_WRAP (a command each worker runs
# under, e.g. valgrind: tests/leaks.sh), or none. galley-pool execs the first word, so it
# must be an absolute path to a program; dies when it is not.
worker_wrap() {
	WORKER_WRAP=()
	[[ -n ${GALLEY_WORKER_WRAP:-} ]] || return 0
	read -r -a WORKER_WRAP <<<"$GALLEY_WORKER_WRAP"
	[[ ${WORKER_WRAP[0]:-} == /* && -x ${WORKER_WRAP[0]} ]] ||
		die "GALLEY_WORKER_WRAP must start with a program's absolute path, got '${WORKER_WRAP[0]:-}'"
}

# pool_status_addr HOST:PORT: where a TCP pool's manager answers its status, HOST:PORT+1.
pool_status_addr() {
	echo "${1%:*}:$((${1##*:} + 1))"
}
