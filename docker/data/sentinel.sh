#!/bin/sh
# One Redis Sentinel of galley's three (docker/compose.yaml, docker/k8s/data.yaml), in the
# official redis image (Debian bookworm, redis 7.0):
#   sh sentinel.sh DIR ME NAME=HOST:PORT...
# DIR             a writable volume of this Sentinel's own. Sentinel rewrites its config file
#                 (the current primary of each master, the replicas, the other Sentinels, the
#                 epoch), so the config lives there and is written from the arguments only
#                 when DIR has none: a restarted Sentinel carries on from what it knew.
# ME              the name the others and galley reach this Sentinel by (announced: with
#                 DNS names, every instance announces its name, never its address)
# NAME=HOST:PORT  a master to monitor (galley-cache, galley-store) and its first primary
# Quorum 2 of the three: any two agree that a primary is down (2 s without an answer), and a
# majority of the three must elect the one that fails it over (at most every 10 s).
set -eu
[ $# -ge 3 ] || {
	echo "usage: sh sentinel.sh DIR ME NAME=HOST:PORT..." >&2
	exit 2
}
dir=$1 me=$2
shift 2
conf=$dir/sentinel.conf
if [ ! -s "$conf" ]; then
	{
		echo "port 26379"
		echo "dir $dir"
		echo "sentinel resolve-hostnames yes"
		echo "sentinel announce-hostnames yes"
		echo "sentinel announce-ip $me"
		for m in "$@"; do
			name=${m%%=*} addr=${m#*=}
			echo "sentinel monitor $name ${addr%:*} ${addr##*:} 2"
			echo "sentinel down-after-milliseconds $name 2000"
			echo "sentinel failover-timeout $name 10000"
			echo "sentinel parallel-syncs $name 1"
		done
	} >"$conf.new"
	mv "$conf.new" "$conf"
fi
exec redis-server "$conf" --sentinel
