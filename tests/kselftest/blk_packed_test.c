// SPDX-License-Identifier: GPL-2.0
/*
 * Packed virtqueues (VIRTIO_F_RING_PACKED) of /dev/vhost-blk: what only a
 * packed ring has.  The data-path suites run on packed rings too
 * (VBLK_RING=packed); these cases always do, on a memory-backed null_blk:
 *
 * - a ring of 100 slots (not a power of two), started at a slot whose wrap
 *   counter is 0, wraps again and again under random I/O checked against a
 *   shadow copy;
 * - chains of several slots complete out of order (a write slowed by
 *   dm-delay behind reads) and the used slot moves on by each chain's slot
 *   count, across the end of the ring;
 * - indirect tables of packed descriptors, NEXT meaning nothing in them;
 * - VHOST_GET_VRING_BASE and VHOST_SET_VRING_BASE round trips with the wrap
 *   counters in the value, stopping and restarting under I/O;
 * - event suppression: the driver area's DISABLE (no call), DESC with an
 *   offset and wrap counter (a call exactly when the used slot reaches it),
 *   NOTIFY_ON_EMPTY; the device area as the device leaves it;
 * - malformed rings (a buffer id past the ring or reused in flight, a chain
 *   longer than the ring, bad indirect tables) stop the virtqueue with its
 *   error eventfd signalled, the other virtqueue serving on;
 * - used descriptors carry VRING_DESC_F_WRITE, the device having written
 *   at least the status byte;
 * - dirty logging marks the pages of the used descriptors written, and the
 *   data of a chain whose writable ranges were recorded at fetch.
 *
 * Runs in a VM with the module loaded:
 * scripts/vm-run --load -- tests/kselftest/run_tests.sh blk_packed_test
 */
#include "blk_io.h"

#define PK_FEATURES (VBLK_FEATURES_SPLIT | VBLK_BIT(VIRTIO_F_RING_PACKED))
/* Event suppression without NOTIFY_ON_EMPTY, which calls whatever the driver says. */
#define PK_BASE                                                                                    \
	(VBLK_BIT(VIRTIO_F_VERSION_1) | VBLK_BIT(VIRTIO_RING_F_INDIRECT_DESC) |                    \
	 VBLK_BIT(VIRTIO_F_RING_PACKED))
#define PK_BACKEND_SIZE (64ULL << 20)
#define ODD_NUM 100
#define WRITE_DELAY_MS 400
#define LOG_PAGE 4096ULL
#define QUIET_MS 200

FIXTURE(pk)
{
	struct vblk_backend be;   /* null_blk */
	struct vblk_backend slow; /* dm-delay over null_blk: writes take WRITE_DELAY_MS */
	struct vblk *v;
	uint8_t *shadow;
	uint64_t span;
	uint64_t seed;
	struct rio io;
	uint8_t *log;
};

FIXTURE_SETUP(pk)
{
	self->slow.fd = -1;
	self->seed = 0x9acced5eedULL ^ ((uint64_t)getpid() << 17) ^ now_ms();
	backend_setup(_metadata, &self->be, VBLK_BE_NULLB, PK_BACKEND_SIZE,
		      "null_blk, memory-backed");
}

FIXTURE_TEARDOWN(pk)
{
	vblk_close(self->v);
	vblk_backend_close(&self->slow);
	vblk_backend_close(&self->be);
	free(self->shadow);
	free(self->io.busy);
	free(self->log);
}

/* A device with packed rings (@features), no backend yet: self->v. */
static struct vblk *pk_open(struct __test_metadata *_metadata, FIXTURE_DATA(pk) * self,
			    unsigned int nvqs, unsigned int num, unsigned int depth,
			    uint64_t features, uint32_t max_data, uint32_t frag_size)
{
	struct vblk_config cfg = {
		.nvqs = nvqs,
		.queue_size = num,
		.depth = depth,
		.max_data = max_data,
		.frag_size = frag_size,
		.features = features,
	};

	vblk_close(self->v);
	self->v = NULL;
	ASSERT_EQ(0, vblk_open(&cfg, &self->v))
	{
		TH_LOG("vblk_open: %s", vblk_error());
	}
	ASSERT_TRUE(self->v->packed);
	return self->v;
}

static void attach(struct __test_metadata *_metadata, struct vblk *v, int fd)
{
	ASSERT_EQ(0, vblk_set_backend(v, fd))
	{
		TH_LOG("%s", vblk_error());
	}
}

/* The slow backend, or a skip where dm-delay is missing. */
static bool open_slow(struct __test_metadata *_metadata, FIXTURE_DATA(pk) * self)
{
	int ret = vblk_backend_open_delayed(&self->slow, 16 << 20, WRITE_DELAY_MS);

	if (ret == -ENODEV)
		SKIP(return false, "no dm-delay: %s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	return true;
}

/* The first @span bytes of the backend @fd become random, known to self. */
static void shadow_fill(struct __test_metadata *_metadata, FIXTURE_DATA(pk) * self, int fd,
			uint64_t span)
{
	self->span = span;
	self->shadow = malloc(span);
	ASSERT_NE(NULL, self->shadow);
	vblk_fill_random(self->shadow, span, &self->seed);
	ASSERT_EQ((ssize_t)span, pwrite(fd, self->shadow, span, 0));
	ASSERT_EQ(0, fsync(fd));
}

static struct rio *pk_rio(struct __test_metadata *_metadata, FIXTURE_DATA(pk) * self,
			  unsigned int depth)
{
	struct rio *io = &self->io;

	io->v = self->v;
	io->shadow = self->shadow;
	io->span = self->span;
	io->nvqs = self->v->nvqs;
	io->depth = depth;
	io->seed = self->seed;
	io->busy = calloc(self->span / CHUNK + 1, 1);
	ASSERT_NE(NULL, io->busy);
	return io;
}

/* A request not yet published; data to write is random and kept in @keep. */
static struct vblk_req *req(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq,
			    uint32_t type, uint64_t sector, uint32_t len, unsigned int layout)
{
	struct vblk_req *r = NULL;

	ASSERT_EQ(0, vblk_req_new(v, vq, type, sector, len, layout, &r))
	{
		TH_LOG("%s", vblk_error());
	}
	return r;
}

/* Reap @vq until @n requests are used, into @done in the order they were. */
static void reap_all(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq,
		     struct vblk_req **done, unsigned int n)
{
	unsigned int got = 0;

	while (got < n) {
		int ret = vblk_reap(v, vq, done + got, n - got, VBLK_TIMEOUT_MS);

		ASSERT_LT(0, ret)
		{
			TH_LOG("%u of %u used: %s", got, n, vblk_error());
		}
		got += ret;
	}
}

static bool call_within(struct vblk *v, unsigned int vq, int ms)
{
	struct pollfd pfd = {.fd = v->vqs[vq].call, .events = POLLIN};
	eventfd_t val;

	if (poll(&pfd, 1, ms) != 1)
		return false;
	eventfd_read(v->vqs[vq].call, &val);
	return true;
}

static void drain_calls(struct vblk *v, unsigned int vq)
{
	eventfd_t val;

	eventfd_read(v->vqs[vq].call, &val);
}

/* Spin until @vq has @n buffers used (without asking for a call). */
static bool used_reaches(struct vblk *v, unsigned int vq, uint16_t n)
{
	int64_t end = now_ms() + VBLK_TIMEOUT_MS;

	while (vblk_used_idx(v, vq) != n)
		if (now_ms() > end || usleep(1000))
			return false;
	return true;
}

/* ---- the ring's ioctls ---- */

static int vring_ioctl(struct vblk *v, unsigned long cmd, void *arg)
{
	return ioctl(v->fd, cmd, arg) ? -errno : 0;
}

/*
 * A packed ring takes any size up to 32768 (a split ring a power of two),
 * its descriptors 16-byte aligned and its two areas 4-byte aligned; its
 * layout cannot change under a backend.
 */
TEST_F(pk, ring_ioctls)
{
	struct vblk *v = pk_open(_metadata, self, 1, ODD_NUM, 4, PK_FEATURES, 4096, 0);
	struct vblk_vq *q = &v->vqs[0];
	struct vhost_vring_addr good = {
		.desc_user_addr = (uintptr_t)q->pdesc,
		.used_user_addr = (uintptr_t)q->device,
		.avail_user_addr = (uintptr_t)q->driver,
	};
	struct vhost_vring_addr a;
	struct vhost_vring_state st = {.index = 0};
	uint64_t features = 0, split = VBLK_FEATURES_SPLIT;
	static const unsigned int sizes[] = {1, 3, 100, 32767, 32768};

	ASSERT_EQ(0, vring_ioctl(v, VHOST_GET_FEATURES, &features));
	EXPECT_TRUE(!!(features & VBLK_BIT(VIRTIO_F_RING_PACKED)));
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		st.num = sizes[i];
		EXPECT_EQ(0, vring_ioctl(v, VHOST_SET_VRING_NUM, &st));
	}
	st.num = 0;
	EXPECT_EQ(-EINVAL, vring_ioctl(v, VHOST_SET_VRING_NUM, &st));
	st.num = 32769;
	EXPECT_EQ(-EINVAL, vring_ioctl(v, VHOST_SET_VRING_NUM, &st));
	st.num = ODD_NUM;
	ASSERT_EQ(0, vring_ioctl(v, VHOST_SET_VRING_NUM, &st));

	a = good;
	a.desc_user_addr += 8;
	EXPECT_EQ(-EINVAL, vring_ioctl(v, VHOST_SET_VRING_ADDR, &a));
	a = good;
	a.avail_user_addr += 2;
	EXPECT_EQ(-EINVAL, vring_ioctl(v, VHOST_SET_VRING_ADDR, &a));
	a = good;
	a.used_user_addr += 2;
	EXPECT_EQ(-EINVAL, vring_ioctl(v, VHOST_SET_VRING_ADDR, &a));
	EXPECT_EQ(0, vring_ioctl(v, VHOST_SET_VRING_ADDR, &good));

	/* Under a backend the layout stays; without one it may change. */
	attach(_metadata, v, self->be.fd);
	EXPECT_EQ(-EBUSY, vring_ioctl(v, VHOST_SET_FEATURES, &split));
	EXPECT_EQ(0, vring_ioctl(v, VHOST_SET_FEATURES, &v->features));
	attach(_metadata, v, -1);
	EXPECT_EQ(0, vring_ioctl(v, VHOST_SET_FEATURES, &split));
	/* A split ring of 100 entries cannot be served, nor set. */
	EXPECT_EQ(-EINVAL, vblk_set_backend(v, self->be.fd));
	EXPECT_EQ(-EINVAL, vring_ioctl(v, VHOST_SET_VRING_NUM, &st));
	st.num = 128;
	EXPECT_EQ(0, vring_ioctl(v, VHOST_SET_VRING_NUM, &st));
}

/* ---- wrapping ---- */

TEST_F_TIMEOUT(pk, odd_size_ring_wraps_under_random_io, 120)
{
	/* Slot 37 in the second lap: the wrap counters start at 0. */
	const uint64_t start = ODD_NUM + 37;
	struct vblk *v = pk_open(_metadata, self, 2, ODD_NUM, 24, PK_FEATURES, MAX_DATA, 0);
	int64_t end = now_ms() + 30000;
	uint64_t laps[2] = {0, 0};
	struct rio *io;
	unsigned int vq;

	for (vq = 0; vq < 2; vq++) {
		ASSERT_EQ(0, vblk_packed_set_pos(v, vq, start))
		{
			TH_LOG("%s", vblk_error());
		}
	}
	attach(_metadata, v, self->be.fd);
	shadow_fill(_metadata, self, self->be.fd, SPAN);
	io = pk_rio(_metadata, self, 24);
	/* Until each ring has gone round eight times. */
	do {
		ASSERT_EQ(0, rio_run(io, RIO_MS))
		{
			TH_LOG("%s", io->err);
		}
		for (vq = 0; vq < 2; vq++)
			laps[vq] = (v->vqs[vq].used_pos - start) / ODD_NUM;
	} while ((laps[0] < 8 || laps[1] < 8) && now_ms() < end);
	ASSERT_EQ(0, rio_verify_all(io))
	{
		TH_LOG("verify: %s", io->err);
	}
	for (vq = 0; vq < 2; vq++) {
		EXPECT_LE(8ULL, laps[vq]);
		EXPECT_EQ(v->vqs[vq].avail_pos, v->vqs[vq].used_pos);
	}
	TH_LOG("%llu and %llu laps of %u slots: %llu reads, %llu writes",
	       (unsigned long long)laps[0], (unsigned long long)laps[1], ODD_NUM,
	       (unsigned long long)io->reads, (unsigned long long)io->writes);
}

/*
 * Per round: a write of six slots (slowed by dm-delay), a read of two and
 * an indirect read of one, 9 of the ring's 10 slots, so that chains
 * straddle the end of the ring as the rounds go.  The reads come back
 * first, their used descriptors at the slots the write's chain took, and
 * the used slot moves on by each chain's slot count.
 */
TEST_F_TIMEOUT(pk, chains_of_several_slots_complete_out_of_order, 120)
{
	const unsigned int num = 10;
	uint8_t data[3][4096];
	struct vblk *v;

	if (!open_slow(_metadata, self))
		return;
	v = pk_open(_metadata, self, 1, num, 3, PK_FEATURES, 4096, 1024);
	attach(_metadata, v, self->slow.fd);
	memset(data, 0, sizeof(data));
	for (unsigned int round = 0; round < 8; round++) {
		static const unsigned int layouts[3] = {VBLK_FRAG, VBLK_MERGE, VBLK_INDIRECT};
		static const unsigned int slots[3] = {6, 2, 1};
		struct vblk_req *r[3], *done[3];
		uint64_t pos = v->vqs[0].used_pos;
		unsigned int i, k;

		/* The write goes to block round % 3; the reads read the others. */
		for (i = 0; i < 3; i++) {
			uint64_t sector = ((round + i) % 3) * 8;

			r[i] = req(_metadata, v, 0, i ? T_IN : T_OUT, sector, 4096, layouts[i]);
			ASSERT_EQ(slots[i], r[i]->ndesc);
			if (!i) {
				vblk_fill_random(r[i]->data, 4096, &self->seed);
				memcpy(data[round % 3], r[i]->data, 4096);
			}
			ASSERT_EQ(0, vblk_publish(v, r[i]));
		}
		ASSERT_EQ(0, vblk_kick(v, 0, false));
		reap_all(_metadata, v, 0, done, 3);
		EXPECT_EQ(r[0], done[2])
		{
			TH_LOG("round %u: the slow write was not used last", round);
		}
		for (k = 0; k < 3; k++) {
			struct vblk_req *d = done[k];

			i = d == r[0] ? 0 : d == r[1] ? 1 : 2;
			EXPECT_EQ(pos % num, d->used_slot)
			{
				TH_LOG("round %u: request of %u slots used at slot %u, not %llu",
				       round, slots[i], d->used_slot,
				       (unsigned long long)(pos % num));
			}
			pos += slots[i];
			ASSERT_EQ(S_OK, *d->status);
			ASSERT_EQ(writable_len(d->type, 4096, d->layout), d->used_len);
			if (i)
				EXPECT_EQ(-1, first_diff(d->data, data[(round + i) % 3], 4096))
				{
					TH_LOG("round %u: read %u differs", round, i);
				}
		}
		for (i = 0; i < 3; i++)
			ASSERT_EQ(0, vblk_req_free(v, r[i]));
	}
	EXPECT_EQ(8 * 9ULL, v->vqs[0].used_pos);
}

/*
 * A used descriptor says with VRING_DESC_F_WRITE that the device wrote into
 * the buffer, and only then is its length meaningful (virtio 1.1+, "Packed
 * Virtqueues", "Write Flag" and "Element Address and Length"): a virtio-blk
 * request always gets at least its status byte written.  Both wrap counters,
 * a read (data and status) and a write (the status only), direct and
 * indirect.
 */
TEST_F(pk, used_descriptors_say_written)
{
	const unsigned int num = 8;
	struct vblk *v = pk_open(_metadata, self, 1, num, 2, PK_FEATURES, 4096, 0);

	/* From slot 5 with wrap counter 0: the ring wraps to counter 1. */
	ASSERT_EQ(0, vblk_packed_set_pos(v, 0, num + 5));
	attach(_metadata, v, self->be.fd);
	for (unsigned int i = 0; i < 8; i++) {
		struct vblk_req *r = req(_metadata, v, 0, i & 1 ? T_OUT : T_IN, i * 8, 4096,
					 i & 2 ? VBLK_INDIRECT : 0);
		struct vring_packed_desc *d;
		uint16_t wrap;

		ASSERT_EQ(0, vblk_submit(v, r));
		ASSERT_EQ(0, vblk_wait(v, r, VBLK_TIMEOUT_MS));
		ASSERT_EQ(S_OK, *r->status);
		d = &v->vqs[0].pdesc[r->used_slot];
		EXPECT_EQ(i & 1 ? 1U : 4097U, d->len);
		wrap = d->flags & (1U << VRING_PACKED_DESC_F_AVAIL) ? 0x8080 : 0;
		EXPECT_EQ(wrap | VRING_DESC_F_WRITE, d->flags)
		{
			TH_LOG("request %u: used descriptor at slot %u has flags %#x, not %#x", i,
			       r->used_slot, d->flags, wrap | VRING_DESC_F_WRITE);
		}
		ASSERT_EQ(0, vblk_req_free(v, r));
	}
}

/* ---- indirect tables ---- */

TEST_F(pk, indirect_tables)
{
	static const unsigned int layouts[] = {
		VBLK_INDIRECT,
		VBLK_INDIRECT | VBLK_FRAG,
		VBLK_INDIRECT | VBLK_SPLIT_HDR | VBLK_MERGE,
		VBLK_INDIRECT | VBLK_FRAG | VBLK_STAT_ODD,
	};
	struct vblk *v = pk_open(_metadata, self, 1, 64, 4, PK_FEATURES, 16384, 1000);
	uint8_t *want = malloc(16384);

	ASSERT_NE(NULL, want);
	attach(_metadata, v, self->be.fd);
	for (unsigned int i = 0; i < 2 * ARRAY_SIZE(layouts); i++) {
		unsigned int layout = layouts[i % ARRAY_SIZE(layouts)];
		struct vblk_req *w = req(_metadata, v, 0, T_OUT, i * 32, 16384, layout);
		struct vblk_req *r = req(_metadata, v, 0, T_IN, i * 32, 16384, layout);

		ASSERT_EQ(1U, w->ndesc);
		ASSERT_LT(1U, w->ntable);
		/* The second time round, no NEXT in the tables either: it means nothing there. */
		for (unsigned int k = 0; i >= ARRAY_SIZE(layouts) && k < r->ntable; k++) {
			w->table[k].flags &= ~VRING_DESC_F_NEXT;
			r->table[k].flags &= ~VRING_DESC_F_NEXT;
		}
		vblk_fill_random(w->data, 16384, &self->seed);
		memcpy(want, w->data, 16384);
		ASSERT_EQ(0, vblk_submit(v, w));
		ASSERT_EQ(0, vblk_wait(v, w, VBLK_TIMEOUT_MS));
		ASSERT_EQ(S_OK, *w->status);
		EXPECT_EQ(1U, w->used_len);
		ASSERT_EQ(0, vblk_submit(v, r));
		ASSERT_EQ(0, vblk_wait(v, r, VBLK_TIMEOUT_MS));
		ASSERT_EQ(S_OK, *r->status);
		EXPECT_EQ(16385U, r->used_len);
		EXPECT_EQ(-1, first_diff(r->data, want, 16384))
		{
			TH_LOG("layout %#x: the read differs", layout);
		}
		ASSERT_EQ(0, vblk_req_free(v, w));
		ASSERT_EQ(0, vblk_req_free(v, r));
	}
	free(want);
}

/* ---- stopping and restarting ---- */

/* VHOST_GET_VRING_BASE of @vq: its raw value. */
static uint32_t get_base(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq)
{
	struct vhost_vring_state st = {.index = vq};

	ASSERT_EQ(0, ioctl(v->fd, VHOST_GET_VRING_BASE, &st))
	{
		TH_LOG("VHOST_GET_VRING_BASE: %s", strerror(errno));
	}
	return st.num;
}

static int set_base(struct vblk *v, unsigned int vq, uint32_t num)
{
	struct vhost_vring_state st = {.index = vq, .num = num};

	return ioctl(v->fd, VHOST_SET_VRING_BASE, &st) ? -errno : 0;
}

/*
 * Rounds of requests of 1 to 4 slots on a ring of 16 slots that starts with
 * its wrap counters at 0, each stopped by VHOST_GET_VRING_BASE at once
 * (maybe before the device took them all): the value names the avail and
 * the used slot, both where the requests it took end, with their wrap
 * counters; it comes back the same while stopped and after a round trip
 * through VHOST_SET_VRING_BASE.  The ring restarts with SET_VRING_KICK or
 * with the backend detached and the base set again, serves the rest, and
 * random I/O goes on between rounds.
 */
TEST_F_TIMEOUT(pk, vring_base_round_trip_with_wrap_counters, 120)
{
	static const unsigned int layouts[] = {VBLK_INDIRECT, VBLK_MERGE, 0, VBLK_SPLIT_HDR};
	const unsigned int num = 16, per_round = 5;
	struct vblk *v = pk_open(_metadata, self, 1, num, 8, PK_FEATURES, MAX_DATA, 0);
	struct vblk_req *r[8], *done[8];
	unsigned int round, i, took = 0;
	struct rio *io;

	ASSERT_EQ(0, vblk_packed_set_pos(v, 0, 3 * num + 5));
	EXPECT_EQ(5U | 5U << 16, get_base(_metadata, v, 0));
	/* A slot past the ring, of either index, is refused. */
	EXPECT_EQ(-EINVAL, set_base(v, 0, num | 5U << 16));
	EXPECT_EQ(-EINVAL, set_base(v, 0, 5 | (num | 0x8000U) << 16));
	EXPECT_EQ(0, set_base(v, 0, 5U | 5U << 16));
	attach(_metadata, v, self->be.fd);
	shadow_fill(_metadata, self, self->be.fd, 4 << 20);
	io = pk_rio(_metadata, self, 6);

	for (round = 0; round < 8; round++) {
		uint16_t used_before = v->vqs[0].used_idx;
		uint32_t base;
		int n;

		for (i = 0; i < per_round; i++) {
			r[i] = req(_metadata, v, 0, T_IN, (1 << 20) / VBLK_SECTOR + i * 8, 4096,
				   layouts[(round + i) % ARRAY_SIZE(layouts)]);
			ASSERT_EQ(0, vblk_publish(v, r[i]));
		}
		ASSERT_EQ(0, vblk_kick(v, 0, true));
		base = get_base(_metadata, v, 0);
		/* Everything it took has been used: the two halves agree. */
		EXPECT_EQ(base & 0xffff, base >> 16);
		n = vblk_vring_base_count(v, 0, base);
		ASSERT_LE(0, n)
		{
			TH_LOG("round %u: base %#x: %s", round, base, vblk_error());
		}
		n = (uint16_t)(n - used_before);
		ASSERT_GE(per_round, (unsigned int)n);
		took += n;
		ASSERT_EQ((uint16_t)(used_before + n), vblk_used_idx(v, 0));
		if (n)
			reap_all(_metadata, v, 0, done, n);
		/* The slot it names is where those requests end. */
		EXPECT_EQ(vblk_packed_enc(v, v->vqs[0].used_pos), base & 0xffff);
		EXPECT_EQ(base, get_base(_metadata, v, 0));
		if (round & 1) {
			attach(_metadata, v, -1);
			ASSERT_EQ(0, set_base(v, 0, base));
			EXPECT_EQ(base, get_base(_metadata, v, 0));
			ASSERT_EQ(0, set_base(v, 0, base));
			attach(_metadata, v, self->be.fd);
		} else {
			struct vhost_vring_file kick = {.index = 0, .fd = v->vqs[0].kick};

			ASSERT_EQ(0, ioctl(v->fd, VHOST_SET_VRING_KICK, &kick));
		}
		ASSERT_EQ(0, vblk_kick(v, 0, true));
		if (per_round - n)
			reap_all(_metadata, v, 0, done, per_round - n);
		for (i = 0; i < per_round; i++) {
			ASSERT_TRUE(r[i]->done);
			ASSERT_EQ(S_OK, *r[i]->status);
			EXPECT_EQ(-1, first_diff(r[i]->data, self->shadow + (1 << 20) + i * 4096,
						 4096));
			ASSERT_EQ(0, vblk_req_free(v, r[i]));
		}
		ASSERT_EQ(0, rio_run(io, 100))
		{
			TH_LOG("%s", io->err);
		}
	}
	ASSERT_EQ(0, rio_verify_all(io))
	{
		TH_LOG("verify: %s", io->err);
	}
	EXPECT_LE(num * 3ULL, v->vqs[0].used_pos - (3 * num + 5));
	TH_LOG("%u of %u requests taken before a stop; %llu slots in all", took, 8 * per_round,
	       (unsigned long long)(v->vqs[0].used_pos - (3 * num + 5)));
}

/* ---- event suppression ---- */

TEST_F(pk, call_suppression_by_the_driver_area)
{
	struct vblk *v = pk_open(_metadata, self, 1, 8, 4, PK_BASE, 4096, 0);
	struct vring_packed_desc_event *drv = v->vqs[0].driver;
	struct vblk_req *r[4];
	int i;

	attach(_metadata, v, self->be.fd);
	/* Without EVENT_IDX, DISABLE: no call. */
	drv->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	drain_calls(v, 0);
	r[0] = req(_metadata, v, 0, T_IN, 0, 4096, VBLK_INDIRECT);
	ASSERT_EQ(0, vblk_submit(v, r[0]));
	ASSERT_TRUE(used_reaches(v, 0, 1));
	EXPECT_FALSE(call_within(v, 0, QUIET_MS));
	/* ENABLE: a call. */
	drv->flags = VRING_PACKED_EVENT_FLAG_ENABLE;
	r[1] = req(_metadata, v, 0, T_IN, 8, 4096, VBLK_INDIRECT);
	ASSERT_EQ(0, vblk_submit(v, r[1]));
	ASSERT_TRUE(used_reaches(v, 0, 2));
	EXPECT_TRUE(call_within(v, 0, VBLK_TIMEOUT_MS));
	/* The device asks for every kick. */
	EXPECT_EQ(VRING_PACKED_EVENT_FLAG_ENABLE, v->vqs[0].device->flags);
	ASSERT_EQ(2, vblk_reap(v, 0, NULL, 2, 0));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(S_OK, *r[i]->status);
		ASSERT_EQ(0, vblk_req_free(v, r[i]));
	}

	/* NOTIFY_ON_EMPTY: a call once the ring runs empty, DISABLE or not. */
	v = pk_open(_metadata, self, 1, 8, 4, PK_BASE | VBLK_BIT(VIRTIO_F_NOTIFY_ON_EMPTY), 4096,
		    0);
	attach(_metadata, v, self->be.fd);
	v->vqs[0].driver->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	r[0] = req(_metadata, v, 0, T_IN, 0, 4096, 0);
	ASSERT_EQ(0, vblk_submit(v, r[0]));
	ASSERT_TRUE(used_reaches(v, 0, 1));
	EXPECT_TRUE(call_within(v, 0, VBLK_TIMEOUT_MS));
}

/*
 * With the driver area saying DESC at the used slot of the @k-th request
 * from now, @k one-slot requests one at a time: a call for the @k-th, none
 * before.  Each is used (and reaped) without asking for a call otherwise.
 */
static void call_at(struct __test_metadata *_metadata, struct vblk *v, unsigned int k)
{
	struct vring_packed_desc_event *drv = v->vqs[0].driver;
	uint64_t event = v->vqs[0].used_pos + k - 1;
	struct vblk_req *r;
	unsigned int i;

	drv->off_wrap = vblk_packed_enc(v, event);
	__atomic_store_n(&drv->flags, VRING_PACKED_EVENT_FLAG_DESC, __ATOMIC_RELEASE);
	drain_calls(v, 0);
	for (i = 1; i <= k; i++) {
		r = req(_metadata, v, 0, T_IN, i * 8, 4096, VBLK_INDIRECT);
		ASSERT_EQ(0, vblk_submit(v, r));
		ASSERT_TRUE(used_reaches(v, 0, v->vqs[0].used_idx + 1));
		if (i < k) {
			EXPECT_FALSE(call_within(v, 0, QUIET_MS))
			{
				TH_LOG("a call for request %u of %u, at slot %llu before the event "
				       "at %#x",
				       i, k, (unsigned long long)(v->vqs[0].used_pos % v->num),
				       vblk_packed_enc(v, event));
			}
		} else {
			EXPECT_TRUE(call_within(v, 0, VBLK_TIMEOUT_MS))
			{
				TH_LOG("no call when the used slot reached the event at %#x",
				       vblk_packed_enc(v, event));
			}
		}
		ASSERT_EQ(1, vblk_reap(v, 0, NULL, 1, 0));
		EXPECT_EQ(S_OK, *r->status);
		ASSERT_EQ(0, vblk_req_free(v, r));
	}
}

/*
 * EVENT_IDX: DESC with an offset and a wrap counter.  First at the last slot
 * of a lap (the used slot, moved past it, has the next wrap counter: the
 * offset is of the lap before), then ten requests on, in the lap after next
 * (until the ring wraps, the offset is of the next lap, not of this one).
 */
TEST_F(pk, call_exactly_at_the_event_offset)
{
	const unsigned int num = 8;
	struct vblk *v = pk_open(_metadata, self, 1, num, 4,
				 PK_BASE | VBLK_BIT(VIRTIO_RING_F_EVENT_IDX), 4096, 0);
	struct vblk_req *r;

	/* Slot 4 with wrap counter 0. */
	ASSERT_EQ(0, vblk_packed_set_pos(v, 0, num + 4));
	attach(_metadata, v, self->be.fd);
	r = req(_metadata, v, 0, T_IN, 0, 4096, VBLK_INDIRECT);
	ASSERT_EQ(0, vblk_submit(v, r));
	ASSERT_EQ(0, vblk_wait(v, r, VBLK_TIMEOUT_MS));
	ASSERT_EQ(0, vblk_req_free(v, r));
	/* Idle, the device asks for a kick at the next slot to publish. */
	ASSERT_EQ(0, vblk_wait_taken(v, 0, VBLK_TIMEOUT_MS));
	EXPECT_EQ(VRING_PACKED_EVENT_FLAG_DESC, v->vqs[0].device->flags);
	EXPECT_EQ(vblk_packed_enc(v, v->vqs[0].avail_pos), v->vqs[0].device->off_wrap);

	/* Slots 5, 6, 7 (wrap 0): the event at slot 7. */
	ASSERT_EQ(5U, v->vqs[0].used_pos % num);
	call_at(_metadata, v, 3);
	/* Slot 0 (wrap 1) on, the event at slot 1 with wrap 0, ten on. */
	ASSERT_EQ(2 * num + 0ULL, v->vqs[0].used_pos);
	call_at(_metadata, v, 10);
}

/* ---- malformed rings ---- */

/* What a malformed chain on vq 0 damages: it is published with @good ones before it. */
typedef void (*damage_fn)(struct vblk *v, struct vblk_req *r);

/*
 * Publish @good requests, then @bad (damaged by @fn), kick: the error
 * eventfd fires, the good ones complete, @bad never, nor a kick more (the
 * virtqueue stays stopped, its error not signalled again), vq 1 serves on,
 * and VHOST_GET_VRING_BASE stops at the bad chain.
 */
static void ring_stops(struct __test_metadata *_metadata, FIXTURE_DATA(pk) * self, struct vblk *v,
		       unsigned int good, unsigned int layout, damage_fn fn)
{
	struct vblk_req *g[2], *bad, *r;
	uint8_t buf[4096], status = 0xff;
	uint32_t used_len = 0;
	unsigned int i;

	ASSERT_GE(2U, good);
	for (i = 0; i < good; i++) {
		g[i] = req(_metadata, v, 0, T_IN, i * 8, 4096, 0);
		ASSERT_EQ(0, vblk_publish(v, g[i]));
	}
	bad = req(_metadata, v, 0, T_IN, 64, 4096, layout);
	fn(v, bad);
	ASSERT_EQ(0, vblk_publish(v, bad));
	ASSERT_EQ(0, vblk_kick(v, 0, true));
	ASSERT_EQ(0, vblk_wait_error(v, 0, VBLK_TIMEOUT_MS))
	{
		TH_LOG("%s", vblk_error());
	}
	if (good)
		reap_all(_metadata, v, 0, g, good);
	r = req(_metadata, v, 0, T_IN, 128, 4096, 0);
	ASSERT_EQ(0, vblk_publish(v, r));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, vblk_kick(v, 0, true));
	ASSERT_EQ(-ETIMEDOUT, vblk_wait_error(v, 0, QUIET_MS))
	{
		TH_LOG("a kick read the stopped ring and signalled again");
	}
	EXPECT_EQ(good, vblk_used_idx(v, 0));
	EXPECT_FALSE(bad->done);
	ASSERT_EQ(0, vblk_run(v, 1, T_IN, 0, buf, sizeof(buf), 0, &status, &used_len));
	EXPECT_EQ(S_OK, status);
	EXPECT_EQ(-1, first_diff(buf, self->shadow, sizeof(buf)));
	EXPECT_EQ((int)good, vblk_vring_base_count(v, 0, get_base(_metadata, v, 0)));
}

/* A device of two packed virtqueues of 16 slots, on the null_blk. */
static struct vblk *mal_dev(struct __test_metadata *_metadata, FIXTURE_DATA(pk) * self,
			    uint64_t features)
{
	struct vblk *v = pk_open(_metadata, self, 2, 16, 4, features, 8192, 512);

	shadow_fill(_metadata, self, self->be.fd, 64 << 10);
	attach(_metadata, v, self->be.fd);
	return v;
}

static void id_past_the_ring(struct vblk *v, struct vblk_req *r)
{
	r->buf_id = v->num + 3;
}

TEST_F(pk, buffer_id_past_the_ring)
{
	ring_stops(_metadata, self, mal_dev(_metadata, self, PK_FEATURES), 1, 0, id_past_the_ring);
}

TEST_F(pk, buffer_id_reused_while_in_flight)
{
	struct vblk_req *w, *bad;
	struct vblk *v;

	if (!open_slow(_metadata, self))
		return;
	v = pk_open(_metadata, self, 2, 16, 4, PK_FEATURES, 8192, 512);
	shadow_fill(_metadata, self, self->slow.fd, 64 << 10);
	attach(_metadata, v, self->slow.fd);
	/* A write in flight (slowed), then a read with its id. */
	w = req(_metadata, v, 0, T_OUT, 256, 4096, 0);
	bad = req(_metadata, v, 0, T_IN, 64, 4096, 0);
	memset(w->data, 0x5a, 4096);
	ASSERT_EQ(0, vblk_publish(v, w));
	bad->buf_id = w->head;
	ASSERT_EQ(0, vblk_publish(v, bad));
	ASSERT_EQ(0, vblk_kick(v, 0, true));
	ASSERT_EQ(0, vblk_wait_error(v, 0, VBLK_TIMEOUT_MS))
	{
		TH_LOG("%s", vblk_error());
	}
	/* The write completes; the read never. */
	ASSERT_EQ(0, vblk_wait(v, w, VBLK_TIMEOUT_MS));
	EXPECT_EQ(S_OK, *w->status);
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(1, vblk_used_idx(v, 0));
	EXPECT_FALSE(bad->done);
	EXPECT_EQ(1, vblk_vring_base_count(v, 0, get_base(_metadata, v, 0)));
}

static void longer_than_the_ring(struct vblk *v, struct vblk_req *r)
{
	/* 16 slots, the last one with NEXT too: the chain runs round the ring. */
	r->draft[r->ndraft - 1].flags |= VRING_DESC_F_NEXT;
}

TEST_F(pk, chain_longer_than_the_ring)
{
	struct vblk *v = mal_dev(_metadata, self, PK_FEATURES);
	struct vblk_req *r = req(_metadata, v, 0, T_IN, 0, 14 * 512, VBLK_FRAG);

	/* header, 14 pieces, status: the whole ring. */
	ASSERT_EQ(16U, r->ndesc);
	longer_than_the_ring(v, r);
	ASSERT_EQ(0, vblk_publish(v, r));
	ASSERT_EQ(0, vblk_kick(v, 0, true));
	ASSERT_EQ(0, vblk_wait_error(v, 0, VBLK_TIMEOUT_MS))
	{
		TH_LOG("%s", vblk_error());
	}
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(0, vblk_used_idx(v, 0));
	EXPECT_EQ(0, vblk_vring_base_count(v, 0, get_base(_metadata, v, 0)));
}

static void indirect_len_odd(struct vblk *v, struct vblk_req *r)
{
	r->ind.len -= 8;
}

TEST_F(pk, indirect_len_not_a_multiple_of_16)
{
	ring_stops(_metadata, self, mal_dev(_metadata, self, PK_FEATURES), 2, VBLK_INDIRECT,
		   indirect_len_odd);
}

static void indirect_len_zero(struct vblk *v, struct vblk_req *r)
{
	r->ind.len = 0;
}

TEST_F(pk, indirect_table_empty)
{
	ring_stops(_metadata, self, mal_dev(_metadata, self, PK_FEATURES), 1, VBLK_INDIRECT,
		   indirect_len_zero);
}

static void indirect_len_huge(struct vblk *v, struct vblk_req *r)
{
	r->ind.len = 1025 * 16;
}

TEST_F(pk, indirect_table_too_long)
{
	ring_stops(_metadata, self, mal_dev(_metadata, self, PK_FEATURES), 0, VBLK_INDIRECT,
		   indirect_len_huge);
}

static void indirect_next(struct vblk *v, struct vblk_req *r)
{
	struct vblk_vq *q = &v->vqs[0];
	uint64_t next = q->avail_pos + 1;
	struct vring_packed_desc *d = &q->pdesc[next % v->num];

	/*
	 * A well-formed descriptor follows, its status byte: a device that
	 * took the chain would complete it.
	 */
	r->ind.flags |= VRING_DESC_F_NEXT;
	d->addr = vblk_gpa(v, (void *)r->status);
	d->len = 1;
	d->id = r->buf_id;
	d->flags = VRING_DESC_F_WRITE | (vblk_packed_enc(v, next) & 0x8000 ? 1U << 7 : 1U << 15);
}

/* An indirect descriptor with NEXT: the spec forbids it in a chain. */
TEST_F(pk, indirect_descriptor_with_next)
{
	ring_stops(_metadata, self, mal_dev(_metadata, self, PK_FEATURES), 1, VBLK_INDIRECT,
		   indirect_next);
}

static void indirect_in_chain(struct vblk *v, struct vblk_req *r)
{
	/* The chain's last descriptor (the status, no NEXT) becomes a table. */
	r->draft[r->ndraft - 1].flags |= VRING_DESC_F_INDIRECT;
}

TEST_F(pk, indirect_descriptor_inside_a_chain)
{
	ring_stops(_metadata, self, mal_dev(_metadata, self, PK_FEATURES), 1, 0, indirect_in_chain);
}

static void indirect_nested(struct vblk *v, struct vblk_req *r)
{
	r->table[1].flags |= VRING_DESC_F_INDIRECT;
}

TEST_F(pk, indirect_nested)
{
	ring_stops(_metadata, self, mal_dev(_metadata, self, PK_FEATURES), 1, VBLK_INDIRECT,
		   indirect_nested);
}

static void nothing(struct vblk *v, struct vblk_req *r) {}

TEST_F(pk, indirect_not_negotiated)
{
	ring_stops(_metadata, self,
		   mal_dev(_metadata, self, PK_FEATURES & ~VBLK_BIT(VIRTIO_RING_F_INDIRECT_DESC)),
		   2, VBLK_INDIRECT, nothing);
}

/* ---- dirty logging ---- */

static bool logged(const uint8_t *log, uint64_t gpa)
{
	uint64_t p = gpa / LOG_PAGE;

	return log[p / 8] & (1 << (p % 8));
}

/*
 * A ring of 1024 slots is four pages of descriptors: its used descriptors
 * go to slots 600 on (the third page), whose page is marked, and the other
 * three are not.  A read's data and status are marked, those of a direct
 * chain too whose writable buffers are four pages apart (its ranges were
 * recorded at fetch, more than a chain keeps inline).
 */
TEST_F_TIMEOUT(pk, log_marks_used_descriptors_and_data, 60)
{
	const unsigned int num = 1024;
	struct vblk *v = pk_open(_metadata, self, 1, num, 4, PK_FEATURES, 20480, 512);
	uint64_t ring = vblk_gpa(v, v->vqs[0].pdesc), size = vblk_log_size(v);
	struct vblk_req *r;
	unsigned int page, i, k;

	ASSERT_EQ(0U, ring % LOG_PAGE);
	ASSERT_EQ(0, vblk_packed_set_pos(v, 0, 600));
	attach(_metadata, v, self->be.fd);
	shadow_fill(_metadata, self, self->be.fd, 64 << 10);
	self->log = calloc(1, size);
	ASSERT_NE(NULL, self->log);
	ASSERT_EQ(0, vblk_set_log(v, self->log, -1))
	{
		TH_LOG("%s", vblk_error());
	}
	memset(self->log, 0, size);
	for (i = 0; i < 4; i++) {
		r = req(_metadata, v, 0, T_IN, i * 8, 4096, i & 1 ? VBLK_INDIRECT : VBLK_MERGE);
		ASSERT_EQ(0, vblk_submit(v, r));
		ASSERT_EQ(0, vblk_wait(v, r, VBLK_TIMEOUT_MS));
		ASSERT_EQ(S_OK, *r->status);
		EXPECT_TRUE(logged(self->log, vblk_gpa(v, r->data)));
		EXPECT_TRUE(logged(self->log, vblk_gpa(v, (void *)r->status)));
		EXPECT_TRUE(logged(self->log, vblk_used_gpa(v, r)))
		{
			TH_LOG("request %u: its used descriptor at slot %u is not marked", i,
			       r->used_slot);
		}
		ASSERT_EQ(0, vblk_req_free(v, r));
	}
	for (page = 0; page < num * 16 / LOG_PAGE; page++) {
		EXPECT_EQ(page == 2, logged(self->log, ring + page * LOG_PAGE))
		{
			TH_LOG("ring page %u %s", page,
			       page == 2 ? "not marked" : "marked, never written");
		}
	}

	/* Four data pieces in four pages (past the status), no two adjacent. */
	memset(self->log, 0, size);
	r = req(_metadata, v, 0, T_IN, 64, 2048, VBLK_FRAG);
	ASSERT_EQ(6U, r->ndesc);
	for (k = 0; k < 4; k++)
		r->draft[1 + k].addr = vblk_gpa(v, (uint8_t *)r->data + (k + 1) * 4096 - 256);
	ASSERT_EQ(0, vblk_submit(v, r));
	ASSERT_EQ(0, vblk_wait(v, r, VBLK_TIMEOUT_MS));
	ASSERT_EQ(S_OK, *r->status);
	for (k = 0; k < 4; k++) {
		uint8_t *piece = (uint8_t *)r->data + (k + 1) * 4096 - 256;

		EXPECT_TRUE(logged(self->log, vblk_gpa(v, piece)));
		EXPECT_TRUE(logged(self->log, vblk_gpa(v, piece + 511)));
		EXPECT_EQ(-1, first_diff(piece, self->shadow + 64 * VBLK_SECTOR + k * 512, 512));
	}
	EXPECT_TRUE(logged(self->log, vblk_gpa(v, (void *)r->status)));
	EXPECT_TRUE(logged(self->log, vblk_used_gpa(v, r)));
	ASSERT_EQ(0, vblk_req_free(v, r));
}

TEST_HARNESS_MAIN
