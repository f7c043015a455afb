/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The data-path suites of /dev/vhost-blk (blk_io_test, blk_lifecycle_test),
 * driven by vblk, a userspace virtio-blk driver: the shared fixture (each
 * case runs on three backends: brd, a memory-backed null_blk and a regular
 * file in $TMPDIR), synchronous request helpers, and random I/O checked
 * against a shadow copy of the backend.
 */
#ifndef BLK_IO_H
#define BLK_IO_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>
#include <linux/vhost_blk.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "kselftest_harness.h"
#include "vblk.h"

#define BACKEND_SIZE (64ULL << 20)
#define SPAN (8ULL << 20) /* the bytes random I/O covers */
#define QSIZE 256
#define MAX_DATA (256U << 10)
#define CHUNK 4096 /* granule of the in-flight range locks */
#define RIO_MS 700
#define STOP_REQS 32U
#define STOP_LEN (64U << 10)

#define T_IN VIRTIO_BLK_T_IN
#define T_OUT VIRTIO_BLK_T_OUT
#define S_OK VIRTIO_BLK_S_OK
#define S_IOERR VIRTIO_BLK_S_IOERR
#define S_UNSUPP VIRTIO_BLK_S_UNSUPP

static inline int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Index of the first byte where @a and @b differ, or -1. */
static inline long first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	size_t i;

	if (!memcmp(a, b, len))
		return -1;
	for (i = 0; a[i] == b[i]; i++)
		;
	return i;
}

/* The used length a completed request must report: what it made writable. */
static inline uint32_t writable_len(uint32_t type, uint32_t len, unsigned int layout)
{
	bool w = type == T_IN || type == VIRTIO_BLK_T_GET_ID;

	if (layout & VBLK_DATA_W)
		w = true;
	if (layout & VBLK_DATA_R)
		w = false;
	return w ? len + 1 : 1;
}

/* One synchronous request; its status, after checking the used length. */
static inline uint8_t run_req(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq,
			      uint32_t type, uint64_t sector, void *buf, uint32_t len,
			      unsigned int layout)
{
	uint32_t used = 0, max = writable_len(type, len, layout);
	uint8_t status = 0xff;

	ASSERT_EQ(0, vblk_run(v, vq, type, sector, buf, len, layout, &status, &used))
	{
		TH_LOG("type %u sector %llu len %u layout %#x: %s", type,
		       (unsigned long long)sector, len, layout, vblk_error());
	}
	if (status == S_OK) {
		ASSERT_EQ(max, used)
		{
			TH_LOG("type %u len %u layout %#x: used len", type, len, layout);
		}
	} else {
		ASSERT_TRUE(used >= 1 && used <= max)
		{
			TH_LOG("type %u len %u status %u: used len %u", type, len, status, used);
		}
	}
	return status;
}

static inline void write_ok(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq,
			    uint64_t off, const void *buf, uint32_t len, unsigned int layout)
{
	ASSERT_EQ(S_OK,
		  run_req(_metadata, v, vq, T_OUT, off / VBLK_SECTOR, (void *)buf, len, layout));
}

/* Read [@off, @off + @len) and compare it with @want. */
static inline void read_check(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq,
			      uint64_t off, const uint8_t *want, uint32_t len, unsigned int layout)
{
	uint8_t *buf = malloc(len);
	long d;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(S_OK, run_req(_metadata, v, vq, T_IN, off / VBLK_SECTOR, buf, len, layout));
	d = first_diff(buf, want, len);
	free(buf);
	ASSERT_EQ(-1, d)
	{
		TH_LOG("read of %u bytes at %llu (layout %#x) differs at byte %ld", len,
		       (unsigned long long)off, layout, d);
	}
}

/* A DISCARD or WRITE_ZEROES request of @n segments; its status. */
static inline uint8_t run_dwz(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq,
			      uint32_t type, const struct virtio_blk_discard_write_zeroes *segs,
			      unsigned int n, unsigned int layout)
{
	return run_req(_metadata, v, vq, type, 0, (void *)segs, n * sizeof(*segs), layout);
}

/* ---- random I/O against a shadow copy ---- */

/* What a backend that fails I/O allows a request (rio.judge). */
enum rio_verdict {
	RIO_MUST_OK,
	RIO_MAY_FAIL, /* VIRTIO_BLK_S_IOERR or OK */
	RIO_MUST_FAIL,
};

struct rio {
	struct vblk *v;
	uint8_t *shadow;
	uint8_t *known; /* per sector: the shadow holds it; NULL: all known */
	enum rio_verdict (*judge)(struct rio *io, const struct vblk_req *r); /* NULL: OK */
	void *priv;                                                          /* the judge's */
	uint64_t errors; /* requests the backend failed */
	uint64_t span;
	unsigned int nvqs, depth;
	uint64_t seed;
	uint8_t *busy; /* per CHUNK: requests in flight */
	uint64_t verify_next;
	bool verify;        /* read the whole span in order */
	uint32_t fixed_len; /* 0: random lengths */
	bool reads_only;
	uint64_t submitted, reads, writes, bytes;
	char err[256];
};

static const unsigned int rio_layouts[] __attribute__((unused)) = {
	0,
	VBLK_SPLIT_HDR,
	VBLK_MERGE,
	VBLK_INDIRECT,
	VBLK_SPLIT_HDR | VBLK_MERGE | VBLK_INDIRECT,
	VBLK_FRAG,
	VBLK_FRAG | VBLK_INDIRECT,
	VBLK_FRAG | VBLK_MERGE | VBLK_SPLIT_HDR,
};

static inline int rio_fail(struct rio *io, const char *what, const struct vblk_req *r)
{
	if (r)
		snprintf(io->err, sizeof(io->err),
			 "%s: type %u sector %llu len %u layout %#x vq %u status %u used %u", what,
			 r->type, (unsigned long long)r->sector, r->len, r->layout, r->vq,
			 *r->status, r->used_len);
	else
		snprintf(io->err, sizeof(io->err), "%s: %s", what, vblk_error());
	return -1;
}

static inline bool rio_mark(struct rio *io, uint64_t sector, uint32_t len, int delta)
{
	uint64_t first = sector * VBLK_SECTOR / CHUNK;
	uint64_t last = (sector * VBLK_SECTOR + len - 1) / CHUNK, c;

	for (c = first; c <= last; c++)
		if (!delta && io->busy[c])
			return true;
	for (c = first; delta && c <= last; c++)
		io->busy[c] += delta;
	return false;
}

static inline uint32_t rio_len(struct rio *io)
{
	uint64_t r = vblk_rand(&io->seed);
	uint32_t max = MAX_DATA / VBLK_SECTOR, pct = r % 100;

	if (io->fixed_len)
		return io->fixed_len;
	if (pct < 60)
		max = 16;
	else if (pct < 90)
		max = 128;
	return (1 + (r >> 8) % max) * VBLK_SECTOR;
}

/* 1: a request was published; 0: none now; -1: error. */
static inline int rio_submit(struct rio *io, unsigned int vq)
{
	uint32_t len = rio_len(io), type = T_IN;
	uint64_t sector = 0, nsec;
	unsigned int tries, layout;
	struct vblk_req *r;
	int ret;

	if (io->verify) {
		if (io->verify_next >= io->span)
			return 0;
		len = io->span - io->verify_next < MAX_DATA ? io->span - io->verify_next : MAX_DATA;
		sector = io->verify_next / VBLK_SECTOR;
		io->verify_next += len;
	} else {
		nsec = (io->span - len) / VBLK_SECTOR + 1;
		if (io->fixed_len)
			nsec = (io->span - len) / len + 1;
		for (tries = 0; tries < 8; tries++) {
			sector = vblk_rand(&io->seed) % nsec;
			if (io->fixed_len)
				sector *= len / VBLK_SECTOR;
			if (!rio_mark(io, sector, len, 0))
				break;
		}
		if (tries == 8)
			return 0;
		if (!io->reads_only && (vblk_rand(&io->seed) & 1))
			type = T_OUT;
	}
	layout = rio_layouts[vblk_rand(&io->seed) % (sizeof(rio_layouts) / sizeof(rio_layouts[0]))];
	if (len > 16384)
		layout &= ~VBLK_FRAG;
	if (io->fixed_len)
		layout = 0;
	ret = vblk_req_new(io->v, vq, type, sector, len, layout, &r);
	if (ret == -EAGAIN)
		return 0;
	if (ret)
		return rio_fail(io, "vblk_req_new", NULL);
	if (type == T_OUT)
		vblk_fill_random(r->data, len, &io->seed);
	rio_mark(io, sector, len, 1);
	if (vblk_publish(io->v, r))
		return rio_fail(io, "vblk_publish", NULL);
	io->submitted++;
	return 1;
}

/* A request the backend failed, as it was allowed to: it wrote anything. */
static inline int rio_failed(struct rio *io, struct vblk_req *r)
{
	if (r->used_len < 1 || r->used_len > writable_len(r->type, r->len, r->layout))
		return rio_fail(io, "wrong used length for a failed request", r);
	if (r->type == T_OUT && io->known)
		memset(io->known + r->sector, 0, r->len / VBLK_SECTOR);
	io->errors++;
	rio_mark(io, r->sector, r->len, -1);
	return vblk_req_free(io->v, r) ? rio_fail(io, "vblk_req_free", NULL) : 0;
}

/* Where a read differs from the shadow's known sectors, or -1. */
static inline long rio_diff(struct rio *io, const struct vblk_req *r)
{
	uint64_t off = r->sector * VBLK_SECTOR;
	long d;

	if (!io->known)
		return first_diff(r->data, io->shadow + off, r->len);
	for (uint32_t s = 0; s < r->len / VBLK_SECTOR; s++) {
		if (!io->known[r->sector + s])
			continue;
		d = first_diff((uint8_t *)r->data + s * VBLK_SECTOR,
			       io->shadow + off + s * VBLK_SECTOR, VBLK_SECTOR);
		if (d >= 0)
			return s * VBLK_SECTOR + d;
	}
	return -1;
}

static inline int rio_complete(struct rio *io, struct vblk_req *r)
{
	enum rio_verdict verdict = io->judge ? io->judge(io, r) : RIO_MUST_OK;
	uint64_t off = r->sector * VBLK_SECTOR;
	long d;

	if (*r->status == S_IOERR && verdict != RIO_MUST_OK)
		return rio_failed(io, r);
	if (*r->status != S_OK)
		return rio_fail(io, "request failed", r);
	if (verdict == RIO_MUST_FAIL)
		return rio_fail(io, "request succeeded where the backend fails", r);
	if (r->used_len != writable_len(r->type, r->len, r->layout))
		return rio_fail(io, "wrong used length", r);
	if (r->type == T_IN) {
		d = rio_diff(io, r);
		if (d >= 0) {
			snprintf(io->err, sizeof(io->err),
				 "read sector %llu len %u layout %#x vq %u: byte %ld is %#x, not "
				 "%#x",
				 (unsigned long long)r->sector, r->len, r->layout, r->vq, d,
				 ((uint8_t *)r->data)[d], io->shadow[off + d]);
			return -1;
		}
		io->reads++;
	} else {
		memcpy(io->shadow + off, r->data, r->len);
		if (io->known)
			memset(io->known + r->sector, 1, r->len / VBLK_SECTOR);
		io->writes++;
	}
	io->bytes += r->len;
	rio_mark(io, r->sector, r->len, -1);
	return vblk_req_free(io->v, r) ? rio_fail(io, "vblk_req_free", NULL) : 0;
}

/* Keep every virtqueue @depth deep for @ms, then drain.  0 or -1 (io->err). */
static inline int rio_run(struct rio *io, int ms)
{
	int64_t end = now_ms() + ms;
	struct vblk_req *done[64];
	unsigned int vq, inflight;
	int i, n;

	for (;;) {
		bool more = io->verify ? io->verify_next < io->span : now_ms() < end;

		inflight = 0;
		for (vq = 0; vq < io->nvqs; vq++) {
			n = 0;
			while (more && io->v->vqs[vq].inflight < io->depth) {
				int ret = rio_submit(io, vq);

				if (ret < 0)
					return ret;
				if (!ret)
					break;
				n++;
			}
			if (n && vblk_kick(io->v, vq, false))
				return rio_fail(io, "kick", NULL);
			inflight += io->v->vqs[vq].inflight;
		}
		if (!inflight) {
			if (!more)
				return 0;
			continue;
		}
		if (vblk_wait_any(io->v, VBLK_TIMEOUT_MS))
			return rio_fail(io, "waiting for completions", NULL);
		for (vq = 0; vq < io->nvqs; vq++) {
			n = vblk_reap(io->v, vq, done, 64, 0);
			if (n < 0)
				return rio_fail(io, "reap", NULL);
			for (i = 0; i < n; i++)
				if (rio_complete(io, done[i]))
					return -1;
		}
	}
}

/* Read the whole span back. */
static inline int rio_verify_all(struct rio *io)
{
	int ret;

	io->verify = true;
	io->verify_next = 0;
	ret = rio_run(io, 0);
	io->verify = false;
	return ret;
}

/* ---- the fixture ---- */

/*
 * What every data-path fixture does first: check that the device has a data
 * path, and open a backend of @kind.  False when the case skips (either is
 * missing here); a failure ends it.
 */
static inline bool backend_setup(struct __test_metadata *_metadata, struct vblk_backend *be,
				 enum vblk_backend_kind kind, uint64_t size, const char *what)
{
	int ret;

	be->fd = -1;
	ret = vblk_probe();
	if (ret == -ENOTTY)
		SKIP(return false, "no data path yet: %s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	ret = vblk_backend_open(be, kind, size);
	if (ret == -ENODEV)
		SKIP(return false, "no %s: %s", what, vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("backend: %s", vblk_error());
	}
	return true;
}

FIXTURE(io)
{
	struct vblk_backend be;
	struct vblk *v[2];
	int fd2; /* another open of the backend */
	uint8_t *shadow;
	uint64_t span;
	uint64_t seed;
	struct rio io;
};

FIXTURE_VARIANT(io)
{
	enum vblk_backend_kind kind;
	const char *what;
};

/* clang-format off */
FIXTURE_VARIANT_ADD(io, brd)
{
	.kind = VBLK_BE_BRD,
	.what = "brd, /dev/ram0",
};

FIXTURE_VARIANT_ADD(io, null_blk)
{
	.kind = VBLK_BE_NULLB,
	.what = "null_blk, memory-backed, through configfs",
};

FIXTURE_VARIANT_ADD(io, file)
{
	.kind = VBLK_BE_FILE,
	.what = "a regular file in $TMPDIR",
};
/* clang-format on */

FIXTURE_SETUP(io)
{
	self->fd2 = -1;
	self->seed = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)getpid() << 17) ^ now_ms();
	backend_setup(_metadata, &self->be, variant->kind, BACKEND_SIZE, variant->what);
}

FIXTURE_TEARDOWN(io)
{
	/* The devices first: they hold the backend open. */
	vblk_close(self->v[0]);
	vblk_close(self->v[1]);
	if (self->fd2 >= 0)
		close(self->fd2);
	vblk_backend_close(&self->be);
	free(self->shadow);
	free(self->io.busy);
}

/* A device of @nvqs virtqueues on backend @fd (none if -1), kept in self. */
static inline struct vblk *dev_new(struct __test_metadata *_metadata, FIXTURE_DATA(io) * self,
				   unsigned int nvqs, unsigned int depth, uint64_t features, int fd)
{
	struct vblk_config cfg = {
		.nvqs = nvqs,
		.queue_size = QSIZE,
		.depth = depth,
		.max_data = MAX_DATA,
		.features = features,
	};
	struct vblk **v = self->v[0] ? &self->v[1] : &self->v[0];

	ASSERT_EQ(NULL, *v);
	ASSERT_EQ(0, vblk_open(&cfg, v))
	{
		TH_LOG("vblk_open: %s", vblk_error());
	}
	if (fd >= 0) {
		ASSERT_EQ(0, vblk_set_backend(*v, fd))
		{
			TH_LOG("%s", vblk_error());
		}
	}
	return *v;
}

/* Fill the first @span bytes of the backend with random data, known to self. */
static inline void shadow_init(struct __test_metadata *_metadata, FIXTURE_DATA(io) * self,
			       uint64_t span)
{
	self->span = span < self->be.size ? span : self->be.size;
	self->shadow = malloc(self->span);
	ASSERT_NE(NULL, self->shadow);
	vblk_fill_random(self->shadow, self->span, &self->seed);
	ASSERT_EQ((ssize_t)self->span, pwrite(self->be.fd, self->shadow, self->span, 0));
	ASSERT_EQ(0, fsync(self->be.fd));
}

static inline struct rio *rio_init(struct __test_metadata *_metadata, FIXTURE_DATA(io) * self,
				   struct vblk *v, unsigned int depth)
{
	struct rio *io = &self->io;

	io->v = v;
	io->shadow = self->shadow;
	io->span = self->span;
	io->nvqs = v->nvqs;
	io->depth = depth;
	io->seed = self->seed;
	io->busy = calloc(self->span / CHUNK + 1, 1);
	ASSERT_NE(NULL, io->busy);
	return io;
}

/* Random I/O on every virtqueue for @ms, then the whole span read back. */
static inline void random_io(struct __test_metadata *_metadata, FIXTURE_DATA(io) * self,
			     struct vblk *v, unsigned int depth, int ms)
{
	struct rio *io = self->io.busy ? &self->io : rio_init(_metadata, self, v, depth);

	ASSERT_EQ(0, rio_run(io, ms))
	{
		TH_LOG("%s", io->err);
	}
	ASSERT_EQ(0, rio_verify_all(io))
	{
		TH_LOG("verify: %s", io->err);
	}
	ASSERT_LT(0ULL, io->reads);
	ASSERT_LT(0ULL, io->writes);
	TH_LOG("%u vqs depth %u: %llu reads, %llu writes, %llu KiB", v->nvqs, depth,
	       (unsigned long long)io->reads, (unsigned long long)io->writes,
	       (unsigned long long)io->bytes >> 10);
}

#endif /* BLK_IO_H */
