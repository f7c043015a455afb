// SPDX-License-Identifier: GPL-2.0
/*
 * VHOST_BLK_SET_LIMITS / GET_LIMITS: what the VMM put in the guest's config
 * space, enforced whatever the guest sends.  The ioctl's checks and
 * defaults; capacity, read-only, seg_max and size_max on reads and writes;
 * the DISCARD and WRITE_ZEROES bounds; and the safe defaults that refuse a
 * request of 256 whole-disk zeroing segments at once.  On brd, a
 * memory-backed null_blk and a regular file.  Runs in a VM with the module
 * loaded.
 */
#include <sys/wait.h>

#include "blk_io.h"

#define T_DISCARD VIRTIO_BLK_T_DISCARD
#define T_WZ VIRTIO_BLK_T_WRITE_ZEROES
#define SECTORS(b) ((b) / VBLK_SECTOR)

static int set_limits(struct vblk *v, const struct vhost_blk_limits *l)
{
	return ioctl(v->fd, VHOST_BLK_SET_LIMITS, l) ? -errno : 0;
}

static struct vhost_blk_limits get_limits(struct __test_metadata *_metadata, struct vblk *v)
{
	struct vhost_blk_limits l;

	memset(&l, 0xa5, sizeof(l));
	EXPECT_EQ(0, ioctl(v->fd, VHOST_BLK_GET_LIMITS, &l));
	return l;
}

/* A DISCARD or WRITE_ZEROES request: @n segments of @nsec sectors from @sector. */
static uint8_t dwz(struct __test_metadata *_metadata, struct vblk *v, uint32_t type,
		   uint64_t sector, uint32_t nsec, unsigned int n, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes segs[VHOST_BLK_MAX_SEGS];
	unsigned int i;

	for (i = 0; i < n; i++) {
		segs[i].sector = sector;
		segs[i].num_sectors = nsec;
		segs[i].flags = flags;
	}
	return run_dwz(_metadata, v, 0, type, segs, n, 0);
}

TEST_F(io, limits_ioctl_checks)
{
	struct vblk *v = dev_new(_metadata, self, 1, 4, 0, -1);
	struct vhost_blk_limits l = {}, got;
	int status;
	pid_t pid;

	/* Before a backend: read-only, nothing to discard. */
	got = get_limits(_metadata, v);
	EXPECT_EQ(0ULL, got.capacity);
	EXPECT_EQ(VHOST_BLK_LIMITS_F_RO, got.flags);

	l.reserved[3] = 1;
	EXPECT_EQ(-EINVAL, set_limits(v, &l));
	memset(&l, 0, sizeof(l));
	l.flags = 0x2;
	EXPECT_EQ(-EINVAL, set_limits(v, &l));
	l.flags = 0;
	l.max_discard_seg = VHOST_BLK_MAX_SEGS + 1;
	EXPECT_EQ(-EINVAL, set_limits(v, &l));
	l.max_discard_seg = 0;
	l.max_write_zeroes_seg = VHOST_BLK_MAX_SEGS + 1;
	EXPECT_EQ(-EINVAL, set_limits(v, &l));
	l.max_write_zeroes_seg = 0;
	l.size_max = 100;
	EXPECT_EQ(-EINVAL, set_limits(v, &l));
	l.size_max = 0;

	/* Only the owner says. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(ioctl(v->fd, VHOST_BLK_SET_LIMITS, &l) == -1 && errno == EPERM ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* The backend's defaults, once there is one. */
	ASSERT_EQ(0, vblk_set_backend(v, self->be.fd));
	got = get_limits(_metadata, v);
	EXPECT_EQ(SECTORS(self->be.size), got.capacity);
	EXPECT_EQ(0U, got.flags);
	EXPECT_EQ(0U, got.size_max);
	EXPECT_EQ(0U, got.seg_max);
	EXPECT_LE(1U, got.max_write_zeroes_seg);
	EXPECT_GE((__u32)VHOST_BLK_MAX_SEGS, got.max_write_zeroes_seg);
	EXPECT_LT(0U, got.max_write_zeroes_sectors);
	for (unsigned int i = 0; i < 7; i++)
		EXPECT_EQ(0U, got.reserved[i]);

	/* More than the backend holds is refused, less is what the guest sees. */
	l.capacity = SECTORS(self->be.size) + 1;
	EXPECT_EQ(-EINVAL, set_limits(v, &l));
	l.capacity = SECTORS(self->be.size) / 2;
	l.size_max = 65536;
	l.seg_max = 126;
	l.max_discard_sectors = 2048;
	l.max_discard_seg = 4;
	l.max_write_zeroes_sectors = 4096;
	l.max_write_zeroes_seg = 3;
	l.flags = VHOST_BLK_LIMITS_F_RO;
	ASSERT_EQ(0, set_limits(v, &l));
	got = get_limits(_metadata, v);
	EXPECT_EQ(0, memcmp(&l, &got, sizeof(l)));
}

TEST_F(io, capacity_is_enforced)
{
	struct vblk *v = dev_new(_metadata, self, 1, 4, 0, self->be.fd);
	struct vhost_blk_limits l = {.capacity = SECTORS(self->be.size) / 2};
	/* The pages read: around the capacity, and the backend's last. */
	const uint64_t win[][2] = {
		{l.capacity * VBLK_SECTOR - 4096, 8192},
		{self->be.size - 4096, 4096},
	};
	uint8_t buf[4096];

	/* Only those are written: all 64 MiB take half a minute under KASAN. */
	self->span = self->be.size;
	self->shadow = calloc(1, self->span);
	ASSERT_NE(NULL, self->shadow);
	for (unsigned int i = 0; i < ARRAY_SIZE(win); i++) {
		vblk_fill_random(self->shadow + win[i][0], win[i][1], &self->seed);
		ASSERT_EQ((ssize_t)win[i][1],
			  pwrite(self->be.fd, self->shadow + win[i][0], win[i][1], win[i][0]));
	}
	ASSERT_EQ(0, fsync(self->be.fd));
	ASSERT_EQ(0, set_limits(v, &l));
	/* The last sectors the guest has; then past them, though the backend has more. */
	read_check(_metadata, v, 0, (l.capacity - 8) * VBLK_SECTOR,
		   self->shadow + (l.capacity - 8) * VBLK_SECTOR, 4096, 0);
	EXPECT_EQ(S_IOERR, run_req(_metadata, v, 0, T_IN, l.capacity, buf, 512, 0));
	EXPECT_EQ(S_IOERR, run_req(_metadata, v, 0, T_IN, l.capacity - 4, buf, 4096, 0));
	memset(buf, 0x3c, sizeof(buf));
	EXPECT_EQ(S_IOERR, run_req(_metadata, v, 0, T_OUT, l.capacity, buf, 4096, 0));
	EXPECT_EQ(S_IOERR, dwz(_metadata, v, T_WZ, l.capacity, 8, 1, 0));
	/* The backend beyond the capacity is untouched. */
	ASSERT_EQ((ssize_t)sizeof(buf),
		  pread(self->be.fd, buf, sizeof(buf), l.capacity * VBLK_SECTOR));
	EXPECT_EQ(0, memcmp(buf, self->shadow + l.capacity * VBLK_SECTOR, sizeof(buf)));

	/* Raised while the device serves: the guest's disk grew. */
	l.capacity = 0;
	ASSERT_EQ(0, set_limits(v, &l));
	read_check(_metadata, v, 0, self->be.size - 4096, self->shadow + self->be.size - 4096, 4096,
		   0);
}

TEST_F(io, read_only_flag_refuses_writes)
{
	struct vblk *v = dev_new(_metadata, self, 1, 4, 0, self->be.fd);
	struct vhost_blk_limits l = {.flags = VHOST_BLK_LIMITS_F_RO};
	uint8_t buf[4096];

	shadow_init(_metadata, self, 1 << 20);
	ASSERT_EQ(0, set_limits(v, &l));
	memset(buf, 0x77, sizeof(buf));
	EXPECT_EQ(S_IOERR, run_req(_metadata, v, 0, T_OUT, 0, buf, sizeof(buf), 0));
	EXPECT_EQ(S_IOERR, dwz(_metadata, v, T_WZ, 0, 8, 1, 0));
	EXPECT_EQ(S_IOERR, dwz(_metadata, v, T_DISCARD, 0, 8, 1, 0));
	read_check(_metadata, v, 0, 0, self->shadow, 1 << 16, 0);
}

TEST_F(io, seg_max_and_size_max_are_enforced)
{
	struct vblk *v = dev_new(_metadata, self, 1, 4, 0, self->be.fd);
	struct vhost_blk_limits l = {.seg_max = 4};
	uint8_t buf[8192];
	struct vblk_req *r;

	shadow_init(_metadata, self, 1 << 20);
	ASSERT_EQ(0, set_limits(v, &l));
	/* Header, data in 1000-byte pieces, status. */
	ASSERT_EQ(S_OK, run_req(_metadata, v, 0, T_IN, 0, buf, 4 * 512, VBLK_FRAG));
	ASSERT_EQ(0, vblk_req_new(v, 0, T_IN, 0, 5 * 1000 / 512 * 512, VBLK_FRAG, &r));
	EXPECT_LT(4U + 2, r->ndesc);
	ASSERT_EQ(0, vblk_req_free(v, r));
	EXPECT_EQ(S_IOERR, run_req(_metadata, v, 0, T_IN, 0, buf, 5 * 1000 / 512 * 512, VBLK_FRAG));

	memset(&l, 0, sizeof(l));
	l.size_max = 4096;
	ASSERT_EQ(0, set_limits(v, &l));
	read_check(_metadata, v, 0, 0, self->shadow, 4096, 0);
	EXPECT_EQ(S_IOERR, run_req(_metadata, v, 0, T_IN, 0, buf, 8192, 0));
	/* The same bytes in descriptors of at most size_max. */
	read_check(_metadata, v, 0, 0, self->shadow, 8192, VBLK_FRAG);
}

TEST_F(io, discard_and_write_zeroes_bounds)
{
	struct vblk *v = dev_new(_metadata, self, 1, 4, 0, self->be.fd);
	struct vhost_blk_limits l = {
		.max_discard_sectors = 16,
		.max_discard_seg = 2,
		.max_write_zeroes_sectors = 32,
		.max_write_zeroes_seg = 3,
	};

	ASSERT_EQ(0, set_limits(v, &l));
	EXPECT_EQ(S_OK, dwz(_metadata, v, T_WZ, 64, 32, 3, 0));
	EXPECT_EQ(S_IOERR, dwz(_metadata, v, T_WZ, 64, 40, 1, 0));
	EXPECT_EQ(S_UNSUPP, dwz(_metadata, v, T_WZ, 64, 8, 4, 0));
	EXPECT_EQ(S_IOERR, dwz(_metadata, v, T_DISCARD, 64, 24, 1, 0));
	EXPECT_EQ(S_UNSUPP, dwz(_metadata, v, T_DISCARD, 64, 8, 3, 0));
	/* A backend that cannot discard says so within the bounds. */
	EXPECT_NE(S_IOERR, dwz(_metadata, v, T_DISCARD, 64, 16, 2, 0));
}

TEST_F(io, discard_and_write_zeroes_need_the_feature)
{
	uint64_t features = VBLK_FEATURES_ALL &
			    ~(VBLK_BIT(VIRTIO_BLK_F_DISCARD) | VBLK_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	struct vblk *v = dev_new(_metadata, self, 1, 4, features, self->be.fd);

	EXPECT_EQ(S_UNSUPP, dwz(_metadata, v, T_DISCARD, 0, 8, 1, 0));
	EXPECT_EQ(S_UNSUPP, dwz(_metadata, v, T_WZ, 0, 8, 1, 0));
}

/*
 * The defaults bound what one request may cost: 256 whole-disk zeroing
 * segments, or one whole-disk segment on a device that zeroes by writing,
 * are refused at once, and the virtqueue serves on.
 */
TEST_F(io, whole_disk_zeroing_is_refused_at_once)
{
	struct vblk *v = dev_new(_metadata, self, 2, 4, 0, self->be.fd);
	struct vhost_blk_limits got = get_limits(_metadata, v);
	uint64_t disk = SECTORS(self->be.size);
	int64_t t0 = now_ms();
	uint8_t st;

	shadow_init(_metadata, self, 1 << 20);
	EXPECT_NE(S_OK, dwz(_metadata, v, T_WZ, 0, disk, VHOST_BLK_MAX_SEGS, 0));
	EXPECT_NE(S_OK, dwz(_metadata, v, T_WZ, 0, disk, VHOST_BLK_MAX_SEGS,
			    VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP));
	EXPECT_NE(S_OK, dwz(_metadata, v, T_DISCARD, 0, disk, VHOST_BLK_MAX_SEGS, 0));
	EXPECT_GT(1000, now_ms() - t0)
	{
		TH_LOG("refusing took %lld ms", (long long)(now_ms() - t0));
	}
	/* One whole-disk segment: refused where zeroing writes, else quick. */
	t0 = now_ms();
	st = dwz(_metadata, v, T_WZ, 0, disk, 1, 0);
	if (got.max_write_zeroes_sectors < disk)
		EXPECT_EQ(S_IOERR, st);
	EXPECT_GT(5000, now_ms() - t0)
	{
		TH_LOG("one whole-disk segment took %lld ms", (long long)(now_ms() - t0));
	}
	if (st != S_OK)
		read_check(_metadata, v, 1, 0, self->shadow, 1 << 16, 0);
}

TEST_HARNESS_MAIN
