// SPDX-License-Identifier: GPL-2.0
/*
 * The "vhost_blk" generic netlink family: the device, worker and virtqueue
 * dumps report what the ioctls set up, the admin command moves a virtqueue
 * like VHOST_ATTACH_VRING_WORKER does, and the privilege rules hold (an
 * unprivileged reader sees only its own devices; the admin command needs
 * CAP_NET_ADMIN).  The family never waits for a device: while an owner
 * holds its device's mutex (an ioctl blocked on a userfaultfd page), every
 * dump, and every other generic netlink family, answers at once.  A dump
 * that devices or workers changed under is flagged NLM_F_DUMP_INTR.  Runs
 * as root with the module loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/vhost_blk.h>
#include <linux/virtio_config.h>

#include "kselftest_harness.h"
#include "vblk_nl.h"

#define DEV_PATH "/dev/" VHOST_BLK_DEVICE_NAME
/* How long a netlink answer may take before the family counts as stuck. */
#define ANSWER_MS 1000
/* Devices the dump-interruption case opens besides its own. */
#define NDEVS 16

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

/* VHOST_BLK_A_VQ_PACKED follows the ring layout VHOST_SET_FEATURES chose. */
TEST_F(nl, vq_dump_says_the_ring_layout)
{
	const __u64 features[] = {
		1ULL << VIRTIO_F_VERSION_1,
		(1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_PACKED),
		1ULL << VIRTIO_F_VERSION_1,
	};
	unsigned int k;
	int n, i;

	for (k = 0; k < ARRAY_SIZE(features); k++) {
		bool packed = features[k] & (1ULL << VIRTIO_F_RING_PACKED);

		ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_FEATURES, &features[k]));
		n = nl_dump(&self->nl, VHOST_BLK_CMD_VQ_GET, VHOST_BLK_A_VQ_DEV_ID, self->dev_id,
			    self->msgs, MAX_MSGS, self->store, STORE);
		ASSERT_LE(1, n);
		for (i = 0; i < n; i++) {
			const struct nlattr *a = self->msgs[i].attr[VHOST_BLK_A_VQ_PACKED];

			__u8 v;

			ASSERT_NE(NULL, a);
			v = *((const __u8 *)a + NLA_HDRLEN);
			if (v != packed)
				TH_LOG("vq %d after features %#llx: packed %u", i,
				       (unsigned long long)features[k], v);
			EXPECT_EQ(packed, v);
		}
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

TEST_F(nl, vq_attach_needs_cap_net_admin)
{
	EXPECT_EQ(EPERM, as_nobody(attach_as_nobody, &self->dev_id));
}

/* As uid 65534: own a device (opened by root), and find it in a dump. */
static int own_device_is_visible(struct nl *nl, void *arg)
{
	static struct msg msgs[MAX_MSGS];
	static char store[STORE];
	int fd = *(int *)arg, n;

	if (ioctl(fd, VHOST_SET_OWNER))
		return 103;
	n = nl_dump(nl, VHOST_BLK_CMD_DEV_GET, 0, -1, msgs, MAX_MSGS, store, STORE);
	if (n < 0)
		return 102;
	/* Its own device, and no other. */
	return n == 1 && find_dev(msgs, n) == 0 ? 0 : 104;
}

TEST_F(nl, unprivileged_readers_see_their_own_devices)
{
	int fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, as_nobody(own_device_is_visible, &fd));
	close(fd);
}

TEST_F(nl, dev_dump_filter_and_strict_policy)
{
	char attrs[16];
	int n;

	n = nl_dump(&self->nl, VHOST_BLK_CMD_DEV_GET, VHOST_BLK_A_DEV_ID, self->dev_id, self->msgs,
		    MAX_MSGS, self->store, STORE);
	ASSERT_EQ(1, n);
	EXPECT_EQ(self->dev_id, get_u32(self->msgs[0].attr[VHOST_BLK_A_DEV_ID]));
	/* An attribute the command does not know is refused, not ignored. */
	ASSERT_EQ(0, nl_send(&self->nl, self->nl.family, NLM_F_DUMP, VHOST_BLK_CMD_DEV_GET, attrs,
			     put_u32(attrs, VHOST_BLK_A_DEV_MAX + 1, 1)));
	EXPECT_EQ(-EINVAL, nl_recv(&self->nl, self->msgs, MAX_MSGS, self->store, STORE));
}

TEST_F(nl, dev_dump_reports_limits_and_serial)
{
	struct vhost_blk_serial serial = {.serial = "nl-test-serial"};
	struct vhost_vring_file backend = {.index = 0};
	struct vhost_blk_limits l = {
		.capacity = 1024,
		.seg_max = 126,
		.max_discard_sectors = 4096,
		.max_write_zeroes_seg = 2,
		.flags = VHOST_BLK_LIMITS_F_RO,
	};
	char path[] = "/tmp/nl_test.XXXXXX";
	const struct nlattr **a;
	int n, bfd = mkstemp(path);

	ASSERT_LE(0, bfd);
	ASSERT_EQ(0, ftruncate(bfd, 1 << 20));
	backend.fd = bfd;
	ASSERT_EQ(0, ioctl(self->fd, VHOST_BLK_SET_BACKEND, &backend));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_BLK_SET_LIMITS, &l));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_BLK_SET_SERIAL, &serial));
	n = nl_dump(&self->nl, VHOST_BLK_CMD_DEV_GET, VHOST_BLK_A_DEV_ID, self->dev_id, self->msgs,
		    MAX_MSGS, self->store, STORE);
	ASSERT_EQ(1, n);
	a = self->msgs[0].attr;
	ASSERT_NE(NULL, a[VHOST_BLK_A_DEV_CAPACITY]);
	EXPECT_EQ(1024ULL, get_u64(a[VHOST_BLK_A_DEV_CAPACITY]));
	ASSERT_NE(NULL, a[VHOST_BLK_A_DEV_READ_ONLY]);
	EXPECT_EQ(1, *((const __u8 *)a[VHOST_BLK_A_DEV_READ_ONLY] + NLA_HDRLEN));
	ASSERT_NE(NULL, a[VHOST_BLK_A_DEV_SEG_MAX]);
	EXPECT_EQ(126U, get_u32(a[VHOST_BLK_A_DEV_SEG_MAX]));
	ASSERT_NE(NULL, a[VHOST_BLK_A_DEV_MAX_DISCARD_SECTORS]);
	EXPECT_EQ(4096U, get_u32(a[VHOST_BLK_A_DEV_MAX_DISCARD_SECTORS]));
	ASSERT_NE(NULL, a[VHOST_BLK_A_DEV_MAX_WRITE_ZEROES_SEG]);
	EXPECT_EQ(2U, get_u32(a[VHOST_BLK_A_DEV_MAX_WRITE_ZEROES_SEG]));
	ASSERT_NE(NULL, a[VHOST_BLK_A_DEV_SERIAL]);
	EXPECT_EQ(NLA_HDRLEN + VHOST_BLK_SERIAL_BYTES, a[VHOST_BLK_A_DEV_SERIAL]->nla_len);
	EXPECT_EQ(0, memcmp((const char *)a[VHOST_BLK_A_DEV_SERIAL] + NLA_HDRLEN, serial.serial,
			    VHOST_BLK_SERIAL_BYTES));

	n = nl_dump(&self->nl, VHOST_BLK_CMD_VQ_GET, VHOST_BLK_A_VQ_DEV_ID, self->dev_id,
		    self->msgs, MAX_MSGS, self->store, STORE);
	ASSERT_LE(1, n);
	EXPECT_NE(NULL, self->msgs[0].attr[VHOST_BLK_A_VQ_BROKEN]);
	EXPECT_NE(NULL, self->msgs[0].attr[VHOST_BLK_A_VQ_OFFLOADED]);
	backend.fd = -1;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_BLK_SET_BACKEND, &backend));
	close(bfd);
	unlink(path);
}

/*
 * Dump every virtqueue in receives of at most 4 KiB (so the dump takes
 * several passes), calling @between after the first; returns how many
 * messages carried NLM_F_DUMP_INTR, or -errno.
 */
static int dump_intr(struct nl *nl, __u32 dev_id, void (*between)(void *), void *arg)
{
	char attrs[16], buf[4096];
	int flagged = 0, first = 1;

	if (nl_send(nl, nl->family, NLM_F_DUMP, VHOST_BLK_CMD_VQ_GET, attrs, 0))
		return -errno;
	for (;;) {
		ssize_t len = recv(nl->fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;

		if (len < 0)
			return -errno;
		if (first && between)
			between(arg);
		first = 0;
		for (; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				flagged++;
			if (nlh->nlmsg_type == NLMSG_DONE)
				return flagged;
			if (nlh->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(nlh))->error;
		}
	}
}

static void new_worker(void *arg)
{
	struct vhost_worker_state w = {};

	ioctl(*(int *)arg, VHOST_NEW_WORKER, &w);
}

TEST_F(nl, dump_interrupted_by_a_change_says_so)
{
	int more[NDEVS], i;
	struct nl fresh;

	/* Enough devices for a dump of several passes, whatever max_queues. */
	for (i = 0; i < NDEVS; i++) {
		more[i] = open(DEV_PATH, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, more[i]);
	}
	/* A fresh socket: its first pass is small. */
	ASSERT_EQ(0, nl_open(&fresh));
	EXPECT_EQ(0, dump_intr(&fresh, self->dev_id, NULL, NULL));
	EXPECT_LT(0, dump_intr(&fresh, self->dev_id, new_worker, &self->fd))
	{
		TH_LOG("a worker came during the dump and no message said so");
	}
	close(fresh.fd);
	for (i = 0; i < NDEVS; i++)
		close(more[i]);
}

/* A thread whose ioctl holds the device's mutex, blocked on a missing page. */
struct holder {
	int fd, uffd, ret;
	void *page;
	pthread_t thread;
};

static void *holder_fn(void *arg)
{
	struct holder *h = arg;

	/* dev->mutex is taken before the argument is read: it faults. */
	h->ret = ioctl(h->fd, VHOST_SET_MEM_TABLE, h->page);
	return NULL;
}

static int holder_start(struct holder *h, int fd)
{
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg = {.mode = UFFDIO_REGISTER_MODE_MISSING};
	long psize = sysconf(_SC_PAGESIZE);
	struct pollfd pfd;

	h->fd = fd;
	h->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (h->uffd < 0)
		return -errno;
	if (ioctl(h->uffd, UFFDIO_API, &api))
		return -errno;
	h->page = mmap(NULL, psize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->page == MAP_FAILED)
		return -errno;
	reg.range.start = (unsigned long)h->page;
	reg.range.len = psize;
	if (ioctl(h->uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	if (pthread_create(&h->thread, NULL, holder_fn, h))
		return -EAGAIN;
	/* The fault is pending: the ioctl waits, holding the mutex. */
	pfd.fd = h->uffd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, 10000) == 1 ? 0 : -ETIMEDOUT;
}

/* Supply the page (an empty memory table): the ioctl returns. */
static void holder_release(struct holder *h)
{
	long psize = sysconf(_SC_PAGESIZE);
	void *zeros = calloc(1, psize);
	struct uffdio_copy copy = {
		.dst = (unsigned long)h->page,
		.src = (unsigned long)zeros,
		.len = psize,
	};

	ioctl(h->uffd, UFFDIO_COPY, &copy);
	pthread_join(h->thread, NULL);
	free(zeros);
	close(h->uffd);
	munmap(h->page, psize);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

TEST_F(nl, a_device_held_by_its_owner_stalls_no_reader)
{
	struct timeval tv = {.tv_sec = ANSWER_MS / 1000, .tv_usec = ANSWER_MS % 1000 * 1000};
	static const struct {
		__u8 cmd;
		int filter;
	} dumps[] = {
		{VHOST_BLK_CMD_DEV_GET, VHOST_BLK_A_DEV_ID},
		{VHOST_BLK_CMD_WORKER_GET, VHOST_BLK_A_WORKER_DEV_ID},
		{VHOST_BLK_CMD_VQ_GET, VHOST_BLK_A_VQ_DEV_ID},
	};
	struct holder h;
	unsigned int i;
	int64_t t0;
	int ret;

	ret = holder_start(&h, self->fd);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "no userfaultfd: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, setsockopt(self->nl.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));

	for (i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
		t0 = now_ms();
		ret = nl_dump(&self->nl, dumps[i].cmd, dumps[i].filter, self->dev_id, self->msgs,
			      MAX_MSGS, self->store, STORE);
		EXPECT_LE(1, ret)
		{
			TH_LOG("dump %u: %s after %lld ms", dumps[i].cmd,
			       ret < 0 ? strerror(-ret) : "empty", (long long)(now_ms() - t0));
		}
		if (ret < 0)
			break;
	}
	/* Another family: genl_mutex is not held by anyone waiting on a device. */
	if (ret >= 0) {
		t0 = now_ms();
		ret = nl_family_id(&self->nl, "nlctrl");
		EXPECT_LT(0, ret)
		{
			TH_LOG("resolving nlctrl: %s after %lld ms", strerror(-ret),
			       (long long)(now_ms() - t0));
		}
	}
	holder_release(&h);
	EXPECT_EQ(0, h.ret);
}

TEST_HARNESS_MAIN
