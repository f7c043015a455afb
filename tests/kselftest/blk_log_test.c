// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging for live migration (VHOST_F_LOG_ALL): the device marks every
 * guest page it writes, and nothing else.
 *
 * With logging on, each request marks the pages of what it wrote: a read's
 * data, GET_ID's serial (not the rest of its buffer), every status byte,
 * and the used ring (entries and index); a write marks only its status and
 * the used ring.  Logging turned on while requests are in flight marks
 * everything published after the ioctls return.  Stopping a ring with
 * VHOST_GET_VRING_BASE while requests are in flight returns the index of
 * the used ring: no request is left half done.  The log ioctls check their
 * arguments as mainline does.  Runs as root in a VM with the module loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "kselftest_harness.h"
#include "vblk.h"

#define LOG_PAGE 4096ULL
#define PARAM "/sys/module/vhost_blk/parameters/test_no_dirty_log"
/* 16 bytes below the top of user space (5-level paging): no room for a log. */
#define TOP (0x00fffffffffff000ULL - 16)

static void set_knob(const char *val)
{
	FILE *f = fopen(PARAM, "w");

	if (f) {
		fputs(val, f);
		fclose(f);
	}
}

/* The pages of [@gpa, @gpa + @len) into @want. */
static void want_range(uint8_t *want, uint64_t gpa, uint64_t len)
{
	for (uint64_t p = gpa / LOG_PAGE; len && p <= (gpa + len - 1) / LOG_PAGE; p++)
		want[p / 8] |= 1 << (p % 8);
}

static bool bit(const uint8_t *map, uint64_t page)
{
	return map[page / 8] & (1 << (page % 8));
}

FIXTURE(log)
{
	struct vblk *v;
	struct vblk_backend be;
	uint8_t *log;
	uint8_t *want;
	uint64_t log_size;
	int log_fd;
};

FIXTURE_VARIANT(log)
{
	bool delayed; /* writes take a second: dm-delay */
};

FIXTURE_VARIANT_ADD(log, null_blk){};

FIXTURE_VARIANT_ADD(log, delayed){
	.delayed = true,
};

FIXTURE_SETUP(log)
{
	struct vblk_config cfg = {
		.nvqs = 1,
		.queue_size = 64,
		.depth = 8,
		.max_data = 64 << 10,
	};
	int ret;

	self->log_fd = -1;
	if (vblk_probe())
		SKIP(return, "no data path: %s", vblk_error());
	if (variant->delayed)
		ret = vblk_backend_open_delayed(&self->be, 16 << 20, 1000);
	else
		ret = vblk_backend_open(&self->be, VBLK_BE_NULLB, 16 << 20);
	if (ret == -ENODEV)
		SKIP(return, "%s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	ASSERT_EQ(0, vblk_open(&cfg, &self->v))
	{
		TH_LOG("%s", vblk_error());
	}
	ASSERT_EQ(0, vblk_set_backend(self->v, self->be.fd));
	self->log_size = vblk_log_size(self->v);
	self->log = calloc(1, self->log_size);
	self->want = calloc(1, self->log_size);
	ASSERT_NE(NULL, self->log);
	ASSERT_NE(NULL, self->want);
	self->log_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, self->log_fd);
}

FIXTURE_TEARDOWN(log)
{
	set_knob("0");
	vblk_close(self->v);
	if (self->be.fd > 0)
		vblk_backend_close(&self->be);
	if (self->log_fd >= 0)
		close(self->log_fd);
	free(self->log);
	free(self->want);
}

/* The used ring's pages (a packed ring's) may be marked, whatever it wrote there. */
static void allow_used_ring(struct vblk *v, uint8_t *allow)
{
	uint64_t gpa, len;

	vblk_used_area(v, 0, &gpa, &len);
	want_range(allow, gpa, len);
}

/*
 * Every page in @want is marked, every marked page is in @want or @allow.
 * Returns the number of mismatches, each logged.
 */
static int check_log(struct __test_metadata *_metadata, const uint8_t *log, const uint8_t *want,
		     const uint8_t *allow, uint64_t pages, const char *what)
{
	int bad = 0;

	for (uint64_t p = 0; p < pages; p++) {
		bool got = bit(log, p), must = bit(want, p), may = must || bit(allow, p);

		if ((must && !got) || (got && !may)) {
			if (bad++ < 8)
				TH_LOG("%s: guest page %llu (0x%llx) %s", what,
				       (unsigned long long)p, (unsigned long long)(p * LOG_PAGE),
				       got ? "marked, never written" : "written, not marked");
		}
	}
	return bad;
}

/* Run one request and check the log it leaves. */
static void one(struct __test_metadata *_metadata, FIXTURE_DATA(log) * self, uint32_t type,
		uint32_t len, unsigned int layout, uint32_t marked_data)
{
	uint64_t pages = self->v->mem_size / LOG_PAGE;
	uint8_t *allow = calloc(1, self->log_size);
	struct vblk_req *r;
	char what[64];

	ASSERT_NE(NULL, allow);
	memset(self->log, 0, self->log_size);
	memset(self->want, 0, self->log_size);
	ASSERT_EQ(0, vblk_req_new(self->v, 0, type, 8, len, layout, &r))
	{
		TH_LOG("%s", vblk_error());
	}
	if (!r->data_w)
		memset(r->data, 0x3c, len);
	ASSERT_EQ(0, vblk_submit(self->v, r));
	ASSERT_EQ(0, vblk_wait(self->v, r, VBLK_TIMEOUT_MS))
	{
		TH_LOG("%s", vblk_error());
	}
	EXPECT_EQ(VIRTIO_BLK_S_OK, *r->status);
	want_range(self->want, vblk_gpa(self->v, r->data), marked_data);
	want_range(self->want, vblk_gpa(self->v, (void *)r->status), 1);
	/* The index (packed: the used descriptor) the device published it with. */
	want_range(self->want, vblk_used_gpa(self->v, r), 2);
	allow_used_ring(self->v, allow);
	snprintf(what, sizeof(what), "type %u, %u bytes, layout %#x", type, len, layout);
	EXPECT_EQ(0, check_log(_metadata, self->log, self->want, allow, pages, what));
	vblk_req_free(self->v, r);
	free(allow);
}

TEST_F_TIMEOUT(log, each_request_marks_what_it_wrote, 120)
{
	uint64_t n = 0;

	ASSERT_EQ(0, vblk_set_log(self->v, self->log, self->log_fd))
	{
		TH_LOG("%s", vblk_error());
	}
	/* A read: its data, three pages, and the status after them. */
	one(_metadata, self, VIRTIO_BLK_T_IN, 12288, 0, 12288);
	/* Its status byte apart, in the page of the request's header. */
	one(_metadata, self, VIRTIO_BLK_T_IN, 8192, VBLK_STAT_ODD, 8192);
	/* Data in descriptors of 1000 bytes, in an indirect table. */
	one(_metadata, self, VIRTIO_BLK_T_IN, 8192, VBLK_FRAG | VBLK_INDIRECT, 8192);
	/* A write: its data is the guest's, only the status is marked. */
	one(_metadata, self, VIRTIO_BLK_T_OUT, 8192, 0, 0);
	/* GET_ID: the serial's page, not the rest of a 12 KiB buffer. */
	one(_metadata, self, VIRTIO_BLK_T_GET_ID, 12288, 0, VIRTIO_BLK_ID_BYTES);
	one(_metadata, self, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	EXPECT_EQ((ssize_t)sizeof(n), read(self->log_fd, &n, sizeof(n)));
	EXPECT_LE((uint64_t)6, n)
	{
		TH_LOG("the log eventfd was signalled %llu times for 6 requests",
		       (unsigned long long)n);
	}
}

TEST_F(log, nothing_is_marked_without_log_all)
{
	uint8_t buf[8192], status;
	uint64_t base = (uintptr_t)self->log;

	/* A log base, but neither VHOST_F_LOG_ALL nor VHOST_VRING_F_LOG. */
	ASSERT_EQ(0, ioctl(self->v->fd, VHOST_SET_LOG_BASE, &base));
	ASSERT_EQ(0, vblk_run(self->v, 0, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf), 0, &status, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_OK, status);
	for (uint64_t i = 0; i < self->log_size; i++)
		ASSERT_EQ(0, self->log[i]);
}

/* The knob the migration test's negative control turns: it really stops logging. */
TEST_F(log, the_test_knob_turns_marking_off)
{
	uint8_t buf[4096], status;

	ASSERT_EQ(0, access(PARAM, W_OK));
	set_knob("1");
	ASSERT_EQ(0, vblk_set_log(self->v, self->log, self->log_fd));
	EXPECT_EQ(0, vblk_run(self->v, 0, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf), 0, &status, NULL));
	set_knob("0");
	for (uint64_t i = 0; i < self->log_size; i++)
		ASSERT_EQ(0, self->log[i]);
	/* And back on: marked again. */
	EXPECT_EQ(0, vblk_run(self->v, 0, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf), 0, &status, NULL));
	EXPECT_NE(0, memcmp(self->log, self->want, self->log_size));
}

/*
 * Requests in flight when logging starts: every one published after the
 * ioctls return has its status marked.  Then VHOST_GET_VRING_BASE with
 * requests in flight: the base it returns is the used index, every request
 * completed and marked.
 */
TEST_F_TIMEOUT(log, logging_starts_and_stops_under_io, 120)
{
	struct vblk *v = self->v;
	struct vhost_vring_state s = {.index = 0};
	struct vblk_req *reqs[8], *done[8], *last = NULL;
	uint16_t used_at_start;
	unsigned int i, n = 0;
	int got;

	if (!variant->delayed)
		SKIP(return, "needs requests in flight: the delayed variant");
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, vblk_req_new(v, 0, VIRTIO_BLK_T_OUT, 8 * i, 4096, 0, &reqs[i]));
		memset(reqs[i]->data, i, 4096);
		ASSERT_EQ(0, vblk_publish(v, reqs[i]));
	}
	ASSERT_EQ(0, vblk_kick(v, 0, true));
	/* In flight: taken by the worker before the ioctls can stop it. */
	ASSERT_EQ(0, vblk_wait_taken(v, 0, VBLK_TIMEOUT_MS))
	{
		TH_LOG("%s", vblk_error());
	}
	ASSERT_EQ(0, vblk_set_log(v, self->log, self->log_fd))
	{
		TH_LOG("%s", vblk_error());
	}
	used_at_start = vblk_used_idx(v, 0);
	EXPECT_GT(8, used_at_start)
	{
		TH_LOG("the writes completed before logging started: no test");
	}
	/* Stop the ring with the rest in flight: it waits for them. */
	EXPECT_EQ(0, ioctl(v->fd, VHOST_GET_VRING_BASE, &s));
	EXPECT_EQ(8, vblk_vring_base_count(v, 0, s.num));
	EXPECT_EQ(8, vblk_used_idx(v, 0))
	{
		TH_LOG("GET_VRING_BASE returned %u with %u requests used", s.num,
		       vblk_used_idx(v, 0));
	}
	while (n < 8) {
		got = vblk_reap(v, 0, done, 8 - n, 0);
		ASSERT_LT(0, got);
		n += got;
		last = done[got - 1];
	}
	for (i = 0; i < 8; i++) {
		uint64_t page = vblk_gpa(v, (void *)reqs[i]->status) / LOG_PAGE;

		EXPECT_EQ(VIRTIO_BLK_S_OK, *reqs[i]->status);
		/* Used after logging started: marked. */
		if (i >= used_at_start)
			EXPECT_TRUE(bit(self->log, page))
			{
				TH_LOG("request %u, used after logging started: status not marked",
				       i);
			}
	}
	EXPECT_TRUE(bit(self->log, vblk_used_gpa(v, last) / LOG_PAGE));
	for (i = 0; i < 8; i++)
		vblk_req_free(v, reqs[i]);
}

TEST_F(log, log_ioctls_check_their_arguments)
{
	struct vblk *v = self->v;
	uint64_t features = v->features | 1ULL << VHOST_F_LOG_ALL, base;
	struct vhost_vring_addr a = {
		.index = 0,
		.flags = 1U << 1, /* no such flag */
		.desc_user_addr = (uintptr_t)v->vqs[0].vr.desc,
		.used_user_addr = (uintptr_t)v->vqs[0].vr.used,
		.avail_user_addr = (uintptr_t)v->vqs[0].vr.avail,
	};
	int fd = -1, not_eventfd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	EXPECT_EQ(-1, ioctl(v->fd, VHOST_SET_VRING_ADDR, &a));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* A log that cannot cover guest memory: logging cannot start. */
	base = TOP;
	ASSERT_EQ(0, ioctl(v->fd, VHOST_SET_LOG_BASE, &base));
	EXPECT_EQ(-1, ioctl(v->fd, VHOST_SET_FEATURES, &features));
	EXPECT_EQ(EFAULT, errno);
	base = (uintptr_t)self->log;
	ASSERT_EQ(0, ioctl(v->fd, VHOST_SET_LOG_BASE, &base));
	ASSERT_EQ(0, ioctl(v->fd, VHOST_SET_FEATURES, &features));
	/* Logging: a log that does not cover the memory is refused. */
	base = TOP;
	EXPECT_EQ(-1, ioctl(v->fd, VHOST_SET_LOG_BASE, &base));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(v->fd, VHOST_SET_LOG_FD, &not_eventfd));
	EXPECT_EQ(EINVAL, errno);
	fd = 1 << 20;
	EXPECT_EQ(-1, ioctl(v->fd, VHOST_SET_LOG_FD, &fd));
	EXPECT_EQ(EBADF, errno);
	fd = -1;
	EXPECT_EQ(0, ioctl(v->fd, VHOST_SET_LOG_FD, &fd));
	close(not_eventfd);
}

TEST_HARNESS_MAIN
