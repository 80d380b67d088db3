# bin/galley.d/servers.sh: the data tier up starts unless given URLs of its own: the cache
# Redis, the store Redis (AOF on), with up --ha their replicas and three Sentinels, the
# MongoDB-wire server (mongod or galley-ferretdb); then sql/ applied by galley-sql.

# on_free_port NAME SECONDS NOT_READY FAILED SPAWN READY: server NAME on a free port, PORT_OF:
# `SPAWN PORT NAME` starts it, `READY PORT NAME` says it answers, asked for up to SECONDS. A
# random port can be taken between the check and the bind: then another, 5 tries in all. Exits
# (fail_start) with "NOT_READY on PORT" when it runs but does not answer, FAILED when it never
# starts.
on_free_port() {
	local name=$1 secs=$2 try port
	for try in 1 2 3 4 5; do
		pick_port
		port=$FREE_PORT
		"$5" "$port" "$name"
		if wait_for "$secs" "$6" "$port" "$name"; then
			PORT_OF=$port
			return 0
		fi
		component_pid "$name" >/dev/null && fail_start "$name" "$3 on $port"
		grep -qi 'address already in use' "$RUN/logs/$name.log" || break
		say "port $port was taken, retrying"
	done
	fail_start "$name" "$4"
}

start_redis() {
	if [[ -n ${GALLEY_REDIS_URL:-} ]]; then
		REDIS_URL=$GALLEY_REDIS_URL
		return 0
	fi
	mkdir -p "$RUN/data/redis"
	# TCP on loopback rather than a unix socket: redis-cli -u and other tools take a
	# redis:// URL only.
	on_free_port redis 20 "Redis did not answer PING" "redis-server failed to start" spawn_redis redis_ready
	REDIS_URL="redis://$(data_host):$PORT_OF/0"
}

# spawn_redis PORT: the cache, a Redis that persists nothing, on loopback (and on the
# private address: private_setup).
spawn_redis() {
	spawn redis redis-server $(redis_bind) --port "$1" --dir "$RUN/data/redis" \
		--save "" --appendonly no --daemonize no
}

# redis_bind: the addresses of the stack's two Redis. On a private address too, protected
# mode goes off (it refuses every peer but 127.0.0.1 when there is no password): what may
# reach those ports is the firewall's to say (README, Pools on other hosts).
redis_bind() {
	if [[ -n ${PRIVATE:-} ]]; then
		echo "--bind 127.0.0.1 $PRIVATE --protected-mode no"
	else
		echo "--bind 127.0.0.1"
	fi
}

# redis_ready PORT [NAME]: component NAME (redis) is alive and answers PING on PORT.
redis_ready() {
	component_pid "${2:-redis}" >/dev/null || return 1
	[[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]
}

# spawn_store PORT: the store, a second Redis that keeps what it acknowledged: AOF on, each
# write fsynced before the reply, in data/store/ (it replays store.aof when started again).
spawn_store() {
	spawn store redis-server $(redis_bind) --port "$1" --dir "$RUN/data/store" \
		--save "" --appendonly yes --appendfsync always --appendfilename store.aof --daemonize no
}

start_store() {
	if [[ -n ${GALLEY_STORE_URL:-} ]]; then
		STORE_URL=$GALLEY_STORE_URL
		return 0
	fi
	mkdir -p "$RUN/data/store"
	on_free_port store 20 "the store Redis did not answer PING" "redis-server (the store) failed to start" \
		spawn_store redis_ready
	STORE_URL="redis://$(data_host):$PORT_OF/0"
}

# ---------------------------------------------------------------- Redis with Sentinel (up --ha)
# With --ha (or GALLEY_HA=1) each of the two Redis gets a replica (redis-replica,
# store-replica: the store's with its AOF on too) and three Sentinels (sentinel-1..3) watch
# both primaries as galley-cache and galley-store, quorum 2. The workers get
# GALLEY_REDIS_SENTINELS and ask them where each primary is (lib/sentinel.h); a store write
# waits for the replica (GALLEY_STORE_WAIT_MS). All on this machine: it shows and tests
# failover, it does not survive losing the machine (docker/README.md: the data tier).
HA_NAMES="redis-replica store-replica sentinel-1 sentinel-2 sentinel-3"

# ha_spawn NAME PORT [PRIMARY_PORT]: a Redis of the HA set; a replica of PRIMARY_PORT when
# given. The replicas are configured like their primaries: each may become one.
ha_spawn() {
	local name=$1 port=$2 of=${3:-} dir
	dir="$RUN/data/$name"
	mkdir -p "$dir"
	case $name in
	redis*)
		spawn "$name" redis-server $(redis_bind) --port "$port" --dir "$dir" --save "" \
			--appendonly no --daemonize no ${of:+--replicaof "$(data_host)" "$of"} ;;
	store*)
		spawn "$name" redis-server $(redis_bind) --port "$port" --dir "$dir" --save "" \
			--appendonly yes --appendfsync always --appendfilename store.aof --daemonize no \
			${of:+--replicaof "$(data_host)" "$of"} ;;
	sentinel-*)
		# Sentinel rewrites its file (what it learned: replicas, peers, the primary now).
		[[ -s $dir/sentinel.conf ]] || sentinel_conf "$port" "$dir" >"$dir/sentinel.conf"
		spawn "$name" redis-server "$dir/sentinel.conf" --sentinel --daemonize no ;;
	esac
}

# ha_spawn_new PORT NAME: NAME of the HA set on PORT with no data yet (start_ha); a replica
# of its primary as up started it.
ha_spawn_new() {
	local of=""
	case $2 in
	redis-replica) of=${REDIS_URL##*:} of=${of%%/*} ;;
	store-replica) of=${STORE_URL##*:} of=${of%%/*} ;;
	esac
	rm -rf "$RUN/data/$2"
	ha_spawn "$2" "$1" "$of"
}

# sentinel_conf PORT DIR: a Sentinel watching both primaries. down-after: how long a primary may
# not answer before it is taken for dead (GALLEY_SENTINEL_DOWN_MS, 2 s by default: above the
# pauses of a loaded machine, below a client's patience).
sentinel_conf() {
	local m url port
	printf 'port %s\nbind 127.0.0.1%s\ndir %s\n' "$1" "${PRIVATE:+ $PRIVATE}" "$2"
	for m in galley-cache galley-store; do
		if [[ $m == galley-cache ]]; then url=$REDIS_URL; else url=$STORE_URL; fi
		port=${url##*:}
		port=${port%%/*}
		printf 'sentinel monitor %s %s %s 2\n' "$m" "$(data_host)" "$port"
		printf 'sentinel down-after-milliseconds %s %s\n' "$m" "${GALLEY_SENTINEL_DOWN_MS:-2000}"
		printf 'sentinel failover-timeout %s 10000\nsentinel parallel-syncs %s 1\n' "$m" "$m"
	done
}

# start_ha: the replicas and Sentinels, once both primaries run; waits until every Sentinel
# knows its peers and each primary's replica (SENTINEL CKQUORUM), so a failover can happen.
start_ha() {
	((HA)) || return 0
	[[ -z ${GALLEY_REDIS_URL:-}${GALLEY_STORE_URL:-}${GALLEY_REDIS_SENTINELS:-} ]] ||
		die "--ha starts its own Redis: unset GALLEY_REDIS_URL, GALLEY_STORE_URL and GALLEY_REDIS_SENTINELS"
	local name list=""
	for name in $HA_NAMES; do
		on_free_port "$name" 20 "$name did not answer PING" "$name failed to start" ha_spawn_new redis_ready
		case $name in
		redis-replica) REDIS_REPLICA_PORT=$PORT_OF ;;
		store-replica) STORE_REPLICA_PORT=$PORT_OF ;;
		*) list+="${list:+,}$(data_host):$PORT_OF" ;;
		esac
	done
	export GALLEY_REDIS_SENTINELS=$list GALLEY_REDIS_REPLICA_PORT=$REDIS_REPLICA_PORT \
		GALLEY_STORE_REPLICA_PORT=$STORE_REPLICA_PORT
	wait_for 30 ha_ready || fail_start sentinel-1 "the Sentinels did not reach quorum with both replicas in 30 s"
}

# ha_ready: every Sentinel sees both primaries with a replica and two peers.
ha_ready() {
	local s m
	for s in ${GALLEY_REDIS_SENTINELS//,/ }; do
		for m in galley-cache galley-store; do
			[[ $(redis-cli -h "${s%:*}" -p "${s##*:}" SENTINEL CKQUORUM "$m" 2>/dev/null) == OK* ]] || return 1
			[[ $(redis-cli -h "${s%:*}" -p "${s##*:}" SENTINEL REPLICAS "$m" 2>/dev/null | grep -cx 'slave') -ge 1 ]] || return 1
		done
	done
}

# ha_role NAME: ", primary" or ", replica" for a Redis of an HA stack (what ROLE says now).
ha_role() {
	local port
	((HA)) || return 0
	case $1 in
	redis | store) port=$([[ $1 == redis ]] && echo "$REDIS_URL" || echo "$STORE_URL") port=${port##*:} port=${port%%/*} ;;
	redis-replica) port=$GALLEY_REDIS_REPLICA_PORT ;;
	store-replica) port=$GALLEY_STORE_REPLICA_PORT ;;
	*) return 0 ;;
	esac
	case $(redis-cli -p "$port" ROLE 2>/dev/null | head -n1) in
	master) echo ", primary" ;;
	slave) echo ", replica" ;;
	esac
}

# ha_primary MASTER: host:port of MASTER's primary now: the first address a Sentinel names
# that answers ROLE as a primary. A Sentinel that did not lead a failover names the old, dead
# primary until the leader's hello reaches it (every 2 s); a Redis restarted as that one's
# replica, or alone, waits for the Sentinels to convert it (their INFO every 10 s, then 8 s
# more): 20 s and longer, seen once in CI.
ha_primary() {
	local s out
	for s in ${GALLEY_REDIS_SENTINELS//,/ }; do
		out=$(redis-cli -h "${s%:*}" -p "${s##*:}" --raw SENTINEL get-master-addr-by-name "$1" 2>/dev/null | paste -sd:) || continue
		[[ $out == *:* ]] || continue
		[[ $(redis-cli -h "${out%:*}" -p "${out##*:}" ROLE 2>/dev/null | head -n1) == master ]] &&
			{ echo "$out"; return 0; }
	done
	return 1
}

start_mongo() {
	if [[ -n ${GALLEY_MONGO_URI:-} ]]; then
		MONGO_URI=$GALLEY_MONGO_URI
		return 0
	fi
	mongo_bin
	mkdir -p "$RUN/data/mongo"
	on_free_port mongo 30 "${MONGO_BIN##*/} did not listen" "${MONGO_BIN##*/} failed to start" spawn_mongo mongo_ready
	MONGO_URI="mongodb://$(data_host):$PORT_OF"
}

# mongo_bin: MONGO_BIN, the MongoDB-wire server to run: mongod when on PATH, else
# galley-ferretdb (built once: ferretdb_binary).
mongo_bin() {
	if command -v mongod >/dev/null; then MONGO_BIN=$(command -v mongod); else MONGO_BIN=$(ferretdb_binary); fi
}

# spawn_mongo PORT: MONGO_BIN listening on PORT, on the data in data/mongo/.
spawn_mongo() {
	if [[ $MONGO_BIN == */mongod ]]; then
		spawn mongo "$MONGO_BIN" --dbpath "$RUN/data/mongo" --bind_ip "127.0.0.1${PRIVATE:+,$PRIVATE}" \
			--port "$1" --nounixsocket --quiet
	else
		# It takes one address: the private one when there is one, which every worker uses.
		# GOGC 400 (Go's default is 100): its collector took 14 % of its CPU under payments,
		# for a heap of tens of MB (docs/performance.md); an operator's GOGC wins.
		GOGC=${GOGC:-400} spawn mongo "$MONGO_BIN" -listen-addr "$(data_host):$1" -sqlite-dir "$RUN/data/mongo" \
			-log-level error # warn logs every endSessions that mongoc sends
	fi
}

mongo_ready() {
	component_pid mongo >/dev/null && port_in_use "$1"
}

apply_sql() {
	local out="$RUN/logs/sql.log"
	# The server may accept connections a moment before it answers commands: retry.
	wait_for 30 sql_once "$out" || { tail -n 20 "$out" >&2; fail_start sql "galley-sql failed"; }
}
sql_once() { "$BUILD/sql/galley-sql" "$MONGO_URI" "$TOP/sql" >>"$1" 2>&1; }
