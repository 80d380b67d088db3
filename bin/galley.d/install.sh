# bin/galley.d/install.sh: what galley needs on the machine: Debian's packages (up, test),
# the tools built once into ${XDG_DATA_HOME:-~/.local/share}/galley/bin/ (galley-ferretdb,
# stripe-mock, vegeta and Jaeger for the tests), the browser tests' Node.js and chromium;
# and building a tree (autoreconf, configure once, make).

PACKAGES=(build-essential autoconf automake libtool pkg-config nginx libfcgi-dev libmongoc-dev
	libbson-dev libhiredis-dev libjansson-dev libcurl4-openssl-dev libsodium-dev
	redis-server redis-tools jq curl clang-format wrk iproute2 libnginx-mod-http-js libnginx-mod-nchan
	libnginx-mod-http-set-misc libnginx-mod-http-cache-purge # the auth check's cache (nginx.conf.in)
	openssl # bin/galley test: the test stack's self-signed certificate (tests/e2e/43-tls.sh)
	python3-yaml libfcgi-bin # tests/unit/deploy.py (docker/'s files, its pool probe); the YAML one: render-k8s too
	prometheus # its promtool: tests/unit/alerts.sh (docker/prometheus/'s rules and their tests)
	valgrind # tests/leaks.sh: every service's workers under memcheck
	clang libclang-rt-14-dev llvm) # tests/fuzz/: clang, its libFuzzer and sanitizer runtimes, llvm-symbolizer
GO_FALLBACK_DIR=/usr/local/go/bin

as_root() {
	if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

ensure_deps() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	if ((${#missing[@]} > 0)); then
		say "installing ${missing[*]}"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			"${missing[@]}"
	fi
}

# Go only matters when galley-ferretdb must be built.
ensure_go() {
	command -v go >/dev/null && return 0
	if [[ -x $GO_FALLBACK_DIR/go ]]; then
		PATH="$GO_FALLBACK_DIR:$PATH"
		return 0
	fi
	say "installing golang-go (no go on PATH or in $GO_FALLBACK_DIR)"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends golang-go
}

# build DIR CONFIGURE_ARGS...: autoreconf when needed, configure DIR once, make.
build() {
	local dir=$1
	shift
	if [[ ! -x $TOP/configure || $TOP/configure.ac -nt $TOP/configure ||
		$TOP/Makefile.am -nt $TOP/Makefile.in ]]; then
		say "autoreconf"
		(cd "$TOP" && autoreconf -fi) >"$TOP/.autoreconf.log" 2>&1 ||
			{ cat "$TOP/.autoreconf.log" >&2; die "autoreconf failed"; }
		rm -f "$TOP/.autoreconf.log"
	fi
	mkdir -p "$dir"
	if [[ ! -f $dir/Makefile ]]; then
		say "configure $* in ${dir#"$TOP"/}"
		(cd "$dir" && "$TOP/configure" "$@") >"$dir/configure.out" 2>&1 ||
			{ tail -n 30 "$dir/configure.out" >&2; die "configure failed (see $dir/config.log)"; }
	fi
	say "make in ${dir#"$TOP"/}"
	make -C "$dir" -j"$(nproc)" >"$dir/make.out" 2>&1 ||
		{ tail -n 40 "$dir/make.out" >&2; die "make failed in $dir"; }
}

# ferretdb_binary: print the path of galley-ferretdb, building it when it is missing or its
# sources changed (by content, not mtime: a fresh clone must not rebuild it).
ferretdb_binary() {
	local home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
	local dir="${XDG_DATA_HOME:-$home/.local/share}/galley/bin" src="$TOP/sql/ferretdb" sum
	local bin="$dir/galley-ferretdb"
	sum=$(cd "$src" && cat *.go go.mod go.sum 2>/dev/null | sha256sum | cut -d' ' -f1)
	if [[ ! -x $bin || $(cat "$bin.sources" 2>/dev/null) != "$sum" ]]; then
		ensure_go
		mkdir -p "$dir"
		say "building galley-ferretdb into $dir (once)" >&2
		(cd "$src" && go build -o "$bin.tmp" .) >&2 || die "go build of sql/ferretdb failed"
		mv -f "$bin.tmp" "$bin"
		echo "$sum" >"$bin.sources"
	fi
	echo "$bin"
}

# go_binary NAME MODULE VERSION: print the path of the Go tool NAME, installed once with
# go install into galley's bin folder (a version file beside it says which it is).
go_binary() {
	local name=$1 module=$2 version=$3
	local home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
	local dir="${XDG_DATA_HOME:-$home/.local/share}/galley/bin"
	local bin="$dir/$name"
	if [[ ! -x $bin || $(cat "$bin.version" 2>/dev/null) != "$version" ]]; then
		ensure_go
		mkdir -p "$dir"
		say "installing $name $version into $dir (once)" >&2
		# From /: not inside a module of the repo's (sql/ferretdb has a go.mod).
		(cd / && GOBIN=$dir go install "$module@$version") >&2 || die "go install of $name failed"
		echo "$version" >"$bin.version"
	fi
	echo "$bin"
}

# stripe_mock_binary: print the path of stripe-mock (Stripe's own mock server, which checks
# requests against Stripe's API description).
STRIPE_MOCK_VERSION=v0.203.0
stripe_mock_binary() { go_binary stripe-mock github.com/stripe/stripe-mock "$STRIPE_MOCK_VERSION"; }

# vegeta_binary: print the path of vegeta (an open-loop load tool: requests at a fixed rate,
# each answer kept); tests/bench/overload.sh and tests/e2e/99-kill-audit.sh drive it
# (tests/common.sh, vegeta_path).
VEGETA_VERSION=v12.13.0
vegeta_binary() { go_binary vegeta github.com/tsenart/vegeta/v12 "$VEGETA_VERSION"; }

# jaeger_binary: print the path of Jaeger's all-in-one (tests/e2e/96-tracing.sh reads the test
# stack's spans back from it), built once from the Go module proxy. `go install` refuses it
# (its go.mod has replace directives), so it is built inside its downloaded module. A fetch
# from the proxy can hang: the build is bounded, and a second try usually goes through.
JAEGER_VERSION=v1.62.0
jaeger_binary() {
	local home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
	local dir="${XDG_DATA_HOME:-$home/.local/share}/galley/bin" src try
	local bin="$dir/jaeger"
	if [[ ! -x $bin || $(cat "$bin.version" 2>/dev/null) != "$JAEGER_VERSION" ]]; then
		ensure_go
		mkdir -p "$dir"
		say "building Jaeger $JAEGER_VERSION (all-in-one) into $dir (once, a few minutes)" >&2
		for try in 1 2; do
			src=$(cd / && timeout 600 go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" |
				jq -r .Dir) && [[ -d $src ]] &&
				(cd "$src" && timeout 1200 go build -o "$bin.tmp" ./cmd/all-in-one) >&2 && break
			((try < 2)) || die "the build of Jaeger $JAEGER_VERSION failed"
			say "the build of Jaeger failed or hung: trying again" >&2
		done
		mv -f "$bin.tmp" "$bin"
		echo "$JAEGER_VERSION" >"$bin.version"
	fi
	echo "$bin"
}

# ensure_browser: what tests/e2e/97-browser.sh drives: Debian's chromium and Node.js, and
# playwright-core from the npm registry at the version tests/browser/package-lock.json pins.
ensure_browser() {
	local missing=()
	command -v node >/dev/null || missing+=(nodejs)
	command -v npm >/dev/null || missing+=(npm)
	[[ -x /usr/bin/chromium ]] || missing+=(chromium)
	if ((${#missing[@]} > 0)); then
		say "installing ${missing[*]}"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			"${missing[@]}"
	fi
	local dir=$TOP/tests/browser
	if [[ ! -d $dir/node_modules/playwright-core || $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
		say "npm ci in tests/browser"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2 || die "npm ci in tests/browser failed"
	fi
}
