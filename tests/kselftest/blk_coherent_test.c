// SPDX-License-Identifier: GPL-2.0
/*
 * Aligned and unaligned requests on one block device see each other's
 * writes.  vhost-blk serves an aligned request with direct I/O and an
 * unaligned one (buffers cut at odd sizes: VBLK_FRAG) through the backend's
 * page cache.  Here a direct write of one page is held back in flight (dm
 * delay on the writes), an unaligned read of the page before it meanwhile
 * reads ahead, and once the write has completed an unaligned read of the
 * written page must return the new data, not what the readahead cached
 * before the write landed (it did before the fix of F3, which bounces such
 * requests instead of using the page cache).  Runs in a VM with the module
 * loaded.
 */
#include <linux/fs.h>

#include "blk_io.h"

#define CO_ROUNDS 8
#define CO_STRIDE (256U << 10) /* far apart: one readahead window each */
#define CO_DELAY_MS 100

FIXTURE(co)
{
	struct vblk_backend be;
	struct vblk *v;
	uint8_t *shadow;
};

FIXTURE_SETUP(co)
{
	int ret;

	self->be.fd = -1;
	ret = vblk_probe();
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	/* Writes wait CO_DELAY_MS in dm, reads do not. */
	ret = vblk_backend_open_delayed(&self->be, BACKEND_SIZE, CO_DELAY_MS);
	if (ret == -ENODEV)
		SKIP(return, "no dm delay: %s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
}

FIXTURE_TEARDOWN(co)
{
	vblk_close(self->v);
	vblk_backend_close(&self->be);
	free(self->shadow);
}

TEST_F_TIMEOUT(co, unaligned_read_after_direct_write, 60)
{
	struct vblk_config cfg = {.nvqs = 1, .queue_size = 64, .depth = 4, .max_data = MAX_DATA};
	uint64_t seed = 0xc0e12e47ULL ^ getpid(), span = CO_ROUNDS * CO_STRIDE;
	unsigned int stale = 0;

	self->shadow = malloc(span);
	ASSERT_NE(NULL, self->shadow);
	vblk_fill_random(self->shadow, span, &seed);
	ASSERT_EQ((ssize_t)span, pwrite(self->be.fd, self->shadow, span, 0));
	ASSERT_EQ(0, fsync(self->be.fd));
	/* Nothing cached. */
	ASSERT_EQ(0, ioctl(self->be.fd, BLKFLSBUF, 0));
	ASSERT_EQ(0, vblk_open(&cfg, &self->v));
	ASSERT_EQ(0, vblk_set_backend(self->v, self->be.fd));

	for (unsigned int i = 0; i < CO_ROUNDS; i++) {
		uint64_t near = i * CO_STRIDE, page = near + 4096;
		uint8_t buf[4096];
		struct vblk_req *w;
		long d;

		/* The direct write of the page, held in flight. */
		ASSERT_EQ(0, vblk_req_new(self->v, 0, T_OUT, page / VBLK_SECTOR, 4096, 0, &w));
		vblk_fill_random(w->data, 4096, &seed);
		memcpy(self->shadow + page, w->data, 4096);
		ASSERT_EQ(0, vblk_submit(self->v, w));
		usleep(CO_DELAY_MS * 1000 / 4);
		/* Meanwhile, through the page cache: the page before it. */
		read_check(_metadata, self->v, 0, near, self->shadow + near, 4096, VBLK_FRAG);
		ASSERT_EQ(0, vblk_wait(self->v, w, VBLK_TIMEOUT_MS));
		ASSERT_EQ(S_OK, *w->status);
		ASSERT_EQ(0, vblk_req_free(self->v, w));
		/* The write has completed: the page reads back new. */
		ASSERT_EQ(S_OK, run_req(_metadata, self->v, 0, T_IN, page / VBLK_SECTOR, buf, 4096,
					VBLK_FRAG));
		d = first_diff(buf, self->shadow + page, 4096);
		if (d >= 0) {
			stale++;
			TH_LOG("round %u: an unaligned read of the page written at %llu returns "
			       "old "
			       "data (byte %ld)",
			       i, (unsigned long long)page, d);
		}
	}
	ASSERT_EQ(0U, stale)
	{
		TH_LOG("%u of %u reads after a completed direct write returned stale data", stale,
		       CO_ROUNDS);
	}
}

TEST_HARNESS_MAIN
