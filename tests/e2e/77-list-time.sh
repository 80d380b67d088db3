#!/usr/bin/env bash
# A list's query is bounded in the server (lib/db.c, page_query: maxTimeMS, 2.5 x
# GALLEY_DB_TIMEOUT_MS): FerretDB reads, decodes and sorts a whole collection for a list, and
# went on to the end after the driver had stopped waiting. The kitchen's pools restart with
# GALLEY_KITCHEN_DB_TIMEOUT_MS=60 (a list may run 150 ms in the server), 20,000 tickets are put
# into MongoDB beside the stack's: the board's list is then answered 504 in the API's error
# shape, and the kitchen's log says that the server stopped the query. Then the tickets go,
# the pools get the default back, and the list is answered 200.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

SVC=kitchen
POOLS=$(svc_pools "$SVC")
# 20 inserts of 1,000 tickets, each marked seeded_by (to remove them after), for galley-sql.
python3 - "$_GL_TMP/seed" <<'EOF'
import json, os, sys
d = sys.argv[1] + "/kitchen"
os.makedirs(d, exist_ok=True)
cmds = [{"insert": "tickets", "ordered": False, "documents": [
    {"_id": {"$oid": "5eed%04x%016x" % (b, i)}, "status": "paid", "seeded_by": "77-list-time",
     "lines": [], "items": 0} for i in range(1000)]} for b in range(20)]
with open(d + "/1.json", "w") as f:
    json.dump({"commands": cmds}, f)
EOF
seeded() { mongo_run kitchen '{"count": "tickets", "query": {"seeded_by": "77-list-time"}}' | jq -r .n; }
check "20,000 tickets are put into MongoDB beside the stack's" \
	"$GALLEY_BUILD/sql/galley-sql" -p "$GALLEY_MONGO_URI" "$_GL_TMP/seed"
check "all of them ($(seeded))" test "$(seeded)" = 20000

check "bin/galley scale restarts $SVC's pools with GALLEY_KITCHEN_DB_TIMEOUT_MS=60" \
	env GALLEY_KITCHEN_DB_TIMEOUT_MS=60 "$GALLEY_TOP/bin/galley" scale "$SVC" "$POOLS"
req GET "/api/kitchen/tickets?status=paid&limit=50"
expect_error 504 upstream_timeout "the board's list, longer than 150 ms in the server, is answered 504"
stopped() { cat "$GALLEY_RUN"/logs/kitchen-*.log | grep -q 'operation exceeded time limit'; }
check "the kitchen's log says that the server stopped the query" stopped

check "the seeded tickets go" \
	mongo_run kitchen '{"delete": "tickets", "deletes": [{"q": {"seeded_by": "77-list-time"}, "limit": 0}]}'
check "none is left ($(seeded))" test "$(seeded)" = 0
check "bin/galley scale gives $SVC's pools the default again" \
	env GALLEY_KITCHEN_DB_TIMEOUT_MS= "$GALLEY_TOP/bin/galley" scale "$SVC" "$POOLS"
listed() { req GET "/api/kitchen/tickets?status=paid&limit=50"; [[ $STATUS == 200 ]]; }
check "the board's list is answered again" wait_until 20 listed
done_testing
