/* Unit tests of lib/http.c's gl_http_peers: which nginx internal listeners auth purges. */
#include "../tap.h"
#include "conf.h"
#include "http.h"

static int
peers(const char *setting, char urls[][GL_HTTP_URL_MAX], int max)
{
	gl_conf.internal_url = "http://nginx:8081";
	gl_conf.nginx_peers = setting;
	return gl_http_peers(urls, max);
}

int
main(void)
{
	char urls[GL_HTTP_PEERS_MAX][GL_HTTP_URL_MAX];

	ok(peers("", urls, GL_HTTP_PEERS_MAX) == 1, "unset: one peer");
	is_str(urls[0], "http://nginx:8081", "the internal URL");
	ok(peers("localhost:8081", urls, GL_HTTP_PEERS_MAX) == 1, "a name: each of its addresses");
	is_str(urls[0], "http://127.0.0.1:8081", "as an address and the port");
	ok(peers("127.0.0.9:9", urls, GL_HTTP_PEERS_MAX) == 1, "an address: itself");
	is_str(urls[0], "http://127.0.0.9:9", "kept as it is");
	ok(peers("127.0.0.9:9", urls, 0) == 0, "no room: none");
	ok(peers("nginx-peers.invalid:8081", urls, GL_HTTP_PEERS_MAX) == 0,
	   "a name that does not resolve: none");
	ok(peers("localhost", urls, GL_HTTP_PEERS_MAX) == 0, "no port: none");
	ok(peers("localhost:http", urls, GL_HTTP_PEERS_MAX) == 0,
	   "a port that is not a number: none");
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
