# bin/galley.d/render.sh: nginx's configs from nginx/*.conf.in: for this machine into
# $RUN/nginx (up, scale), or for galley's images (render-nginx --target compose|k8s; render-k8s
# wraps the k8s one in a ConfigMap). The only place a template's placeholders are filled.
shopt -u patsub_replacement 2>/dev/null || true # "&" in a rendered value stays literal

# render TEMPLATE NAME=VALUE...: print TEMPLATE with every @NAME@ replaced. The template's
# leading comment block (which documents the placeholders) is left out.
render() {
	local text kv
	text=$(sed '1,/^[^#]/{/^#/d}' "$1")
	text="# rendered from ${1#"$TOP"/} by bin/galley"$'\n'"$text"
	shift
	for kv in "$@"; do text=${text//@${kv%%=*}@/${kv#*=}}; done
	printf '%s\n' "$text"
}

# Fixed in galley's container images (docker/): the pools' FastCGI port (docker/galley-pool)
# and nginx's paths and ports there (docker/Dockerfile, docker/compose.yaml, docker/k8s/).
CT_POOL_PORT=9000 CT_STATUS_PORT=9001 CT_PORT=8080 CT_INTERNAL_PORT=8081 CT_SIM_PORT=8082 CT_LIVE_PORT=8083
CT_CONF=/etc/galley/nginx CT_RUN=/var/lib/galley CT_SHARE=/usr/share/galley
CT_MODULES=/usr/lib/nginx/modules # Debian's nginx, in the image

# render_nginx [TARGET OUTDIR]: render nginx/*.conf.in. Without arguments, for this machine
# into $RUN/nginx (up). TARGET compose or k8s: for galley's nginx image into OUTDIR, with the
# image's paths (CT_*), listening on every interface (the pools and Prometheus are other
# hosts), in the foreground, the simulated payment provider always there (on CT_SIM_PORT,
# used only when the payments pools have no key: docker/galley-pool), and each service's
# upstream naming its pools by host name on CT_POOL_PORT:
#   compose: "server <svc>:9000" once; Docker's DNS answers every replica of the compose
#            service <svc> (its pools), and nginx takes each address as a server (resolved at
#            start and at each reload: after scaling, reload nginx)
#   k8s:     "server <svc>:9000" is the Service's one ClusterIP, and kube-proxy spreads each
#            connection (no keepalive) over the ready pods (its pools); listed twice, so
#            that a connection that fails is tried once more (fastcgi_next_upstream), most
#            likely on another pod; max_fails=0: that address is every pod, never mark it down
# For compose and k8s it also writes the live server's config, OUTDIR/live.conf (render_live):
# the same image runs it as the `live` container, the host the main nginx's LIVE_URL names.
render_nginx() {
	local target=${1:-local} conf out svc n servers user="" rate daemon=on modules
	local run top dashboard public internal_port sim=${PAYMENT_SIMULATED:-0} sim_listen
	local live_url tls=0
	[[ " ${SERVICES[*]} " == *" auth "* ]] ||
		die "no fcgi/auth/main.c: nginx checks every token with the auth service"
	case $target in
	local)
		out="$RUN/nginx" conf="$RUN/nginx" run=$RUN top=$TOP dashboard="$TOP/nginx/dashboard"
		rate=${GALLEY_AUTH_RATE:-5r/s} public="${GALLEY_BIND:+$GALLEY_BIND:}$PORT"
		internal_port=$INTERNAL_PORT
		sim_listen="127.0.0.1:${GALLEY_PAYMENT_API##*:}" live_url="http://127.0.0.1:$LIVE_PORT"
		[[ -n ${TLS_PORT:-} ]] && tls=1
		mkdir -p "$conf"/tmp/{body,fastcgi,proxy,uwsgi,scgi} "$conf/cache"
		((EUID == 0)) && user="user root root;"
		modules=$(nginx_modules)
		;;
	compose | k8s)
		out=${2:?render_nginx $target OUTDIR} conf=$CT_CONF run=$CT_RUN top=$CT_SHARE
		dashboard="$CT_SHARE/dashboard" rate=5r/s public=$CT_PORT daemon=off sim=1
		internal_port=$CT_INTERNAL_PORT sim_listen=$CT_SIM_PORT
		live_url="http://live:$CT_LIVE_PORT" # the live server's container (live.conf.in)
		modules=$CT_MODULES
		mkdir -p "$out"
		render_live "$target" "$out/live.conf"
		;;
	*) die "render_nginx: no target '$target' (local, compose, k8s)" ;;
	esac
	[[ $rate =~ ^[1-9][0-9]*r/[sm]$ ]] || die "GALLEY_AUTH_RATE must look like 5r/s or 30r/m, got '$rate'"
	render "$TOP/nginx/nginx.conf.in" USER_DIRECTIVE="$user" RUN="$run" CONF_DIR="$conf" \
		WORKERS="${GALLEY_NGINX_WORKERS:-auto}" INTERNAL_PORT="$internal_port" DAEMON="$daemon" \
		PUBLIC_LISTEN="$public" AUTH_RATE="$rate" LIVE_ADDR="${live_url#http://}" TOP="$top" >"$out/nginx.conf"
	render "$TOP/nginx/public.conf.in" CONF_DIR="$conf" DASHBOARD="$dashboard" LIVE_URL="$live_url" \
		INTERNAL_URL="http://127.0.0.1:$internal_port" >"$out/public.conf"
	render_internal_listen "$target" >"$out/internal-listen.conf"
	if ((tls)); then
		render "$TOP/nginx/tls.conf.in" TLS_LISTEN="${GALLEY_BIND:+$GALLEY_BIND:}$TLS_PORT" \
			TLS_CERT="$GALLEY_TLS_CERT" TLS_KEY="$GALLEY_TLS_KEY" >"$out/tls.conf"
	elif [[ $target == local ]]; then
		echo "# no TLS: GALLEY_TLS_CERT and GALLEY_TLS_KEY are unset (nginx/tls.conf.in)" >"$out/tls.conf"
	else
		echo "# no TLS in galley's images: it ends in front of them (nginx/tls.conf.in)" >"$out/tls.conf"
	fi
	# nchan is not loaded here: it lives in the live server (live.conf.in). set-misc (on
	# ndk) hashes the token and cache-purge forgets it: the auth check's cache (nginx.conf.in).
	# njs: GET /pools (pools.js) and the simulated payment provider (provider-sim.js).
	printf 'load_module %s;\n' "$modules/ndk_http_module.so" "$modules/ngx_http_set_misc_module.so" \
		"$modules/ngx_http_cache_purge_module.so" "$modules/ngx_http_js_module.so" >"$out/modules.conf"
	if [[ $target == local && ! -f $modules/ngx_http_js_module.so ]]; then
		die "GET /pools needs nginx's njs module (libnginx-mod-http-js)"
	fi
	: >"$out/provider-sim.conf"
	if ((sim)); then
		# The containers' payments pools keep the default timeout (10 s).
		local slow_ms=11000
		[[ $target == local ]] && slow_ms=$((${GALLEY_PAYMENT_TIMEOUT_MS:-10000} + 1000))
		render "$TOP/nginx/provider-sim.conf.in" SIM_LISTEN="$sim_listen" TOP="$top" \
			RUN="$run" SIM_SLOW_MS="$slow_ms" >"$out/provider-sim.conf"
	fi
	: >"$out/upstreams.conf"
	: >"$out/locations-public.conf"
	: >"$out/locations-internal.conf"
	local every="" skip a
	for svc in "${SERVICES[@]}"; do
		servers=""
		case $target in
		local)
			skip="GALLEY_${svc^^}_SKIP"
			skip=${skip//-/_}
			local backups=""
			for ((n = 1; n <= $(svc_setting "$svc" POOLS); n++)); do
				[[ $n == "${!skip:-}" ]] && continue # being restarted by scale: out of nginx
				# One failure takes a pool out for 2 s; the retry goes to the next pool.
				servers+="    server unix:$RUN/sock/$svc-$n.sock max_fails=1 fail_timeout=2s;"$'\n'
				# When every pool is out (all restarted at once), nginx would answer 502 "no
				# live upstreams" for up to 2 s without asking any: the same sockets as
				# backups, never marked, are asked then (a dead one refuses at once).
				backups+="    server unix:$RUN/sock/$svc-$n.sock max_fails=0 backup;"$'\n'
			done
			# Pools on other hosts (the pools file): the same, over TCP.
			for a in ${REMOTE_POOLS[$svc]:-}; do
				servers+="    server $a max_fails=1 fail_timeout=2s;"$'\n'
				backups+="    server $a max_fails=0 backup;"$'\n'
			done
			servers+=$backups
			;;
		compose) servers="    server $svc:$CT_POOL_PORT max_fails=1 fail_timeout=2s;"$'\n' ;;
		k8s) servers="    server $svc:$CT_POOL_PORT max_fails=0;"$'\n'"    server $svc:$CT_POOL_PORT max_fails=0;"$'\n' ;;
		esac
		every+=$servers
		render "$TOP/nginx/upstream.conf.in" SVC="$svc" SERVERS="${servers%$'\n'}" \
			>>"$out/upstreams.conf"
		# Public: the caller is what the auth check said; internal: what the calling
		# service forwarded (nginx.conf.in, the maps).
		# nginx gives up on a request when galley-pool's request timeout does (and answers
		# 504 first: the pool kills a second later); 0 (no timeout) keeps nginx's 30 s.
		local read_timeout
		read_timeout=$(svc_pool_setting "$svc" REQUEST_TIMEOUT_S 30)
		((read_timeout > 0)) || read_timeout=30
		render "$TOP/nginx/service.conf.in" SVC="$svc" CONF_DIR="$conf" AUTH_REQUEST=/.galley/auth \
			READ_TIMEOUT="${read_timeout}s" \
			LIMIT="limit_conn galley_inflight $(svc_inflight "$target" "$svc");" \
			STAMP='fastcgi_param GALLEY_QUEUED_AT $msec; fastcgi_param GALLEY_EDGE_TIME $request_time;' \
			USER_ID='$galley_user_id' USER_ROLE='$galley_user_role' >>"$out/locations-public.conf"
		render "$TOP/nginx/service.conf.in" SVC="$svc" CONF_DIR="$conf" AUTH_REQUEST=off LIMIT="" \
			STAMP="# no GALLEY_QUEUED_AT: a service-to-service call is never refused for its wait" \
			READ_TIMEOUT="${read_timeout}s" \
			USER_ID='$galley_forwarded_user_id' USER_ROLE='$galley_forwarded_user_role' \
			>>"$out/locations-internal.conf"
		# /internal/<svc>/: service-to-service routes, on the internal server only.
		render "$TOP/nginx/internal.conf.in" SVC="$svc" CONF_DIR="$conf" \
			READ_TIMEOUT="${read_timeout}s" >>"$out/locations-internal.conf"
	done
	# /metrics (nginx.conf.in): any pool of any service answers for all of them.
	render "$TOP/nginx/upstream.conf.in" SVC=metrics SERVERS="${every%$'\n'}" >>"$out/upstreams.conf"
	render_pools_status "$target" "$out/pools.conf"
	cp "$TOP/nginx/errors.conf" "$TOP/nginx/fastcgi_params" "$TOP/nginx/headers.conf" "$out/"
	all_rendered "$out"/*.conf
}

# render_pools_status TARGET FILE: GET /pools and GET /metrics/pools (nginx.conf.in, pools.js)
# ask every pool's manager: one internal location per pool, /.galley/pool/<svc>/<label>/, proxied
# to that pool's status socket (galley-pool --status), and their names in $galley_pools.
#   local:       every pool of every service, unix:$RUN/sock/<svc>-<n>.status, and each pool on
#                another host (GALLEY_POOLS_FILE) at HOST:PORT+1, named <svc>/<host:port>
#   compose/k8s: <svc>/any, the service's host name on CT_STATUS_PORT: whichever pool (replica)
#                the connection reaches answers, so /pools there shows one pool per service
#                (each pool's own status is its pod's probe; README, "Pools")
render_pools_status() {
	local target=$1 file=$2 svc n a names=""
	: >"$file"
	for svc in "${SERVICES[@]}"; do
		if [[ $target == local ]]; then
			for ((n = 1; n <= $(svc_setting "$svc" POOLS); n++)); do
				names+=" $svc/$n"
				pool_status_location "$svc/$n" "http://unix:$RUN/sock/$svc-$n.status:/" >>"$file"
			done
			for a in ${REMOTE_POOLS[$svc]:-}; do
				names+=" $svc/$a"
				pool_status_location "$svc/$a" "http://$(pool_status_addr "$a")/" >>"$file"
			done
		else
			names+=" $svc/any"
			pool_status_location "$svc/any" "http://$svc:$CT_STATUS_PORT/" >>"$file"
		fi
	done
	printf '%s\n' "location = /pools {" "    set \$galley_pools \"${names# }\";" "    js_content pools.all;" "}" \
		"location = /metrics/pools {" "    set \$galley_pools \"${names# }\";" "    js_content pools.metrics;" "}" >>"$file"
}

# pool_status_location NAME URL: the internal location pools.js asks for pool NAME's status
# (/.galley/pool/NAME/) and its metrics (/.galley/pool/NAME/metrics). A manager answers at
# once or not at all (it never waits on the pool's workers): short timeouts, so one stopped
# pool cannot hold /pools. The buffer holds the largest status (99 workers, about 300 bytes
# each).
pool_status_location() {
	printf '%s\n' "location /.galley/pool/$1/ {" "    internal;" "    proxy_pass $2;" \
		"    proxy_connect_timeout 1s;" "    proxy_read_timeout 2s;" \
		"    subrequest_output_buffer_size 64k;" "}"
}

# render_internal_listen TARGET: the internal server's listen lines and access list. local:
# 127.0.0.1 and the private address (GALLEY_PRIVATE_ADDR), callable from this host and the
# hosts of the pools file only; in galley's images, the container's port, its network private.
render_internal_listen() {
	local h
	echo "# rendered by bin/galley (render_internal_listen): the internal server's listen and access"
	if [[ $1 != local ]]; then
		echo "listen $CT_INTERNAL_PORT;"
		return 0
	fi
	echo "listen 127.0.0.1:$INTERNAL_PORT;"
	[[ -z ${PRIVATE:-} ]] || echo "listen $PRIVATE:$INTERNAL_PORT;"
	echo "allow 127.0.0.1;"
	[[ -z ${PRIVATE:-} ]] || echo "allow $PRIVATE;"
	for h in $(pool_hosts); do echo "allow $h;"; done
	echo "deny all;"
}

# all_rendered FILE...: dies when a rendered config still has a @PLACEHOLDER@ outside comments.
all_rendered() {
	if grep -Hn '@[A-Z_]*@' "$@" | grep -v '^[^:]*:[0-9]*:#' >&2; then
		die "unrendered placeholders in $*"
	fi
}

# render_live TARGET FILE: render nginx/live.conf.in, the live server, into FILE. local: for
# bin/galley up (loopback on LIVE_PORT, a daemon, under $RUN, this nginx's modules); compose
# or k8s: for galley's nginx image, run as the `live` container (every interface of the
# private network on CT_LIVE_PORT, in the foreground, the image's paths and modules).
render_live() {
	local target=$1 file=$2 user="" run=$CT_RUN modules=$CT_MODULES listen=$CT_LIVE_PORT daemon=off
	local top=$CT_SHARE
	case $target in
	local)
		run=$RUN modules=$(nginx_modules) listen="127.0.0.1:$LIVE_PORT" daemon=on top=$TOP
		[[ -f $modules/ngx_http_js_module.so ]] ||
			die "the live server needs nginx's njs module (libnginx-mod-http-js)"
		((EUID == 0)) && user="user root root;"
		;;
	compose | k8s) ;;
	*) die "render_live: no target '$target' (local, compose, k8s)" ;;
	esac
	render "$TOP/nginx/live.conf.in" USER_DIRECTIVE="$user" RUN="$run" MODULES="$modules" \
		LIVE_LISTEN="$listen" DAEMON="$daemon" TOP="$top" >"$file"
	all_rendered "$file"
}

nginx_modules() {
	local m
	m=$(nginx -V 2>&1 | grep -o -- '--modules-path=[^ ]*' | cut -d= -f2)
	echo "${m:-/usr/lib/nginx/modules}"
}
