// SPDX-License-Identifier: GPL-2.0
/*
 * What /dev/vhost-blk refuses, driven by vblk (a userspace virtio-blk
 * driver).  A bad request (out of range, a length that is not whole sectors,
 * data in the wrong direction, a write to a read-only backend) completes with
 * VIRTIO_BLK_S_IOERR, an unknown one with VIRTIO_BLK_S_UNSUPP, and the
 * virtqueue goes on serving.  A malformed ring (bad indexes, loops, bad
 * indirect tables, buffers outside guest memory, too many segments) signals
 * the virtqueue's error eventfd and stops it, the request never completing,
 * while the other virtqueues go on serving.  The backend is a regular file in
 * $TMPDIR whose first MiB holds known data.  Runs in a VM with the module
 * loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vhost_blk.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "kselftest_harness.h"
#include "vblk.h"

#define FILE_SIZE (64ULL << 20)
#define FILE_SECTORS (FILE_SIZE / VBLK_SECTOR)
#define PATTERN_LEN (1U << 20)
#define QSIZE 2048
#define DEPTH 4
#define MAX_SEGS 1024U /* the most segments a chain may have */
#define MAX_DATA ((MAX_SEGS + 1) * VBLK_SECTOR)
#define SERVE_OFF (128U << 10)
#define SERVE_LEN 8192U
/* How long a stopped virtqueue is watched for a completion that must not come. */
#define QUIET_MS 300

#define T_IN VIRTIO_BLK_T_IN
#define T_OUT VIRTIO_BLK_T_OUT
#define S_OK VIRTIO_BLK_S_OK
#define S_IOERR VIRTIO_BLK_S_IOERR
#define S_UNSUPP VIRTIO_BLK_S_UNSUPP

FIXTURE(rej)
{
	struct vblk_backend be;  /* the file */
	struct vblk_backend be2; /* a failing device */
	struct vblk *v, *v2;
	int ro_fd;
	uint8_t *pattern;
};

static struct vblk *dev_new(struct __test_metadata *_metadata, struct vblk **v, uint64_t features,
			    int fd)
{
	struct vblk_config cfg = {
		.nvqs = 2,
		.queue_size = QSIZE,
		.depth = DEPTH,
		.max_data = MAX_DATA,
		.frag_size = VBLK_SECTOR,
		.features = features,
	};

	ASSERT_EQ(0, vblk_open(&cfg, v))
	{
		TH_LOG("vblk_open: %s", vblk_error());
	}
	ASSERT_EQ(0, vblk_set_backend(*v, fd))
	{
		TH_LOG("%s", vblk_error());
	}
	return *v;
}

FIXTURE_SETUP(rej)
{
	uint64_t seed = 0x5eed0f0ddba11ULL ^ getpid();
	int ret;

	self->be.fd = self->be2.fd = self->ro_fd = -1;
	ret = vblk_probe();
	if (ret == -ENOTTY)
		SKIP(return, "no data path yet: %s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	ASSERT_EQ(0, vblk_backend_open(&self->be, VBLK_BE_FILE, FILE_SIZE))
	{
		TH_LOG("%s", vblk_error());
	}
	self->pattern = malloc(PATTERN_LEN);
	ASSERT_NE(NULL, self->pattern);
	vblk_fill_random(self->pattern, PATTERN_LEN, &seed);
	ASSERT_EQ((ssize_t)PATTERN_LEN, pwrite(self->be.fd, self->pattern, PATTERN_LEN, 0));
	dev_new(_metadata, &self->v, 0, self->be.fd);
}

FIXTURE_TEARDOWN(rej)
{
	vblk_close(self->v);
	vblk_close(self->v2);
	if (self->ro_fd >= 0)
		close(self->ro_fd);
	vblk_backend_close(&self->be2);
	vblk_backend_close(&self->be);
	free(self->pattern);
}

static uint32_t writable_len(uint32_t type, uint32_t len, unsigned int layout)
{
	bool w = type == T_IN || type == VIRTIO_BLK_T_GET_ID;

	if (layout & VBLK_DATA_W)
		w = true;
	if (layout & VBLK_DATA_R)
		w = false;
	return w ? len + 1 : 1;
}

/* One synchronous request; its status, after checking the used length. */
static uint8_t run_req(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq,
		       uint32_t type, uint64_t sector, void *buf, uint32_t len, unsigned int layout)
{
	uint32_t used = 0, max = writable_len(type, len, layout);
	uint8_t status = 0xff;

	ASSERT_EQ(0, vblk_run(v, vq, type, sector, buf, len, layout, &status, &used))
	{
		TH_LOG("type %u sector %llu len %u layout %#x: %s", type,
		       (unsigned long long)sector, len, layout, vblk_error());
	}
	if (status == S_OK) {
		ASSERT_EQ(max, used);
	} else {
		ASSERT_TRUE(used >= 1 && used <= max)
		{
			TH_LOG("type %u len %u status %u: used len %u", type, len, status, used);
		}
	}
	return status;
}

static uint8_t run_seg(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq,
		       uint32_t type, uint64_t sector, uint32_t nsec, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = sector,
		.num_sectors = nsec,
		.flags = flags,
	};

	return run_req(_metadata, v, vq, type, 0, &seg, sizeof(seg), 0);
}

/* @vq serves a read of known data. */
static void serves(struct __test_metadata *_metadata, FIXTURE_DATA(rej) * self, struct vblk *v,
		   unsigned int vq)
{
	uint8_t buf[SERVE_LEN];

	bool indirect = vq && (v->features & VBLK_BIT(VIRTIO_RING_F_INDIRECT_DESC));

	ASSERT_EQ(S_OK, run_req(_metadata, v, vq, T_IN, SERVE_OFF / VBLK_SECTOR, buf, SERVE_LEN,
				indirect ? VBLK_INDIRECT : 0))
	{
		TH_LOG("vq %u no longer serves", vq);
	}
	ASSERT_EQ(0, memcmp(buf, self->pattern + SERVE_OFF, SERVE_LEN));
}

/* A refused request: @want, and both virtqueues serve on. */
static void refused(struct __test_metadata *_metadata, FIXTURE_DATA(rej) * self, uint32_t type,
		    uint64_t sector, void *buf, uint32_t len, unsigned int layout, uint8_t want)
{
	ASSERT_EQ(want, run_req(_metadata, self->v, 0, type, sector, buf, len, layout))
	{
		TH_LOG("type %u sector %llu len %u layout %#x", type, (unsigned long long)sector,
		       len, layout);
	}
	serves(_metadata, self, self->v, 0);
	serves(_metadata, self, self->v, 1);
}

/* The file still holds what it held. */
static void unchanged(struct __test_metadata *_metadata, FIXTURE_DATA(rej) * self)
{
	uint8_t *buf = malloc(PATTERN_LEN);
	struct stat st;
	int same;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ((ssize_t)PATTERN_LEN, pread(self->be.fd, buf, PATTERN_LEN, 0));
	same = !memcmp(buf, self->pattern, PATTERN_LEN);
	free(buf);
	ASSERT_TRUE(same);
	ASSERT_EQ(0, fstat(self->be.fd, &st));
	ASSERT_EQ((off_t)FILE_SIZE, st.st_size);
}

/* A request on vq 0, not yet published, for the ring cases to damage. */
static struct vblk_req *victim(struct __test_metadata *_metadata, FIXTURE_DATA(rej) * self,
			       unsigned int layout)
{
	struct vblk_req *r;

	ASSERT_EQ(0, vblk_req_new(self->v, 0, T_IN, 0, 4096, layout, &r))
	{
		TH_LOG("%s", vblk_error());
	}
	return r;
}

/* Descriptor @k of @r's chain, before it is published (vblk_req_desc()). */
static struct vring_desc *ring_desc(FIXTURE_DATA(rej) * self, struct vblk_req *r, unsigned int k)
{
	return vblk_req_desc(self->v, r, k);
}

/* A case about split rings' own fields: indexes, next. */
#define SPLIT_ONLY(self, what)                                                                     \
	do {                                                                                       \
		if ((self)->v->packed)                                                             \
			SKIP(return, "%s: a split ring's (blk_packed_test has the packed cases)",  \
				   what);                                                          \
	} while (0)

/*
 * vq 0 of @v was kicked with a malformed ring: the error eventfd fires, the
 * request never completes, nor does a good one queued behind it, and vq 1
 * serves on.  The virtqueue is stopped for good: further kicks neither read
 * the ring again nor signal the error again.
 */
static void ring_broken(struct __test_metadata *_metadata, FIXTURE_DATA(rej) * self, struct vblk *v)
{
	uint16_t used = vblk_used_idx(v, 0);
	struct vblk_req *r;
	int i;

	ASSERT_EQ(0, vblk_wait_error(v, 0, VBLK_TIMEOUT_MS))
	{
		TH_LOG("%s", vblk_error());
	}
	ASSERT_EQ(0, vblk_req_new(v, 0, T_IN, 0, 4096, 0, &r));
	ASSERT_EQ(0, vblk_submit(v, r));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, vblk_kick(v, 0, true));
	ASSERT_EQ(-ETIMEDOUT, vblk_wait_error(v, 0, QUIET_MS))
	{
		TH_LOG("a kick re-read the broken ring and signalled its error again");
	}
	ASSERT_EQ(used, vblk_used_idx(v, 0))
	{
		TH_LOG("a stopped virtqueue completed a request");
	}
	serves(_metadata, self, v, 1);
}

/* @r, published and kicked, completes with @want and an empty used length. */
static void completes_with(struct __test_metadata *_metadata, FIXTURE_DATA(rej) * self,
			   struct vblk_req *r, uint8_t want)
{
	ASSERT_EQ(0, vblk_submit(self->v, r));
	ASSERT_EQ(0, vblk_wait(self->v, r, VBLK_TIMEOUT_MS))
	{
		TH_LOG("%s", vblk_error());
	}
	EXPECT_EQ(want, *r->status);
	EXPECT_EQ(1U, r->used_len);
	ASSERT_EQ(0, vblk_req_free(self->v, r));
	serves(_metadata, self, self->v, 0);
	serves(_metadata, self, self->v, 1);
}

/* Publish @r, damaged by the caller, and check the ring is refused. */
static void submit_broken(struct __test_metadata *_metadata, FIXTURE_DATA(rej) * self,
			  struct vblk_req *r)
{
	ASSERT_EQ(0, vblk_publish(self->v, r));
	ASSERT_EQ(0, vblk_kick(self->v, 0, true));
	ring_broken(_metadata, self, self->v);
	EXPECT_FALSE(r->done);
}

/* ---- requests completed with an error status ---- */

TEST_F(rej, read_past_the_end)
{
	uint8_t buf[1024];

	/* The last sector is fine. */
	EXPECT_EQ(S_OK, run_req(_metadata, self->v, 0, T_IN, FILE_SECTORS - 1, buf, 512, 0));
	refused(_metadata, self, T_IN, FILE_SECTORS, buf, 512, 0, S_IOERR);
	refused(_metadata, self, T_IN, FILE_SECTORS - 1, buf, 1024, 0, S_IOERR);
	refused(_metadata, self, T_IN, 1ULL << 40, buf, 512, 0, S_IOERR);
	/* A byte offset that overflows 64 bits. */
	refused(_metadata, self, T_IN, ~0ULL >> 8, buf, 512, 0, S_IOERR);
	refused(_metadata, self, T_IN, ~0ULL, buf, 512, VBLK_INDIRECT, S_IOERR);
}

TEST_F(rej, write_past_the_end)
{
	uint8_t buf[1024];

	memset(buf, 0x77, sizeof(buf));
	refused(_metadata, self, T_OUT, FILE_SECTORS, buf, 512, 0, S_IOERR);
	refused(_metadata, self, T_OUT, FILE_SECTORS - 1, buf, 1024, 0, S_IOERR);
	refused(_metadata, self, T_OUT, ~0ULL, buf, 512, 0, S_IOERR);
	unchanged(_metadata, self);
	ASSERT_EQ(512, pread(self->be.fd, buf, 512, FILE_SIZE - 512));
	EXPECT_EQ(0, buf[0]);
	EXPECT_EQ(0, memcmp(buf, buf + 1, 511));
}

TEST_F(rej, length_not_whole_sectors)
{
	uint8_t buf[1024];

	memset(buf, 0x77, sizeof(buf));
	refused(_metadata, self, T_IN, 0, buf, 100, 0, S_IOERR);
	refused(_metadata, self, T_IN, 0, buf, 513, VBLK_MERGE, S_IOERR);
	refused(_metadata, self, T_OUT, 0, buf, 1000, 0, S_IOERR);
	refused(_metadata, self, T_OUT, 2, buf, 511, VBLK_INDIRECT, S_IOERR);
	unchanged(_metadata, self);
}

TEST_F(rej, read_with_device_readable_data)
{
	uint8_t buf[4096];

	memset(buf, 0x77, sizeof(buf));
	refused(_metadata, self, T_IN, 0, buf, sizeof(buf), VBLK_DATA_R, S_IOERR);
	refused(_metadata, self, T_IN, 8, buf, sizeof(buf), VBLK_DATA_R | VBLK_INDIRECT, S_IOERR);
	unchanged(_metadata, self);
}

TEST_F(rej, write_with_device_writable_data)
{
	uint8_t buf[4096];

	memset(buf, 0x77, sizeof(buf));
	refused(_metadata, self, T_OUT, 0, buf, sizeof(buf), VBLK_DATA_W, S_IOERR);
	refused(_metadata, self, T_OUT, 8, buf, sizeof(buf), VBLK_DATA_W | VBLK_MERGE, S_IOERR);
	unchanged(_metadata, self);
}

TEST_F(rej, write_to_read_only_backend)
{
	uint8_t buf[4096];
	struct vblk *v;

	self->ro_fd = vblk_backend_reopen(&self->be, O_RDONLY);
	ASSERT_LE(0, self->ro_fd);
	v = dev_new(_metadata, &self->v2, 0, self->ro_fd);
	memset(buf, 0x77, sizeof(buf));
	EXPECT_EQ(S_IOERR, run_req(_metadata, v, 0, T_OUT, 0, buf, sizeof(buf), 0));
	EXPECT_EQ(S_IOERR, run_seg(_metadata, v, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0));
	serves(_metadata, self, v, 0);
	serves(_metadata, self, v, 1);
	unchanged(_metadata, self);
}

TEST_F(rej, unknown_type)
{
	uint8_t buf[512];

	memset(buf, 0x77, sizeof(buf));
	refused(_metadata, self, 0x7f, 0, NULL, 0, 0, S_UNSUPP);
	refused(_metadata, self, 0x7f, 0, buf, sizeof(buf), 0, S_UNSUPP);
	refused(_metadata, self, VIRTIO_BLK_T_SCSI_CMD, 0, buf, sizeof(buf), 0, S_UNSUPP);
	/* Not offered. */
	refused(_metadata, self, VIRTIO_BLK_T_SECURE_ERASE, 0, NULL, 0, 0, S_UNSUPP);
	unchanged(_metadata, self);
}

TEST_F(rej, discard_with_unmap_flag)
{
	EXPECT_EQ(S_UNSUPP, run_seg(_metadata, self->v, 0, VIRTIO_BLK_T_DISCARD, 0, 8,
				    VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP));
	serves(_metadata, self, self->v, 0);
	serves(_metadata, self, self->v, 1);
	unchanged(_metadata, self);
}

TEST_F(rej, discard_write_zeroes_past_the_end)
{
	EXPECT_EQ(S_IOERR,
		  run_seg(_metadata, self->v, 0, VIRTIO_BLK_T_DISCARD, FILE_SECTORS, 8, 0));
	EXPECT_EQ(S_IOERR, run_seg(_metadata, self->v, 0, VIRTIO_BLK_T_WRITE_ZEROES,
				   FILE_SECTORS - 4, 8, 0));
	EXPECT_EQ(S_IOERR, run_seg(_metadata, self->v, 0, VIRTIO_BLK_T_WRITE_ZEROES, ~0ULL >> 1, 8,
				   VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP));
	serves(_metadata, self, self->v, 0);
	serves(_metadata, self, self->v, 1);
	unchanged(_metadata, self);
}

/* A read where the backend fails: dm's "error" target, or null_blk's badblocks. */
TEST_F(rej, backend_error)
{
	uint8_t buf[4096];
	struct vblk *v;
	int ret;

	ret = vblk_backend_open(&self->be2, VBLK_BE_DM_ERROR, 64 << 20);
	if (ret == -ENODEV)
		ret = vblk_backend_open(&self->be2, VBLK_BE_NULLB_BB, 64 << 20);
	if (ret == -ENODEV)
		SKIP(return, "no failing backend: %s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	TH_LOG("failing backend: %s (%s)", self->be2.path,
	       self->be2.kind == VBLK_BE_DM_ERROR ? "dm error" : "null_blk badblocks");
	v = dev_new(_metadata, &self->v2, 0, self->be2.fd);
	EXPECT_EQ(S_IOERR, run_req(_metadata, v, 0, T_IN, 0, buf, sizeof(buf), 0));
	EXPECT_EQ(S_IOERR, run_req(_metadata, v, 0, T_IN, 4, buf, 2048, VBLK_INDIRECT));
	memset(buf, 0x77, sizeof(buf));
	EXPECT_EQ(S_IOERR, run_req(_metadata, v, 0, T_OUT, 0, buf, sizeof(buf), 0));
	/* Outside the bad sectors: zeros (dm "zero", or a fresh null_blk). */
	for (unsigned int vq = 0; vq < 2; vq++) {
		memset(buf, 0x77, sizeof(buf));
		ASSERT_EQ(S_OK, run_req(_metadata, v, vq, T_IN, 8 + vq * 8, buf, sizeof(buf), 0));
		EXPECT_EQ(0, buf[0]);
		EXPECT_EQ(0, memcmp(buf, buf + 1, sizeof(buf) - 1));
	}
	EXPECT_EQ(S_IOERR, run_req(_metadata, v, 1, T_IN, 0, buf, 512, 0));
	serves(_metadata, self, self->v, 0);
}

/* ---- malformed rings ---- */

TEST_F(rej, avail_head_out_of_range)
{
	ASSERT_EQ(0, vblk_publish_head(self->v, 0, QSIZE + 3));
	ASSERT_EQ(0, vblk_kick(self->v, 0, true));
	ring_broken(_metadata, self, self->v);
}

TEST_F(rej, avail_idx_too_far_ahead)
{
	struct vblk_vq *q = &self->v->vqs[0];

	SPLIT_ONLY(self, "avail idx");
	/* More entries than the ring has. */
	__atomic_store_n(&q->vr.avail->idx, QSIZE + 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, vblk_kick(self->v, 0, true));
	ASSERT_EQ(0, vblk_wait_error(self->v, 0, VBLK_TIMEOUT_MS))
	{
		TH_LOG("%s", vblk_error());
	}
	EXPECT_EQ(0, vblk_used_idx(self->v, 0));
	serves(_metadata, self, self->v, 1);
}

TEST_F(rej, next_out_of_range)
{
	SPLIT_ONLY(self, "next");
	struct vblk_req *r = victim(_metadata, self, 0);

	ring_desc(self, r, 0)->next = QSIZE + 1;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, chain_loop)
{
	SPLIT_ONLY(self, "next");
	struct vblk_req *r = victim(_metadata, self, 0);
	struct vring_desc *last = ring_desc(self, r, r->ndesc - 1);

	last->flags |= VRING_DESC_F_NEXT;
	last->next = r->head;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, readable_after_writable)
{
	struct vblk_req *r = victim(_metadata, self, 0);

	/* header (r), data (w), status made readable */
	ring_desc(self, r, r->ndesc - 1)->flags &= ~VRING_DESC_F_WRITE;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, buffer_straddles_guest_memory_end)
{
	struct vblk_req *r = victim(_metadata, self, 0);

	ring_desc(self, r, 1)->addr = self->v->mem_size - 256;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, buffer_outside_guest_memory)
{
	struct vblk_req *r = victim(_metadata, self, 0);

	ring_desc(self, r, 1)->addr = self->v->mem_size + (1 << 20);
	submit_broken(_metadata, self, r);
}

TEST_F(rej, buffer_wraps_past_the_top_of_guest_memory)
{
	struct vblk *v = self->v;
	struct vblk_req *r = victim(_metadata, self, 0);
	struct vhost_memory *mt = calloc(1, sizeof(*mt) + 3 * sizeof(mt->regions[0]));

	/*
	 * A third region, the top page of guest physical space: a buffer that
	 * starts there and goes on must not wrap around to guest address 0.
	 */
	ASSERT_NE(NULL, mt);
	mt->nregions = 3;
	mt->regions[0].memory_size = v->split;
	mt->regions[0].userspace_addr = (uintptr_t)v->mem;
	mt->regions[1].guest_phys_addr = v->split;
	mt->regions[1].memory_size = v->mem_size - v->split;
	mt->regions[1].userspace_addr = (uintptr_t)v->mem + v->split;
	mt->regions[2].guest_phys_addr = 0ULL - 4096;
	mt->regions[2].memory_size = 4096;
	mt->regions[2].userspace_addr = (uintptr_t)v->mem + v->mem_size - 4096;
	ASSERT_EQ(0, ioctl(v->fd, VHOST_SET_MEM_TABLE, mt));
	free(mt);
	ring_desc(self, r, 1)->addr = 0ULL - 4096;
	ring_desc(self, r, 1)->len = 8192;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, header_outside_guest_memory)
{
	struct vblk_req *r = victim(_metadata, self, 0);

	ring_desc(self, r, 0)->addr = ~0ULL - 8;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, too_many_segments_is_ioerr)
{
	struct vblk_req *r;

	/*
	 * header, MAX_SEGS - 1 data descriptors, status: one too many for
	 * the device, but a well-formed chain: an error for the request, not
	 * for the ring.
	 */
	ASSERT_EQ(0,
		  vblk_req_new(self->v, 0, T_IN, 0, (MAX_SEGS - 1) * VBLK_SECTOR, VBLK_FRAG, &r));
	ASSERT_EQ(MAX_SEGS + 1, r->ndesc);
	completes_with(_metadata, self, r, S_IOERR);
}

TEST_F(rej, chain_over_64mib_is_ioerr)
{
	const unsigned int nfrag = 70;
	struct vblk_req *r;
	unsigned int i;

	/* 70 data descriptors of 1 MiB each, all on the same guest memory. */
	ASSERT_EQ(0, vblk_req_new(self->v, 0, T_OUT, 0, nfrag * VBLK_SECTOR, VBLK_FRAG, &r));
	ASSERT_EQ(nfrag + 2, r->ndesc);
	for (i = 1; i <= nfrag; i++) {
		ring_desc(self, r, i)->addr = 0;
		ring_desc(self, r, i)->len = 1U << 20;
	}
	completes_with(_metadata, self, r, S_IOERR);
	unchanged(_metadata, self);
}

TEST_F(rej, most_segments_accepted)
{
	const uint32_t len = (MAX_SEGS - 2) * VBLK_SECTOR;
	struct vblk_req *r;

	/*
	 * header, MAX_SEGS - 2 data descriptors, status: in the ring, then in
	 * an indirect table.  vq 1's buffers are all in one memory region:
	 * one segment each.
	 */
	for (unsigned int indirect = 0; indirect < 2; indirect++) {
		ASSERT_EQ(0, vblk_req_new(self->v, 1, T_IN, indirect * 8, len,
					  VBLK_FRAG | (indirect ? VBLK_INDIRECT : 0), &r));
		ASSERT_EQ(MAX_SEGS, indirect ? r->ntable : r->ndesc);
		ASSERT_EQ(0, vblk_submit(self->v, r));
		ASSERT_EQ(0, vblk_wait(self->v, r, VBLK_TIMEOUT_MS))
		{
			TH_LOG("%s", vblk_error());
		}
		ASSERT_EQ(S_OK, *r->status);
		ASSERT_EQ(len + 1, r->used_len);
		EXPECT_EQ(0, memcmp(r->data, self->pattern + indirect * 8 * VBLK_SECTOR, len));
		ASSERT_EQ(0, vblk_req_free(self->v, r));
	}
	serves(_metadata, self, self->v, 0);
}

/*
 * Data in 512-byte pieces, each across a page boundary and none sharing a
 * page: eight pages for 2 KiB in four descriptors.  The file backend serves
 * it from the workqueue, which pins the pages: it must make room for them
 * all (a read and a write, each checked against the file).
 */
TEST_F(rej, scattered_buffers_are_served_whole)
{
	struct vblk *v = self->v;
	uint8_t back[2048], fill[VBLK_SECTOR];

	for (uint32_t type = T_IN;; type = T_OUT) {
		struct vblk_req *r;

		ASSERT_EQ(0, vblk_req_new(v, 1, type, 64, sizeof(back), VBLK_FRAG, &r));
		ASSERT_EQ(6U, r->ndesc);
		for (unsigned int k = 0; k < 4; k++) {
			uint8_t *piece = (uint8_t *)r->data + (k + 1) * 4096 - 256;

			vblk_req_desc(v, r, 1 + k)->addr = vblk_gpa(v, piece);
			if (type == T_OUT)
				memset(piece, 0x70 + k, VBLK_SECTOR);
		}
		ASSERT_EQ(0, vblk_submit(v, r));
		ASSERT_EQ(0, vblk_wait(v, r, VBLK_TIMEOUT_MS))
		{
			TH_LOG("%s", vblk_error());
		}
		EXPECT_EQ(S_OK, *r->status);
		if (type == T_OUT)
			ASSERT_EQ((ssize_t)sizeof(back),
				  pread(self->be.fd, back, sizeof(back), 64 * VBLK_SECTOR));
		for (unsigned int k = 0; k < 4; k++) {
			const uint8_t *piece = (uint8_t *)r->data + (k + 1) * 4096 - 256;
			const uint8_t *want = self->pattern + 64 * VBLK_SECTOR + k * VBLK_SECTOR;

			if (type == T_OUT) {
				memset(fill, 0x70 + k, VBLK_SECTOR);
				piece = back + k * VBLK_SECTOR;
				want = fill;
			}
			EXPECT_EQ(0, memcmp(piece, want, VBLK_SECTOR))
			{
				TH_LOG("piece %u of the %s differs", k,
				       type == T_IN ? "read" : "write");
			}
		}
		ASSERT_EQ(0, vblk_req_free(v, r));
		if (type == T_OUT)
			break;
	}
}

TEST_F(rej, indirect_table_outside_guest_memory)
{
	struct vblk_req *r = victim(_metadata, self, VBLK_INDIRECT);

	ring_desc(self, r, 0)->addr = self->v->mem_size + 4096;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, indirect_table_straddles_guest_memory_end)
{
	struct vblk_req *r = victim(_metadata, self, VBLK_INDIRECT);

	ring_desc(self, r, 0)->addr = self->v->mem_size - 16;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, indirect_table_partial_descriptor)
{
	struct vblk_req *r = victim(_metadata, self, VBLK_INDIRECT);

	ring_desc(self, r, 0)->len = r->ntable * sizeof(struct vring_desc) - 8;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, indirect_table_empty)
{
	struct vblk_req *r = victim(_metadata, self, VBLK_INDIRECT);

	ring_desc(self, r, 0)->len = 0;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, indirect_table_too_long)
{
	struct vblk_req *r = victim(_metadata, self, VBLK_INDIRECT);

	/* Room for it is there: the slot's table holds max_desc entries. */
	ASSERT_LE(MAX_SEGS + 1, self->v->max_desc);
	ring_desc(self, r, 0)->len = (MAX_SEGS + 1) * sizeof(struct vring_desc);
	submit_broken(_metadata, self, r);
}

TEST_F(rej, indirect_next_out_of_range)
{
	SPLIT_ONLY(self, "next");
	struct vblk_req *r = victim(_metadata, self, VBLK_INDIRECT);

	r->table[0].next = r->ntable + 2;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, indirect_loop)
{
	SPLIT_ONLY(self, "next");
	struct vblk_req *r = victim(_metadata, self, VBLK_INDIRECT);

	r->table[r->ntable - 1].flags |= VRING_DESC_F_NEXT;
	r->table[r->ntable - 1].next = 0;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, indirect_nested)
{
	struct vblk_req *r = victim(_metadata, self, VBLK_INDIRECT);

	r->table[1].flags |= VRING_DESC_F_INDIRECT;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, indirect_readable_after_writable)
{
	struct vblk_req *r = victim(_metadata, self, VBLK_INDIRECT);

	r->table[r->ntable - 1].flags &= ~VRING_DESC_F_WRITE;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, indirect_buffer_outside_guest_memory)
{
	struct vblk_req *r = victim(_metadata, self, VBLK_INDIRECT);

	r->table[1].addr = self->v->mem_size;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, indirect_with_next_flag)
{
	struct vblk_req *r = victim(_metadata, self, VBLK_INDIRECT);

	ring_desc(self, r, 0)->flags |= VRING_DESC_F_NEXT;
	ring_desc(self, r, 0)->next = (r->head + 1) % QSIZE;
	submit_broken(_metadata, self, r);
}

TEST_F(rej, indirect_not_negotiated)
{
	struct vblk *v =
		dev_new(_metadata, &self->v2,
			VBLK_FEATURES_ALL & ~VBLK_BIT(VIRTIO_RING_F_INDIRECT_DESC), self->be.fd);
	struct vblk_req *r;

	ASSERT_EQ(0, vblk_req_new(v, 0, T_IN, 0, 4096, VBLK_INDIRECT, &r));
	ASSERT_EQ(0, vblk_submit(v, r));
	ASSERT_EQ(0, vblk_kick(v, 0, true));
	ring_broken(_metadata, self, v);
	EXPECT_FALSE(r->done);
}

TEST_HARNESS_MAIN
