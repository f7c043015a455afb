// SPDX-License-Identifier: GPL-2.0
/*
 * The virtqueue ioctls: ring size, addresses, base, busy-loop timeout,
 * endianness and the kick, call and error eventfds.
 * See vhost_abi.h for the variants (vhost-scsi as the oracle, vhost-blk).
 * Run in a VM: scripts/vm-run [--load] -- tests/kselftest/run_tests.sh abi_vring_test
 */
#include "vhost_abi.h"

/* SET_VRING_NUM */

TEST_F(vhost, vring_num_valid)
{
	struct vhost_vring_state s = {.index = 0};
	unsigned int nums[] = {1, 2, RING_NUM, 1024, 32768};
	unsigned int i;

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		s.num = nums[i];
		EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_SET_VRING_NUM, &s))
		{
			TH_LOG("num %u", nums[i]);
		}
	}
}

TEST_F(vhost, vring_num_invalid)
{
	struct vhost_vring_state s = {.index = 0};
	unsigned int nums[] = {0, 3, 255, 0x10000, 0x20000, 0xffffffff};
	unsigned int i;

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		s.num = nums[i];
		EXPECT_EQ(EINVAL, ioctl_errno(self->fd, VHOST_SET_VRING_NUM, &s))
		{
			TH_LOG("num %#x", nums[i]);
		}
	}
}

TEST_F(vhost, vring_num_bad_index_enobufs)
{
	struct vhost_vring_state s = {.index = BAD_INDEX, .num = RING_NUM};
	unsigned int nvqs;

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	nvqs = count_vqs(self->fd);
	ASSERT_LT(0U, nvqs);
	ASSERT_GT(BAD_INDEX, nvqs);
	EXPECT_EQ(ENOBUFS, ioctl_errno(self->fd, VHOST_SET_VRING_NUM, &s));
	s.index = nvqs;
	EXPECT_EQ(ENOBUFS, ioctl_errno(self->fd, VHOST_SET_VRING_NUM, &s));
	s.index = nvqs - 1;
	EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_SET_VRING_NUM, &s));
	/* The index is checked before the number. */
	s.index = BAD_INDEX;
	s.num = 0;
	EXPECT_EQ(ENOBUFS, ioctl_errno(self->fd, VHOST_SET_VRING_NUM, &s));
}

TEST_F(vhost, vring_null_arg_efault)
{
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_SET_VRING_NUM, NULL));
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, NULL));
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_GET_VRING_BASE, NULL));
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_SET_VRING_KICK, NULL));
}

/* SET_VRING_ADDR */

TEST_F(vhost, vring_addr_valid)
{
	unsigned int i;

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, setup_ring(self->fd, self->area, i));
}

TEST_F(vhost, vring_addr_misaligned_einval)
{
	uintptr_t base = (uintptr_t)self->area;
	struct vhost_vring_addr a = {
		.index = 0,
		.desc_user_addr = base,
		.avail_user_addr = base + PAGE,
		.used_user_addr = base + 2 * PAGE,
	};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &a));
	a.avail_user_addr = base + PAGE + 1;
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &a));
	a.avail_user_addr = base + PAGE;
	a.used_user_addr = base + 2 * PAGE + 2;
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &a));
	a.used_user_addr = base + 2 * PAGE;
	a.log_guest_addr = 2;
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &a));
}

TEST_F(vhost, vring_addr_unknown_flags_eopnotsupp)
{
	uintptr_t base = (uintptr_t)self->area;
	struct vhost_vring_addr a = {
		.index = 0,
		.flags = 1U << 1,
		.desc_user_addr = base,
		.avail_user_addr = base + PAGE,
		.used_user_addr = base + 2 * PAGE,
	};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EOPNOTSUPP, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &a));
	a.flags = ~0U;
	EXPECT_EQ(EOPNOTSUPP, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &a));
	/* Flags are checked before alignment. */
	a.flags = 1U << 1;
	a.avail_user_addr = base + 1;
	EXPECT_EQ(EOPNOTSUPP, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &a));
	a.flags = 0;
	a.avail_user_addr = base + PAGE;
	EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &a));
}

TEST_F(vhost, vring_addr_log_flag)
{
	uintptr_t base = (uintptr_t)self->area;
	struct vhost_vring_addr a = {
		.index = 0,
		.flags = 1U << VHOST_VRING_F_LOG,
		.desc_user_addr = base,
		.avail_user_addr = base + PAGE,
		.used_user_addr = base + 2 * PAGE,
		.log_guest_addr = 2 * PAGE,
	};

	/*
	 * VHOST_VRING_F_LOG is the one known flag; both accept it whatever
	 * the features (the log is only checked with a backend).
	 */
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(variant->log_flag_errno, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &a));
}

TEST_F(vhost, vring_addr_bad_index_enobufs)
{
	uintptr_t base = (uintptr_t)self->area;
	struct vhost_vring_addr a = {
		.index = BAD_INDEX,
		.flags = 1U << 1,
		.desc_user_addr = base,
		.avail_user_addr = base + 1,
		.used_user_addr = base + 2 * PAGE,
	};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	/* The index comes first, before flags and alignment. */
	EXPECT_EQ(ENOBUFS, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &a));
}

TEST_F(vhost, vring_addr_unchecked_without_backend)
{
	struct vhost_vring_addr a = {
		.index = 0,
		.desc_user_addr = 0x1000,
		.avail_user_addr = 0x2000,
		.used_user_addr = 0x3000,
	};

	/*
	 * Ring addresses are checked against the memory only once a backend
	 * is attached; without one, aligned addresses outside any region (or
	 * any mapping) are accepted, even with an empty table.
	 */
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &a));
	EXPECT_EQ(0, set_mem(self->fd, 0, NULL));
	EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &a));
}

/* SET/GET_VRING_BASE */

TEST_F(vhost, vring_base_roundtrip)
{
	struct vhost_vring_state s = {.index = 1, .num = 5};
	struct vhost_vring_state g = {.index = 1, .num = 0};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_VRING_BASE, &s));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_GET_VRING_BASE, &g));
	EXPECT_EQ(1U, g.index);
	EXPECT_EQ(5U, g.num);
	s.num = 0xffff;
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_VRING_BASE, &s));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_GET_VRING_BASE, &g));
	EXPECT_EQ(0xffffU, g.num);
	/* Other rings are untouched. */
	g.index = 0;
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_GET_VRING_BASE, &g));
	EXPECT_EQ(0U, g.index);
	EXPECT_EQ(0U, g.num);
}

TEST_F(vhost, vring_base_too_big_einval)
{
	struct vhost_vring_state s = {.index = 0, .num = 3};
	struct vhost_vring_state g = {.index = 0};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_VRING_BASE, &s));
	s.num = 0x10000;
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, VHOST_SET_VRING_BASE, &s));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_GET_VRING_BASE, &g));
	EXPECT_EQ(3U, g.num);
}

TEST_F(vhost, vring_base_bad_index_enobufs)
{
	struct vhost_vring_state s = {.index = BAD_INDEX, .num = 0x10000};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(ENOBUFS, ioctl_errno(self->fd, VHOST_SET_VRING_BASE, &s));
	EXPECT_EQ(ENOBUFS, ioctl_errno(self->fd, VHOST_GET_VRING_BASE, &s));
}

TEST_F(vhost, vring_busyloop_timeout_roundtrip)
{
	struct vhost_vring_state s = {.index = 0, .num = 50};
	struct vhost_vring_state g = {.index = 0};

	/* Core vring state: stored by every device; vhost-net and vhost-blk poll by it. */
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &g));
	EXPECT_EQ(0U, g.index);
	EXPECT_EQ(50U, g.num);
	s.index = BAD_INDEX;
	EXPECT_EQ(ENOBUFS, ioctl_errno(self->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s));
}

TEST_F(vhost, vring_endian_enotty)
{
	struct vhost_vring_state s = {.index = 0, .num = VHOST_VRING_LITTLE_ENDIAN};

	/* CONFIG_VHOST_CROSS_ENDIAN_LEGACY is off in Debian: ENOTTY. */
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(ENOTTY, ioctl_errno(self->fd, VHOST_SET_VRING_ENDIAN, &s));
	EXPECT_EQ(ENOTTY, ioctl_errno(self->fd, VHOST_GET_VRING_ENDIAN, &s));
}

/* SET_VRING_KICK / CALL / ERR */

TEST_F(vhost, vring_kick_eventfd)
{
	int e1 = eventfd(0, EFD_CLOEXEC), e2 = eventfd(0, EFD_CLOEXEC);
	__u64 one = 1;

	ASSERT_LE(0, e1);
	ASSERT_LE(0, e2);
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, setup_ring(self->fd, self->area, 0));
	EXPECT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_KICK, 0, e1));
	/* A kick with no backend is ignored. */
	EXPECT_EQ((ssize_t)sizeof(one), write(e1, &one, sizeof(one)));
	EXPECT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_KICK, 0, e1));
	EXPECT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_KICK, 0, e2));
	EXPECT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_KICK, 0, -1));
	/* The device holds its own reference: closing ours first is fine. */
	EXPECT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_KICK, 1, e1));
	EXPECT_EQ(0, close(e1));
	EXPECT_EQ(0, close(e2));
}

TEST_F(vhost, vring_call_err_eventfd)
{
	int efd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_CALL, 0, efd));
	EXPECT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_CALL, 0, efd));
	EXPECT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_CALL, 0, -1));
	EXPECT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_ERR, 0, efd));
	EXPECT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_ERR, 0, -1));
	EXPECT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_CALL, 1, efd));
	EXPECT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_ERR, 1, efd));
	EXPECT_EQ(0, close(efd));
}

TEST_F(vhost, vring_files_reject_non_eventfd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, null);
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EINVAL, vring_file(self->fd, VHOST_SET_VRING_KICK, 0, null));
	EXPECT_EQ(EINVAL, vring_file(self->fd, VHOST_SET_VRING_CALL, 0, null));
	EXPECT_EQ(EINVAL, vring_file(self->fd, VHOST_SET_VRING_ERR, 0, null));
	/* Nor the vhost file itself. */
	EXPECT_EQ(EINVAL, vring_file(self->fd, VHOST_SET_VRING_KICK, 0, self->fd));
	EXPECT_EQ(0, close(null));
}

TEST_F(vhost, vring_files_bad_fd_ebadf)
{
	int closed = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, closed);
	ASSERT_EQ(0, close(closed));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EBADF, vring_file(self->fd, VHOST_SET_VRING_KICK, 0, closed));
	EXPECT_EQ(EBADF, vring_file(self->fd, VHOST_SET_VRING_CALL, 0, closed));
	EXPECT_EQ(EBADF, vring_file(self->fd, VHOST_SET_VRING_ERR, 0, closed));
	/* Only -1 means "detach"; other negative numbers are bad fds. */
	EXPECT_EQ(EBADF, vring_file(self->fd, VHOST_SET_VRING_KICK, 0, -2));
	EXPECT_EQ(EBADF, vring_file(self->fd, VHOST_SET_VRING_CALL, 0, -2));
	EXPECT_EQ(EBADF, vring_file(self->fd, VHOST_SET_VRING_ERR, 0, -2));
}

TEST_F(vhost, vring_files_bad_index_enobufs)
{
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	/* The index comes first, before the fd. */
	EXPECT_EQ(ENOBUFS, vring_file(self->fd, VHOST_SET_VRING_KICK, BAD_INDEX, -2));
	EXPECT_EQ(ENOBUFS, vring_file(self->fd, VHOST_SET_VRING_CALL, BAD_INDEX, -2));
	EXPECT_EQ(ENOBUFS, vring_file(self->fd, VHOST_SET_VRING_ERR, BAD_INDEX, -2));
}

TEST_HARNESS_MAIN
