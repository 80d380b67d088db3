# bin/galley.d/stack.sh: the stack's own parts besides the data tier: what the workers get
# (their environment, the admin's password, the payment key, TLS), the pools, nginx and the
# live server; $RUN/env, which records a running stack for every later command; stopping it.

# Environment every worker gets; the test runner adds the sanitizer options.
export_worker_env() {
	export GALLEY_MONGO_URI="$MONGO_URI" GALLEY_REDIS_URL="$REDIS_URL" GALLEY_STORE_URL="$STORE_URL"
	export GALLEY_INTERNAL_URL="http://$(data_host):$INTERNAL_PORT"
}

# admin_setup: the first admin's email and password for the auth service (it creates that
# admin when none exists). The password is GALLEY_ADMIN_PASSWORD, else the one this run
# folder already holds (its data may hold that admin), else a new random one; it is kept in
# $RUN/admin-password (0600), never in $RUN/env or on a command line.
admin_setup() {
	local file="$RUN/admin-password" pw=${GALLEY_ADMIN_PASSWORD:-}
	export GALLEY_ADMIN_EMAIL=${GALLEY_ADMIN_EMAIL:-admin@galley.local}
	if [[ -z $pw && -s $file ]]; then
		pw=$(<"$file")
		ADMIN_PASSWORD_FROM="kept from an earlier run"
	elif [[ -z $pw ]]; then
		while ((${#pw} < 24)); do
			pw+=$(head -c 256 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')
		done
		pw=${pw:0:24}
		ADMIN_PASSWORD_FROM="generated"
	else
		ADMIN_PASSWORD_FROM="from GALLEY_ADMIN_PASSWORD"
	fi
	rm -f "$file"
	(umask 077 && printf '%s\n' "$pw" >"$file")
	export GALLEY_ADMIN_PASSWORD=$pw
}

# payment_setup: the payment provider. With GALLEY_PAYMENT_KEY, the real one
# (GALLEY_PAYMENT_API, default Stripe's); without, the simulated provider that nginx serves
# on a loopback port (nginx/provider-sim.conf.in), with a made-up test key, so an order can
# be paid out of the box. The key is kept in $RUN/payment-key (0600), never in $RUN/env.
payment_setup() {
	local file="$RUN/payment-key"
	if [[ -n ${GALLEY_PAYMENT_KEY:-} ]]; then
		PAYMENT_SIMULATED=0
	else
		PAYMENT_SIMULATED=1
		export GALLEY_PAYMENT_KEY=sk_test_galley_simulated
	fi
	rm -f "$file"
	(umask 077 && printf '%s\n' "$GALLEY_PAYMENT_KEY" >"$file")
}

# tls_setup: TLS on the public server (nginx/tls.conf.in) when GALLEY_TLS_CERT and
# GALLEY_TLS_KEY are set: both, readable, made absolute (nginx would read a relative path
# from its prefix, $RUN/nginx). Sets TLS=1 or 0; up picks TLS_PORT with the other ports.
tls_setup() {
	local cert=${GALLEY_TLS_CERT:-} key=${GALLEY_TLS_KEY:-}
	TLS=0 TLS_PORT=""
	[[ -z $cert && -z $key ]] && return 0
	[[ -n $cert && -n $key ]] || die "GALLEY_TLS_CERT and GALLEY_TLS_KEY go together: the certificate and its private key"
	[[ -f $cert && -r $cert ]] || die "GALLEY_TLS_CERT: cannot read $cert"
	[[ -f $key && -r $key ]] || die "GALLEY_TLS_KEY: cannot read $key"
	[[ ${GALLEY_TLS_PORT:-8443} =~ ^[0-9]{1,5}$ ]] || die "GALLEY_TLS_PORT must be a port number (0 = any free), got '$GALLEY_TLS_PORT'"
	GALLEY_TLS_CERT=$(realpath "$cert") GALLEY_TLS_KEY=$(realpath "$key")
	TLS=1
}

# start_pool SVC N: galley-pool (fcgi/pool/) binds the socket, keeps WORKERS workers of the
# service on it and answers its status on sock/SVC-N.status. It needs the binary's absolute
# path (execv); it stops its workers with SIGTERM, which the services handle (lib/app.c).
start_pool() {
	local svc=$1 n=$2 workers sock bin kv
	workers=$(svc_setting "$svc" WORKERS)
	sock="$RUN/sock/$svc-$n.sock"
	bin=$(svc_binary "$svc")
	[[ -x $bin ]] || die "$bin is not built"
	[[ -x $BUILD/fcgi/pool/galley-pool ]] || die "$BUILD/fcgi/pool/galley-pool is not built"
	rm -f "$sock" "${sock%.sock}.status"
	# Only the auth service needs the admin's password, only payments the provider's key.
	local env_cmd=(env)
	[[ $svc == auth ]] || env_cmd+=(-u GALLEY_ADMIN_PASSWORD)
	[[ $svc == payments ]] || env_cmd+=(-u GALLEY_PAYMENT_KEY)
	pool_command "$svc" "$svc-$n" "unix:$sock" "$workers" "$bin"
	spawn "$svc-$n" "${env_cmd[@]}" "${POOL_CMD[@]}"
	wait_for 20 pool_ready "$svc" "$n" "$workers" ||
		fail_start "$svc-$n" "pool $svc-$n did not come up with $workers workers"
}

# pool_status SVC N: the pool's status JSON (galley-pool's status socket), or fail.
pool_status() {
	curl -sf --max-time 2 --unix-socket "$RUN/sock/$1-$2.status" http://pool/
}

# pool_ready SVC N WORKERS: the pool runs WORKERS workers, each serving (idle or busy).
pool_ready() {
	local pid
	pid=$(component_pid "$1-$2") || return 1
	[[ -S $RUN/sock/$1-$2.sock ]] || return 1
	pool_status "$1" "$2" | jq -e --argjson n "$3" '.workers == $n and .idle + .active == $n' >/dev/null 2>&1
}

nginx_cmd() { nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$RUN/logs/nginx-error.log" "$@"; }
live_cmd() { nginx -p "$RUN/nginx-live" -c "$RUN/nginx-live/nginx.conf" -e "$RUN/logs/live-error.log" "$@"; }

# start_live: the live server (nginx/live.conf.in), the nginx with nchan; 0 when up, 1 when
# its port was taken, else dies. Started before the main nginx and never reloaded.
start_live() {
	local dir="$RUN/nginx-live" before
	[[ -f $(nginx_modules)/ngx_nchan_module.so ]] ||
		die "the live views need nginx's nchan module (libnginx-mod-nchan)"
	mkdir -p "$dir"/tmp/{body,proxy,fastcgi,uwsgi,scgi}
	render_live local "$dir/nginx.conf"
	touch "$RUN/logs/live-error.log"
	before=$(wc -l <"$RUN/logs/live-error.log")
	rm -f "$dir/nginx.pid"
	if live_cmd 2>>"$RUN/logs/live-error.log" && wait_for 10 test -s "$dir/nginx.pid"; then
		cp "$dir/nginx.pid" "$RUN/pids/live.pid"
		component_pid live >/dev/null && return 0
	fi
	tail -n "+$((before + 1))" "$RUN/logs/live-error.log" | grep -q 'Address already in use' &&
		return 1
	tail -n 5 "$RUN/logs/live-error.log" >&2
	fail_start live-error "the live server failed to start"
}

# start_nginx: 0 when up, 1 when its port was taken (the caller may pick others), else dies.
start_nginx() {
	render_nginx
	nginx_cmd -t -q 2>>"$RUN/logs/nginx-error.log" ||
		{ tail -n 5 "$RUN/logs/nginx-error.log" >&2; fail_start nginx "nginx -t failed"; }
	local before
	before=$(wc -l <"$RUN/logs/nginx-error.log")
	rm -f "$RUN/nginx/nginx.pid"
	# daemon on: nginx forks, the master calls setsid() and writes its pid file.
	if nginx_cmd 2>>"$RUN/logs/nginx-error.log" &&
		wait_for 10 test -s "$RUN/nginx/nginx.pid"; then
		cp "$RUN/nginx/nginx.pid" "$RUN/pids/nginx.pid"
		component_pid nginx >/dev/null && return 0
	fi
	tail -n "+$((before + 1))" "$RUN/logs/nginx-error.log" | grep -q 'Address already in use' &&
		return 1
	tail -n 5 "$RUN/logs/nginx-error.log" >&2
	fail_start nginx "nginx failed to start"
}

readyz_status() { # readyz_status SVC: the HTTP status of /api/SVC/readyz through nginx
	curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
		"http://127.0.0.1:$PORT/api/$1/readyz" 2>/dev/null || true
}

all_ready() {
	local svc
	for svc in "${SERVICES[@]}"; do
		# A service whose pools are all on other hosts is started there, after up.
		(($(svc_setting "$svc" POOLS) > 0)) || continue
		[[ $(readyz_status "$svc") == 200 ]] || return 1
	done
}

# fail_start NAME WHY: print where to look and exit 1; up's EXIT trap stops what it started.
fail_start() {
	say "$2 (log: $RUN/logs/$1.log)" >&2
	if [[ -f $RUN/logs/$1.log ]]; then tail -n 15 "$RUN/logs/$1.log" >&2; fi
	exit 1
}

# up leaves nothing behind when it fails at any point (die, set -e, a signal).
UP_DONE=0
up_on_exit() {
	((UP_DONE)) && return 0
	say "up failed: stopping what it started" >&2
	stop_all
}

write_env() {
	local svc k v per
	{
		for k in GALLEY_RUN=$RUN GALLEY_TOP=$TOP GALLEY_BUILD=$BUILD GALLEY_PORT=$PORT \
			GALLEY_INTERNAL_PORT=$INTERNAL_PORT GALLEY_LIVE_PORT=$LIVE_PORT \
			GALLEY_URL=http://127.0.0.1:$PORT \
			GALLEY_INTERNAL_URL=http://$(data_host):$INTERNAL_PORT \
			GALLEY_MONGO_URI=$MONGO_URI GALLEY_REDIS_URL=$REDIS_URL GALLEY_STORE_URL=$STORE_URL \
			"GALLEY_SERVICES=${SERVICES[*]}" GALLEY_ADMIN_EMAIL="$GALLEY_ADMIN_EMAIL" \
			GALLEY_ADMIN_PASSWORD_FILE="$RUN/admin-password" \
			GALLEY_PAYMENT_KEY_FILE="$RUN/payment-key" GALLEY_PAYMENT_SIMULATED="$PAYMENT_SIMULATED"; do
			printf '%s=%q\n' "${k%%=*}" "${k#*=}"
		done
		# How nginx was configured, so scale renders the same config (listen address too), and
		# what the workers run under, so restart-pool and scale start them the same way.
		for k in GALLEY_BIND GALLEY_NGINX_WORKERS GALLEY_AUTH_RATE GALLEY_LISTEN_BACKLOG GALLEY_PRIVATE_ADDR \
			GALLEY_INFLIGHT_PER_WORKER GALLEY_REDIS_REPLICA_PORT GALLEY_STORE_REPLICA_PORT GALLEY_SENTINEL_DOWN_MS \
			GALLEY_WORKER_WRAP; do
			[[ -n ${!k:-} ]] && printf '%s=%q\n' "$k" "${!k}"
		done
		if [[ -n ${TLS_PORT:-} ]]; then
			for k in GALLEY_TLS_PORT=$TLS_PORT GALLEY_TLS_URL=https://127.0.0.1:$TLS_PORT \
				GALLEY_TLS_CERT=$GALLEY_TLS_CERT GALLEY_TLS_KEY=$GALLEY_TLS_KEY; do
				printf '%s=%q\n' "${k%%=*}" "${k#*=}"
			done
		fi
		for svc in "${SERVICES[@]}"; do
			k=${svc^^}
			printf 'GALLEY_%s_POOLS=%s\nGALLEY_%s_WORKERS=%s\n' "${k//-/_}" \
				"$(svc_setting "$svc" POOLS)" "${k//-/_}" "$(svc_setting "$svc" WORKERS)"
			per="GALLEY_${k//-/_}_INFLIGHT_PER_WORKER"
			[[ -z ${!per:-} ]] || printf '%s=%q\n' "$per" "${!per}"
			# A service's own pool settings (svc_pool_setting), when it has any.
			local kv
			for kv in "${POOL_SETTINGS[@]}"; do
				per="GALLEY_${k//-/_}_${kv%%:*}"
				[[ -n ${!per:-} ]] && printf '%s=%q\n' "$per" "${!per}"
			done
		done
		# What the workers saw, so restart-pool starts a pool exactly like up did: every
		# variable lib/conf.c reads (its table is the list) not written above, and never the password.
		local conf_vars
		conf_vars=$(grep -oE '"(GALLEY|OTEL)_[A-Z_]*"' "$TOP/lib/conf.c" | tr -d '"' | grep -vxE "GALLEY_(MONGO_URI|REDIS_URL|STORE_URL|INTERNAL_URL|ADMIN_EMAIL|ADMIN_PASSWORD|PAYMENT_KEY)" | paste -sd'|')
		env | grep -E "^(${conf_vars}|ASAN_OPTIONS|UBSAN_OPTIONS|LSAN_OPTIONS)=" |
			while IFS='=' read -r k v; do printf '%s=%q\n' "$k" "$v"; done || true
	} >"$RUN/env"
}

# load_env: what up recorded (ports, URLs, pool counts), exported for the workers.
load_env() {
	[[ -f $RUN/env ]] || die "no stack recorded in $RUN (no $RUN/env)"
	# The env says whether this stack has TLS and a private address.
	unset GALLEY_TLS_PORT GALLEY_TLS_URL GALLEY_PRIVATE_ADDR GALLEY_REDIS_REPLICA_PORT GALLEY_STORE_REPLICA_PORT GALLEY_REDIS_SENTINELS
	set -a
	# shellcheck disable=SC1091
	source "$RUN/env"
	set +a
	PORT=$GALLEY_PORT INTERNAL_PORT=$GALLEY_INTERNAL_PORT LIVE_PORT=${GALLEY_LIVE_PORT:-0}
	TLS_PORT=${GALLEY_TLS_PORT:-} # recorded only when TLS is on
	# No GALLEY_STORE_URL in an env written before the store existed: empty.
	MONGO_URI=$GALLEY_MONGO_URI REDIS_URL=$GALLEY_REDIS_URL STORE_URL=${GALLEY_STORE_URL:-}
	BUILD=$GALLEY_BUILD
	# The password up gave the auth pools (restart-pool starts one exactly like up did).
	if [[ -r ${GALLEY_ADMIN_PASSWORD_FILE:-} ]]; then
		GALLEY_ADMIN_PASSWORD=$(<"$GALLEY_ADMIN_PASSWORD_FILE")
		export GALLEY_ADMIN_PASSWORD
	fi
	if [[ -r ${GALLEY_PAYMENT_KEY_FILE:-} ]]; then
		GALLEY_PAYMENT_KEY=$(<"$GALLEY_PAYMENT_KEY_FILE")
		export GALLEY_PAYMENT_KEY
	fi
	PAYMENT_SIMULATED=${GALLEY_PAYMENT_SIMULATED:-0}
	read -r -a SERVICES <<<"$GALLEY_SERVICES"
	PRIVATE=${GALLEY_PRIVATE_ADDR:-}
	HA=0
	[[ -z ${GALLEY_REDIS_REPLICA_PORT:-} ]] || HA=1
	REMOTE_POOLS=()
	[[ ! -f $RUN/pools ]] || pools_load "$RUN/pools"
}

stop_all() {
	local names n
	# nginx first (no new traffic), then the pools, then the servers they use.
	names=$(recorded_names)
	for n in nginx $(grep -vxE 'nginx|mongo|redis|store' <<<"$names" || true) mongo redis store; do
		grep -qx "$n" <<<"$names" || continue
		stop_component "$n"
	done
	rm -f "$RUN"/sock/*.sock "$RUN/nginx/nginx.pid" "$RUN/nginx-live/nginx.pid"
}
