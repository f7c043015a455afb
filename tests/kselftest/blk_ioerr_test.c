// SPDX-License-Identifier: GPL-2.0
/*
 * A backend that fails I/O, under verified random I/O on four virtqueues.
 * Phases alternate: errors on, then off.  With errors on, a request the
 * backend fails must complete with VIRTIO_BLK_S_IOERR (a write's sectors
 * are then unknown until written again), every other one must succeed with
 * the right data; nothing may be lost or completed twice.  With errors off,
 * everything succeeds, and at the end every known sector reads back and the
 * device keeps serving.  The failing backends:
 *   null_blk badblocks   ranges made bad and good again through configfs:
 *                        a request that touches one must fail, no other
 *   dm error             a table of "linear" and "error" ranges, swapped in
 *                        between phases and reloaded (suspend, resume) while
 *                        I/O is in flight
 *   dm flakey            down one second in two: any request may fail
 *   fail_make_request    fault injection, where the kernel has it (the
 *                        debug kernel): any request may fail
 * Seeded and bounded in time (stress.h: VHB_SEED, VHB_TEST_MS); reports the
 * requests the backend failed.  Runs in a VM with the module loaded.
 */
#include "blk_io.h"
#include "stress.h"

#define IE_VQS 4
#define IE_DEPTH 8
#define IE_MS 5000
#define IE_ON_MS 2500
#define IE_OFF_MS 700
#define IE_MAX_BAD 6
#define FAIL_MAKE_REQUEST "/sys/kernel/debug/fail_make_request"

enum ie_kind {
	IE_BADBLOCKS,
	IE_DM_ERROR,
	IE_DM_FLAKEY,
	IE_FAIL_MAKE_REQUEST,
};

/* What fails while errors are on: sector ranges, or anything at random. */
struct ie_state {
	enum ie_kind kind;
	bool on;
	unsigned int nbad;
	uint64_t first[IE_MAX_BAD], last[IE_MAX_BAD];
	volatile bool stop_reload;
	unsigned int reloads;
	int reload_err;
	char table[1024];
};

FIXTURE(ioerr)
{
	struct vblk_backend be;
	struct vblk *v;
	struct rio io;
	struct ie_state st;
	char disk_attr[128]; /* fail_make_request: /sys/block/DISK/make-it-fail */
};

FIXTURE_VARIANT(ioerr)
{
	enum ie_kind kind;
	const char *what;
};

/* clang-format off */
FIXTURE_VARIANT_ADD(ioerr, null_blk_badblocks)
{
	.kind = IE_BADBLOCKS,
	.what = "null_blk badblocks",
};

FIXTURE_VARIANT_ADD(ioerr, dm_error)
{
	.kind = IE_DM_ERROR,
	.what = "dm error ranges",
};

FIXTURE_VARIANT_ADD(ioerr, dm_flakey)
{
	.kind = IE_DM_FLAKEY,
	.what = "dm flakey",
};

FIXTURE_VARIANT_ADD(ioerr, fail_make_request)
{
	.kind = IE_FAIL_MAKE_REQUEST,
	.what = "fail_make_request",
};
/* clang-format on */

static int write_attr(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static bool ie_overlaps(const struct ie_state *st, uint64_t sector, uint32_t len)
{
	uint64_t last = sector + len / VBLK_SECTOR - 1;

	for (unsigned int i = 0; i < st->nbad; i++)
		if (sector <= st->last[i] && last >= st->first[i])
			return true;
	return false;
}

static enum rio_verdict ie_judge(struct rio *io, const struct vblk_req *r)
{
	const struct ie_state *st = io->priv;

	if (!st->on)
		return RIO_MUST_OK;
	switch (st->kind) {
	case IE_BADBLOCKS:
	case IE_DM_ERROR:
		return ie_overlaps(st, r->sector, r->len) ? RIO_MUST_FAIL : RIO_MUST_OK;
	default:
		return RIO_MAY_FAIL;
	}
}

/* dm: a table of the whole device, the bad ranges "error", the rest linear. */
static void ie_dm_table(FIXTURE_DATA(ioerr) * self, bool errors)
{
	struct ie_state *st = &self->st;
	uint64_t end = self->be.size / VBLK_SECTOR, at = 0;
	char *p = st->table, *lim = st->table + sizeof(st->table);
	unsigned int i;

	if (errors && st->kind == IE_DM_FLAKEY) {
		snprintf(st->table, sizeof(st->table), "0 %llu flakey %%s 0 1 1\n",
			 (unsigned long long)end);
		return;
	}
	/* The ranges in order, for the table. */
	for (i = 0; errors && i < st->nbad; i++) {
		if (st->first[i] > at)
			p += snprintf(
				p, lim - p, "%llu %llu linear %%s %llu\n", (unsigned long long)at,
				(unsigned long long)(st->first[i] - at), (unsigned long long)at);
		p += snprintf(p, lim - p, "%llu %llu error\n", (unsigned long long)st->first[i],
			      (unsigned long long)(st->last[i] - st->first[i] + 1));
		at = st->last[i] + 1;
	}
	snprintf(p, lim - p, "%llu %llu linear %%s %llu\n", (unsigned long long)at,
		 (unsigned long long)(end - at), (unsigned long long)at);
}

/* Random, disjoint, sorted bad ranges inside the span. */
static void ie_pick(struct ie_state *st, uint64_t *seed)
{
	uint64_t at = 0, span = SPAN / VBLK_SECTOR;

	st->nbad = 0;
	while (st->nbad < IE_MAX_BAD) {
		uint64_t gap = vblk_rand(seed) % (span / IE_MAX_BAD),
			 len = 1 + vblk_rand(seed) % 256;

		if (at + gap + len > span)
			break;
		st->first[st->nbad] = at + gap;
		st->last[st->nbad] = at + gap + len - 1;
		at = st->last[st->nbad++] + 1;
	}
}

/* Turn the backend's errors on or off; I/O is quiesced. */
static int ie_switch(FIXTURE_DATA(ioerr) * self, bool on)
{
	struct ie_state *st = &self->st;
	unsigned int i;
	int ret = 0;

	switch (st->kind) {
	case IE_BADBLOCKS:
		for (i = 0; i < st->nbad && !ret; i++)
			ret = vblk_backend_badblocks(&self->be, on, st->first[i], st->last[i]);
		break;
	case IE_DM_ERROR:
	case IE_DM_FLAKEY:
		ie_dm_table(self, on);
		ret = vblk_backend_dm_table(&self->be, st->table);
		break;
	case IE_FAIL_MAKE_REQUEST:
		ret = write_attr(self->disk_attr, on ? "1" : "0");
		break;
	}
	st->on = on;
	return ret;
}

/* Reload the table in force, again and again: I/O waits at each resume. */
static void *ie_reloader(void *arg)
{
	FIXTURE_DATA(ioerr) *self = arg;
	struct ie_state *st = &self->st;

	while (!st->stop_reload && !st->reload_err) {
		usleep(50000);
		if (vblk_backend_dm_table(&self->be, st->table))
			st->reload_err = EIO;
		st->reloads++;
	}
	return NULL;
}

FIXTURE_SETUP(ioerr)
{
	enum vblk_backend_kind kind = VBLK_BE_DM;

	self->be.fd = -1;
	self->st.kind = variant->kind;
	if (variant->kind == IE_FAIL_MAKE_REQUEST && access(FAIL_MAKE_REQUEST, F_OK))
		SKIP(return, "no fault injection in this kernel (" FAIL_MAKE_REQUEST ")");
	if (variant->kind == IE_BADBLOCKS || variant->kind == IE_FAIL_MAKE_REQUEST)
		kind = VBLK_BE_NULLB;
	if (!backend_setup(_metadata, &self->be, kind, BACKEND_SIZE, variant->what))
		return;
	if (variant->kind == IE_BADBLOCKS) {
		char attr[160];

		/*
		 * null_blk checks its bad blocks per block-layer request, and
		 * a request may hold the bios of several adjacent guest
		 * requests, merged: all of them fail.  No merges, so that
		 * exactly the requests that touch a bad range fail.
		 */
		snprintf(attr, sizeof(attr), "/sys/block/%s/queue/nomerges",
			 strrchr(self->be.path, '/') + 1);
		ASSERT_EQ(0, write_attr(attr, "2"))
		{
			TH_LOG("%s: %s", attr, strerror(errno));
		}
	}
	if (variant->kind == IE_FAIL_MAKE_REQUEST) {
		snprintf(self->disk_attr, sizeof(self->disk_attr), "/sys/block/%s/make-it-fail",
			 strrchr(self->be.path, '/') + 1);
		ASSERT_EQ(0, write_attr(FAIL_MAKE_REQUEST "/probability", "10"));
		ASSERT_EQ(0, write_attr(FAIL_MAKE_REQUEST "/interval", "1"));
		ASSERT_EQ(0, write_attr(FAIL_MAKE_REQUEST "/times", "-1"));
		ASSERT_EQ(0, write_attr(FAIL_MAKE_REQUEST "/verbose", "0"));
	}
}

FIXTURE_TEARDOWN(ioerr)
{
	if (self->disk_attr[0])
		write_attr(self->disk_attr, "0");
	vblk_close(self->v);
	vblk_backend_close(&self->be);
	free(self->io.shadow);
	free(self->io.known);
	free(self->io.busy);
}

TEST_F_TIMEOUT(ioerr, random_io, 120)
{
	/*
	 * Every buffer aligned to sectors, so that every request takes the
	 * direct path: a buffered write would succeed into the page cache,
	 * and fail (or not) at writeback, out of the request's sight.
	 */
	struct vblk_config cfg = {
		.nvqs = IE_VQS,
		.queue_size = QSIZE,
		.depth = IE_DEPTH,
		.max_data = MAX_DATA,
		.frag_size = VBLK_SECTOR,
		.split_at = 4096,
	};
	struct ie_state *st = &self->st;
	struct rio *io = &self->io;
	uint64_t total = 0, phases = 0;
	int64_t end;
	char name[96];
	pthread_t t;

	snprintf(name, sizeof(name), "ioerr.%s", variant->what);
	io->seed = stress_seed(name);
	io->nvqs = IE_VQS;
	io->depth = IE_DEPTH;
	io->span = SPAN;
	io->shadow = malloc(SPAN);
	io->known = malloc(SPAN / VBLK_SECTOR);
	io->busy = calloc(SPAN / CHUNK + 1, 1);
	io->judge = ie_judge;
	io->priv = st;
	ASSERT_TRUE(io->shadow && io->known && io->busy);
	vblk_fill_random(io->shadow, SPAN, &io->seed);
	memset(io->known, 1, SPAN / VBLK_SECTOR);
	ASSERT_EQ((ssize_t)SPAN, pwrite(self->be.fd, io->shadow, SPAN, 0));
	ASSERT_EQ(0, fsync(self->be.fd));
	ASSERT_EQ(0, vblk_open(&cfg, &self->v))
	{
		TH_LOG("%s", vblk_error());
	}
	ASSERT_EQ(0, vblk_set_backend(self->v, self->be.fd));
	io->v = self->v;

	end = now_ms() + stress_ms(IE_MS);
	while (!phases || now_ms() < end) {
		/* Errors on; for dm error, tables reloaded under the I/O. */
		ie_pick(st, &io->seed);
		ASSERT_EQ(0, ie_switch(self, true))
		{
			TH_LOG("errors on: %s", vblk_error());
		}
		if (st->kind == IE_DM_ERROR) {
			st->stop_reload = false;
			ASSERT_EQ(0, pthread_create(&t, NULL, ie_reloader, self));
		}
		ASSERT_EQ(0, rio_run(io, IE_ON_MS))
		{
			TH_LOG("errors on, phase %llu: %s", (unsigned long long)phases, io->err);
		}
		if (st->kind == IE_DM_ERROR) {
			st->stop_reload = true;
			pthread_join(t, NULL);
			ASSERT_EQ(0, st->reload_err);
		}
		/* Errors off: every request succeeds. */
		ASSERT_EQ(0, ie_switch(self, false))
		{
			TH_LOG("errors off: %s", vblk_error());
		}
		ASSERT_EQ(0, rio_run(io, IE_OFF_MS))
		{
			TH_LOG("errors off, phase %llu: %s", (unsigned long long)phases, io->err);
		}
		phases++;
	}
	total = io->reads + io->writes + io->errors;
	/* Each failing backend failed some requests. */
	EXPECT_LT(0ULL, io->errors);
	/* What is known reads back, and the device serves on. */
	ASSERT_EQ(0, rio_verify_all(io))
	{
		TH_LOG("verify: %s", io->err);
	}
	memset(io->known, 1, SPAN / VBLK_SECTOR);
	ASSERT_EQ((ssize_t)SPAN, pread(self->be.fd, io->shadow, SPAN, 0));
	ASSERT_EQ(0, rio_run(io, IE_OFF_MS));
	ASSERT_EQ(0, rio_verify_all(io))
	{
		TH_LOG("after the errors: %s", io->err);
	}
	TH_LOG("%llu phases: %llu requests, %llu failed by the backend; %u table reloads",
	       (unsigned long long)phases, (unsigned long long)total,
	       (unsigned long long)io->errors, st->reloads);
	stress_figure("ioerr", "requests", total, "requests");
	stress_figure("ioerr", "backend_errors", io->errors, "requests");
}

TEST_HARNESS_MAIN
