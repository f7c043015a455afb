// SPDX-License-Identifier: GPL-2.0
/*
 * The "vhost_blk" generic netlink family: the device, worker and virtqueue
 * dumps report what the ioctls set up, the admin command moves a virtqueue
 * like VHOST_ATTACH_VRING_WORKER does, and the privilege rules hold (an
 * unprivileged reader sees only its own devices; the admin command needs
 * CAP_SYS_ADMIN).  Runs as root with the module loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vhost_blk.h>

#include "kselftest_harness.h"

#define DEV_PATH "/dev/" VHOST_BLK_DEVICE_NAME
#define MAX_ATTR 32

struct nl {
	int fd;
	__u16 family;
	__u32 seq;
};

/* One parsed message: its command and its top-level attributes. */
struct msg {
	__u8 cmd;
	const struct nlattr *attr[MAX_ATTR];
};

static int nl_send(struct nl *nl, __u16 type, __u16 flags, __u8 cmd, const void *attrs,
		   size_t attrs_len)
{
	char buf[256];
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct genlmsghdr *g = NLMSG_DATA(nlh);

	memset(buf, 0, sizeof(buf));
	nlh->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + attrs_len;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	g->cmd = cmd;
	g->version = 1;
	memcpy((char *)g + GENL_HDRLEN, attrs, attrs_len);
	return send(nl->fd, buf, nlh->nlmsg_len, 0) < 0 ? -errno : 0;
}

static size_t put_u32(void *buf, __u16 type, __u32 v)
{
	struct nlattr *a = buf;

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + sizeof(v);
	memcpy((char *)a + NLA_HDRLEN, &v, sizeof(v));
	return NLA_ALIGN(a->nla_len);
}

static size_t put_str(void *buf, __u16 type, const char *s)
{
	struct nlattr *a = buf;

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + strlen(s) + 1;
	memcpy((char *)a + NLA_HDRLEN, s, strlen(s) + 1);
	return NLA_ALIGN(a->nla_len);
}

static void parse_attrs(const struct nlattr *a, int len, const struct nlattr **tb)
{
	memset(tb, 0, sizeof(*tb) * MAX_ATTR);
	while (len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len) {
		if ((a->nla_type & NLA_TYPE_MASK) < MAX_ATTR)
			tb[a->nla_type & NLA_TYPE_MASK] = a;
		len -= NLA_ALIGN(a->nla_len);
		a = (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
}

static __u32 get_u32(const struct nlattr *a)
{
	__u32 v;

	memcpy(&v, (const char *)a + NLA_HDRLEN, sizeof(v));
	return v;
}

static __u64 get_u64(const struct nlattr *a)
{
	__u64 v;

	memcpy(&v, (const char *)a + NLA_HDRLEN, sizeof(v));
	return v;
}

/*
 * Receive the replies to the last request into @msgs (at most @max), the
 * payload into @store.  Returns the number of messages or -errno (from an
 * NLMSG_ERROR).
 */
static int nl_recv(struct nl *nl, struct msg *msgs, int max, char *store, size_t store_len)
{
	size_t used = 0;
	int n = 0;

	for (;;) {
		ssize_t len = recv(nl->fd, store + used, store_len - used, 0);
		struct nlmsghdr *nlh = (struct nlmsghdr *)(store + used);

		if (len < 0)
			return -errno;
		used += len;
		for (; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_type == NLMSG_DONE)
				return n;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nlh);

				return e->error ? e->error : n;
			}
			if (n < max) {
				struct genlmsghdr *g = NLMSG_DATA(nlh);

				msgs[n].cmd = g->cmd;
				parse_attrs((const struct nlattr *)((char *)g + GENL_HDRLEN),
					    nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN),
					    msgs[n].attr);
				n++;
			}
			if (!(nlh->nlmsg_flags & NLM_F_MULTI))
				return n;
		}
		if (store_len - used < 65536)
			return -ENOSPC;
	}
}

static int nl_open(struct nl *nl)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	char attrs[64], store[8192];
	struct msg m;
	int n;

	nl->seq = 0;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->fd < 0 || bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	n = nl_send(nl, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, attrs,
		    put_str(attrs, CTRL_ATTR_FAMILY_NAME, VHOST_BLK_GENL_NAME));
	if (n)
		return n;
	n = nl_recv(nl, &m, 1, store, sizeof(store));
	if (n < 1)
		return n < 0 ? n : -ENOENT;
	if (!m.attr[CTRL_ATTR_FAMILY_ID])
		return -EPROTO;
	memcpy(&nl->family, (const char *)m.attr[CTRL_ATTR_FAMILY_ID] + NLA_HDRLEN,
	       sizeof(nl->family));
	/* The ack that follows. */
	return nl_recv(nl, &m, 0, store, sizeof(store)) < 0 ? -EPROTO : 0;
}

/* A dump of @cmd, filtered by device @dev_id (attribute @filter) if >= 0. */
static int nl_dump(struct nl *nl, __u8 cmd, int filter, long dev_id, struct msg *msgs, int max,
		   char *store, size_t store_len)
{
	char attrs[16] = "";
	size_t len = 0;
	int ret;

	if (dev_id >= 0)
		len = put_u32(attrs, filter, dev_id);
	ret = nl_send(nl, nl->family, NLM_F_DUMP, cmd, attrs, len);
	return ret ? ret : nl_recv(nl, msgs, max, store, store_len);
}

static int nl_vq_attach(struct nl *nl, __u32 dev, __u32 vq, __u32 worker)
{
	char attrs[64], store[4096];
	size_t len = 0;
	struct msg m;

	len += put_u32(attrs + len, VHOST_BLK_A_VQ_DEV_ID, dev);
	len += put_u32(attrs + len, VHOST_BLK_A_VQ_INDEX, vq);
	len += put_u32(attrs + len, VHOST_BLK_A_VQ_WORKER_ID, worker);
	if (nl_send(nl, nl->family, NLM_F_ACK, VHOST_BLK_CMD_VQ_ATTACH, attrs, len))
		return -errno;
	return nl_recv(nl, &m, 1, store, sizeof(store));
}

#define MAX_MSGS 512
#define STORE (1 << 20)

FIXTURE(nl)
{
	struct nl nl;
	int fd;
	__u32 dev_id;
	struct msg *msgs;
	char *store;
};

/* Find our device (the only one owned by this process) in a device dump. */
static int find_dev(struct msg *msgs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (msgs[i].attr[VHOST_BLK_A_DEV_OWNER_PID] &&
		    get_u32(msgs[i].attr[VHOST_BLK_A_DEV_OWNER_PID]) == (__u32)getpid())
			return i;
	}
	return -1;
}

FIXTURE_SETUP(nl)
{
	struct vhost_worker_state w = {};
	int n, i;

	self->msgs = calloc(MAX_MSGS, sizeof(*self->msgs));
	self->store = malloc(STORE);
	ASSERT_NE(NULL, self->msgs);
	ASSERT_NE(NULL, self->store);
	self->fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "%s: %s", DEV_PATH, strerror(errno));
	ASSERT_EQ(0, nl_open(&self->nl));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_NEW_WORKER, &w));
	ASSERT_EQ(1U, w.worker_id);

	n = nl_dump(&self->nl, VHOST_BLK_CMD_DEV_GET, 0, -1, self->msgs, MAX_MSGS, self->store,
		    STORE);
	ASSERT_LE(1, n);
	i = find_dev(self->msgs, n);
	ASSERT_LE(0, i);
	self->dev_id = get_u32(self->msgs[i].attr[VHOST_BLK_A_DEV_ID]);
}

FIXTURE_TEARDOWN(nl)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->nl.fd >= 0)
		close(self->nl.fd);
	free(self->msgs);
	free(self->store);
}

TEST_F(nl, dev_dump_reports_the_device)
{
	int n, i;
	struct msg *m;

	n = nl_dump(&self->nl, VHOST_BLK_CMD_DEV_GET, 0, -1, self->msgs, MAX_MSGS, self->store,
		    STORE);
	i = find_dev(self->msgs, n);
	ASSERT_LE(0, i);
	m = &self->msgs[i];
	EXPECT_EQ(VHOST_BLK_CMD_DEV_GET, m->cmd);
	ASSERT_NE(NULL, m->attr[VHOST_BLK_A_DEV_OWNER_TID]);
	EXPECT_EQ((__u32)gettid(), get_u32(m->attr[VHOST_BLK_A_DEV_OWNER_TID]));
	ASSERT_NE(NULL, m->attr[VHOST_BLK_A_DEV_OWNER_UID]);
	EXPECT_EQ((__u32)geteuid(), get_u32(m->attr[VHOST_BLK_A_DEV_OWNER_UID]));
	ASSERT_NE(NULL, m->attr[VHOST_BLK_A_DEV_NUM_WORKERS]);
	EXPECT_EQ(2U, get_u32(m->attr[VHOST_BLK_A_DEV_NUM_WORKERS]));
	ASSERT_NE(NULL, m->attr[VHOST_BLK_A_DEV_NUM_VQS]);
	EXPECT_LE(1U, get_u32(m->attr[VHOST_BLK_A_DEV_NUM_VQS]));
	ASSERT_NE(NULL, m->attr[VHOST_BLK_A_DEV_WORKER_MODE]);
	/* No backend yet. */
	EXPECT_EQ(NULL, m->attr[VHOST_BLK_A_DEV_BACKEND]);
}

TEST_F(nl, dev_dump_shows_the_backend)
{
	struct vhost_vring_file backend = {.index = 0};
	char path[] = "/tmp/nl_test.XXXXXX";
	int n, i, bfd = mkstemp(path);

	ASSERT_LE(0, bfd);
	ASSERT_EQ(0, ftruncate(bfd, 1 << 20));
	backend.fd = bfd;
	ASSERT_EQ(0, ioctl(self->fd, VHOST_BLK_SET_BACKEND, &backend));
	n = nl_dump(&self->nl, VHOST_BLK_CMD_DEV_GET, 0, -1, self->msgs, MAX_MSGS, self->store,
		    STORE);
	i = find_dev(self->msgs, n);
	ASSERT_LE(0, i);
	ASSERT_NE(NULL, self->msgs[i].attr[VHOST_BLK_A_DEV_BACKEND]);
	EXPECT_STREQ(path, (const char *)self->msgs[i].attr[VHOST_BLK_A_DEV_BACKEND] + NLA_HDRLEN);
	ASSERT_NE(NULL, self->msgs[i].attr[VHOST_BLK_A_DEV_BACKEND_SIZE]);
	EXPECT_EQ(1ULL << 20, get_u64(self->msgs[i].attr[VHOST_BLK_A_DEV_BACKEND_SIZE]));
	backend.fd = -1;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_BLK_SET_BACKEND, &backend));
	close(bfd);
	unlink(path);
}

/* Is @tid one of this process's threads, named vhost-*? */
static bool is_my_vhost_thread(__u32 tid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%u/comm", tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = 0;
	fclose(f);
	return !strncmp(comm, "vhost-", 6);
}

static bool task_mode(int fd)
{
	__u8 mode = 0;

	return !ioctl(fd, VHOST_GET_FORK_FROM_OWNER, &mode) && mode == VHOST_FORK_OWNER_TASK;
}

TEST_F(nl, worker_dump_matches_the_ioctls)
{
	struct vhost_vring_worker vw = {.index = 3, .worker_id = 1};
	int n, i, seen = 0;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_ATTACH_VRING_WORKER, &vw));
	n = nl_dump(&self->nl, VHOST_BLK_CMD_WORKER_GET, VHOST_BLK_A_WORKER_DEV_ID, self->dev_id,
		    self->msgs, MAX_MSGS, self->store, STORE);
	ASSERT_EQ(2, n);
	for (i = 0; i < n; i++) {
		const struct nlattr **a = self->msgs[i].attr;
		const struct nlattr *vqs[MAX_ATTR];
		__u32 id;

		ASSERT_NE(NULL, a[VHOST_BLK_A_WORKER_ID]);
		ASSERT_NE(NULL, a[VHOST_BLK_A_WORKER_TID]);
		ASSERT_NE(NULL, a[VHOST_BLK_A_WORKER_VQS]);
		EXPECT_EQ(self->dev_id, get_u32(a[VHOST_BLK_A_WORKER_DEV_ID]));
		EXPECT_NE(0U, get_u32(a[VHOST_BLK_A_WORKER_TID]));
		if (task_mode(self->fd))
			EXPECT_TRUE(is_my_vhost_thread(get_u32(a[VHOST_BLK_A_WORKER_TID])));
		id = get_u32(a[VHOST_BLK_A_WORKER_ID]);
		seen |= 1 << id;
		parse_attrs((const struct nlattr *)((const char *)a[VHOST_BLK_A_WORKER_VQS] +
						    NLA_HDRLEN),
			    a[VHOST_BLK_A_WORKER_VQS]->nla_len - NLA_HDRLEN, vqs);
		/* Worker 1 serves vq 3 alone; worker 0 all the others. */
		if (id == 1) {
			ASSERT_NE(NULL, vqs[VHOST_BLK_A_WORKER_VQ]);
			EXPECT_EQ(3U, get_u32(vqs[VHOST_BLK_A_WORKER_VQ]));
		}
		EXPECT_NE(NULL, a[VHOST_BLK_A_WORKER_WORKS]);
		EXPECT_NE(NULL, a[VHOST_BLK_A_WORKER_BUSY_NS]);
		EXPECT_NE(NULL, a[VHOST_BLK_A_WORKER_WAKEUPS]);
	}
	EXPECT_EQ(3, seen);
}

TEST_F(nl, vq_dump_matches_the_ioctls)
{
	struct vhost_vring_worker vw = {.index = 2, .worker_id = 1};
	struct vhost_vring_state num = {.index = 2, .num = 128};
	struct vhost_vring_state poll = {.index = 1, .num = 75};
	int n, i;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_ATTACH_VRING_WORKER, &vw));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_VRING_NUM, &num));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &poll));
	n = nl_dump(&self->nl, VHOST_BLK_CMD_VQ_GET, VHOST_BLK_A_VQ_DEV_ID, self->dev_id,
		    self->msgs, MAX_MSGS, self->store, STORE);
	ASSERT_LE(3, n);
	for (i = 0; i < n; i++) {
		const struct nlattr **a = self->msgs[i].attr;

		ASSERT_NE(NULL, a[VHOST_BLK_A_VQ_INDEX]);
		EXPECT_EQ((__u32)i, get_u32(a[VHOST_BLK_A_VQ_INDEX]));
		ASSERT_NE(NULL, a[VHOST_BLK_A_VQ_WORKER_ID]);
		EXPECT_EQ(i == 2 ? 1U : 0U, get_u32(a[VHOST_BLK_A_VQ_WORKER_ID]));
		EXPECT_EQ(0U, get_u32(a[VHOST_BLK_A_VQ_IN_FLIGHT]));
		EXPECT_NE(NULL, a[VHOST_BLK_A_VQ_REQUESTS]);
		if (i == 2)
			EXPECT_EQ(128U, get_u32(a[VHOST_BLK_A_VQ_NUM]));
		ASSERT_NE(NULL, a[VHOST_BLK_A_VQ_BUSYLOOP_US]);
		EXPECT_EQ(i == 1 ? 75U : 0U, get_u32(a[VHOST_BLK_A_VQ_BUSYLOOP_US]));
	}
}

TEST_F(nl, dump_filter_of_an_unknown_device_is_empty)
{
	EXPECT_EQ(0, nl_dump(&self->nl, VHOST_BLK_CMD_VQ_GET, VHOST_BLK_A_VQ_DEV_ID, 0x7fffffff,
			     self->msgs, MAX_MSGS, self->store, STORE));
}

TEST_F(nl, vq_attach_moves_the_vq)
{
	struct vhost_vring_worker vw = {.index = 5};

	ASSERT_EQ(0, nl_vq_attach(&self->nl, self->dev_id, 5, 1));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_VRING_WORKER, &vw));
	EXPECT_EQ(1U, vw.worker_id);
	ASSERT_EQ(0, nl_vq_attach(&self->nl, self->dev_id, 5, 0));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_VRING_WORKER, &vw));
	EXPECT_EQ(0U, vw.worker_id);
}

TEST_F(nl, vq_attach_errors)
{
	EXPECT_EQ(-ENODEV, nl_vq_attach(&self->nl, self->dev_id, 0, 99));
	EXPECT_EQ(-ENOBUFS, nl_vq_attach(&self->nl, self->dev_id, 4096, 0));
	EXPECT_EQ(-ENODEV, nl_vq_attach(&self->nl, 0x7fffffff, 0, 0));
}

/* Run @fn in a child that dropped to uid 65534 and every capability. */
static int as_nobody(int (*fn)(struct nl *nl, void *arg), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct nl nl;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(100);
		if (nl_open(&nl))
			_exit(101);
		_exit(fn(&nl, arg));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int count_devs_of(struct nl *nl, void *arg)
{
	static struct msg msgs[MAX_MSGS];
	static char store[STORE];
	int n, i;

	n = nl_dump(nl, VHOST_BLK_CMD_DEV_GET, 0, -1, msgs, MAX_MSGS, store, STORE);
	if (n < 0)
		return 102;
	for (i = 0; i < n; i++) {
		if (msgs[i].attr[VHOST_BLK_A_DEV_ID] &&
		    get_u32(msgs[i].attr[VHOST_BLK_A_DEV_ID]) == *(__u32 *)arg)
			return 1;
	}
	return 0;
}

static int attach_as_nobody(struct nl *nl, void *arg)
{
	return -nl_vq_attach(nl, *(__u32 *)arg, 0, 1);
}

TEST_F(nl, unprivileged_readers_see_only_their_own_devices)
{
	/* Root's device is invisible to uid 65534. */
	EXPECT_EQ(0, as_nobody(count_devs_of, &self->dev_id));
}

TEST_F(nl, vq_attach_needs_cap_sys_admin)
{
	EXPECT_EQ(EPERM, as_nobody(attach_as_nobody, &self->dev_id));
}

TEST_HARNESS_MAIN
