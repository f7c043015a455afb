// SPDX-License-Identifier: GPL-2.0
/*
 * The device ioctls: ownership, features, memory table, RESET_OWNER,
 * unknown ioctls and close().
 * See vhost_abi.h for the variants (vhost-scsi as the oracle, vhost-blk).
 * Run in a VM: scripts/vm-run [--load] -- tests/kselftest/run_tests.sh abi_dev_test
 */
#include "vhost_abi.h"

/* Ownership */

TEST_F(vhost, set_owner_once)
{
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EBUSY, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	/* Still owned by us. */
	EXPECT_EQ(0, setup_ring(self->fd, self->area, 0));
}

TEST_F(vhost, set_owner_by_child_is_ebusy)
{
	/* "Already owned" is checked before "are you the owner". */
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EBUSY, child_errno(self->fd, VHOST_SET_OWNER, NULL));
}

TEST_F(vhost, child_is_not_owner)
{
	struct vhost_vring_state num = {.index = 0, .num = RING_NUM};
	struct vhost_vring_state base = {.index = 0};
	struct vhost_memory mem = {.nregions = 0};
	struct vhost_vring_file f = {.index = 0, .fd = -1};
	struct vhost_worker_state w = {0};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_SET_MEM_TABLE, &mem));
	EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_SET_VRING_NUM, &num));
	EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_GET_VRING_BASE, &base));
	EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_SET_VRING_KICK, &f));
	EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_SET_VRING_CALL, &f));
	if (probe_new_worker(variant->path) != ENOTTY)
		EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_NEW_WORKER, &w));
	/* The owner is unaffected. */
	EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_SET_VRING_NUM, &num));
}

TEST_F(vhost, child_can_become_owner)
{
	struct vhost_vring_state s = {.index = 0, .num = RING_NUM};

	/*
	 * Whoever calls SET_OWNER first owns the device, even a child that
	 * then exits: its parent is locked out, and close() still works.
	 */
	ASSERT_EQ(0, child_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EPERM, ioctl_errno(self->fd, VHOST_SET_VRING_NUM, &s));
	EXPECT_EQ(EBUSY, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_SET_VRING_NUM, &s));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
}

TEST_F(vhost, thread_of_owner_is_owner)
{
	struct vhost_vring_state num = {.index = 0, .num = RING_NUM};
	struct vhost_vring_state base = {.index = 0, .num = 7};

	/* Ownership is per mm: any thread of the owning process may drive it. */
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, thread_errno(self->fd, VHOST_SET_VRING_NUM, &num));
	EXPECT_EQ(0, thread_errno(self->fd, VHOST_SET_VRING_BASE, &base));
	EXPECT_EQ(EBUSY, thread_errno(self->fd, VHOST_SET_OWNER, NULL));
}

TEST_F(vhost, unowned_vring_ioctls_eperm)
{
	struct vhost_vring_state s = {.index = 0, .num = RING_NUM};
	struct vhost_vring_addr addr = {.index = 0};
	struct vhost_memory mem = {.nregions = 0};
	int efd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, efd);
	/* Before SET_OWNER nobody is the owner: everything but SET_OWNER is EPERM. */
	EXPECT_EQ(EPERM, ioctl_errno(self->fd, VHOST_SET_MEM_TABLE, &mem));
	EXPECT_EQ(EPERM, ioctl_errno(self->fd, VHOST_SET_VRING_NUM, &s));
	EXPECT_EQ(EPERM, ioctl_errno(self->fd, VHOST_SET_VRING_ADDR, &addr));
	EXPECT_EQ(EPERM, ioctl_errno(self->fd, VHOST_SET_VRING_BASE, &s));
	EXPECT_EQ(EPERM, ioctl_errno(self->fd, VHOST_GET_VRING_BASE, &s));
	EXPECT_EQ(EPERM, vring_file(self->fd, VHOST_SET_VRING_KICK, 0, efd));
	EXPECT_EQ(EPERM, vring_file(self->fd, VHOST_SET_VRING_CALL, 0, efd));
	EXPECT_EQ(EPERM, vring_file(self->fd, VHOST_SET_VRING_ERR, 0, efd));
	EXPECT_EQ(0, close(efd));
}

TEST_F(vhost, unowned_eperm_before_argument_checks)
{
	struct vhost_vring_state s = {.index = BAD_INDEX, .num = 0};

	/* The owner check comes before reading or validating the argument. */
	EXPECT_EQ(EPERM, ioctl_errno(self->fd, VHOST_SET_VRING_NUM, &s));
	EXPECT_EQ(EPERM, ioctl_errno(self->fd, VHOST_SET_VRING_NUM, NULL));
	EXPECT_EQ(EPERM, ioctl_errno(self->fd, VHOST_SET_MEM_TABLE, NULL));
}

/* Features */

TEST_F(vhost, features_roundtrip)
{
	__u64 features = 0, again = 0, zero = 0;

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_GET_FEATURES, &features));
	EXPECT_NE(0ULL, features);
	EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_SET_FEATURES, &features));
	EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_SET_FEATURES, &zero));
	/* GET reports what the device offers, not what was acked. */
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_GET_FEATURES, &again));
	EXPECT_EQ(features, again);
}

TEST_F(vhost, features_unknown_bit_eopnotsupp)
{
	__u64 features = 0, bad;

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_GET_FEATURES, &features));
	ASSERT_EQ(0ULL, features & (1ULL << 63));
	bad = features | (1ULL << 63);
	EXPECT_EQ(EOPNOTSUPP, ioctl_errno(self->fd, VHOST_SET_FEATURES, &bad));
	bad = ~0ULL;
	EXPECT_EQ(EOPNOTSUPP, ioctl_errno(self->fd, VHOST_SET_FEATURES, &bad));
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_SET_FEATURES, NULL));
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_GET_FEATURES, NULL));
}

TEST_F(vhost, features_owner_rules)
{
	__u64 features = 0, child = 0;

	/* GET_FEATURES needs no owner anywhere. */
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_GET_FEATURES, &features));
	EXPECT_NE(0ULL, features);
	/* Mainline has no owner check on SET_FEATURES; vhost-blk does. */
	EXPECT_EQ(variant->set_features_needs_owner ? EPERM : 0,
		  ioctl_errno(self->fd, VHOST_SET_FEATURES, &features));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_SET_FEATURES, &features));
	EXPECT_EQ(variant->set_features_needs_owner ? EPERM : 0,
		  child_errno(self->fd, VHOST_SET_FEATURES, &features));
	EXPECT_EQ(0, child_errno(self->fd, VHOST_GET_FEATURES, &child));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_GET_FEATURES, &child));
	EXPECT_EQ(features, child);
}

TEST_F(vhost, backend_features)
{
	__u64 val = 0;

	if (variant->implements_backend_features) {
		/* None offered; GET answers anyone, SET is the owner's. */
		val = ~0ULL;
		EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_GET_BACKEND_FEATURES, &val));
		EXPECT_EQ(0ULL, val);
		EXPECT_EQ(EPERM, ioctl_errno(self->fd, VHOST_SET_BACKEND_FEATURES, &val));
		ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
		EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_SET_BACKEND_FEATURES, &val));
		val = 1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2;
		EXPECT_EQ(EOPNOTSUPP, ioctl_errno(self->fd, VHOST_SET_BACKEND_FEATURES, &val));
		EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_GET_BACKEND_FEATURES, NULL));
		return;
	}
	/*
	 * vhost-scsi has no backend features (no IOTLB messages): its owner
	 * answers ENOTTY (for a value whose low 32 bits are a valid vq index).
	 */
	EXPECT_EQ(variant->unknown_ioctl_not_owner_errno,
		  ioctl_errno(self->fd, VHOST_GET_BACKEND_FEATURES, &val));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(ENOTTY, ioctl_errno(self->fd, VHOST_GET_BACKEND_FEATURES, &val));
	EXPECT_EQ(0ULL, val);
	EXPECT_EQ(ENOTTY, ioctl_errno(self->fd, VHOST_SET_BACKEND_FEATURES, &val));
	val = 1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2;
	EXPECT_EQ(ENOTTY, ioctl_errno(self->fd, VHOST_SET_BACKEND_FEATURES, &val));
}

/* Memory table */

TEST_F(vhost, mem_table_one_region)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = 0,
		.memory_size = AREA_SIZE,
		.userspace_addr = (uintptr_t)self->area,
	};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, set_mem(self->fd, 1, &r));
	/* Replacing the table is allowed. */
	r.guest_phys_addr = 0x100000;
	EXPECT_EQ(0, set_mem(self->fd, 1, &r));
}

TEST_F(vhost, mem_table_two_regions)
{
	struct vhost_memory_region r[2] = {
		{
			.guest_phys_addr = 0,
			.memory_size = AREA_SIZE / 2,
			.userspace_addr = (uintptr_t)self->area,
		},
		{
			.guest_phys_addr = 0x100000000ULL,
			.memory_size = AREA_SIZE / 2,
			.userspace_addr = (uintptr_t)self->area + AREA_SIZE / 2,
		},
	};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, set_mem(self->fd, 2, r));
}

TEST_F(vhost, mem_table_empty)
{
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, set_mem(self->fd, 0, NULL));
}

TEST_F(vhost, mem_table_region_limit)
{
	struct vhost_memory_region *r = calloc(MAX_MEM_REGIONS + 1, sizeof(*r));
	unsigned int i;

	ASSERT_NE(NULL, r);
	/* 65 disjoint 4 KiB regions carved out of the area. */
	for (i = 0; i <= MAX_MEM_REGIONS; i++) {
		r[i].guest_phys_addr = i * PAGE;
		r[i].memory_size = PAGE;
		r[i].userspace_addr = (uintptr_t)self->area + i * PAGE;
		r[i].flags_padding = 0;
	}
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, set_mem(self->fd, MAX_MEM_REGIONS, r));
	EXPECT_EQ(E2BIG, set_mem(self->fd, MAX_MEM_REGIONS + 1, r));
	free(r);
}

TEST_F(vhost, mem_table_padding_eopnotsupp)
{
	struct vhost_memory mem = {.nregions = 0, .padding = 1};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EOPNOTSUPP, ioctl_errno(self->fd, VHOST_SET_MEM_TABLE, &mem));
	/* padding is checked before nregions. */
	mem.nregions = MAX_MEM_REGIONS + 1;
	EXPECT_EQ(EOPNOTSUPP, ioctl_errno(self->fd, VHOST_SET_MEM_TABLE, &mem));
}

TEST_F(vhost, mem_table_bad_pointer_efault)
{
	char *page =
		mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct vhost_memory *mem;

	ASSERT_NE(MAP_FAILED, page);
	ASSERT_EQ(0, mprotect(page + PAGE, PAGE, PROT_NONE));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_SET_MEM_TABLE, NULL));
	/* A readable header whose regions lie in an inaccessible page. */
	mem = (struct vhost_memory *)(page + PAGE - sizeof(*mem));
	mem->nregions = 1;
	mem->padding = 0;
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_SET_MEM_TABLE, mem));
	munmap(page, 2 * PAGE);
}

TEST_F(vhost, mem_table_overlapping_regions)
{
	struct vhost_memory_region r[2] = {
		{
			.guest_phys_addr = 0,
			.memory_size = AREA_SIZE / 2,
			.userspace_addr = (uintptr_t)self->area,
		},
		{
			.guest_phys_addr = AREA_SIZE / 4,
			.memory_size = AREA_SIZE / 2,
			.userspace_addr = (uintptr_t)self->area + AREA_SIZE / 2,
		},
	};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(variant->rejects_bad_regions ? EINVAL : 0, set_mem(self->fd, 2, r));
}

TEST_F(vhost, mem_table_overlap_at_the_top_of_guest_space)
{
	/* The first region ends at 2^64 exactly: its end wraps to 0. */
	struct vhost_memory_region r[2] = {
		{
			.guest_phys_addr = 0ULL - 2 * PAGE,
			.memory_size = 2 * PAGE,
			.userspace_addr = (uintptr_t)self->area,
		},
		{
			.guest_phys_addr = 0ULL - PAGE,
			.memory_size = PAGE,
			.userspace_addr = (uintptr_t)self->area + 2 * PAGE,
		},
	};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(variant->rejects_bad_regions ? EINVAL : 0, set_mem(self->fd, 2, r));
	/* Alone, a region that ends at 2^64 is fine. */
	EXPECT_EQ(0, set_mem(self->fd, 1, r));
}

TEST_F(vhost, mem_table_userspace_addr_overflow)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = 0,
		.memory_size = 2 * PAGE,
		.userspace_addr = ~0ULL - PAGE + 1,
	};

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(variant->bad_user_range_errno, set_mem(self->fd, 1, &r));
}

TEST_F(vhost, mem_table_guest_range_wraps_efault)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = ~0ULL - PAGE + 1,
		.memory_size = 2 * PAGE,
		.userspace_addr = (uintptr_t)self->area,
	};

	/*
	 * Mainline rejects a guest range whose last byte wraps (and an empty
	 * region not at 0) while building the table: EFAULT.
	 */
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EFAULT, set_mem(self->fd, 1, &r));
	r.guest_phys_addr = PAGE;
	r.memory_size = 0;
	EXPECT_EQ(EFAULT, set_mem(self->fd, 1, &r));
}

/* VHOST_RESET_OWNER */

TEST_F(vhost, reset_owner_unowned_eperm)
{
	EXPECT_EQ(EPERM, ioctl_errno(self->fd, VHOST_RESET_OWNER, NULL));
	/* And the device can still be owned. */
	EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
}

TEST_F(vhost, reset_owner_not_owner_eperm)
{
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_RESET_OWNER, NULL));
	EXPECT_EQ(EBUSY, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
}

TEST_F(vhost, reset_owner)
{
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, setup_ring(self->fd, self->area, 0));
	if (!variant->implements_reset_owner) {
		EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_RESET_OWNER, NULL));
		/* Nothing happened: still owned by us. */
		EXPECT_EQ(EBUSY, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
		EXPECT_EQ(0, setup_ring(self->fd, self->area, 0));
		return;
	}
	EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_RESET_OWNER, NULL));
	/* Unowned again: owner-only ioctls are refused, SET_OWNER works. */
	EXPECT_EQ(EPERM, setup_ring(self->fd, self->area, 0));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, setup_ring(self->fd, self->area, 0));
}

TEST_F(vhost, reset_owner_frees_workers)
{
	unsigned int id;

	REQUIRE_WORKERS();
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, new_worker(self->fd, &id));
	ASSERT_EQ(0, new_worker(self->fd, &id));
	ASSERT_EQ(2U, id);
	ASSERT_EQ(0, attach_worker(self->fd, 0, 2));
	EXPECT_EQ(variant->implements_reset_owner ? 0 : EFAULT,
		  ioctl_errno(self->fd, VHOST_RESET_OWNER, NULL));
	if (!variant->implements_reset_owner) {
		/* Nothing happened: the workers are still there. */
		EXPECT_EQ(2U, vq_worker(self->fd, 0));
		EXPECT_EQ(0, free_worker(self->fd, 1));
		return;
	}
	/* All workers went away; the new default is id 0 again. */
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0U, vq_worker(self->fd, 0));
	EXPECT_EQ(ENODEV, free_worker(self->fd, 2));
	ASSERT_EQ(0, new_worker(self->fd, &id));
	EXPECT_EQ(1U, id);
}

TEST_F(vhost, reset_owner_restores_fork_owner)
{
	__u8 val;

	REQUIRE_FORK_OWNER();
	ASSERT_EQ(0, set_fork_owner(self->fd, VHOST_FORK_OWNER_KTHREAD));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(variant->implements_reset_owner ? 0 : EFAULT,
		  ioctl_errno(self->fd, VHOST_RESET_OWNER, NULL));
	/* RESET_OWNER puts the mode back to the default. */
	ASSERT_EQ(0, get_fork_owner(self->fd, &val));
	EXPECT_EQ(variant->implements_reset_owner ? default_fork_owner() : VHOST_FORK_OWNER_KTHREAD,
		  val);
}

/* Unknown ioctls */

TEST_F(vhost, unknown_ioctl_not_owner)
{
	__u32 index = 0;

	EXPECT_EQ(variant->unknown_ioctl_not_owner_errno,
		  ioctl_errno(self->fd, VHOST_UNKNOWN_IOCTL, &index));
	EXPECT_EQ(variant->unknown_ioctl_not_owner_errno,
		  ioctl_errno(self->fd, VHOST_UNKNOWN_IOCTL, NULL));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(variant->unknown_ioctl_not_owner_errno,
		  child_errno(self->fd, VHOST_UNKNOWN_IOCTL, &index));
}

TEST_F(vhost, unknown_ioctl_owned)
{
	__u32 index = 0;

	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	/* With a readable argument naming a valid vq: ENOTTY everywhere. */
	EXPECT_EQ(ENOTTY, ioctl_errno(self->fd, VHOST_UNKNOWN_IOCTL, &index));
	EXPECT_EQ(ENOTTY, ioctl_errno(self->fd, _IO('x', 0x7f), &index));
	EXPECT_EQ(variant->unknown_ioctl_null_arg_errno,
		  ioctl_errno(self->fd, VHOST_UNKNOWN_IOCTL, NULL));
	index = BAD_INDEX;
	EXPECT_EQ(variant->unknown_ioctl_bad_index_errno,
		  ioctl_errno(self->fd, VHOST_UNKNOWN_IOCTL, &index));
}

/* close() */

TEST_F(vhost, close_with_rings_then_reopen)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	unsigned int i;

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, setup_ring(self->fd, self->area, i));
		ASSERT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_KICK, i, efd));
		ASSERT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_CALL, i, efd));
		ASSERT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_ERR, i, efd));
	}
	EXPECT_EQ(0, close(self->fd));
	self->fd = open(variant->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, setup_ring(self->fd, self->area, 0));
	EXPECT_EQ(0, close(efd));
}

TEST_F(vhost, close_with_workers_then_reopen)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	unsigned int w1, w2, id;

	REQUIRE_WORKERS();
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, setup_ring(self->fd, self->area, 0));
	ASSERT_EQ(0, setup_ring(self->fd, self->area, 1));
	ASSERT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_KICK, 0, efd));
	ASSERT_EQ(0, new_worker(self->fd, &w1));
	ASSERT_EQ(0, new_worker(self->fd, &w2));
	ASSERT_EQ(0, attach_worker(self->fd, 0, w1));
	ASSERT_EQ(0, attach_worker(self->fd, 1, w2));
	/* Unused workers are freed too. */
	ASSERT_EQ(0, new_worker(self->fd, &id));
	EXPECT_EQ(0, close(self->fd));
	self->fd = open(variant->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0U, vq_worker(self->fd, 0));
	EXPECT_EQ(0U, vq_worker(self->fd, 1));
	ASSERT_EQ(0, new_worker(self->fd, &id));
	EXPECT_EQ(1U, id);
	EXPECT_EQ(0, close(efd));
}

TEST_HARNESS_MAIN
