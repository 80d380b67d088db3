# bin/galley.d/proc.sh: the processes up starts: each in its own session and process group,
# its output in $RUN/logs/NAME.log, its pid in $RUN/pids/NAME.pid; found again only while that
# pid is still what was started; stopped with its group. And free ports, and waiting.

# pid_alive PID: running and not a zombie.
pid_alive() {
	local st
	[[ -n ${1:-} && -r /proc/$1/stat ]] || return 1
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[[ $st != Z ]]
}

# group_alive PGID: any live process left in that process group.
group_alive() {
	local p
	for p in $(pgrep -g "$1" 2>/dev/null); do
		pid_alive "$p" && return 0
	done
	return 1
}

# The process a pid file names must still be what we started (pids get reused).
expected_comm() {
	case $1 in
	nginx | live) echo nginx ;;
	redis | store | redis-replica | store-replica | sentinel-*) echo redis-server ;;
	mongo) echo "galley-ferretdb mongod" ;;
	*) echo galley-pool ;;
	esac
}

# component_pid NAME: the recorded pid when that process is alive and is ours, else fail.
component_pid() {
	local f="$RUN/pids/$1.pid" pid comm
	[[ -s $f ]] || return 1
	pid=$(<"$f")
	pid_alive "$pid" || return 1
	comm=$(<"/proc/$pid/comm") || return 1
	[[ " $(expected_comm "$1") " == *" $comm "* ]] || return 1
	echo "$pid"
}

# spawn NAME CMD...: start CMD in its own session (so a whole pool is one process group),
# stdin from /dev/null, output appended to logs/NAME.log, pid recorded in pids/NAME.pid.
# No job control here, so the child is not a group leader and setsid(1) execs in place:
# $! is the pid of CMD itself (and of what CMD execs: env execs galley-pool).
spawn() {
	local name=$1
	shift
	setsid "$@" </dev/null >>"$RUN/logs/$name.log" 2>&1 &
	echo $! >"$RUN/pids/$name.pid"
}

# stop_component NAME: SIGTERM its process group, SIGKILL after STOP_TIMEOUT.
stop_component() {
	local name=$1 pid target i
	if ! pid=$(component_pid "$name"); then
		# Its leader is gone, but its group may live on: the workers of a pool whose
		# galley-pool was killed alone get SIGTERM (PR_SET_PDEATHSIG) and may still be
		# finishing a request. A pgid is not reused while its group has
		# members, so whatever is left in that group is ours.
		pid=$(cat "$RUN/pids/$name.pid" 2>/dev/null || true)
		[[ $pid =~ ^[0-9]+$ ]] && group_alive "$pid" && kill -KILL -- "-$pid" 2>/dev/null
		rm -f "$RUN/pids/$name.pid"
		return 0
	fi
	target=$pid
	[[ $(ps -o pgid= -p "$pid" | tr -d ' ') == "$pid" ]] && target="-$pid"
	kill -TERM -- "$target" 2>/dev/null || true
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		if [[ $target == -* ]]; then group_alive "$pid" || break; else pid_alive "$pid" || break; fi
		sleep 0.1
	done
	if { [[ $target == -* ]] && group_alive "$pid"; } || pid_alive "$pid"; then
		local left="" p
		for p in $(pgrep -g "$pid" 2>/dev/null); do pid_alive "$p" && left+=" $p"; done
		say "$name: pids${left:- $pid} ignored SIGTERM for ${STOP_TIMEOUT}s: SIGKILL" >&2
		# One line per pid, read by `bin/galley test` (a hang at shutdown is a failure).
		for p in ${left:-$pid}; do echo "SIGKILL $p $name" >>"$RUN/logs/down.log"; done
		kill -KILL -- "$target" 2>/dev/null || true
	fi
	rm -f "$RUN/pids/$name.pid"
}

# Names of everything up starts, in start order (down stops them in reverse).
pool_names() {
	local svc n
	for svc in "${SERVICES[@]}"; do
		for ((n = 1; n <= $(svc_setting "$svc" POOLS); n++)); do echo "$svc-$n"; done
	done
}

recorded_names() {
	local f
	for f in "$RUN"/pids/*.pid; do
		[[ -e $f ]] || continue
		f=${f##*/}
		echo "${f%.pid}"
	done
}

running_names() {
	local n
	for n in $(recorded_names); do
		component_pid "$n" >/dev/null && echo "$n"
	done
	return 0
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds; fail on timeout.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
	command -v ss >/dev/null && [[ -n $(ss -Htln "sport = :$1" 2>/dev/null) ]]
}

# pick_port: set FREE_PORT to a port in 20000-32767 nobody listens on and this run has not
# picked yet (a global, not $(...): the subshell would forget what was picked). Below Linux's
# default ephemeral range (32768-60999): there an outgoing connection could take the port
# between the check and the server's bind.
PICKED_PORTS=" "
pick_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 12768))
		[[ $PICKED_PORTS == *" $p "* ]] && continue
		port_in_use "$p" && continue
		PICKED_PORTS+="$p "
		FREE_PORT=$p
		return 0
	done
	die "no free port found in 20000-32767"
}

live_children() {
	local p out=()
	for p in $(pgrep -P "$1" 2>/dev/null); do pid_alive "$p" && out+=("$p"); done
	echo "${out[@]}"
}
