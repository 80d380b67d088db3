# tests/e2e/hosts.sh: simulated hosts for pools on other hosts, sourced by
# tests/e2e/63-hosts.sh and tests/bench/hosts.sh (needs root: ip netns, cgroup v1's cpu).
# Each host is a network namespace joined to a bridge in the root namespace by a veth pair,
# with loopback-range addresses only (127.A.B.0/24, picked unused for the run, with
# route_localnet on the bridge and the veths, and the /24 routed on them ahead of lo's
# 127/8), and a CPU quota of its own (cgroup v1 cpu.cfs_quota_us over cfs_period_us), so a
# host and not the machine is what runs out of CPU. Names carry the run's id: two runs at
# once do not meet. It sets no shell options.
#
#   hosts_make N [QUOTA_US]  N hosts (default quota 25000 of 100000 us: 25% of a core each);
#                            sets HOSTS_ID, HOSTS_PRIVATE (the root namespace's address on the
#                            bridge: the stack's GALLEY_PRIVATE_ADDR), HOST_ADDR[i] (i = 1..N),
#                            HOST_NS[i], HOST_VETH[i] (its root-side end), HOST_CG[i]
#   hosts_stack_up DIR [VAR=VALUE...]   bin/galley up --no-build of a stack of the test's own in
#                            DIR (free ports), on HOSTS_PRIVATE; sets HOSTS_RUN
#   host_pool I SVC PORT     starts a pool of SVC on host I, HOST_ADDR[I]:PORT, with bin/galley
#                            pool-run and HOSTS_RUN/env, in the host's cgroup from its first
#                            instruction, logging to HOSTS_RUN/logs/SVC-hostI.log; waits until
#                            its port accepts from the root namespace (non-zero if never)
#   host_cut I, host_back I  the host's veth down / up in the root namespace
#   host_cpu_ms I            the CPU the host used so far, in ms (its cpuacct cgroup's usage)
#   hosts_cleanup            stops the pools, the stack, deletes the namespaces, the bridge,
#                            the cgroups; safe to call twice, and from an EXIT trap
_hosts_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HOSTS_ID="" HOSTS_RUN="" HOSTS_PRIVATE="" HOSTS_N=0
HOSTS_POOL_PIDS=()
declare -a HOST_ADDR=() HOST_NS=() HOST_VETH=() HOST_CG=() HOST_ACCT=()

# hosts_make N [QUOTA_US]
hosts_make() {
	local - n=$1 quota=${2:-25000} i a b net br try
	set +e # each step that matters is checked; `local -` restores the caller's options
	HOSTS_ID=gl$(printf '%04x' $((($$ + RANDOM) % 65536)))
	# A /24 in 127/8 that nothing on this machine routes or holds yet.
	for try in $(seq 1 50); do
		a=$((100 + RANDOM % 150)) b=$((1 + RANDOM % 250))
		net=127.$a.$b
		ip -4 -o addr show | grep -qF " $net." && continue
		ip -4 route show table local | grep -qE "(^| )$net\.0/24 " && continue
		break
	done
	br=${HOSTS_ID}br
	HOSTS_PRIVATE=$net.1
	ip link add "$br" type bridge || return 1
	ip link set "$br" up && ip addr add "$HOSTS_PRIVATE/24" dev "$br" || return 1
	# 127/8 is "martian" off lo unless route_localnet, and lo's 127/8 in the local table
	# would answer for the hosts' addresses: the /24 goes to the bridge instead.
	sysctl -qw "net.ipv4.conf.$br.route_localnet=1" || return 1
	ip route add table local "$net.0/24" dev "$br" src "$HOSTS_PRIVATE" || return 1
	for ((i = 1; i <= n; i++)); do
		HOST_NS[i]=${HOSTS_ID}h$i HOST_VETH[i]=${HOSTS_ID}v$i HOST_ADDR[i]=$net.$((10 + i))
		HOST_CG[i]=/sys/fs/cgroup/cpu/galley-${HOSTS_ID}-h$i
		# cpuacct is a hierarchy of its own here (cgroup v1): the host's CPU use is read there.
		HOST_ACCT[i]=/sys/fs/cgroup/cpuacct/galley-${HOSTS_ID}-h$i
		ip netns add "${HOST_NS[i]}" || return 1
		HOSTS_N=$i
		ip link add "${HOST_VETH[i]}" type veth peer name eth0 netns "${HOST_NS[i]}" || return 1
		ip link set "${HOST_VETH[i]}" master "$br" up || return 1
		ip netns exec "${HOST_NS[i]}" sh -ec "
			ip link set lo up
			ip link set eth0 up
			ip addr add ${HOST_ADDR[i]}/24 dev eth0
			sysctl -qw net.ipv4.conf.eth0.route_localnet=1
			ip route add table local $net.0/24 dev eth0 src ${HOST_ADDR[i]}" || return 1
		mkdir -p "${HOST_CG[i]}" "${HOST_ACCT[i]}" || return 1
		echo 100000 >"${HOST_CG[i]}/cpu.cfs_period_us" && echo "$quota" >"${HOST_CG[i]}/cpu.cfs_quota_us" ||
			return 1
	done
	return 0
}

# hosts_stack_up DIR [VAR=VALUE...]: the stack the hosts' pools serve, in DIR.
hosts_stack_up() {
	HOSTS_RUN=$1
	shift
	mkdir -p "$HOSTS_RUN"
	env "$@" GALLEY_RUN="$HOSTS_RUN" GALLEY_PRIVATE_ADDR="$HOSTS_PRIVATE" GALLEY_PORT=0 \
		GALLEY_INTERNAL_PORT=0 GALLEY_LIVE_PORT=0 GALLEY_BIND=127.0.0.1 \
		"$_hosts_top/bin/galley" up --no-build
}

# _hosts_port_open ADDR PORT: a TCP connection to it from here succeeds.
_hosts_port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

host_pool() {
	local - i=$1 svc=$2 port=$3 t
	set +e
	# The shell joins the host's cgroups and then becomes the pool (exec all the way down to
	# galley-pool), so every worker is forked inside them; setsid: the pool is one group. It
	# joins before `ip netns exec`, which mounts a sysfs of the namespace's own over /sys.
	setsid bash -c 'echo $$ >"$1/cgroup.procs" && echo $$ >"$2/cgroup.procs" && shift 2 && exec "$@"' _ \
		"${HOST_CG[i]}" "${HOST_ACCT[i]}" ip netns exec "${HOST_NS[i]}" "$_hosts_top/bin/galley" pool-run "$svc" "${HOST_ADDR[i]}:$port" "$HOSTS_RUN/env" \
		</dev/null >>"$HOSTS_RUN/logs/$svc-host$i.log" 2>&1 &
	HOSTS_POOL_PIDS+=($!)
	for t in $(seq 1 200); do
		_hosts_port_open "${HOST_ADDR[i]}" "$port" && return 0
		kill -0 "$!" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

host_cut() { ip link set "${HOST_VETH[$1]}" down; }
host_back() { ip link set "${HOST_VETH[$1]}" up; }

host_cpu_ms() {
	local ns
	ns=$(cat "${HOST_ACCT[$1]}/cpuacct.usage" 2>/dev/null || echo 0)
	echo $((ns / 1000000))
}

_hosts_alive() {
	local p
	for p in "${HOSTS_POOL_PIDS[@]}"; do
		pgrep -g "$p" >/dev/null 2>&1 && return 0
	done
	return 1
}

hosts_cleanup() {
	local - p i t
	set +e # whatever fails, the rest is still cleaned up
	# The pools first (SIGTERM: galley-pool stops its workers cleanly), every veth up so
	# that they can say goodbye to Redis; SIGKILL after 10 s.
	for ((i = 1; i <= HOSTS_N; i++)); do ip link set "${HOST_VETH[i]}" up 2>/dev/null; done
	for p in "${HOSTS_POOL_PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
	for t in $(seq 1 100); do
		_hosts_alive || break
		sleep 0.1
	done
	for p in "${HOSTS_POOL_PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
	for p in "${HOSTS_POOL_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	HOSTS_POOL_PIDS=()
	if [[ -n $HOSTS_RUN && -f $HOSTS_RUN/env ]]; then
		GALLEY_RUN=$HOSTS_RUN "$_hosts_top/bin/galley" down >/dev/null 2>&1
	fi
	for ((i = 1; i <= HOSTS_N; i++)); do
		ip netns del "${HOST_NS[i]}" 2>/dev/null
		# A cgroup goes once its last task has: a worker may take a moment to be reaped.
		for t in $(seq 1 50); do
			[[ -d ${HOST_CG[i]} || -d ${HOST_ACCT[i]} ]] || break
			rmdir "${HOST_CG[i]}" "${HOST_ACCT[i]}" 2>/dev/null
			sleep 0.1
		done
	done
	[[ -z $HOSTS_ID ]] || ip link del "${HOSTS_ID}br" 2>/dev/null
	HOSTS_N=0 HOSTS_ID=""
	return 0
}
