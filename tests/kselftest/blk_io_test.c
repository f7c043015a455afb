// SPDX-License-Identifier: GPL-2.0
/*
 * The data path of /dev/vhost-blk: data integrity under random I/O on 1
 * to 16 virtqueues, every request type, descriptor layouts, ring index
 * wrap-around and notification suppression; on brd, null_blk and a file.
 * Runs in a VM with the module loaded:
 * scripts/vm-run --load -- tests/kselftest/run_tests.sh blk_io_test
 */
#include "blk_io.h"

TEST_F(io, features_offered)
{
	int fd = open(VBLK_DEV_PATH, O_RDWR | O_CLOEXEC);
	uint64_t f = 0;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, ioctl(fd, VHOST_GET_FEATURES, &f));
	close(fd);
	EXPECT_EQ(VBLK_FEATURES_ALL, f & VBLK_FEATURES_ALL)
	{
		TH_LOG("offered %#llx", (unsigned long long)f);
	}
}

TEST_F_TIMEOUT(io, random_rw_1vq, 60)
{
	shadow_init(_metadata, self, SPAN);
	random_io(_metadata, self, dev_new(_metadata, self, 1, 32, 0, self->be.fd), 32, RIO_MS);
}

TEST_F_TIMEOUT(io, random_rw_2vqs, 60)
{
	shadow_init(_metadata, self, SPAN);
	random_io(_metadata, self, dev_new(_metadata, self, 2, 16, 0, self->be.fd), 16, RIO_MS);
}

TEST_F_TIMEOUT(io, random_rw_4vqs, 60)
{
	shadow_init(_metadata, self, SPAN);
	random_io(_metadata, self, dev_new(_metadata, self, 4, 8, 0, self->be.fd), 8, RIO_MS);
}

TEST_F_TIMEOUT(io, random_rw_16vqs, 60)
{
	shadow_init(_metadata, self, SPAN);
	random_io(_metadata, self, dev_new(_metadata, self, 16, 8, 0, self->be.fd), 8, RIO_MS);
}

/* Without EVENT_IDX: the driver kicks unless VRING_USED_F_NO_NOTIFY. */
TEST_F_TIMEOUT(io, random_rw_no_event_idx, 60)
{
	uint64_t f = VBLK_FEATURES_ALL & ~VBLK_BIT(VIRTIO_RING_F_EVENT_IDX);

	shadow_init(_metadata, self, SPAN);
	random_io(_metadata, self, dev_new(_metadata, self, 2, 16, f, self->be.fd), 16, RIO_MS / 2);
}

TEST_F(io, flush)
{
	struct vblk *v = dev_new(_metadata, self, 1, 4, 0, self->be.fd);
	uint8_t buf[8192];

	vblk_fill_random(buf, sizeof(buf), &self->seed);
	write_ok(_metadata, v, 0, 1 << 20, buf, sizeof(buf), 0);
	EXPECT_EQ(S_OK, run_req(_metadata, v, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 0));
	EXPECT_EQ(S_OK, run_req(_metadata, v, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0,
				VBLK_SPLIT_HDR | VBLK_INDIRECT));
	read_check(_metadata, v, 0, 1 << 20, buf, sizeof(buf), 0);
}

TEST_F(io, get_id_default_serial_is_empty)
{
	struct vblk *v = dev_new(_metadata, self, 1, 4, 0, self->be.fd);
	static const char zeros[VBLK_SERIAL_LEN];
	char id[VBLK_SERIAL_LEN];
	struct vhost_blk_serial s;

	/* No host detail (a device name, an inode) reaches the guest unasked. */
	memset(id, 0x5a, sizeof(id));
	ASSERT_EQ(S_OK, run_req(_metadata, v, 0, VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id), 0));
	EXPECT_EQ(0, memcmp(id, zeros, sizeof(id)))
	{
		TH_LOG("the default serial is '%.20s'", id);
	}
	memset(&s, 0x5a, sizeof(s));
	ASSERT_EQ(0, ioctl(v->fd, VHOST_BLK_GET_SERIAL, &s));
	EXPECT_EQ(0, memcmp(s.serial, zeros, sizeof(zeros)));
}

TEST_F(io, get_id_set_serial)
{
	static const char full[VBLK_SERIAL_LEN] = "ABCDEFGHIJKLMNOPQRST";
	struct vhost_blk_serial s = {.serial = "vblk-test-serial"};
	char id[VBLK_SERIAL_LEN];
	struct vblk *v;

	v = dev_new(_metadata, self, 1, 4, 0, -1);
	ASSERT_EQ(0, ioctl(v->fd, VHOST_BLK_SET_SERIAL, &s));
	ASSERT_EQ(0, vblk_set_backend(v, self->be.fd));
	memset(id, 0x5a, sizeof(id));
	ASSERT_EQ(S_OK, run_req(_metadata, v, 0, VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id), 0));
	EXPECT_EQ(0, memcmp(s.serial, id, sizeof(id)))
	{
		TH_LOG("GET_ID gave '%.20s'", id);
	}

	/* All 20 bytes, no NUL. */
	v = dev_new(_metadata, self, 1, 4, 0, -1);
	memcpy(s.serial, full, sizeof(full));
	ASSERT_EQ(0, ioctl(v->fd, VHOST_BLK_SET_SERIAL, &s));
	ASSERT_EQ(0, vblk_set_backend(v, self->be.fd));
	memset(id, 0, sizeof(id));
	ASSERT_EQ(S_OK,
		  run_req(_metadata, v, 0, VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id), VBLK_SPLIT_HDR));
	EXPECT_EQ(0, memcmp(full, id, sizeof(id)));
	memset(&s, 0, sizeof(s));
	ASSERT_EQ(0, ioctl(v->fd, VHOST_BLK_GET_SERIAL, &s));
	EXPECT_EQ(0, memcmp(full, s.serial, sizeof(full)));
}

/* Can the backend discard?  Tried on its last MiB, which no case uses. */
static bool can_discard(struct vblk_backend *be)
{
	uint64_t range[2] = {be->size - (1 << 20), 1 << 20};

	if (be->kind == VBLK_BE_FILE)
		return !fallocate(be->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, range[0],
				  range[1]);
	return !ioctl(be->fd, BLKDISCARD, range);
}

/* Page-aligned: brd frees whole pages only. */
#define DISCARD_OFF (1U << 20)
#define DISCARD_PRE 8192U
#define DISCARD_LEN (64U << 10)

TEST_F(io, discard_reads_zeros)
{
	const uint64_t off = DISCARD_OFF, pre = DISCARD_PRE, len = DISCARD_LEN;
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = off / VBLK_SECTOR,
		.num_sectors = len / VBLK_SECTOR,
	};
	struct vblk *v = dev_new(_metadata, self, 1, 4, 0, self->be.fd);
	uint8_t want[DISCARD_PRE + DISCARD_LEN + DISCARD_PRE];
	uint8_t status;

	vblk_fill_random(want, sizeof(want), &self->seed);
	write_ok(_metadata, v, 0, off - pre, want, sizeof(want), 0);
	status = run_dwz(_metadata, v, 0, VIRTIO_BLK_T_DISCARD, &seg, 1, 0);
	if (status == S_UNSUPP) {
		ASSERT_FALSE(can_discard(&self->be))
		{
			TH_LOG("DISCARD is UNSUPP, yet %s discards from userspace", self->be.path);
		}
		SKIP(return, "this backend cannot discard (UNSUPP)");
	}
	ASSERT_EQ(S_OK, status);
	memset(want + pre, 0, len);
	read_check(_metadata, v, 0, off - pre, want, sizeof(want), 0);

	/* Again through an indirect table, the header split. */
	vblk_fill_random(want, sizeof(want), &self->seed);
	write_ok(_metadata, v, 0, off - pre, want, sizeof(want), 0);
	ASSERT_EQ(S_OK, run_dwz(_metadata, v, 0, VIRTIO_BLK_T_DISCARD, &seg, 1,
				VBLK_INDIRECT | VBLK_SPLIT_HDR | VBLK_MERGE));
	memset(want + pre, 0, len);
	read_check(_metadata, v, 0, off - pre, want, sizeof(want), VBLK_MERGE);
}

TEST_F(io, write_zeroes_reads_zeros)
{
	/* [first, last) sectors relative to base, and the UNMAP flag. */
	static const struct {
		uint32_t first, last, flags;
	} z[] = {
		{1, 8, 0},
		{16, 48, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP},
		{64, 72, 0},
		{100, 103, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP},
		{200, 205, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP},
	};
	const uint64_t base = 2 << 20;
	struct vblk *v = dev_new(_metadata, self, 1, 4, 0, self->be.fd);
	struct virtio_blk_discard_write_zeroes segs[2];
	uint8_t want[256 * VBLK_SECTOR];
	unsigned int i;

	vblk_fill_random(want, sizeof(want), &self->seed);
	write_ok(_metadata, v, 0, base, want, sizeof(want), 0);
	/* One segment per request for the first three, then two in one. */
	for (i = 0; i < 5; i++) {
		struct virtio_blk_discard_write_zeroes *s = &segs[i < 3 ? 0 : i - 3];

		s->sector = base / VBLK_SECTOR + z[i].first;
		s->num_sectors = z[i].last - z[i].first;
		s->flags = z[i].flags;
		memset(want + z[i].first * VBLK_SECTOR, 0, (z[i].last - z[i].first) * VBLK_SECTOR);
		if (i >= 3)
			continue;
		ASSERT_EQ(S_OK, run_dwz(_metadata, v, 0, VIRTIO_BLK_T_WRITE_ZEROES, s, 1,
					i == 1 ? VBLK_INDIRECT : 0))
		{
			TH_LOG("segment %u (flags %#x)", i, z[i].flags);
		}
	}
	ASSERT_EQ(S_OK, run_dwz(_metadata, v, 0, VIRTIO_BLK_T_WRITE_ZEROES, segs, 2,
				VBLK_SPLIT_HDR | VBLK_MERGE));
	read_check(_metadata, v, 0, base, want, sizeof(want), 0);
}

TEST_F(io, unsupported_requests)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = (3 << 20) / VBLK_SECTOR,
		.num_sectors = 8,
		.flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
	};
	struct vblk *v = dev_new(_metadata, self, 1, 4, 0, self->be.fd);
	uint8_t buf[4096];

	vblk_fill_random(buf, sizeof(buf), &self->seed);
	write_ok(_metadata, v, 0, 3 << 20, buf, sizeof(buf), 0);
	EXPECT_EQ(S_UNSUPP, run_req(_metadata, v, 0, 0x7f, 0, NULL, 0, 0));
	EXPECT_EQ(S_UNSUPP, run_req(_metadata, v, 0, 0x7f, 0, buf, 512, 0));
	/* UNMAP is a WRITE_ZEROES flag: a DISCARD with it is unsupported. */
	EXPECT_EQ(S_UNSUPP, run_dwz(_metadata, v, 0, VIRTIO_BLK_T_DISCARD, &seg, 1, 0));
	read_check(_metadata, v, 0, 3 << 20, buf, sizeof(buf), 0);
}

TEST_F(io, layouts)
{
	static const unsigned int layouts[] = {
		0,
		VBLK_SPLIT_HDR,
		VBLK_MERGE,
		VBLK_SPLIT_HDR | VBLK_MERGE,
		VBLK_FRAG,
		VBLK_FRAG | VBLK_MERGE,
		VBLK_SPLIT_HDR | VBLK_FRAG | VBLK_MERGE,
		VBLK_INDIRECT,
		VBLK_INDIRECT | VBLK_SPLIT_HDR,
		VBLK_INDIRECT | VBLK_MERGE,
		VBLK_INDIRECT | VBLK_FRAG,
		VBLK_INDIRECT | VBLK_SPLIT_HDR | VBLK_FRAG | VBLK_MERGE,
	};
	/* 12800 bytes cross the memory regions' boundary in vq 0's first slot. */
	static const uint32_t sizes[] = {512, 4096, 12800, 65536};
	const unsigned int n = sizeof(layouts) / sizeof(layouts[0]);
	struct vblk *v = dev_new(_metadata, self, 1, 4, 0, self->be.fd);
	uint8_t *buf = malloc(65536);
	unsigned int i, j;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			uint64_t off = (4ULL << 20) + (i * 4 + j) * 65536ULL;

			vblk_fill_random(buf, sizes[j], &self->seed);
			write_ok(_metadata, v, 0, off, buf, sizes[j], layouts[i]);
			read_check(_metadata, v, 0, off, buf, sizes[j], layouts[(i + 1) % n]);
		}
	}
	free(buf);
}

#define WRAP_NUM 8U
#define WRAP_LEN 2048U

/* A full ring of indirect chains, its indexes starting near 65535 so that they wrap. */
TEST_F(io, full_ring_indexes_wrap)
{
	const uint16_t base = 65536 - 21;
	struct vblk_config cfg = {
		.nvqs = 1,
		.queue_size = WRAP_NUM,
		.depth = WRAP_NUM,
		.max_data = WRAP_LEN,
	};
	struct vhost_vring_state st = {.index = 0, .num = base};
	uint8_t want[WRAP_NUM][WRAP_LEN];
	struct vblk_req *r[WRAP_NUM];
	unsigned int round, i;
	struct vblk_vq *q;
	struct vblk *v;

	if (vblk_default_packed())
		SKIP(return, "split ring indexes (blk_packed_test wraps packed rings)");
	ASSERT_EQ(0, vblk_open(&cfg, &self->v[0]))
	{
		TH_LOG("%s", vblk_error());
	}
	v = self->v[0];
	q = &v->vqs[0];
	q->avail_idx = q->kicked_idx = q->used_idx = base;
	q->vr.avail->idx = q->vr.used->idx = base;
	*vblk_used_event(v, 0) = base;
	*vblk_avail_event(v, 0) = base;
	ASSERT_EQ(0, ioctl(v->fd, VHOST_SET_VRING_BASE, &st));
	ASSERT_EQ(0, vblk_set_backend(v, self->be.fd));
	/* Writes, then reads of them, WRAP_NUM at a time: the ring is full. */
	for (round = 0; round < 6; round++) {
		uint32_t type = round & 1 ? T_IN : T_OUT;

		for (i = 0; i < WRAP_NUM; i++) {
			ASSERT_EQ(0, vblk_req_new(v, 0, type, (6 << 20) / VBLK_SECTOR + i * 8,
						  WRAP_LEN, VBLK_INDIRECT, &r[i]));
			if (type == T_OUT) {
				vblk_fill_random(want[i], WRAP_LEN, &self->seed);
				memcpy(r[i]->data, want[i], WRAP_LEN);
			}
			ASSERT_EQ(0, vblk_publish(v, r[i]));
		}
		ASSERT_EQ(0, vblk_kick(v, 0, false));
		for (i = 0; i < WRAP_NUM; i++) {
			ASSERT_EQ(0, vblk_wait(v, r[i], VBLK_TIMEOUT_MS))
			{
				TH_LOG("round %u: %s", round, vblk_error());
			}
			ASSERT_EQ(S_OK, *r[i]->status);
			if (type == T_IN)
				ASSERT_EQ(-1, first_diff(r[i]->data, want[i], WRAP_LEN));
			ASSERT_EQ(0, vblk_req_free(v, r[i]));
		}
	}
	EXPECT_EQ((uint16_t)(base + 6 * WRAP_NUM), vblk_used_idx(v, 0));
}

/* Spin until @vq's used index reaches @idx. */
static bool used_reaches(struct vblk *v, unsigned int vq, uint16_t idx)
{
	int64_t end = now_ms() + VBLK_TIMEOUT_MS;

	while (vblk_used_idx(v, vq) != idx)
		if (now_ms() > end || usleep(1000))
			return false;
	return true;
}

static bool call_within(struct vblk *v, unsigned int vq, int ms)
{
	struct pollfd pfd = {.fd = v->vqs[vq].call, .events = POLLIN};

	return poll(&pfd, 1, ms) == 1;
}

TEST_F(io, interrupt_suppression)
{
	const uint64_t base = VBLK_BIT(VIRTIO_F_VERSION_1) | VBLK_BIT(VIRTIO_RING_F_INDIRECT_DESC);
	struct vblk *v = dev_new(_metadata, self, 1, 4, base, self->be.fd);
	struct vblk_vq *q = &v->vqs[0];
	struct vblk_req *r[3];
	eventfd_t val;
	int i;

	/* VRING_AVAIL_F_NO_INTERRUPT: the request completes without a call. */
	q->vr.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	eventfd_read(q->call, &val);
	ASSERT_EQ(0, vblk_req_new(v, 0, T_IN, 0, 4096, 0, &r[0]));
	ASSERT_EQ(0, vblk_submit(v, r[0]));
	ASSERT_TRUE(used_reaches(v, 0, 1));
	EXPECT_FALSE(call_within(v, 0, 100));
	q->vr.avail->flags = 0;
	ASSERT_EQ(0, vblk_req_new(v, 0, T_IN, 8, 4096, 0, &r[1]));
	ASSERT_EQ(0, vblk_submit(v, r[1]));
	ASSERT_TRUE(used_reaches(v, 0, 2));
	EXPECT_TRUE(call_within(v, 0, VBLK_TIMEOUT_MS));
	ASSERT_EQ(0, vblk_wait(v, r[1], VBLK_TIMEOUT_MS));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(S_OK, *r[i]->status);
		ASSERT_EQ(0, vblk_req_free(v, r[i]));
	}

	/* EVENT_IDX: a call only when used_event is crossed. */
	v = dev_new(_metadata, self, 1, 4, base | VBLK_BIT(VIRTIO_RING_F_EVENT_IDX), self->be.fd);
	q = &v->vqs[0];
	ASSERT_EQ(0, vblk_req_new(v, 0, T_IN, 0, 4096, 0, &r[0]));
	ASSERT_EQ(0, vblk_submit(v, r[0]));
	ASSERT_EQ(0, vblk_wait(v, r[0], VBLK_TIMEOUT_MS));
	eventfd_read(q->call, &val);
	*vblk_used_event(v, 0) = q->used_idx + 3;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ASSERT_EQ(0, vblk_req_new(v, 0, T_IN, 8, 4096, 0, &r[1]));
	ASSERT_EQ(0, vblk_submit(v, r[1]));
	ASSERT_TRUE(used_reaches(v, 0, 2));
	EXPECT_FALSE(call_within(v, 0, 100));
	*vblk_used_event(v, 0) = 2;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ASSERT_EQ(0, vblk_req_new(v, 0, T_IN, 16, 4096, 0, &r[2]));
	ASSERT_EQ(0, vblk_submit(v, r[2]));
	ASSERT_TRUE(used_reaches(v, 0, 3));
	EXPECT_TRUE(call_within(v, 0, VBLK_TIMEOUT_MS));
	ASSERT_EQ(0, vblk_wait(v, r[2], VBLK_TIMEOUT_MS));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(S_OK, *r[i]->status);

	/* NOTIFY_ON_EMPTY: a call when the ring runs empty, suppressed or not. */
	vblk_close(self->v[0]);
	self->v[0] = NULL;
	v = dev_new(_metadata, self, 1, 4, base | VBLK_BIT(VIRTIO_F_NOTIFY_ON_EMPTY), self->be.fd);
	q = &v->vqs[0];
	q->vr.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	ASSERT_EQ(0, vblk_req_new(v, 0, T_IN, 0, 4096, 0, &r[0]));
	ASSERT_EQ(0, vblk_submit(v, r[0]));
	ASSERT_TRUE(used_reaches(v, 0, 1));
	EXPECT_TRUE(call_within(v, 0, VBLK_TIMEOUT_MS));
	ASSERT_EQ(0, vblk_wait(v, r[0], VBLK_TIMEOUT_MS));
	EXPECT_EQ(S_OK, *r[0]->status);
}

TEST_HARNESS_MAIN
