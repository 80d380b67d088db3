#!/bin/sh
# Every C file is formatted by the repo's .clang-format (TAP: one line per file).
top=${srcdir:-.}/
n=0
fail=0
for f in "$top"lib/*.[ch] "$top"fcgi/*/*.[ch] "$top"sql/*.c "$top"tests/unit/*.h "$top"tests/unit/*/*.c "$top"tests/bench/*.c "$top"tests/fuzz/*.[ch]; do
	n=$((n + 1))
	if clang-format --style=file:"$top.clang-format" --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "ok $n - ${f#"$top"} is formatted"
	else
		fail=1
		echo "not ok $n - ${f#"$top"} is formatted (run clang-format -i ${f#"$top"})"
	fi
done
echo "1..$n"
exit $fail
