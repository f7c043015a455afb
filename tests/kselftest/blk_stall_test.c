// SPDX-License-Identifier: GPL-2.0
/*
 * A backend that stalls (dm "delay": every write takes seconds, reads are
 * immediate) must stall nothing but the requests that wait for it.
 *
 * While a WRITE_ZEROES waits on the device, another virtqueue on the same
 * worker serves on, and VHOST_SET_MEM_TABLE returns; VHOST_GET_VRING_BASE
 * and detaching the backend give up after drain_timeout_ms (ETIMEDOUT),
 * leaving the device serving, and succeed once the request is done; an
 * owner killed while VHOST_GET_VRING_BASE waits dies at once.  Runs in a VM
 * with the module loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "kselftest_harness.h"
#include "vblk.h"

#define SIZE (64ULL << 20)
#define DELAY_MS 3000
#define DRAIN_MS 300
#define PROMPT_MS 1000 /* what "at once" means under TCG */
#define PARAM "/sys/module/vhost_blk/parameters/drain_timeout_ms"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int set_drain_timeout(unsigned int ms)
{
	FILE *f = fopen(PARAM, "w");
	int ret;

	if (!f)
		return -errno;
	ret = fprintf(f, "%u\n", ms) < 0 ? -EIO : 0;
	return fclose(f) ? -errno : ret;
}

FIXTURE(stall)
{
	struct vblk_backend be;
	struct vblk *v;
};

static struct vblk *dev_open(struct __test_metadata *_metadata, struct vblk **v, int fd)
{
	struct vblk_config cfg = {
		.nvqs = 2,
		.queue_size = 64,
		.depth = 8,
		.max_data = 64 << 10,
	};

	ASSERT_EQ(0, vblk_open(&cfg, v))
	{
		TH_LOG("%s", vblk_error());
	}
	ASSERT_EQ(0, vblk_set_backend(*v, fd))
	{
		TH_LOG("%s", vblk_error());
	}
	return *v;
}

FIXTURE_SETUP(stall)
{
	int ret = vblk_probe();

	self->be.fd = -1;
	if (ret == -ENOTTY)
		SKIP(return, "no data path: %s", vblk_error());
	ret = vblk_backend_open_delayed(&self->be, SIZE, DELAY_MS);
	if (ret == -ENODEV)
		SKIP(return, "no dm-delay: %s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	ASSERT_EQ(0, set_drain_timeout(DRAIN_MS));
	dev_open(_metadata, &self->v, self->be.fd);
}

FIXTURE_TEARDOWN(stall)
{
	vblk_close(self->v);
	vblk_backend_close(&self->be);
	set_drain_timeout(30000);
}

/* A WRITE_ZEROES of 8 sectors on @vq, submitted: it takes DELAY_MS. */
static int submit_slow(struct vblk *v, unsigned int vq, struct vblk_req **r)
{
	struct virtio_blk_discard_write_zeroes seg = {.sector = 0, .num_sectors = 8};
	int ret;

	ret = vblk_req_new(v, vq, VIRTIO_BLK_T_WRITE_ZEROES, 0, sizeof(seg), 0, r);
	if (ret)
		return ret;
	memcpy((*r)->data, &seg, sizeof(seg));
	return vblk_submit(v, *r);
}

/* A read on @vq completes, and soon. */
static void serves_promptly(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq)
{
	static const uint8_t zeros[4096];
	uint8_t buf[4096], status = 0xff;
	int64_t t0 = now_ms();
	uint32_t used;

	ASSERT_EQ(0, vblk_run(v, vq, VIRTIO_BLK_T_IN, 2048, buf, sizeof(buf), 0, &status, &used))
	{
		TH_LOG("%s", vblk_error());
	}
	EXPECT_EQ(VIRTIO_BLK_S_OK, status);
	EXPECT_EQ(0, memcmp(buf, zeros, sizeof(buf)));
	EXPECT_GT(PROMPT_MS, now_ms() - t0)
	{
		TH_LOG("vq %u took %lld ms to serve a read", vq, (long long)(now_ms() - t0));
	}
}

static void completes_ok(struct __test_metadata *_metadata, struct vblk *v, struct vblk_req *r)
{
	ASSERT_EQ(0, vblk_wait(v, r, DELAY_MS + VBLK_TIMEOUT_MS))
	{
		TH_LOG("%s", vblk_error());
	}
	EXPECT_EQ(VIRTIO_BLK_S_OK, *r->status);
	ASSERT_EQ(0, vblk_req_free(v, r));
}

/*
 * vq 0's slow request, under way: its worker has taken it (a kick only
 * queues the worker, which may still have the backend's resume work to
 * run first); then vq 1, on the same worker, serves a read promptly.
 */
static struct vblk_req *slow_request(struct __test_metadata *_metadata, struct vblk *v)
{
	struct vblk_req *r;

	ASSERT_EQ(0, submit_slow(v, 0, &r))
	{
		TH_LOG("%s", vblk_error());
	}
	ASSERT_EQ(0, vblk_wait_taken(v, 0, VBLK_TIMEOUT_MS))
	{
		TH_LOG("%s", vblk_error());
	}
	serves_promptly(_metadata, v, 1);
	return r;
}

TEST_F_TIMEOUT(stall, a_slow_request_blocks_nothing_else, 60)
{
	struct vhost_vring_state base = {.index = 0};
	struct vblk_req *r = slow_request(_metadata, self->v);
	int64_t t0;
	int ret;

	t0 = now_ms();
	ASSERT_EQ(0, vblk_set_mem_table(self->v));
	EXPECT_GT(PROMPT_MS, now_ms() - t0);

	/* Stopping vq 0 waits for its request, for drain_timeout_ms. */
	t0 = now_ms();
	ret = ioctl(self->v->fd, VHOST_GET_VRING_BASE, &base);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(ETIMEDOUT, errno);
	EXPECT_LE(DRAIN_MS - 50, now_ms() - t0);
	EXPECT_GT(DRAIN_MS + PROMPT_MS, now_ms() - t0);
	serves_promptly(_metadata, self->v, 1);

	/* Once the device answers, the request is back and the stop succeeds. */
	completes_ok(_metadata, self->v, r);
	ASSERT_EQ(0, ioctl(self->v->fd, VHOST_GET_VRING_BASE, &base));
	EXPECT_EQ(1, vblk_vring_base_count(self->v, 0, base.num));
}

TEST_F_TIMEOUT(stall, detach_is_bounded_and_changes_nothing_on_failure, 60)
{
	struct vblk_req *r = slow_request(_metadata, self->v);
	int64_t t0 = now_ms();

	EXPECT_EQ(-ETIMEDOUT, vblk_set_backend(self->v, -1));
	EXPECT_GT(DRAIN_MS + PROMPT_MS, now_ms() - t0);
	/* Still attached, both virtqueues serving. */
	serves_promptly(_metadata, self->v, 1);
	serves_promptly(_metadata, self->v, 0);
	completes_ok(_metadata, self->v, r);
	EXPECT_EQ(0, vblk_set_backend(self->v, -1))
	{
		TH_LOG("%s", vblk_error());
	}
}

/* Send @fd over @sock. */
static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = "f", .iov_len = 1};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* Does @pid sleep uninterruptibly (D: TASK_KILLABLE is too) within 2 s? */
static bool sleeps_in_kernel(pid_t pid)
{
	char path[64], buf[256], *p;
	int64_t end = now_ms() + 2000;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	while (now_ms() < end) {
		f = fopen(path, "r");
		if (!f)
			return false;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (p && p[1] == ' ' && p[2] == 'D')
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/*
 * The owner is killed while VHOST_GET_VRING_BASE waits for a request the
 * device holds: it dies at once.  The parent holds the device open, so the
 * owner's exit does not wait for the release either.
 */
TEST_F_TIMEOUT(stall, a_killed_owner_does_not_wait, 60)
{
	int sv[2], status, devfd;
	int64_t t0;
	pid_t pid;

	ASSERT_EQ(0, set_drain_timeout(30000));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct vblk_config cfg = {.nvqs = 1, .queue_size = 64, .depth = 8};
		struct vhost_vring_state base = {.index = 0};
		uint8_t buf[512], status;
		struct vblk_req *r;
		struct vblk *v;
		uint32_t used;

		cfg.max_data = 64 << 10;
		if (vblk_open(&cfg, &v) || vblk_set_backend(v, self->be.fd))
			_exit(1);
		/* The read comes back once the slow request was fetched. */
		if (submit_slow(v, 0, &r) ||
		    vblk_run(v, 0, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf), 0, &status, &used) ||
		    send_fd(sv[1], v->fd))
			_exit(2);
		/* Only death should end this wait. */
		if (ioctl(v->fd, VHOST_GET_VRING_BASE, &base))
			_exit(10 + errno);
		_exit(3);
	}
	close(sv[1]);
	devfd = recv_fd(sv[0]);
	ASSERT_LE(0, devfd);
	/* The child sleeps in the ioctl. */
	ASSERT_TRUE(sleeps_in_kernel(pid))
	{
		TH_LOG("the owner never waited in VHOST_GET_VRING_BASE");
	}
	ASSERT_EQ(0, waitpid(pid, &status, WNOHANG))
	{
		TH_LOG("the owner did not wait: exit %d", WEXITSTATUS(status));
	}
	t0 = now_ms();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_GT(PROMPT_MS, now_ms() - t0)
	{
		TH_LOG("the killed owner took %lld ms to die", (long long)(now_ms() - t0));
	}
	/* The last close waits for the device, and no longer. */
	t0 = now_ms();
	close(devfd);
	EXPECT_GT(DELAY_MS + PROMPT_MS, now_ms() - t0);
	close(sv[0]);
}

TEST_HARNESS_MAIN
