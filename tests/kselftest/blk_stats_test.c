// SPDX-License-Identifier: GPL-2.0
/*
 * What the module tells about itself beyond its counters: the latency
 * histograms of each virtqueue (VHOST_BLK_A_VQ_HIST) and the events of the
 * multicast group "monitor".
 *   counts_once       every request lands in exactly one bucket of its type's
 *                     queue and service histograms, on its own virtqueue
 *   service_bucket    a null_blk that completes 3 ms after submission puts
 *                     the service time in the buckets of 2-4 ms and up,
 *                     and latency_stats=0 stops the counting
 *   events_in_order   every event type, in the order it happened, on a raw
 *                     listener and in `vhostctl monitor --json` (when built)
 *   unprivileged      a listener without CAP_NET_ADMIN sees only the events
 *                     of its own device (Linux 6.10 on); before, it cannot
 *                     join the group
 * Runs in a VM with the module loaded.
 */
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "blk_io.h"
#include "vblk_nl.h"

#define ST_QSIZE 64
#define ST_DEPTH 8
#define ST_SIZE (16ULL << 20)
#define ST_SLOW_US 3000
#define LATENCY_PARAM "/sys/module/vhost_blk/parameters/latency_stats"
#define MAX_EVENTS 256
#define UNPRIV_UID 65534

/* One virtqueue's histograms, by VHOST_BLK_HIST_* and VHOST_BLK_OP_*. */
struct hists {
	__u64 b[2][VHOST_BLK_NR_OPS][VHOST_BLK_HIST_BUCKETS];
	__u64 sum[2][VHOST_BLK_NR_OPS];
	__u64 max[2][VHOST_BLK_NR_OPS];
	__u64 requests;
};

static __u64 hist_count(const struct hists *h, int kind, int op)
{
	__u64 n = 0;
	int i;

	for (i = 0; i < VHOST_BLK_HIST_BUCKETS; i++)
		n += h->b[kind][op][i];
	return n;
}

/* Read one VQ_GET message's histograms: every VHOST_BLK_A_VQ_HIST nest. */
static void parse_vq_hists(const struct nlattr *a, int len, struct hists *h)
{
	for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len),
	     a = (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len))) {
		const struct nlattr *tb[MAX_ATTR];
		__u32 kind, op;

		if ((a->nla_type & NLA_TYPE_MASK) == VHOST_BLK_A_VQ_REQUESTS)
			h->requests = get_u64(a);
		if ((a->nla_type & NLA_TYPE_MASK) != VHOST_BLK_A_VQ_HIST)
			continue;
		parse_attrs((const struct nlattr *)((const char *)a + NLA_HDRLEN),
			    a->nla_len - NLA_HDRLEN, tb);
		if (!tb[VHOST_BLK_A_HIST_KIND] || !tb[VHOST_BLK_A_HIST_OP] ||
		    !tb[VHOST_BLK_A_HIST_BUCKETS] ||
		    tb[VHOST_BLK_A_HIST_BUCKETS]->nla_len != NLA_HDRLEN + sizeof(h->b[0][0]))
			continue;
		kind = get_u32(tb[VHOST_BLK_A_HIST_KIND]);
		op = get_u32(tb[VHOST_BLK_A_HIST_OP]);
		if (kind > 1 || op >= VHOST_BLK_NR_OPS)
			continue;
		memcpy(h->b[kind][op], (const char *)tb[VHOST_BLK_A_HIST_BUCKETS] + NLA_HDRLEN,
		       sizeof(h->b[0][0]));
		if (tb[VHOST_BLK_A_HIST_SUM_NS])
			h->sum[kind][op] = get_u64(tb[VHOST_BLK_A_HIST_SUM_NS]);
		if (tb[VHOST_BLK_A_HIST_MAX_NS])
			h->max[kind][op] = get_u64(tb[VHOST_BLK_A_HIST_MAX_NS]);
	}
}

/* The histograms of virtqueue @index of device @dev: 0, or -errno. */
static int vq_hists(__u32 dev, unsigned int index, struct hists *h)
{
	static char buf[1 << 16];
	char attrs[16];
	struct nl nl = {.fd = -1};
	bool found = false;
	int ret;

	memset(h, 0, sizeof(*h));
	ret = nl_open(&nl);
	if (!ret)
		ret = nl_send(&nl, nl.family, NLM_F_DUMP, VHOST_BLK_CMD_VQ_GET, attrs,
			      put_u32(attrs, VHOST_BLK_A_VQ_DEV_ID, dev));
	while (!ret) {
		ssize_t len = recv(nl.fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;

		if (len < 0) {
			ret = -errno;
			break;
		}
		for (; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
			const struct nlattr *tb[MAX_ATTR];
			struct genlmsghdr *g = NLMSG_DATA(nlh);
			const struct nlattr *a = (const struct nlattr *)((char *)g + GENL_HDRLEN);
			int alen = nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

			if (nlh->nlmsg_type == NLMSG_DONE)
				goto out;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				ret = ((struct nlmsgerr *)NLMSG_DATA(nlh))->error ?: -EPROTO;
				goto out;
			}
			parse_attrs(a, alen, tb);
			if (tb[VHOST_BLK_A_VQ_INDEX] &&
			    get_u32(tb[VHOST_BLK_A_VQ_INDEX]) == index) {
				parse_vq_hists(a, alen, h);
				found = true;
			}
		}
	}
out:
	if (nl.fd >= 0)
		close(nl.fd);
	return ret ? ret : found ? 0 : -ENOENT;
}

/* The id of the one device this process owns. */
static int my_dev_id(void)
{
	static struct msg msgs[64];
	static char store[1 << 18];
	struct nl nl = {.fd = -1};
	int n, i, dev = -ENODEV;

	n = nl_open(&nl);
	if (!n)
		n = nl_dump(&nl, VHOST_BLK_CMD_DEV_GET, 0, -1, msgs, 64, store, sizeof(store));
	for (i = 0; i < n; i++)
		if (msgs[i].attr[VHOST_BLK_A_DEV_OWNER_PID] &&
		    get_u32(msgs[i].attr[VHOST_BLK_A_DEV_OWNER_PID]) == (__u32)getpid())
			dev = get_u32(msgs[i].attr[VHOST_BLK_A_DEV_ID]);
	if (nl.fd >= 0)
		close(nl.fd);
	return n < 0 ? n : dev;
}

/* How many virtqueues device @dev has, or -errno. */
static int dev_num_vqs(int dev)
{
	static struct msg msgs[4];
	static char store[1 << 18];
	struct nl nl = {.fd = -1};
	int n;

	n = nl_open(&nl);
	if (!n)
		n = nl_dump(&nl, VHOST_BLK_CMD_DEV_GET, VHOST_BLK_A_DEV_ID, dev, msgs, 4, store,
			    sizeof(store));
	if (nl.fd >= 0)
		close(nl.fd);
	if (n < 1)
		return n < 0 ? n : -ENODEV;
	return msgs[0].attr[VHOST_BLK_A_DEV_NUM_VQS]
		       ? (int)get_u32(msgs[0].attr[VHOST_BLK_A_DEV_NUM_VQS])
		       : -EPROTO;
}

static int write_param(const char *val)
{
	int fd = open(LATENCY_PARAM, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* The bucket of @ns, as the module counts it. */
static int bucket_of(__u64 ns)
{
	__u64 us = ns / 1000;
	int b = 0;

	while (us) {
		b++;
		us >>= 1;
	}
	return b < VHOST_BLK_HIST_BUCKETS ? b : VHOST_BLK_HIST_BUCKETS - 1;
}

static void check_hist_sane(struct __test_metadata *_metadata, const struct hists *h, int kind,
			    int op)
{
	int i, top = -1;

	for (i = 0; i < VHOST_BLK_HIST_BUCKETS; i++)
		if (h->b[kind][op][i])
			top = i;
	if (top < 0)
		return;
	/* The longest time is in the highest bucket that counted anything. */
	ASSERT_EQ(top, bucket_of(h->max[kind][op]))
	{
		TH_LOG("kind %d op %d: max %llu ns", kind, op,
		       (unsigned long long)h->max[kind][op]);
	}
	ASSERT_LE(h->max[kind][op], h->sum[kind][op]);
}

static struct vblk *open_dev(struct __test_metadata *_metadata, struct vblk **v, unsigned int nvqs,
			     int fd)
{
	struct vblk_config cfg = {
		.nvqs = nvqs,
		.queue_size = ST_QSIZE,
		.depth = ST_DEPTH,
		.max_data = 64 << 10,
	};

	ASSERT_EQ(0, vblk_open(&cfg, v))
	{
		TH_LOG("vblk_open: %s", vblk_error());
	}
	if (fd >= 0)
		ASSERT_EQ(0, vblk_set_backend(*v, fd))
		{
			TH_LOG("%s", vblk_error());
		}
	return *v;
}

FIXTURE(stats)
{
	struct vblk_backend be;
	struct vblk *v;
	uint8_t buf[4096];
};

FIXTURE_SETUP(stats)
{
	int ret;

	self->be.fd = -1;
	ret = vblk_probe();
	if (ret == -ENOTTY)
		SKIP(return, "no data path: %s", vblk_error());
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, write_param("1"))
	{
		TH_LOG("%s: the module has no latency_stats", LATENCY_PARAM);
	}
}

FIXTURE_TEARDOWN(stats)
{
	write_param("1");
	vblk_close(self->v);
	vblk_backend_close(&self->be);
}

TEST_F(stats, counts_once)
{
	static const int want[VHOST_BLK_NR_OPS] = {40, 30, 5, 3, 2};
	struct virtio_blk_discard_write_zeroes seg = {.sector = 8, .num_sectors = 8};
	struct hists h0, h1;
	int dev, kind, op, i;

	ASSERT_EQ(0, vblk_backend_open(&self->be, VBLK_BE_NULLB, ST_SIZE))
	{
		TH_LOG("%s", vblk_error());
	}
	open_dev(_metadata, &self->v, 2, self->be.fd);
	for (i = 0; i < want[VHOST_BLK_OP_READ]; i++)
		run_req(_metadata, self->v, 0, T_IN, i * 8, self->buf, 4096, 0);
	for (i = 0; i < want[VHOST_BLK_OP_WRITE]; i++)
		run_req(_metadata, self->v, 0, T_OUT, i * 8, self->buf, 4096, 0);
	for (i = 0; i < want[VHOST_BLK_OP_FLUSH]; i++)
		run_req(_metadata, self->v, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 0);
	/* Counted whether the backend can zero or not. */
	for (i = 0; i < want[VHOST_BLK_OP_DISCARD]; i++)
		run_dwz(_metadata, self->v, 0, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1, 0);
	for (i = 0; i < want[VHOST_BLK_OP_OTHER]; i++)
		run_req(_metadata, self->v, 0, VIRTIO_BLK_T_GET_ID, 0, self->buf,
			VHOST_BLK_SERIAL_BYTES, 0);
	for (i = 0; i < 7; i++)
		run_req(_metadata, self->v, 1, T_IN, i * 8, self->buf, 4096, 0);

	dev = my_dev_id();
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, vq_hists(dev, 0, &h0));
	ASSERT_EQ(0, vq_hists(dev, 1, &h1));
	for (kind = 0; kind < 2; kind++) {
		__u64 total = 0;

		for (op = 0; op < VHOST_BLK_NR_OPS; op++) {
			ASSERT_EQ((__u64)want[op], hist_count(&h0, kind, op))
			{
				TH_LOG("vq 0 kind %d op %d", kind, op);
			}
			total += hist_count(&h0, kind, op);
			check_hist_sane(_metadata, &h0, kind, op);
			check_hist_sane(_metadata, &h1, kind, op);
			ASSERT_EQ(op == VHOST_BLK_OP_READ ? 7ULL : 0ULL, hist_count(&h1, kind, op));
		}
		/* As many as the requests returned, each once. */
		ASSERT_EQ(h0.requests, total);
	}
	ASSERT_EQ(7ULL, h1.requests);
}

TEST_F(stats, service_bucket)
{
	struct hists h, after;
	int dev, i, near = 0;

	if (vblk_backend_open_slow(&self->be, ST_SIZE, ST_SLOW_US))
		SKIP(return, "no null_blk with completion_nsec: %s", vblk_error());
	open_dev(_metadata, &self->v, 1, self->be.fd);
	for (i = 0; i < 16; i++)
		run_req(_metadata, self->v, 0, T_IN, i * 8, self->buf, 4096, 0);
	dev = my_dev_id();
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, vq_hists(dev, 0, &h));
	ASSERT_EQ(16ULL, hist_count(&h, VHOST_BLK_HIST_SERVICE, VHOST_BLK_OP_READ));
	ASSERT_EQ(16ULL, hist_count(&h, VHOST_BLK_HIST_QUEUE, VHOST_BLK_OP_READ));
	for (i = 0; i < VHOST_BLK_HIST_BUCKETS; i++) {
		__u64 n = h.b[VHOST_BLK_HIST_SERVICE][VHOST_BLK_OP_READ][i];

		if (n)
			TH_LOG("service bucket %d (< %u us): %llu", i, 1U << i,
			       (unsigned long long)n);
		/* Never faster than null_blk's timer; 3 ms is in bucket 12. */
		ASSERT_EQ(0ULL, i < 12 ? n : 0)
		{
			TH_LOG("%llu reads served in under 2 ms by a 3 ms device",
			       (unsigned long long)n);
		}
		if (i == 12 || i == 13)
			near += n;
	}
	/*
	 * Most within 2-8 ms, even under TCG.  How late the rest are, and
	 * how long one request waited for its worker, depend on the host's
	 * load: a vCPU preempted for milliseconds is no bug.
	 */
	ASSERT_LE(8, near);
	ASSERT_LE(16ULL * ST_SLOW_US * 1000, h.sum[VHOST_BLK_HIST_SERVICE][VHOST_BLK_OP_READ]);
	/* Queue time is the worker's: all of it well under the device's. */
	ASSERT_GT(h.sum[VHOST_BLK_HIST_SERVICE][VHOST_BLK_OP_READ] / 2,
		  h.sum[VHOST_BLK_HIST_QUEUE][VHOST_BLK_OP_READ])
	{
		TH_LOG("queue time %llu ns against service time %llu ns",
		       (unsigned long long)h.sum[VHOST_BLK_HIST_QUEUE][VHOST_BLK_OP_READ],
		       (unsigned long long)h.sum[VHOST_BLK_HIST_SERVICE][VHOST_BLK_OP_READ]);
	}

	/* Off: nothing is counted. */
	ASSERT_EQ(0, write_param("0"));
	for (i = 0; i < 4; i++)
		run_req(_metadata, self->v, 0, T_IN, i * 8, self->buf, 4096, 0);
	ASSERT_EQ(0, vq_hists(dev, 0, &after));
	ASSERT_EQ(16ULL, hist_count(&after, VHOST_BLK_HIST_SERVICE, VHOST_BLK_OP_READ));
	ASSERT_EQ(20ULL, after.requests);
}

/* ---- events ---- */

/* The id of multicast group @group of family @family: >0, or -errno. */
static int mcast_group_id(const char *family, const char *group)
{
	char attrs[64], store[8192];
	const struct nlattr *g;
	struct nl nl = {.fd = -1};
	struct msg m;
	int n, len, id = -ENOENT;

	n = nl_open(&nl);
	if (!n)
		n = nl_send(&nl, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, attrs,
			    put_str(attrs, CTRL_ATTR_FAMILY_NAME, family));
	if (!n)
		n = nl_recv(&nl, &m, 1, store, sizeof(store));
	close(nl.fd);
	if (n < 1)
		return n < 0 ? n : -ENOENT;
	if (!m.attr[CTRL_ATTR_MCAST_GROUPS])
		return -ENOENT;
	g = (const struct nlattr *)((const char *)m.attr[CTRL_ATTR_MCAST_GROUPS] + NLA_HDRLEN);
	len = m.attr[CTRL_ATTR_MCAST_GROUPS]->nla_len - NLA_HDRLEN;
	for (; len >= NLA_HDRLEN && g->nla_len >= NLA_HDRLEN && g->nla_len <= len;
	     len -= NLA_ALIGN(g->nla_len),
	     g = (const struct nlattr *)((const char *)g + NLA_ALIGN(g->nla_len))) {
		const struct nlattr *tb[MAX_ATTR];

		parse_attrs((const struct nlattr *)((const char *)g + NLA_HDRLEN),
			    g->nla_len - NLA_HDRLEN, tb);
		if (tb[CTRL_ATTR_MCAST_GRP_NAME] && tb[CTRL_ATTR_MCAST_GRP_ID] &&
		    !strcmp((const char *)tb[CTRL_ATTR_MCAST_GRP_NAME] + NLA_HDRLEN, group))
			id = get_u32(tb[CTRL_ATTR_MCAST_GRP_ID]);
	}
	return id;
}

/* A socket in the group "monitor": fd, or -errno. */
static int monitor_open(void)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	struct timeval tv = {.tv_usec = 200000};
	int fd, grp = mcast_group_id(VHOST_BLK_GENL_NAME, VHOST_BLK_MCGRP_MONITOR);

	if (grp < 0)
		return grp;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

struct event {
	__u8 cmd;
	__u32 dev;
	char text[64];
};

/* The device id an event names, or -1. */
static long event_dev(const struct msg *m)
{
	const struct nlattr *a = m->attr[VHOST_BLK_A_DEV_ID];

	/* Each set names its device id in its own attribute. */
	if (m->cmd == VHOST_BLK_CMD_WORKER_CREATED_NTF || m->cmd == VHOST_BLK_CMD_WORKER_FREED_NTF)
		a = m->attr[VHOST_BLK_A_WORKER_DEV_ID];
	else if (m->cmd >= VHOST_BLK_CMD_VQ_ATTACHED_NTF)
		a = m->attr[VHOST_BLK_A_VQ_DEV_ID];
	return a ? (long)get_u32(a) : -1;
}

/*
 * Read events from @fd until @ms pass without one; those of device @dev
 * (all if -1) into @ev.  Returns how many.
 */
static int read_events(int fd, long dev, struct event *ev, int max, int ms)
{
	char buf[8192];
	int n = 0;
	int64_t end = now_ms() + ms;

	while (now_ms() < end) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;

		if (len < 0)
			continue;
		end = now_ms() + ms;
		for (; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
			struct genlmsghdr *g = NLMSG_DATA(nlh);
			struct msg m = {.cmd = g->cmd};

			parse_attrs((const struct nlattr *)((char *)g + GENL_HDRLEN),
				    nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), m.attr);
			if (n >= max || (dev >= 0 && event_dev(&m) != dev))
				continue;
			ev[n].cmd = m.cmd;
			ev[n].dev = event_dev(&m);
			ev[n].text[0] = 0;
			if (m.cmd == VHOST_BLK_CMD_VQ_STOPPED_NTF &&
			    m.attr[VHOST_BLK_A_VQ_STOP_REASON])
				snprintf(ev[n].text, sizeof(ev[n].text), "%s",
					 (const char *)m.attr[VHOST_BLK_A_VQ_STOP_REASON] +
						 NLA_HDRLEN);
			if (m.cmd == VHOST_BLK_CMD_IO_ERROR_NTF && m.attr[VHOST_BLK_A_VQ_IO_ERRNO])
				snprintf(ev[n].text, sizeof(ev[n].text), "%u",
					 get_u32(m.attr[VHOST_BLK_A_VQ_IO_ERRNO]));
			if (m.cmd == VHOST_BLK_CMD_BACKEND_SET_NTF)
				snprintf(ev[n].text, sizeof(ev[n].text), "%s",
					 m.attr[VHOST_BLK_A_DEV_BACKEND] ? "attached" : "detached");
			n++;
		}
	}
	return n;
}

/* The names `vhostctl monitor` gives the events, by command. */
static const char *const event_names[] = {
	[VHOST_BLK_CMD_DEV_CREATED_NTF] = "dev-created",
	[VHOST_BLK_CMD_DEV_DESTROYED_NTF] = "dev-destroyed",
	[VHOST_BLK_CMD_BACKEND_SET_NTF] = "backend-set",
	[VHOST_BLK_CMD_WORKER_CREATED_NTF] = "worker-created",
	[VHOST_BLK_CMD_WORKER_FREED_NTF] = "worker-freed",
	[VHOST_BLK_CMD_VQ_ATTACHED_NTF] = "vq-attached",
	[VHOST_BLK_CMD_VQ_STOPPED_NTF] = "vq-stopped",
	[VHOST_BLK_CMD_IO_ERROR_NTF] = "io-error",
};

/* `vhostctl monitor --json` into @out, or 0 when vhostctl is not built. */
static pid_t spawn_monitor(const char *out)
{
	char path[PATH_MAX + 32], self[PATH_MAX];
	const char *env = getenv("VHOSTCTL");
	ssize_t n;
	pid_t pid;

	if (env) {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		/* build/tests/kselftest/X -> build/ctl/tool/vhostctl */
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			return 0;
		self[n] = 0;
		*strrchr(self, '/') = 0;
		snprintf(path, sizeof(path), "%s/../../ctl/tool/vhostctl", self);
	}
	if (access(path, X_OK))
		return 0;
	pid = fork();
	if (!pid) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		execl(path, path, "monitor", "--json", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* How many lines of @file name device @dev; the events named, into @names. */
static int monitor_lines(const char *file, int dev, char names[][24], int max)
{
	char line[512], want[32];
	FILE *f = fopen(file, "r");
	int n = 0;

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "\"dev_id\":%d,", dev);
	while (fgets(line, sizeof(line), f)) {
		char *e = strstr(line, "\"event\":\"");

		if (!strstr(line, want) || !e || n >= max)
			continue;
		sscanf(e + 9, "%23[^\"]", names[n]);
		n++;
	}
	fclose(f);
	return n;
}

TEST_F(stats, events_in_order)
{
	/* After SET_OWNER's vq-attached, one per virtqueue of the device. */
	static const __u8 rest[] = {
		VHOST_BLK_CMD_WORKER_CREATED_NTF, VHOST_BLK_CMD_VQ_ATTACHED_NTF,
		VHOST_BLK_CMD_BACKEND_SET_NTF,    VHOST_BLK_CMD_IO_ERROR_NTF,
		VHOST_BLK_CMD_VQ_STOPPED_NTF,     VHOST_BLK_CMD_BACKEND_SET_NTF,
		VHOST_BLK_CMD_VQ_ATTACHED_NTF,    VHOST_BLK_CMD_WORKER_FREED_NTF,
		VHOST_BLK_CMD_WORKER_FREED_NTF,   VHOST_BLK_CMD_DEV_DESTROYED_NTF,
	};
	char out[] = "/tmp/vhb-monitor-XXXXXX", names[MAX_EVENTS][24];
	__u8 want[MAX_EVENTS];
	int nwant = 0, nvqs;
	struct vhost_vring_worker vw = {.index = 1};
	struct vhost_worker_state ws = {0};
	struct event ev[MAX_EVENTS];
	int fd, n, i, dev, lines = 0;
	pid_t mon;

	fd = monitor_open();
	ASSERT_LE(0, fd)
	{
		TH_LOG("joining \"monitor\": %s", strerror(-fd));
	}
	close(mkstemp(out));
	mon = spawn_monitor(out);
	if (mon > 0) {
		/* Until the monitor has joined: it shows a device come and go. */
		for (i = 0; i < 100 && !lines; i++) {
			struct vblk *probe = NULL;
			int probe_dev;

			open_dev(_metadata, &probe, 1, -1);
			probe_dev = my_dev_id();
			vblk_close(probe);
			usleep(100000);
			lines = monitor_lines(out, probe_dev, names, MAX_EVENTS);
		}
		ASSERT_NE(0, lines)
		{
			TH_LOG("vhostctl monitor printed nothing in 10 s");
		}
		read_events(fd, -1, ev, MAX_EVENTS, 200);
	}

	ASSERT_EQ(0, vblk_backend_open(&self->be, VBLK_BE_NULLB_BB, ST_SIZE))
	{
		TH_LOG("%s", vblk_error());
	}
	open_dev(_metadata, &self->v, 2, -1);
	dev = my_dev_id();
	ASSERT_LE(0, dev);
	nvqs = dev_num_vqs(dev);
	ASSERT_LT(0, nvqs);
	ASSERT_GT(MAX_EVENTS - 2 - (int)ARRAY_SIZE(rest), nvqs);
	want[nwant++] = VHOST_BLK_CMD_DEV_CREATED_NTF;
	want[nwant++] = VHOST_BLK_CMD_WORKER_CREATED_NTF;
	for (i = 0; i < nvqs; i++)
		want[nwant++] = VHOST_BLK_CMD_VQ_ATTACHED_NTF;
	memcpy(want + nwant, rest, sizeof(rest));
	nwant += ARRAY_SIZE(rest);
	ASSERT_EQ(0, ioctl(self->v->fd, VHOST_NEW_WORKER, &ws));
	vw.worker_id = ws.worker_id;
	ASSERT_EQ(0, ioctl(self->v->fd, VHOST_ATTACH_VRING_WORKER, &vw));
	ASSERT_EQ(0, vblk_set_backend(self->v, self->be.fd));
	/* Sectors 0-7 are bad. */
	ASSERT_EQ(S_IOERR, run_req(_metadata, self->v, 0, T_IN, 0, self->buf, 4096, 0));
	/* A head past the ring stops vq 0. */
	vblk_publish_head(self->v, 0, ST_QSIZE + 1);
	vblk_kick(self->v, 0, true);
	ASSERT_EQ(0, vblk_wait_error(self->v, 0, VBLK_TIMEOUT_MS));
	ASSERT_EQ(0, vblk_set_backend(self->v, -1));
	vw.worker_id = 0;
	ASSERT_EQ(0, ioctl(self->v->fd, VHOST_ATTACH_VRING_WORKER, &vw));
	ASSERT_EQ(0, ioctl(self->v->fd, VHOST_FREE_WORKER, &ws));
	vblk_close(self->v);
	self->v = NULL;

	n = read_events(fd, dev, ev, MAX_EVENTS, 1000);
	close(fd);
	for (i = 0; i < n; i++)
		if (ev[i].cmd != VHOST_BLK_CMD_VQ_ATTACHED_NTF)
			TH_LOG("event %d: %s %s", i, event_names[ev[i].cmd], ev[i].text);
	ASSERT_EQ(nwant, n);
	for (i = 0; i < n; i++)
		ASSERT_EQ(want[i], ev[i].cmd)
		{
			TH_LOG("event %d is %s, not %s", i, event_names[ev[i].cmd],
			       event_names[want[i]]);
		}
	i = nwant - ARRAY_SIZE(rest);
	ASSERT_STREQ("attached", ev[i + 2].text);
	ASSERT_STREQ("5", ev[i + 3].text); /* EIO */
	ASSERT_NE(NULL, strstr(ev[i + 4].text, "past the ring"));
	ASSERT_STREQ("detached", ev[i + 5].text);

	if (mon <= 0) {
		TH_LOG("vhostctl is not built: its monitor is not checked");
		unlink(out);
		return;
	}
	usleep(500000);
	kill(mon, SIGTERM);
	waitpid(mon, NULL, 0);
	lines = monitor_lines(out, dev, names, MAX_EVENTS);
	unlink(out);
	ASSERT_EQ(n, lines);
	for (i = 0; i < n; i++)
		ASSERT_STREQ(event_names[want[i]], names[i]);
}

static int kernel_filters_multicast(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	uname(&u);
	sscanf(u.release, "%d.%d", &major, &minor);
	return major > 6 || (major == 6 && minor >= 10);
}

/*
 * A listener of uid 65534 owns device A; root drives device B, then the
 * listener A.  The listener must see A's events and none of B's.
 */
TEST(unprivileged_sees_own)
{
	int a = open(VBLK_DEV_PATH, O_RDWR), b = open(VBLK_DEV_PATH, O_RDWR);
	int go[2], done[2], status;
	struct vhost_worker_state ws;
	char c;
	pid_t pid;

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct event ev[MAX_EVENTS];
		struct vhost_worker_state cws;
		int fd, n, i;

		close(b);
		if (setresgid(UNPRIV_UID, UNPRIV_UID, UNPRIV_UID) ||
		    setresuid(UNPRIV_UID, UNPRIV_UID, UNPRIV_UID))
			_exit(10);
		fd = monitor_open();
		if (!kernel_filters_multicast())
			_exit(fd == -EPERM ? 0 : 11);
		if (fd < 0)
			_exit(12);
		if (write(done[1], "j", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(13);
		/* Our own device: owner, a worker. */
		if (ioctl(a, VHOST_SET_OWNER, NULL) || ioctl(a, VHOST_NEW_WORKER, &cws))
			_exit(14);
		n = read_events(fd, -1, ev, MAX_EVENTS, 1000);
		/* worker-created, vq-attached per vq, worker-created. */
		if (n < 3)
			_exit(15);
		for (i = 0; i < n; i++)
			if (ev[i].dev != ev[0].dev)
				_exit(16);
		if (ev[0].cmd != VHOST_BLK_CMD_WORKER_CREATED_NTF ||
		    ev[n - 1].cmd != VHOST_BLK_CMD_WORKER_CREATED_NTF)
			_exit(17);
		_exit(0);
	}
	close(a);
	if (kernel_filters_multicast()) {
		ASSERT_EQ(1, read(done[0], &c, 1));
		/* Root's device: none of this reaches the listener. */
		ASSERT_EQ(0, ioctl(b, VHOST_SET_OWNER, NULL));
		ASSERT_EQ(0, ioctl(b, VHOST_NEW_WORKER, &ws));
		ASSERT_EQ(0, ioctl(b, VHOST_FREE_WORKER, &ws));
		ASSERT_EQ(1, write(go[1], "g", 1));
	} else {
		TH_LOG("Linux before 6.10: the group is CAP_NET_ADMIN's only");
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(b);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
