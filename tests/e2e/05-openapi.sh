#!/usr/bin/env bash
# The running stack against docs/openapi.json, both ways: every documented
# operation is routed and answers only documented statuses with the
# documented body; every path answers 405 with an Allow header naming
# exactly the documented methods; created things have the documented fields.
. "$(dirname "$0")/lib.sh"

spec="$GALLEY_TOP/docs/openapi.json"
check "docs/openapi.json is valid JSON" jq -e '.openapi | startswith("3.")' "$spec"
fake=0123456789abcdef01234567
# A path with servers of its own (/metrics) is served on nginx's internal listener.
public_url=$GALLEY_URL
base() { jq -e --arg p "$1" '.paths[$p].servers' "$spec" >/dev/null && echo "$GALLEY_INTERNAL_URL" || echo "$public_url"; }

while IFS=$'\t' read -r path method codes; do
	url=$(sed -E "s/\\{[a-z_]+\\}/$fake/g" <<<"$path")
	GALLEY_URL=$(base "$path")
	M=${method^^}
	case "$M $path" in
	"POST /api/auth/logout") AUTH_TOKEN= req "$M" "$url" ;; # the admin's token must live on
	POST* | PATCH* | PUT*) req "$M" "$url" '{}' ;;
	*) req "$M" "$url" ;;
	esac
	check "$M $path is routed (got $STATUS)" bash -c '[ "$1" != 405 ] && ! jq -e ".error.message == \"no such route\"" <<<"$2" >/dev/null 2>&1' _ "$STATUS" "$BODY"
	check "$M $path answers a documented status ($STATUS in $codes)" bash -c 'tr , "\n" <<<"$2" | grep -qx "$1"' _ "$STATUS" "$codes"
	if [ "$STATUS" -ge 400 ]; then
		expect_json '(.error.code | type) == "string" and (.error.message | length) > 0' "$M $path: the error has the API's shape"
	fi
done < <(jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[]
	| select(.key | IN("get","post","put","patch","delete"))
	| [$p, .key, (.value.responses | keys | join(","))] | @tsv' "$spec")

# The other direction: what the stack allows on each path is what the document lists.
while IFS=$'\t' read -r path methods; do
	url=$(sed -E "s/\\{[a-z_]+\\}/$fake/g" <<<"$path")
	GALLEY_URL=$(base "$path")
	req OPTIONS "$url"
	allowed=$(grep -i '^allow:' <<<"$HEADERS" | sed 's/^[^:]*: *//; s/, */\n/g' | grep -v HEAD | sort | tr '\n' ' ')
	check "the stack allows exactly the documented methods on $path ($allowed= $methods)" test "$allowed" = "$methods"
done < <(jq -r '.paths | to_entries[] | [.key, (.value | keys | map(select(IN("get","post","put","patch","delete")) | ascii_upcase) | sort | join(" ") + " ")] | @tsv' "$spec")

GALLEY_URL=$public_url

# Bodies have the documented fields: required ones present, nothing undocumented.
fields_match() { # schema-name json
	jq -e --argjson b "$2" --arg s "$1" '.components.schemas[$s] as $sc
		| ($sc.required - ($b | keys) | length == 0) and (($b | keys) - ($sc.properties | keys) | length == 0)' "$spec" >/dev/null
}
req POST /api/suppliers "{\"name\":\"Spec\",\"email\":\"spec$RANDOM$RANDOM@spec.example\"}"
check "a created supplier has exactly the fields of Supplier" fields_match Supplier "$BODY"
sup=$(jq -r .id <<<"$BODY")
req POST /api/customers "{\"name\":\"Spec\",\"email\":\"spec$RANDOM$RANDOM@spec.example\"}"
check "a created customer has exactly the fields of Customer" fields_match Customer "$BODY"
req POST /api/menu/items "{\"name\":\"Spec item\",\"price_cents\":1,\"supplier_id\":\"$sup\"}"
check "a created item has exactly the fields of MenuItem" fields_match MenuItem "$BODY"
req GET /api/suppliers/does-not-exist
check "errors have exactly the fields of Error.error" bash -c 'jq -e "(.error | keys) - [\"code\",\"message\",\"field\"] | length == 0" <<<"$1" >/dev/null' _ "$BODY"
done_testing
