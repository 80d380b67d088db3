#!/usr/bin/env bash
# Every suppliers route of API.md, as a client sees it: status, body, and the data afterwards.
. "$(dirname "$0")/lib.sh"

email="s$RANDOM$RANDOM@supplier.example"
req POST /api/suppliers "{\"name\":\"Mill & Co\",\"email\":\"${email^^}\",\"phone\":\"+49 30 555\",\"address\":\"Mühlenweg 1\"}"
expect_status 201 "POST /api/suppliers creates a supplier"
expect_json '.id | test("^[0-9a-f]{24}$")' "the new supplier has a 24-hex id"
expect_json ".email == \"$email\"" "the email is stored in lower case"
expect_json '.version == 1 and .name == "Mill & Co" and .address == "Mühlenweg 1"' "the whole supplier comes back, version 1"
expect_header Location "^/api/suppliers/[0-9a-f]{24}$" "Location names the new supplier"
expect_header X-Request-Id '^[0-9a-f]{32}$' "every response carries X-Request-Id"
id=$(jq -r .id <<<"$BODY")

req POST /api/suppliers "{\"name\":\"Other\",\"email\":\"$email\"}"
expect_error 409 conflict "a second supplier with the same email is a conflict"

req GET "/api/suppliers/$id"
expect_status 200 "GET /api/suppliers/{id} reads it back"
expect_json ".id == \"$id\" and .phone == \"+49 30 555\"" "with the stored fields"

req PATCH "/api/suppliers/$id" '{"phone":"+49 30 666"}'
expect_status 200 "PATCH changes a field"
expect_json '.phone == "+49 30 666" and .version == 2 and .name == "Mill & Co"' "returns the whole supplier with version 2"

req PATCH "/api/suppliers/$id" '{"name":"Stale"}' -H 'If-Match: 1'
expect_error 409 conflict "PATCH with a stale If-Match is refused"
req PATCH "/api/suppliers/$id" '{"name":"Fresh"}' -H 'If-Match: 2'
expect_status 200 "PATCH with the current If-Match succeeds"
expect_json '.name == "Fresh" and .version == 3' "and bumps the version"
req GET "/api/suppliers/$id"
expect_json '.name == "Fresh"' "the stale PATCH changed nothing, the fresh one did"

# Lists: stable order by id, cursor paging with after=, no duplicates across pages.
for i in 1 2 3; do req POST /api/suppliers "{\"name\":\"Page $i\",\"email\":\"p$i.$email\"}"; done
req GET "/api/suppliers?limit=2"
expect_status 200 "GET /api/suppliers?limit=2 lists"
expect_json '(.items | length) == 2 and (.next | test("^[0-9a-f]{24}$"))' "two items and a next cursor"
first=$(jq -r '.items[].id' <<<"$BODY"); next=$(jq -r .next <<<"$BODY")
req GET "/api/suppliers?limit=2&after=$next"
expect_json "[.items[].id] | all(. > \"$next\")" "the next page starts after the cursor"
all_ids=$( { echo "$first"; jq -r '.items[].id' <<<"$BODY"; } | sort | uniq -d)
check "pages do not repeat an item" test -z "$all_ids"
req GET "/api/suppliers?limit=200"
expect_json "[.items[].id] == ([.items[].id] | sort)" "items come in id order"
expect_json "any(.items[]; .id == \"$id\")" "the new supplier is listed"

req DELETE "/api/suppliers/$id"
expect_status 204 "DELETE removes the supplier"
check "a 204 has no body" test -z "$BODY"
req GET "/api/suppliers/$id"
expect_error 404 not_found "the deleted supplier is gone"
req DELETE "/api/suppliers/$id"
expect_error 404 not_found "deleting it again is a 404"
req PATCH "/api/suppliers/$id" '{"name":"Ghost"}'
expect_error 404 not_found "patching a missing supplier is a 404"

req GET /api/suppliers/healthz
expect_status 200 "healthz answers"
req GET /api/suppliers/readyz
expect_json '.mongodb == "ok" and .redis == "ok"' "readyz reports MongoDB and Redis"
done_testing
