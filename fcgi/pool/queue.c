/* The listen queue: connections the kernel accepted that no worker has taken yet. */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool.h"

/* TCP, as php-fpm does: on a listening socket tcpi_unacked is the queue, tcpi_sacked the
 * backlog. */
static void
queue_tcp(int fd, long *now, long *backlog)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
		*now = (long)ti.tcpi_unacked;
		*backlog = (long)ti.tcpi_sacked;
	}
}

/* A Unix socket: NETLINK_SOCK_DIAG names the listening socket by its inode; with
 * UDIAG_SHOW_RQLEN its receive queue is the connections waiting, its write queue the
 * backlog. */
static void
queue_unix(int fd, long *now, long *backlog)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} ask;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr nlh;
		char bytes[8192];
	} buf;
	struct stat st;
	ssize_t got;
	int nl;

	if (fstat(fd, &st) < 0)
		return;
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return;
	memset(&ask, 0, sizeof(ask));
	ask.nlh.nlmsg_len = sizeof(ask);
	ask.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	ask.nlh.nlmsg_flags = NLM_F_REQUEST;
	ask.req.sdiag_family = AF_UNIX;
	ask.req.udiag_states = 1u << 10; /* TCP_LISTEN */
	ask.req.udiag_ino = (unsigned)st.st_ino;
	ask.req.udiag_show = UDIAG_SHOW_RQLEN;
	ask.req.udiag_cookie[0] = ask.req.udiag_cookie[1] = ~0u; /* INET_DIAG_NOCOOKIE */
	if (sendto(nl, &ask, sizeof(ask), 0, (struct sockaddr *)&sa, sizeof(sa)) != sizeof(ask))
		goto out;
	/* The kernel answers at once; never wait on it long (the loop serves the status). */
	struct pollfd pfd = { .fd = nl, .events = POLLIN };
	if (poll(&pfd, 1, 50) != 1)
		goto out;
	got = recv(nl, &buf, sizeof(buf), MSG_DONTWAIT);
	if (got < (ssize_t)sizeof(struct nlmsghdr))
		goto out;
	for (struct nlmsghdr *h = &buf.nlh; NLMSG_OK(h, got); h = NLMSG_NEXT(h, got)) {
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			break;
		struct unix_diag_msg *m = NLMSG_DATA(h);
		if (m->udiag_ino != (unsigned)st.st_ino)
			continue;
		int left = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
		for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, left);
		     a = RTA_NEXT(a, left)) {
			if (a->rta_type == UNIX_DIAG_RQLEN &&
			    RTA_PAYLOAD(a) >= sizeof(struct unix_diag_rqlen)) {
				struct unix_diag_rqlen *q = RTA_DATA(a);
				*now = (long)q->udiag_rqueue;
				*backlog = (long)q->udiag_wqueue;
			}
		}
		break;
	}
out:
	close(nl);
}

void
pool_queue(const struct pool *p, long *now, long *backlog)
{
	*now = *backlog = -1;
	if (p->listen_unix)
		queue_unix(p->listen_fd, now, backlog);
	else
		queue_tcp(p->listen_fd, now, backlog);
}
