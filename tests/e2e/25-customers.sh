#!/usr/bin/env bash
# Customers: the five routes for staff, a customer's view of only its own
# record, and the link between a registered user and its customer record.
. "$(dirname "$0")/lib.sh"

email="cu$RANDOM$RANDOM@customers.example"
req POST /api/customers "{\"name\":\"Walk-in\",\"email\":\"${email^^}\",\"phone\":\"+49 30 1\"}"
expect_status 201 "staff creates a customer"
expect_json ".email == \"$email\" and .version == 1 and .phone == \"+49 30 1\"" "with its fields, email in lower case"
walkin=$(jq -r .id <<<"$BODY")
req POST /api/customers "{\"name\":\"Twin\",\"email\":\"$email\"}"
expect_error 409 conflict "a second customer with the same email is a conflict"
req GET "/api/customers/$walkin"
expect_header X-Cache '^miss$' "a first read by id is a miss"
req GET "/api/customers/$walkin"
expect_header X-Cache '^hit$' "then a hit"
req PATCH "/api/customers/$walkin" '{"address":"Hauptstr. 1"}'
expect_json '.address == "Hauptstr. 1" and .version == 2' "staff changes a customer"
req GET "/api/customers/$walkin"
expect_json '.address == "Hauptstr. 1"' "and the next read sees it (cache dropped)"

# An email proves nothing (issue 15): whoever registers with the email of a record staff
# made, in any letter case, gets a record of its own, and cannot read staff's.
pass="pw-$RANDOM-$RANDOM"
unlimited() { while :; do AUTH_TOKEN= req "$@"; [[ $STATUS == 429 ]] || return 0; wait_until 2 false; done; }
unlimited POST /api/auth/register "{\"email\":\"${email^^}\",\"password\":\"$pass\",\"name\":\"Mallory\"}"
expect_status 201 "anyone may register with a customer's email"
expect_json ".customer_id != \"$walkin\" and (.customer_id | test(\"^[0-9a-f]{24}$\"))" "but gets a fresh record, not staff's"
squat=$(jq -r .customer_id <<<"$BODY")
login "$email" "$pass"
mtok=$TOKEN
AUTH_TOKEN=$mtok req GET "/api/customers/$walkin"
expect_error 404 not_found "and cannot read staff's record (its phone, its address)"
AUTH_TOKEN=$mtok req GET /api/customers
expect_json "[.items[].id] == [\"$squat\"] and all(.items[]; .phone == null)" "its list is its own record only"
req GET "/api/customers/$walkin"
expect_json '.user_id == null and .phone == "+49 30 1"' "staff's record stays unlinked and unchanged"

# The proof is an invitation: staff make it, pass the code on; it links one account.
req POST "/api/customers/$walkin/invitations"
expect_status 201 "staff invite the customer of a record"
expect_json '(.code | test("^[0-9a-f]{40}$")) and (.expires_at | fromdateiso8601) > now' "a one-time code and its expiry"
code=$(jq -r .code <<<"$BODY")
check "the code is in no log" bash -c '! grep -rqF "$1" "$2/logs"' _ "$code" "$GALLEY_RUN"
AUTH_TOKEN=$mtok req POST "/api/customers/$walkin/invitations"
expect_error 403 forbidden "a customer cannot make invitations"
wrong=${code:0:16}$(printf '%024d' 0)
real="real$RANDOM$RANDOM@customers.example"
reg_invited() { unlimited POST /api/auth/register "{\"email\":\"$1\",\"password\":\"$pass\",\"name\":\"Walk-in\",\"invitation\":\"$2\"}"; }
reg_invited "$real" "$wrong"
expect_error 400 validation_failed "a wrong invitation code is refused"
expect_json '.error.field == "invitation"' "naming the invitation"
reg_invited "$real" "$code"
expect_status 201 "the invited customer registers with the code (any email), nothing left from the refused try"
expect_json ".customer_id == \"$walkin\"" "and is linked to staff's record"
login "$real" "$pass"
ctok=$TOKEN
AUTH_TOKEN=$ctok req GET "/api/customers/$walkin"
expect_json ".id == \"$walkin\" and .email == \"$email\" and .phone == \"+49 30 1\"" "the customer reads its own record"
reg_invited "again$real" "$code"
expect_error 400 validation_failed "a code links one account only"
req POST "/api/customers/$walkin/invitations"
expect_error 422 invalid_state "a linked record takes no more invitations"

# Bounded tries: 5 wrong secrets for an invitation end it, the right code included.
req POST /api/customers "{\"name\":\"Guess\",\"email\":\"guess$RANDOM$RANDOM@customers.example\"}"
guessed=$(jq -r .id <<<"$BODY")
req POST "/api/customers/$guessed/invitations"
gcode=$(jq -r .code <<<"$BODY")
for i in 1 2 3 4 5; do reg_invited "g$i$real" "${gcode:0:16}$(printf '%024d' "$i")"; done
expect_error 400 validation_failed "wrong codes are refused"
reg_invited "g$real" "$gcode"
expect_error 400 validation_failed "after 5 wrong tries the invitation is dead"
req GET "/api/customers/$guessed"
expect_json '.user_id == null' "and the record stays unlinked"

# A new email gets a new customer record.
email2="new$RANDOM$RANDOM@customers.example"
AUTH_TOKEN= req POST /api/auth/register "{\"email\":\"$email2\",\"password\":\"$pass\",\"name\":\"Newcomer\"}"
expect_json '.customer_id | test("^[0-9a-f]{24}$")' "registering makes a customer record"
mine2=$(jq -r .customer_id <<<"$BODY")
login "$email2" "$pass"
ntok=$TOKEN
check "a different one" test "$mine2" != "$walkin"
req GET "/api/customers/$mine2"
expect_json ".email == \"$email2\" and .name == \"Newcomer\"" "staff sees the new customer"

# What a customer may not see or do.
AUTH_TOKEN=$ctok req GET "/api/customers/$mine2"
expect_error 404 not_found "another customer's record is not found"
AUTH_TOKEN=$ctok req GET "/api/customers?limit=200"
expect_json "(.items | length) == 1 and .items[0].id == \"$walkin\"" "the list shows a customer only itself"
AUTH_TOKEN=$ctok req GET /api/customers
expect_header X-Cache hit "a customer's own list is cached (orders asks for it at every order)"
req PATCH "/api/customers/$walkin" '{"address":"1 Cache Street"}'
AUTH_TOKEN=$ctok req GET /api/customers
expect_json '.items[0].address == "1 Cache Street"' "a change by staff is seen at once: the cached list is dropped"
AUTH_TOKEN=$ctok req POST /api/customers "{\"name\":\"x\",\"email\":\"x$email\"}"
expect_error 403 forbidden "a customer may not create customers"
AUTH_TOKEN=$ctok req PATCH "/api/customers/$walkin" '{"name":"Me"}'
expect_error 403 forbidden "a customer may not change its record (staff does)"
AUTH_TOKEN=$ctok req DELETE "/api/customers/$walkin"
expect_error 403 forbidden "nor delete it"
req POST /internal/customers/link "{\"user_id\":\"0123456789abcdef01234567\",\"name\":\"x\",\"email\":\"x@y.example\",\"invitation\":\"$code\"}"
expect_error 404 not_found "the internal link route is not reachable from outside"

req POST /api/customers "{\"name\":\"Third\",\"email\":\"third$RANDOM$RANDOM@customers.example\"}"
req GET "/api/customers?limit=2"
expect_json '(.items | length) == 2 and (.next | type) == "string"' "staff lists customers by pages"
AUTH_TOKEN=$ntok req GET /api/customers
expect_json ".items[0].id == \"$mine2\"" "the newcomer lists its record"
req DELETE "/api/customers/$mine2"
expect_status 204 "staff deletes a customer"
AUTH_TOKEN=$ntok req GET /api/customers
expect_json '.items == []' "and its user's cached list goes with it"
req GET "/api/customers/$mine2"
expect_error 404 not_found "and it is gone"

# Upgrade (issue 15): data from before invitations holds the index email_unique, {email}
# unique, which refused an account's own record when staff had made one with its email.
# Applying sql/ (bin/galley up does at every start) drops it, and does nothing once it is
# gone. The old index is made here by name but not unique: this stack's customers may share
# an email already, as they may now.
sqld=$(mktemp -d)
mkdir -p "$sqld/old/customers" "$sqld/list/customers" "$sqld/now"
cp -r "$GALLEY_TOP/sql/customers" "$sqld/now/"
echo '{"commands": [{"createIndexes": "customers", "indexes": [{"key": {"email": 1}, "name": "email_unique"}]}]}' \
	>"$sqld/old/customers/1.json"
echo '{"commands": [{"listIndexes": "customers"}]}' >"$sqld/list/customers/1.json"
galley_sql() { # DIR [-p]: galley-sql over $sqld/DIR, as bin/galley up applies sql/
	"$GALLEY_BUILD/sql/galley-sql" "${@:2}" "$GALLEY_MONGO_URI" "$sqld/$1" 2>/dev/null
}
indexes() { STATUS=listIndexes BODY=$(galley_sql list -p | jq -c '[.cursor.firstBatch[].name]'); }
check "the old index is made, as data from before holds it" galley_sql old
indexes
expect_json 'index("email_unique") != null' "galley_customers.customers has email_unique"
check "applying sql/customers drops it" galley_sql now
check "applying it again, with nothing to drop, succeeds" galley_sql now
indexes
expect_json 'index("email_unique") == null and index("email_user_unique") != null and index("user_id") != null' \
	"email_unique is gone; email_user_unique and user_id stay"
rm -rf "$sqld"
done_testing
