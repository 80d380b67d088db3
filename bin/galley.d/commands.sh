# bin/galley.d/commands.sh: the commands on a whole stack (bin/galley help): up, down, status,
# and starting again a pool, the Redis or the MongoDB-wire server that died.

cmd_up() {
	local no_build=0 arg
	HA=${GALLEY_HA:-0}
	for arg in "$@"; do
		case $arg in
		--no-build) no_build=1 ;;
		--ha) HA=1 ;;
		*) die "up: unknown option $arg (--no-build, --ha)" ;;
		esac
	done
	load_config
	local running
	running=$(running_names)
	if [[ -n $running ]]; then
		say "already running in $RUN ($(echo $running)); nothing changed. 'bin/galley down' first."
		exit 1
	fi
	if ((!no_build)); then
		ensure_deps
		build "$BUILD" --enable-werror
	fi
	local svc
	for svc in "${SERVICES[@]}"; do [[ -x $(svc_binary "$svc") ]] || die "$(svc_binary "$svc") missing"; done

	mkdir -p "$RUN"/{pids,sock,logs,nginx,data}
	stop_all # nothing runs, but orphans of a crashed earlier run may linger in their groups
	rm -f "$RUN/expected-kills" "$RUN/env"
	admin_setup
	payment_setup
	tls_setup
	private_setup
	pools_setup
	trap up_on_exit EXIT
	trap 'exit 130' INT TERM
	start_redis
	start_store
	start_ha
	start_mongo
	apply_sql

	local try n
	for try in 1 2 3 4 5; do
		PORT=${GALLEY_PORT:-8080} INTERNAL_PORT=${GALLEY_INTERNAL_PORT:-8081}
		if [[ $PORT == 0 ]]; then pick_port && PORT=$FREE_PORT; fi
		if [[ $INTERNAL_PORT == 0 ]]; then pick_port && INTERNAL_PORT=$FREE_PORT; fi
		LIVE_PORT=${GALLEY_LIVE_PORT:-0}
		if [[ $LIVE_PORT == 0 ]]; then pick_port && LIVE_PORT=$FREE_PORT; fi
		if ((PAYMENT_SIMULATED)); then
			pick_port && SIM_PORT=$FREE_PORT
			export GALLEY_PAYMENT_API=http://127.0.0.1:$SIM_PORT
		fi
		if ((TLS)); then
			TLS_PORT=${GALLEY_TLS_PORT:-8443}
			if [[ $TLS_PORT == 0 ]]; then pick_port && TLS_PORT=$FREE_PORT; fi
			[[ $TLS_PORT != "$PORT" && $TLS_PORT != "$INTERNAL_PORT" ]] ||
				die "GALLEY_TLS_PORT equals GALLEY_PORT or GALLEY_INTERNAL_PORT"
		fi
		[[ $PORT != "$INTERNAL_PORT" ]] || die "GALLEY_PORT and GALLEY_INTERNAL_PORT are equal"
		export_worker_env
		write_env
		for svc in "${SERVICES[@]}"; do
			for ((n = 1; n <= $(svc_setting "$svc" POOLS); n++)); do start_pool "$svc" "$n"; done
		done
		if start_live; then
			start_nginx && break
			stop_component live
		fi
		# Only automatic ports are retried; a port the user chose is theirs to free.
		if [[ ${GALLEY_PORT:-8080} != 0 && ${GALLEY_INTERNAL_PORT:-8081} != 0 ]] || ((try == 5)); then
			fail_start nginx-error "port $PORT, $INTERNAL_PORT, $LIVE_PORT${TLS_PORT:+ or $TLS_PORT} is in use"
		fi
		say "port $PORT, $INTERNAL_PORT, $LIVE_PORT${TLS_PORT:+ or $TLS_PORT} was taken, retrying with others"
		for n in $(pool_names); do stop_component "$n"; done
	done

	wait_for "$READY_TIMEOUT" all_ready || {
		for svc in "${SERVICES[@]}"; do say "$svc readyz: $(readyz_status "$svc")" >&2; done
		fail_start "${SERVICES[0]}-1" "not ready after ${READY_TIMEOUT}s"
	}
	UP_DONE=1
	trap - INT TERM
	say "up: http://127.0.0.1:$PORT  (internal http://127.0.0.1:$INTERNAL_PORT, run folder $RUN)"
	if [[ -n $TLS_PORT ]]; then say "TLS and HTTP/2: https://127.0.0.1:$TLS_PORT (certificate $GALLEY_TLS_CERT)"; fi
	say "admin: $GALLEY_ADMIN_EMAIL, password ($ADMIN_PASSWORD_FROM) in $RUN/admin-password"
	if ((PAYMENT_SIMULATED)); then
		say "payments: SIMULATED (no GALLEY_PAYMENT_KEY): a provider on $GALLEY_PAYMENT_API that speaks Stripe's API; pm_card_visa pays, pm_card_chargeDeclined is declined"
	else
		say "payments: ${GALLEY_PAYMENT_API:-https://api.stripe.com} with the key in GALLEY_PAYMENT_KEY"
	fi
}

cmd_down() {
	load_config
	local running
	running=$(running_names)
	[[ -n $running ]] || say "nothing running in $RUN"
	stop_all
	rm -f "$RUN/env" # status now says "not running"; logs and data stay
	[[ -z $running ]] || say "stopped $(echo $running)"
}

cmd_status() {
	load_config
	if [[ ! -f $RUN/env ]]; then
		say "not running (no stack recorded in $RUN)"
		exit 1
	fi
	load_env
	local bad=0 name pid svc n workers kids code a
	printf 'galley in %s: http://127.0.0.1:%s (internal http://127.0.0.1:%s)\n' "$RUN" "$PORT" "$INTERNAL_PORT"
	if [[ -n $TLS_PORT ]]; then printf '  TLS and HTTP/2: %s\n' "$GALLEY_TLS_URL"; fi
	local servers="redis store mongo live nginx"
	((HA)) && servers="redis redis-replica store store-replica $HA_NAMES mongo live nginx"
	for name in $(xargs -n1 <<<"$servers" | awk '!seen[$0]++'); do
		if [[ $name == redis && ! -e $RUN/pids/redis.pid ]]; then
			printf '  %-14s external   %s\n' redis "$REDIS_URL"
			continue
		elif [[ $name == store && ! -e $RUN/pids/store.pid ]]; then
			printf '  %-14s external   %s\n' store "$STORE_URL"
			continue
		elif [[ $name == mongo && ! -e $RUN/pids/mongo.pid ]]; then
			printf '  %-14s external   %s\n' mongo "$MONGO_URI"
			continue
		fi
		if pid=$(component_pid "$name"); then
			printf '  %-14s pid %-7s up    %s%s\n' "$name" "$pid" "$(<"/proc/$pid/comm")" "$(ha_role "$name")"
		else
			printf '  %-14s DOWN\n' "$name"
			bad=1
		fi
	done
	# One row per pool from its galley-pool's status (fcgi/pool/pool.h): workers live/expected,
	# busy, idle, the listen queue now and its highest, requests accepted, times every worker
	# was busy (max children reached), slow requests, workers killed at the request timeout,
	# and workers recycled after GALLEY_MAX_REQUESTS.
	printf '  %-14s %-7s %7s %6s %4s %5s %5s %9s %6s %5s %8s %8s\n' pool pid workers busy \
		idle queue max-q accepted max-ch slow timeouts recycled
	local st row
	for svc in "${SERVICES[@]}"; do
		workers=$(svc_setting "$svc" WORKERS)
		for ((n = 1; n <= $(svc_setting "$svc" POOLS); n++)); do
			if pid=$(component_pid "$svc-$n"); then
				kids=$(live_children "$pid")
				st=$(pool_status "$svc" "$n" 2>/dev/null) || st=""
				row=$(jq -r '[.active, .idle, (.listen_queue // "?"), (.max_listen_queue // "?"),
					.accepted, .max_children_reached, .slow_requests, .timed_out, .recycled]
					| map(tostring) | join(" ")' <<<"$st" 2>/dev/null) || row=""
				[[ -n $row ]] || row="? ? ? ? ? ? ? ? ?"
				# shellcheck disable=SC2086
				printf '  %-14s %-7s %7s %6s %4s %5s %5s %9s %6s %5s %8s %8s\n' "$svc-$n" "$pid" \
					"$(wc -w <<<"$kids")/$workers" $row
				(($(wc -w <<<"$kids") == workers)) || bad=1
				[[ -n $st ]] || bad=1
			else
				printf '  %-14s DOWN  (bin/galley restart-pool %s %d)\n' "$svc-$n" "$svc" "$n"
				bad=1
			fi
		done
		# A pool on another host: its port accepts a connection, or not; and what its
		# manager says on the next port (its status).
		for a in ${REMOTE_POOLS[$svc]:-}; do
			if timeout 2 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}"' _ "$a" 2>/dev/null; then
				row=$(curl -sf --max-time 2 "http://$(pool_status_addr "$a")/" | jq -r \
					'"\(.workers) workers, \(.active) busy, queue \(.listen_queue // "?"), \(.accepted) accepted, \(.timed_out) timed out"' \
					2>/dev/null) || row="its status does not answer"
				printf '  %-14s %-21s up    (%s)\n' "$svc" "$a" "$row"
			else
				printf '  %-14s %-21s DOWN  (its port does not answer: bin/galley pool-run on its host)\n' "$svc" "$a"
				bad=1
			fi
		done
	done
	for svc in "${SERVICES[@]}"; do
		code=$(readyz_status "$svc")
		printf '  %-14s readyz %s\n' "$svc" "$code"
		[[ $code == 200 ]] || bad=1
	done
	((bad == 0)) && echo "healthy" || echo "NOT healthy"
	return "$bad"
}

cmd_restart_pool() {
	local svc=${1:-} n=${2:-}
	[[ -n $svc && $n =~ ^[0-9]+$ ]] || die "usage: bin/galley restart-pool SVC N"
	load_config
	load_env
	[[ " ${SERVICES[*]} " == *" $svc "* ]] || die "no service '$svc'"
	((n >= 1 && n <= $(svc_setting "$svc" POOLS))) || die "$svc has no pool $n"
	if component_pid "$svc-$n" >/dev/null; then
		say "$svc-$n is running"
		return 0
	fi
	component_pid nginx >/dev/null || die "the stack in $RUN is not running"
	# The dead galley-pool's workers may linger in its group, finishing their requests.
	stop_component "$svc-$n"
	start_pool "$svc" "$n"
	say "$svc-$n started (pid $(component_pid "$svc-$n"))"
}

# restart-redis: start the stack's own Redis (the cache) and store Redis again, whichever
# died or was stopped, each on its port (a Redis given by GALLEY_REDIS_URL or
# GALLEY_STORE_URL is not ours to start). The store replays its AOF.
cmd_restart_redis() {
	local port name url ours=0 of primary
	load_config
	load_env
	component_pid nginx >/dev/null || die "the stack in $RUN is not running"
	for name in redis store $( ((HA)) && echo "$HA_NAMES"); do
		[[ -e $RUN/pids/$name.pid ]] || continue
		ours=1
		if component_pid "$name" >/dev/null; then
			say "$name is running"
			continue
		fi
		case $name in
		redis) url=$REDIS_URL port=${url##*:} port=${port%%/*} ;;
		store) url=$STORE_URL port=${url##*:} port=${port%%/*} ;;
		redis-replica) port=$GALLEY_REDIS_REPLICA_PORT ;;
		store-replica) port=$GALLEY_STORE_REPLICA_PORT ;;
		sentinel-*) port=$(awk '$1 == "port" {print $2; exit}' "$RUN/data/$name/sentinel.conf") ;;
		esac
		of=""
		if ((HA)) && [[ $name != sentinel-* ]]; then
			# Back as a replica of whichever is the primary now (after a failover, the
			# other one); the Sentinels would make it one anyway, a moment later.
			primary=$(ha_primary "$([[ $name == store* ]] && echo galley-store || echo galley-cache)") || primary=""
			[[ -n $primary && ${primary##*:} != "$port" ]] && of=${primary##*:}
		fi
		if ((HA)); then
			ha_spawn "$name" "$port" "$of"
		elif [[ $name == redis ]]; then
			spawn_redis "$port"
		else
			spawn_store "$port"
		fi
		wait_for 20 redis_ready "$port" "$name" || die "$name (Redis) did not answer PING on $port"
		say "$name started (pid $(component_pid "$name"))"
	done
	((ours)) || die "this stack uses an external Redis ($REDIS_URL) and store ($STORE_URL)"
}

cmd_restart_mongo() {
	local port
	load_config
	load_env
	component_pid nginx >/dev/null || die "the stack in $RUN is not running"
	[[ -e $RUN/pids/mongo.pid ]] || die "this stack uses an external MongoDB ($MONGO_URI)"
	if component_pid mongo >/dev/null; then
		say "mongo is running"
		return 0
	fi
	port=${MONGO_URI##*:}
	mongo_bin
	spawn_mongo "$port"
	wait_for 30 mongo_ready "$port" || die "the MongoDB-wire server did not listen on $port"
	say "mongo started (pid $(component_pid mongo))"
}
