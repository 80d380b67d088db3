# bin/galley.d/scale.sh: a running stack's pools change with no failed request: scale (pools
# and workers of a service, its pool settings), scale --hosts (its pools on other hosts), and
# pool-run (one pool on another host); nginx follows by a graceful reload.

# nginx_reload: render the config for the pools now recorded, check it, and reload nginx
# gracefully (new workers take new requests; old ones finish theirs, then exit); returns
# when no old worker is left, or after worker_shutdown_timeout closed what held one.
nginx_reload() {
	local master old w i
	master=$(component_pid nginx) || die "nginx is not running"
	old=$(pgrep -P "$master" | sort)
	render_nginx
	# Safe beside the running nginx since nchan moved to the live server (live.conf.in):
	# with nchan loaded, a test run disturbed the running one's shared memory.
	nginx_cmd -t -q 2>>"$RUN/logs/nginx-error.log" ||
		die "the new nginx config does not pass nginx -t (see $RUN/logs/nginx-error.log); nginx serves with the old one"
	local before
	before=$(wc -l <"$RUN/logs/nginx-error.log")
	kill -HUP "$master"
	for ((i = 0; i < 150; i++)); do
		local left=0
		if tail -n "+$((before + 1))" "$RUN/logs/nginx-error.log" | grep -q '\[emerg\]'; then
			tail -n "+$((before + 1))" "$RUN/logs/nginx-error.log" | grep '\[emerg\]' >&2
			die "nginx refused the new config and serves with the old one"
		fi
		for w in $old; do pid_alive "$w" && left=1; done
		((left)) || return 0
		sleep 0.1
	done
	say "old nginx workers still finishing after 15 s: $(for w in $old; do pid_alive "$w" && printf '%s ' "$w"; done)" >&2
}

# scale SVC POOLS [WORKERS]: add or remove pools of a running service with no failed
# request. Added pools start before nginx sends them anything; removed ones leave nginx
# first (a graceful reload: requests in flight finish) and are stopped after. WORKERS
# changes the workers per pool, and so does a new GALLEY_<SVC>_<NAME> of POOL_SETTINGS
# (SLOW_MS, REQUEST_TIMEOUT_S, DB_TIMEOUT_MS, ...) in the caller's environment: every pool is
# then started again one at a time, each taken out of nginx while it restarts.
cmd_scale() {
	[[ ${2:-} == --hosts ]] && {
		scale_hosts "$@"
		return
	}
	local svc=${1:-} pools=${2:-} workers=${3:-} now n key kv k changed=0
	[[ -n $svc && $pools =~ ^[0-9][0-9]?$ && (-z $workers || $workers =~ ^[1-9][0-9]?$) ]] ||
		die "usage: bin/galley scale SVC POOLS [WORKERS] (0..99, 1..99), or scale SVC --hosts HOST:PORT[,...]"
	key=${svc^^}
	key=${key//-/_}
	# The caller's GALLEY_<SVC>_SLOW_MS, _REQUEST_TIMEOUT_S, _MAX_REQUESTS (set, even empty
	# = the global value again) win over the recorded ones: a change restarts the pools.
	local -A want=()
	for kv in "${POOL_SETTINGS[@]}"; do
		k="GALLEY_${key}_${kv%%:*}"
		[[ -v $k ]] && want[$k]=${!k}
		unset "$k" # what the stack recorded is read next, to compare
	done
	load_config
	load_env
	[[ " ${SERVICES[*]} " == *" $svc "* ]] || die "no service '$svc'"
	((pools > 0)) || [[ -n ${REMOTE_POOLS[$svc]:-} ]] ||
		die "$svc has no pools on other hosts: it keeps 1 local pool at least"
	component_pid nginx >/dev/null || die "the stack in $RUN is not running"
	for k in "${!want[@]}"; do
		[[ ${!k:-} == "${want[$k]}" ]] && continue
		changed=1
		if [[ -n ${want[$k]} ]]; then export "$k=${want[$k]}"; else unset "$k"; fi
	done
	for kv in "${POOL_SETTINGS[@]}"; do svc_pool_setting "$svc" "${kv%%:*}" 0 >/dev/null; done
	now=$(svc_setting "$svc" POOLS)
	if ((changed)) || [[ -n $workers && $workers != "$(svc_setting "$svc" WORKERS)" ]]; then
		[[ -z $workers ]] || export "GALLEY_${key}_WORKERS=$workers"
		for ((n = 1; n <= now && n <= pools; n++)); do
			((now > 1)) || break # a lone pool cannot leave nginx: it keeps its workers
			export "GALLEY_${key}_SKIP=$n"
			nginx_reload
			stop_component "$svc-$n"
			start_pool "$svc" "$n"
			unset "GALLEY_${key}_SKIP"
			nginx_reload
		done
	fi
	if ((pools > now)); then
		for ((n = now + 1; n <= pools; n++)); do start_pool "$svc" "$n"; done
		export "GALLEY_${key}_POOLS=$pools"
		nginx_reload
	elif ((pools < now)); then
		export "GALLEY_${key}_POOLS=$pools"
		nginx_reload
		for ((n = pools + 1; n <= now; n++)); do
			stop_component "$svc-$n"
			rm -f "$RUN/sock/$svc-$n.sock"
		done
	fi
	write_env
	say "$svc: $pools pools of $(svc_setting "$svc" WORKERS) workers"
}

# scale SVC --hosts [HOST:PORT[,HOST:PORT...]]: SVC's pools on other hosts become exactly
# these (none: an empty list), in $RUN/pools, checked as the pools file is; nginx reloads
# gracefully with its upstream and the internal listener's allow list rendered from them.
# Start an added pool (pool-run on its host) before, stop a removed one after: nginx sends an
# added pool requests at once, and a removed one finishes those in flight at the reload.
scale_hosts() {
	local svc=${1:-} list=${3-} file
	[[ -n $svc && $# == 3 ]] || die "usage: bin/galley scale SVC --hosts HOST:PORT[,HOST:PORT...] (\"\" for none)"
	load_config
	load_env
	[[ " ${SERVICES[*]} " == *" $svc "* ]] || die "no service '$svc'"
	component_pid nginx >/dev/null || die "the stack in $RUN is not running"
	REMOTE_POOLS[$svc]=${list//,/ }
	[[ -n ${REMOTE_POOLS[$svc]// /} ]] || unset "REMOTE_POOLS[$svc]"
	(($(svc_setting "$svc" POOLS) > 0)) || [[ -n ${REMOTE_POOLS[$svc]:-} ]] ||
		die "$svc has no local pool: it keeps one pool on another host at least (bin/galley scale $svc 1 first)"
	# Checked as a pools file, before anything changes.
	file=$RUN/pools.new
	pools_write "$file"
	pools_load "$file"
	pools_need_private
	mv -f "$file" "$RUN/pools"
	nginx_reload
	say "$svc: pools on other hosts: ${REMOTE_POOLS[$svc]:-none}"
}

# pool-run SVC ADDRESS [ENV_FILE]: run one pool of SVC on this host, listening on ADDRESS
# (HOST:PORT, private), for a stack running elsewhere: ENV_FILE is that stack's $RUN/env
# (default $GALLEY_RUN/env), copied here, whose URLs name its private address
# (GALLEY_PRIVATE_ADDR). The binary is GALLEY_BUILD's (from the environment, else the env
# file's), GALLEY_<SVC>_WORKERS workers. In the foreground: the process becomes the pool
# (galley-pool, its status on the next port); SIGTERM stops it cleanly. Add it to the stack
# with scale SVC --hosts.
cmd_pool_run() {
	local svc=${1:-} addr=${2:-} envf=${3:-${GALLEY_RUN:-$TOP/.run}/env} build=${GALLEY_BUILD:-}
	local workers bin
	[[ -n $svc && -n $addr && $# -le 3 ]] || die "usage: bin/galley pool-run SVC HOST:PORT [ENV_FILE]"
	[[ -r $envf ]] || die "pool-run: cannot read $envf (the stack's env file)"
	pool_addr_ok "$addr" || die "pool-run: $addr: $POOL_ADDR_WHY"
	unset GALLEY_PRIVATE_ADDR
	set -a
	# shellcheck disable=SC1090
	source "$envf"
	set +a
	[[ -n ${GALLEY_PRIVATE_ADDR:-} ]] ||
		die "pool-run: the stack of $envf has no GALLEY_PRIVATE_ADDR: its Redis, store, MongoDB-wire server and internal listener are on its loopback only"
	BUILD=${build:-$GALLEY_BUILD}
	read -r -a SERVICES <<<"$GALLEY_SERVICES"
	[[ " ${SERVICES[*]} " == *" $svc "* ]] || die "pool-run: no service '$svc'"
	workers=$(svc_setting "$svc" WORKERS)
	bin=$(svc_binary "$svc")
	[[ -x $bin ]] || die "pool-run: $bin is not built"
	# As start_pool: only auth gets the admin's password, only payments the provider's key.
	unset GALLEY_ADMIN_PASSWORD GALLEY_PAYMENT_KEY
	if [[ $svc == auth && -r ${GALLEY_ADMIN_PASSWORD_FILE:-} ]]; then
		GALLEY_ADMIN_PASSWORD=$(<"$GALLEY_ADMIN_PASSWORD_FILE")
		export GALLEY_ADMIN_PASSWORD
	fi
	if [[ $svc == payments && -r ${GALLEY_PAYMENT_KEY_FILE:-} ]]; then
		GALLEY_PAYMENT_KEY=$(<"$GALLEY_PAYMENT_KEY_FILE")
		export GALLEY_PAYMENT_KEY
	fi
	pool_command "$svc" "$svc-0" "$addr" "$workers" "$bin"
	say "pool-run: $svc on $addr, $workers workers, for the stack at $GALLEY_INTERNAL_URL" >&2
	exec "${POOL_CMD[@]}"
}
