// SPDX-License-Identifier: GPL-2.0
/*
 * Freezing the filesystem under a file backend, as every backup and LVM
 * snapshot does (fsfreeze -f / -u), while the guest writes at depth.
 *
 * A write holds its filesystem's freeze protection from submission to
 * completion, and only then: FIFREEZE returns while writes keep coming
 * (completed writes do not hold it, and the handler never waits in
 * sb_start_write() for a freeze that waits for it); no write or discard
 * reaches the filesystem while it is frozen; FITHAW returns; and every write
 * completes and reads back.  A write into a frozen ext4 also makes ext4
 * WARN, which fails the VM run.  Direct, buffered (misaligned buffers) and
 * kthread-worker variants.  Runs in a VM with the module loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>
#include <linux/virtio_blk.h>

#include "kselftest_harness.h"
#include "vblk.h"

#define FS_SIZE (256ULL << 20)
#define FILE_SIZE (32ULL << 20)
#define REGION (256U << 10) /* one write in flight per region */
#define NREGIONS ((unsigned int)(FILE_SIZE / REGION))
#define NVQS 2
#define QSIZE 128
#define DEPTH 16 /* per virtqueue */
#define MAX_DATA (64U << 10)
#define ROUNDS 6
#define SETTLE_MS 200 /* completions reach the used ring */
#define STALL_MS 300  /* how long a frozen filesystem is watched */
#define FREEZE_MAX_MS 10000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* FIFREEZE or FITHAW on another thread, so a hang can be told. */
struct fsop {
	int fd;
	unsigned long req;
	int ret, err;
	int64_t start, end;
	volatile int done;
	pthread_t thread;
};

static void *fsop_fn(void *arg)
{
	struct fsop *op = arg;

	op->start = now_ms();
	op->ret = ioctl(op->fd, op->req, 0);
	op->err = errno;
	op->end = now_ms();
	__atomic_store_n(&op->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

FIXTURE(frz)
{
	struct vblk_backend fs;
	int file_fd;
	struct vblk *v;
	uint8_t *shadow;
	struct vblk_req *owner[NREGIONS]; /* the write in flight in each region */
	bool region_discard[NREGIONS];
	bool region_frozen[NREGIONS]; /* submitted once the filesystem was frozen */
	unsigned int frozen_done;     /* of those, completed */
	bool frozen;
	unsigned int inflight, next_region;
	uint64_t seed;
};

FIXTURE_VARIANT(frz)
{
	unsigned int layout; /* VBLK_FRAG: misaligned pieces, buffered I/O */
	bool kthread;
};

FIXTURE_VARIANT_ADD(frz, direct){
	.layout = 0,
};

FIXTURE_VARIANT_ADD(frz, buffered){
	.layout = VBLK_FRAG | VBLK_INDIRECT,
};

FIXTURE_VARIANT_ADD(frz, kthread_workers){
	.layout = 0,
	.kthread = true,
};

FIXTURE_SETUP(frz)
{
	struct vblk_config cfg = {
		.nvqs = NVQS,
		.queue_size = QSIZE,
		.depth = DEPTH,
		.max_data = MAX_DATA,
		.kthread = variant->kthread,
	};
	char path[160];
	int ret;

	self->file_fd = -1;
	self->seed = 0xf7ee2e ^ getpid();
	ret = vblk_probe();
	if (ret == -ENOTTY)
		SKIP(return, "no data path: %s", vblk_error());
	ret = vblk_fs_open(&self->fs, FS_SIZE, VBLK_SECTOR, "-b 4096");
	if (ret == -ENODEV)
		SKIP(return, "no filesystem: %s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	snprintf(path, sizeof(path), "%s/disk", self->fs.path);
	self->file_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, self->file_fd);
	/* Sparse: the writes allocate, as a thin disk image's do. */
	ASSERT_EQ(0, ftruncate(self->file_fd, FILE_SIZE));
	self->shadow = calloc(1, FILE_SIZE);
	ASSERT_NE(NULL, self->shadow);
	ASSERT_EQ(0, vblk_open(&cfg, &self->v))
	{
		TH_LOG("%s", vblk_error());
	}
	ASSERT_EQ(0, vblk_set_backend(self->v, self->file_fd))
	{
		TH_LOG("%s", vblk_error());
	}
}

FIXTURE_TEARDOWN(frz)
{
	/* A failed round must not leave the filesystem frozen. */
	if (self->fs.path[0]) {
		int fd = open(self->fs.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd >= 0) {
			ioctl(fd, FITHAW, 0);
			close(fd);
		}
	}
	vblk_close(self->v);
	if (self->file_fd >= 0)
		close(self->file_fd);
	free(self->shadow);
	vblk_backend_close(&self->fs);
}

/*
 * Submit one write (or a discard) to the next free region, keeping at most
 * @cap requests in flight; false if it cannot.
 */
static bool submit_one(struct __test_metadata *_metadata, FIXTURE_DATA(frz) * self,
		       const FIXTURE_VARIANT(frz) * variant, bool discard, unsigned int cap)
{
	unsigned int i, region, vq;
	struct vblk_req *r;
	uint32_t len;

	if (self->inflight >= cap)
		return false;
	for (i = 0; i < NREGIONS; i++) {
		region = (self->next_region + i) % NREGIONS;
		vq = region % NVQS;
		if (!self->owner[region] && self->v->vqs[vq].nfree_reqs)
			break;
	}
	if (i == NREGIONS)
		return false;
	self->next_region = region + 1;
	len = (1 + vblk_rand(&self->seed) % (MAX_DATA / 4096)) * 4096;
	if (discard) {
		struct virtio_blk_discard_write_zeroes seg = {
			.sector = (uint64_t)region * REGION / VBLK_SECTOR,
			.num_sectors = len / VBLK_SECTOR,
		};

		if (vblk_req_new(self->v, vq, VIRTIO_BLK_T_DISCARD, 0, sizeof(seg), 0, &r))
			return false;
		memcpy(r->data, &seg, sizeof(seg));
	} else {
		if (vblk_req_new(self->v, vq, VIRTIO_BLK_T_OUT,
				 (uint64_t)region * REGION / VBLK_SECTOR, len, variant->layout, &r))
			return false;
		vblk_fill_random(r->data, len, &self->seed);
	}
	EXPECT_EQ(0, vblk_submit(self->v, r))
	{
		TH_LOG("%s", vblk_error());
	}
	self->owner[region] = r;
	self->region_discard[region] = discard;
	self->region_frozen[region] = self->frozen;
	self->inflight++;
	return true;
}

/* Account one completed request: it must have succeeded. */
static void complete_one(struct __test_metadata *_metadata, FIXTURE_DATA(frz) * self,
			 struct vblk_req *r)
{
	unsigned int region;

	for (region = 0; region < NREGIONS; region++)
		if (self->owner[region] == r)
			break;
	ASSERT_LT(region, NREGIONS);
	EXPECT_EQ(VIRTIO_BLK_S_OK, *r->status)
	{
		TH_LOG("%s in region %u failed", self->region_discard[region] ? "discard" : "write",
		       region);
	}
	if (self->region_discard[region]) {
		struct virtio_blk_discard_write_zeroes seg;

		memcpy(&seg, r->data, sizeof(seg));
		memset(self->shadow + seg.sector * VBLK_SECTOR, 0,
		       (size_t)seg.num_sectors * VBLK_SECTOR);
	} else {
		memcpy(self->shadow + r->sector * VBLK_SECTOR, r->data, r->len);
	}
	if (self->region_frozen[region] && self->frozen)
		self->frozen_done++;
	self->owner[region] = NULL;
	self->inflight--;
	EXPECT_EQ(0, vblk_req_free(self->v, r));
}

/* Reap what is used on every virtqueue; how many. */
static unsigned int reap(struct __test_metadata *_metadata, FIXTURE_DATA(frz) * self,
			 int timeout_ms)
{
	struct vblk_req *done[DEPTH];
	unsigned int vq, total = 0;
	int n, i;

	if (timeout_ms && vblk_wait_any(self->v, timeout_ms))
		return 0;
	for (vq = 0; vq < NVQS; vq++) {
		n = vblk_reap(self->v, vq, done, DEPTH, 0);
		EXPECT_LE(0, n)
		{
			TH_LOG("%s", vblk_error());
		}
		for (i = 0; i < n; i++)
			complete_one(_metadata, self, done[i]);
		total += n > 0 ? n : 0;
	}
	return total;
}

/* Run @req (FIFREEZE or FITHAW), keeping writes flowing while it runs. */
static void fs_op_under_writes(struct __test_metadata *_metadata, FIXTURE_DATA(frz) * self,
			       const FIXTURE_VARIANT(frz) * variant, unsigned long req,
			       bool keep_writing)
{
	struct fsop op = {.req = req};
	int64_t deadline;

	op.fd = open(self->fs.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, op.fd);
	ASSERT_EQ(0, pthread_create(&op.thread, NULL, fsop_fn, &op));
	deadline = now_ms() + FREEZE_MAX_MS;
	while (!__atomic_load_n(&op.done, __ATOMIC_ACQUIRE) && now_ms() < deadline) {
		/* Writes, and a discard now and then, race the freeze. */
		while (keep_writing &&
		       submit_one(_metadata, self, variant, vblk_rand(&self->seed) % 8 == 0,
				  NVQS * DEPTH - 4))
			;
		reap(_metadata, self, 10);
	}
	ASSERT_TRUE(__atomic_load_n(&op.done, __ATOMIC_ACQUIRE))
	{
		TH_LOG("%s did not return in %d ms with %u writes in flight",
		       req == FIFREEZE ? "FIFREEZE" : "FITHAW", FREEZE_MAX_MS, self->inflight);
	}
	pthread_join(op.thread, NULL);
	close(op.fd);
	ASSERT_EQ(0, op.ret)
	{
		TH_LOG("%s: %s", req == FIFREEZE ? "FIFREEZE" : "FITHAW", strerror(op.err));
	}
}

TEST_F_TIMEOUT(frz, writes_never_reach_a_frozen_fs, 300)
{
	unsigned int round, i, held;
	uint8_t *buf;

	for (round = 0; round < ROUNDS; round++) {
		/* Writes in flight, and more coming, while the freeze waits. */
		while (submit_one(_metadata, self, variant, false, NVQS * DEPTH - 4))
			;
		fs_op_under_writes(_metadata, self, variant, FIFREEZE, true);

		/*
		 * Frozen: what was under way before may still come back, but
		 * writes and a discard submitted now wait for the thaw.
		 */
		usleep(SETTLE_MS * 1000);
		reap(_metadata, self, 0);
		self->frozen = true;
		self->frozen_done = 0;
		held = self->inflight;
		EXPECT_TRUE(submit_one(_metadata, self, variant, true, NVQS * DEPTH));
		for (i = 0; i < 2; i++)
			EXPECT_TRUE(submit_one(_metadata, self, variant, false, NVQS * DEPTH));
		usleep(STALL_MS * 1000);
		reap(_metadata, self, 0);
		EXPECT_EQ(0U, self->frozen_done)
		{
			TH_LOG("round %u: a request submitted while frozen completed (%u held)",
			       round, held);
		}
		self->frozen = false;

		fs_op_under_writes(_metadata, self, variant, FITHAW, false);
		while (self->inflight && reap(_metadata, self, VBLK_TIMEOUT_MS))
			;
		ASSERT_EQ(0U, self->inflight)
		{
			TH_LOG("round %u: requests lost after the thaw", round);
		}
	}

	/* Every write reads back, through the device and from the file. */
	buf = malloc(MAX_DATA);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < FILE_SIZE / MAX_DATA; i++) {
		uint8_t status = 0xff;
		uint32_t used;

		ASSERT_EQ(0, vblk_run(self->v, i % NVQS, VIRTIO_BLK_T_IN,
				      (uint64_t)i * MAX_DATA / VBLK_SECTOR, buf, MAX_DATA, 0,
				      &status, &used));
		ASSERT_EQ(VIRTIO_BLK_S_OK, status);
		ASSERT_EQ(0, memcmp(buf, self->shadow + (size_t)i * MAX_DATA, MAX_DATA))
		{
			TH_LOG("device read at %u MiB differs", i * (MAX_DATA >> 10) / 1024);
		}
		ASSERT_EQ((ssize_t)MAX_DATA,
			  pread(self->file_fd, buf, MAX_DATA, (off_t)i * MAX_DATA));
		ASSERT_EQ(0, memcmp(buf, self->shadow + (size_t)i * MAX_DATA, MAX_DATA))
		{
			TH_LOG("file read at %u KiB differs", i * (MAX_DATA >> 10));
		}
	}
	free(buf);
}

TEST_HARNESS_MAIN
