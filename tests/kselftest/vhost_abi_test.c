// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost device ABI, run unchanged against two devices: the classic
 * vhost ioctls (owner, features, memory table, vrings, kick/call/err files),
 * mainline's four worker ioctls (Linux 6.5), the fork-owner ioctls (6.17,
 * backported to 6.12.42) and RESET_OWNER, with their exact errnos and the
 * order in which the checks are made.
 *
 * Variant "scsi" is /dev/vhost-scsi, mainline's vhost_scsi.ko, the only
 * mainline driver that routes the worker ioctls: it is the oracle.  Variant
 * "blk" is /dev/vhost-blk.  Every case expects the same answer from both,
 * except the deliberate differences, which are fields of the variant, each
 * with a comment saying what differs and why.
 *
 * Worker cases skip where NEW_WORKER answers ENOTTY (kernels < 6.5, e.g.
 * Debian's 6.1), fork-owner cases where GET_FORK_FROM_OWNER does (< 6.17;
 * vhost-blk has them on every kernel, kthread mode only before 6.4).
 * Run in a VM: scripts/vm-run [--load] -- tests/kselftest/run_tests.sh vhost_abi_test
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vhost_blk.h>

#include "kselftest_harness.h"

/* A virtqueue index beyond every device (vhost-scsi has at most 2 + 1024). */
#define BAD_INDEX 4096U
/* Mainline's vhost.ko max_mem_regions default. */
#define MAX_MEM_REGIONS 64U
#define RING_NUM 256U
/* Each ring gets a 16 KiB slot: desc at 0, avail at 4 KiB, used at 8 KiB. */
#define SLOT_SIZE 0x4000UL
#define NR_SLOTS 64U
#define AREA_SIZE (NR_SLOTS * SLOT_SIZE)
#define PAGE 0x1000UL
/* An ioctl number no vhost device defines (0x50-0x5f is unused on 0xAF). */
#define VHOST_UNKNOWN_IOCTL _IO(VHOST_VIRTIO, 0x5e)

/* 0 if the ioctl succeeds, else its errno. */
static int ioctl_errno(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? errno : 0;
}

/*
 * The same, from a forked child: it shares the open file but has its own
 * mm, so it is not the owner.  Returns the child's errno, or -1.
 */
static int child_errno(int fd, unsigned long req, void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(ioctl_errno(fd, req, arg));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

struct thread_call {
	int fd;
	unsigned long req;
	void *arg;
	int err;
};

static void *thread_call_fn(void *p)
{
	struct thread_call *c = p;

	c->err = ioctl_errno(c->fd, c->req, c->arg);
	return NULL;
}

/* The same, from another thread of this process (same mm: the owner). */
static int thread_errno(int fd, unsigned long req, void *arg)
{
	struct thread_call c = {.fd = fd, .req = req, .arg = arg, .err = -1};
	pthread_t t;

	if (pthread_create(&t, NULL, thread_call_fn, &c))
		return -1;
	pthread_join(t, NULL);
	return c.err;
}

/* VHOST_SET_MEM_TABLE with @n regions; returns 0 or errno. */
static int set_mem(int fd, unsigned int n, const struct vhost_memory_region *regions)
{
	struct vhost_memory *mem = calloc(1, sizeof(*mem) + n * sizeof(*regions));
	int err;

	if (!mem)
		return ENOMEM;
	mem->nregions = n;
	if (n)
		memcpy(mem->regions, regions, n * sizeof(*regions));
	err = ioctl_errno(fd, VHOST_SET_MEM_TABLE, mem);
	free(mem);
	return err;
}

/*
 * Map @area (AREA_SIZE bytes) at guest address 0 and set up ring @index of
 * RING_NUM entries in its slot.  Returns 0 or the first errno.
 */
static int setup_ring(int fd, void *area, unsigned int index)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = 0,
		.memory_size = AREA_SIZE,
		.userspace_addr = (uintptr_t)area,
	};
	struct vhost_vring_state num = {.index = index, .num = RING_NUM};
	uintptr_t slot = (uintptr_t)area + (index % NR_SLOTS) * SLOT_SIZE;
	struct vhost_vring_addr addr = {
		.index = index,
		.desc_user_addr = slot,
		.avail_user_addr = slot + PAGE,
		.used_user_addr = slot + 2 * PAGE,
	};
	int err;

	err = set_mem(fd, 1, &r);
	if (!err)
		err = ioctl_errno(fd, VHOST_SET_VRING_NUM, &num);
	if (!err)
		err = ioctl_errno(fd, VHOST_SET_VRING_ADDR, &addr);
	return err;
}

/* The number of virtqueues of an owned device: the first index answering ENOBUFS. */
static unsigned int count_vqs(int fd)
{
	unsigned int i;

	for (i = 0; i < BAD_INDEX; i++) {
		struct vhost_vring_state s = {.index = i};

		if (ioctl_errno(fd, VHOST_GET_VRING_BASE, &s) == ENOBUFS)
			break;
	}
	return i;
}

static int vring_file(int fd, unsigned long req, unsigned int index, int file)
{
	struct vhost_vring_file f = {.index = index, .fd = file};

	return ioctl_errno(fd, req, &f);
}

static int new_worker(int fd, unsigned int *id)
{
	struct vhost_worker_state w = {.worker_id = ~0U};
	int err = ioctl_errno(fd, VHOST_NEW_WORKER, &w);

	*id = w.worker_id;
	return err;
}

static int free_worker(int fd, unsigned int id)
{
	struct vhost_worker_state w = {.worker_id = id};

	return ioctl_errno(fd, VHOST_FREE_WORKER, &w);
}

static int attach_worker(int fd, unsigned int index, unsigned int id)
{
	struct vhost_vring_worker w = {.index = index, .worker_id = id};

	return ioctl_errno(fd, VHOST_ATTACH_VRING_WORKER, &w);
}

/* The id of the worker serving vq @index, or ~0U on error. */
static unsigned int vq_worker(int fd, unsigned int index)
{
	struct vhost_vring_worker w = {.index = index, .worker_id = ~0U};

	if (ioctl_errno(fd, VHOST_GET_VRING_WORKER, &w) || w.index != index)
		return ~0U;
	return w.worker_id;
}

/*
 * What NEW_WORKER answers on a scratch owned file of @path: ENOTTY on
 * kernels without the worker ioctls (an owned vhost-scsi < 6.5 takes them for
 * an unknown vring ioctl on vq 0).
 */
static int probe_new_worker(const char *path)
{
	struct vhost_worker_state w = {0};
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int err;

	if (fd < 0)
		return errno;
	err = ioctl_errno(fd, VHOST_SET_OWNER, NULL);
	if (!err)
		err = ioctl_errno(fd, VHOST_NEW_WORKER, &w);
	close(fd);
	return err;
}

/* Likewise for GET_FORK_FROM_OWNER (ENOTTY before 6.17 / 6.12.42). */
static int probe_fork_owner(const char *path)
{
	__u8 buf[8] = {0};
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int err;

	if (fd < 0)
		return errno;
	err = ioctl_errno(fd, VHOST_SET_OWNER, NULL);
	if (!err)
		err = ioctl_errno(fd, VHOST_GET_FORK_FROM_OWNER, buf);
	close(fd);
	return err;
}

#define REQUIRE_WORKERS()                                                                          \
	do {                                                                                       \
		if (probe_new_worker(variant->path) == ENOTTY)                                     \
			SKIP(return, "%s: no worker ioctls (kernel < 6.5)", variant->path);        \
	} while (0)

#define REQUIRE_FORK_OWNER()                                                                       \
	do {                                                                                       \
		if (probe_fork_owner(variant->path) == ENOTTY)                                     \
			SKIP(return, "%s: no fork-owner ioctls (kernel < 6.17)", variant->path);   \
	} while (0)

FIXTURE(vhost)
{
	int fd;
	void *area; /* AREA_SIZE bytes of "guest memory" */
};

FIXTURE_VARIANT(vhost)
{
	const char *path;
	/* Module to modprobe when the node is missing, or NULL. */
	const char *module;
	/*
	 * VHOST_RESET_OWNER: vhost-blk implements it like vhost-net (owner
	 * only; full cleanup; SET_OWNER works again; worker ids restart at 0;
	 * fork-owner mode back to the default).  vhost-scsi does not: it falls
	 * through to the vring path with a NULL argument and answers EFAULT.
	 */
	bool implements_reset_owner;
	/*
	 * vhost-blk validates regions: mainline accepts overlapping/overflowing
	 * regions and fails later at access time.  vhost-blk answers EINVAL for
	 * overlapping guest ranges (see bad_user_range_errno for overflow).
	 */
	bool rejects_bad_regions;
	/*
	 * NEW_WORKER in kthread mode (fork_from_owner 0): mainline refuses with
	 * EFAULT because kthreads escape RLIMIT_NPROC; vhost-blk allows extra
	 * workers in kthread mode (0).
	 */
	int kthread_new_worker_errno;
	/*
	 * Unknown ioctls.  vhost-blk answers ENOTTY always, before looking at
	 * the owner or the argument (QEMU relies on ENOTTY).  Mainline drivers
	 * pass them to vhost_dev_ioctl (owner check first: EPERM when the
	 * caller is not the owner, including on an unowned device), then to
	 * vhost_vring_ioctl, which reads a u32 vq index from the argument
	 * first: EFAULT for a NULL argument, ENOBUFS for an index >= nvqs, and
	 * ENOTTY only for a readable valid index.
	 */
	int unknown_ioctl_not_owner_errno;
	int unknown_ioctl_null_arg_errno;
	int unknown_ioctl_bad_index_errno;
	/*
	 * A region whose userspace_addr + memory_size overflows, or leaves the
	 * user address space: mainline accepts it (and fails at access time);
	 * vhost-blk refuses the table with EFAULT.
	 */
	int bad_user_range_errno;
	/*
	 * VHOST_VRING_F_LOG: mainline accepts it whatever the features.
	 * vhost-blk implements no dirty logging (VHOST_F_LOG_ALL is not
	 * offered) and refuses the flag with EOPNOTSUPP rather than log nothing.
	 */
	int log_flag_errno;
	/*
	 * VHOST_SET_FEATURES: mainline has no owner check; vhost-blk lets only
	 * the owner configure the device (EPERM before SET_OWNER or from
	 * another process).
	 */
	bool set_features_needs_owner;
	/*
	 * VHOST_GET/SET_BACKEND_FEATURES: vhost-scsi does not implement them
	 * (unknown-ioctl path).  vhost-blk does, like vhost-net: it offers none
	 * (GET answers 0 to anyone), SET of 0 by the owner succeeds and any bit
	 * is EOPNOTSUPP.
	 */
	bool implements_backend_features;
};

/* clang-format off */
FIXTURE_VARIANT_ADD(vhost, scsi)
{
	.path = "/dev/vhost-scsi",
	.module = "vhost_scsi",
	.implements_reset_owner = false,
	.rejects_bad_regions = false,
	.kthread_new_worker_errno = EFAULT,
	.unknown_ioctl_not_owner_errno = EPERM,
	.unknown_ioctl_null_arg_errno = EFAULT,
	.unknown_ioctl_bad_index_errno = ENOBUFS,
	.bad_user_range_errno = 0,
	.log_flag_errno = 0,
	.set_features_needs_owner = false,
	.implements_backend_features = false,
};

FIXTURE_VARIANT_ADD(vhost, blk)
{
	.path = "/dev/" VHOST_BLK_DEVICE_NAME,
	.module = NULL,
	.implements_reset_owner = true,
	.rejects_bad_regions = true,
	.kthread_new_worker_errno = 0,
	.unknown_ioctl_not_owner_errno = ENOTTY,
	.unknown_ioctl_null_arg_errno = ENOTTY,
	.unknown_ioctl_bad_index_errno = ENOTTY,
	.bad_user_range_errno = EFAULT,
	.log_flag_errno = EOPNOTSUPP,
	.set_features_needs_owner = true,
	.implements_backend_features = true,
};
/* clang-format on */

FIXTURE_SETUP(vhost)
{
	self->fd = -1;
	self->area = MAP_FAILED;
	if (access(variant->path, F_OK) && variant->module) {
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "modprobe -q %s", variant->module);
		if (system(cmd))
			TH_LOG("%s failed", cmd);
	}
	if (access(variant->path, F_OK))
		SKIP(return, "%s is absent", variant->path);
	self->fd = open(variant->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd)
	{
		TH_LOG("open %s: %s", variant->path, strerror(errno));
	}
	self->area =
		mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->area);
}

FIXTURE_TEARDOWN(vhost)
{
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
	if (self->area != MAP_FAILED)
		munmap(self->area, AREA_SIZE);
}

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
	 * VHOST_VRING_F_LOG is the one known flag; mainline accepts it
	 * whatever the features (the log is only checked with a backend),
	 * vhost-blk refuses it (see log_flag_errno).
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

	/* Core vring state: stored by every device, used by vhost-net only. */
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

/* Worker ioctls */

TEST_F(vhost, worker_default_is_zero)
{
	struct vhost_vring_worker w = {.index = 0};
	unsigned int i, nvqs;

	REQUIRE_WORKERS();
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	nvqs = count_vqs(self->fd);
	ASSERT_LT(0U, nvqs);
	for (i = 0; i < nvqs; i++)
		ASSERT_EQ(0U, vq_worker(self->fd, i))
		{
			TH_LOG("vq %u", i);
		}
	/* GET_VRING_WORKER knows the same vq count. */
	w.index = nvqs;
	EXPECT_EQ(ENOBUFS, ioctl_errno(self->fd, VHOST_GET_VRING_WORKER, &w));
}

TEST_F(vhost, worker_new_ids_ascend)
{
	unsigned int id, i;

	REQUIRE_WORKERS();
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	for (i = 1; i <= 3; i++) {
		ASSERT_EQ(0, new_worker(self->fd, &id));
		EXPECT_EQ(i, id);
	}
	/* New workers serve nothing until attached. */
	EXPECT_EQ(0U, vq_worker(self->fd, 0));
}

TEST_F(vhost, worker_attach_and_get)
{
	unsigned int w1, w2;

	REQUIRE_WORKERS();
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, new_worker(self->fd, &w1));
	ASSERT_EQ(0, new_worker(self->fd, &w2));
	EXPECT_EQ(0, attach_worker(self->fd, 0, w1));
	EXPECT_EQ(0, attach_worker(self->fd, 1, w2));
	EXPECT_EQ(w1, vq_worker(self->fd, 0));
	EXPECT_EQ(w2, vq_worker(self->fd, 1));
	/* Re-attaching the same worker is harmless; moving back to 0 works. */
	EXPECT_EQ(0, attach_worker(self->fd, 0, w1));
	EXPECT_EQ(w1, vq_worker(self->fd, 0));
	EXPECT_EQ(0, attach_worker(self->fd, 1, 0));
	EXPECT_EQ(0U, vq_worker(self->fd, 1));
}

TEST_F(vhost, worker_free_attached_ebusy)
{
	unsigned int w1;

	REQUIRE_WORKERS();
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, new_worker(self->fd, &w1));
	ASSERT_EQ(0, attach_worker(self->fd, 0, w1));
	EXPECT_EQ(EBUSY, free_worker(self->fd, w1));
	/* The default worker still serves the other vqs. */
	EXPECT_EQ(EBUSY, free_worker(self->fd, 0));
	ASSERT_EQ(0, attach_worker(self->fd, 0, 0));
	EXPECT_EQ(0, free_worker(self->fd, w1));
	EXPECT_EQ(0U, vq_worker(self->fd, 0));
}

TEST_F(vhost, worker_free_unknown_enodev)
{
	unsigned int w1;

	REQUIRE_WORKERS();
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(ENODEV, free_worker(self->fd, 1));
	EXPECT_EQ(ENODEV, free_worker(self->fd, 12345));
	EXPECT_EQ(ENODEV, free_worker(self->fd, ~0U));
	ASSERT_EQ(0, new_worker(self->fd, &w1));
	EXPECT_EQ(0, free_worker(self->fd, w1));
	EXPECT_EQ(ENODEV, free_worker(self->fd, w1));
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_FREE_WORKER, NULL));
}

TEST_F(vhost, worker_attach_unknown_enodev)
{
	unsigned int w1;

	REQUIRE_WORKERS();
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(ENODEV, attach_worker(self->fd, 0, 1));
	EXPECT_EQ(ENODEV, attach_worker(self->fd, 0, ~0U));
	ASSERT_EQ(0, new_worker(self->fd, &w1));
	ASSERT_EQ(0, free_worker(self->fd, w1));
	EXPECT_EQ(ENODEV, attach_worker(self->fd, 0, w1));
	EXPECT_EQ(0U, vq_worker(self->fd, 0));
}

TEST_F(vhost, worker_bad_index_enobufs)
{
	struct vhost_vring_worker w = {.index = BAD_INDEX};
	unsigned int nvqs;

	REQUIRE_WORKERS();
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	nvqs = count_vqs(self->fd);
	/* The index is checked before the worker id. */
	EXPECT_EQ(ENOBUFS, attach_worker(self->fd, BAD_INDEX, 0));
	EXPECT_EQ(ENOBUFS, attach_worker(self->fd, BAD_INDEX, 12345));
	EXPECT_EQ(ENOBUFS, attach_worker(self->fd, nvqs, 0));
	EXPECT_EQ(ENOBUFS, ioctl_errno(self->fd, VHOST_GET_VRING_WORKER, &w));
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_GET_VRING_WORKER, NULL));
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_ATTACH_VRING_WORKER, NULL));
}

TEST_F(vhost, worker_ioctls_unowned_einval)
{
	struct vhost_worker_state ws = {0};
	struct vhost_vring_worker vw = {.index = 0, .worker_id = 0};

	REQUIRE_WORKERS();
	/* Unlike the other owner-only ioctls (EPERM): no owner yet is EINVAL. */
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, VHOST_NEW_WORKER, &ws));
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, VHOST_FREE_WORKER, &ws));
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, VHOST_ATTACH_VRING_WORKER, &vw));
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, VHOST_GET_VRING_WORKER, &vw));
	/* Before reading the argument. */
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, VHOST_NEW_WORKER, NULL));
	vw.index = BAD_INDEX;
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, VHOST_GET_VRING_WORKER, &vw));
}

TEST_F(vhost, worker_ioctls_not_owner_eperm)
{
	struct vhost_worker_state ws = {0};
	struct vhost_vring_worker vw = {.index = 0, .worker_id = 0};

	REQUIRE_WORKERS();
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_NEW_WORKER, &ws));
	EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_FREE_WORKER, &ws));
	EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_ATTACH_VRING_WORKER, &vw));
	EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_GET_VRING_WORKER, &vw));
	/* Before the index check. */
	vw.index = BAD_INDEX;
	EXPECT_EQ(EPERM, child_errno(self->fd, VHOST_GET_VRING_WORKER, &vw));
	/* The child created nothing: the next id is still 1. */
	ASSERT_EQ(0, new_worker(self->fd, &ws.worker_id));
	EXPECT_EQ(1U, ws.worker_id);
}

TEST_F(vhost, worker_free_default)
{
	unsigned int w1, id, i, nvqs;

	REQUIRE_WORKERS();
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	nvqs = count_vqs(self->fd);
	ASSERT_EQ(0, new_worker(self->fd, &w1));
	ASSERT_EQ(1U, w1);
	/* The default worker is an ordinary worker: free once unused. */
	for (i = 0; i < nvqs; i++)
		ASSERT_EQ(0, attach_worker(self->fd, i, w1));
	EXPECT_EQ(0, free_worker(self->fd, 0));
	EXPECT_EQ(ENODEV, free_worker(self->fd, 0));
	EXPECT_EQ(w1, vq_worker(self->fd, 0));
	EXPECT_EQ(w1, vq_worker(self->fd, nvqs - 1));
	/* Its id is free again: the lowest free id is handed out. */
	ASSERT_EQ(0, new_worker(self->fd, &id));
	EXPECT_EQ(0U, id);
}

TEST_F(vhost, worker_ids_reused)
{
	unsigned int id[3], again, i;

	REQUIRE_WORKERS();
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, new_worker(self->fd, &id[i]));
		ASSERT_EQ(i + 1, id[i]);
	}
	ASSERT_EQ(0, free_worker(self->fd, 2));
	ASSERT_EQ(0, new_worker(self->fd, &again));
	EXPECT_EQ(2U, again);
	ASSERT_EQ(0, free_worker(self->fd, 3));
	ASSERT_EQ(0, free_worker(self->fd, 1));
	ASSERT_EQ(0, new_worker(self->fd, &again));
	EXPECT_EQ(1U, again);
	ASSERT_EQ(0, new_worker(self->fd, &again));
	EXPECT_EQ(3U, again);
}

TEST_F_TIMEOUT(vhost, worker_attach_all_with_kicks, 120)
{
	int kick = eventfd(0, EFD_CLOEXEC), call = eventfd(0, EFD_CLOEXEC);
	unsigned int w1, w2, i, nvqs;
	__u64 one = 1;

	REQUIRE_WORKERS();
	ASSERT_LE(0, kick);
	ASSERT_LE(0, call);
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	nvqs = count_vqs(self->fd);
	/* Live rings: addresses, kick and call on every vq. */
	for (i = 0; i < nvqs; i++) {
		ASSERT_EQ(0, setup_ring(self->fd, self->area, i));
		ASSERT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_KICK, i, kick));
		ASSERT_EQ(0, vring_file(self->fd, VHOST_SET_VRING_CALL, i, call));
	}
	ASSERT_EQ(0, new_worker(self->fd, &w1));
	for (i = 0; i < nvqs; i++) {
		ASSERT_EQ(0, attach_worker(self->fd, i, w1));
		ASSERT_EQ((ssize_t)sizeof(one), write(kick, &one, sizeof(one)));
	}
	for (i = 0; i < nvqs; i++)
		ASSERT_EQ(w1, vq_worker(self->fd, i));
	EXPECT_EQ(0, free_worker(self->fd, 0));
	EXPECT_EQ(EBUSY, free_worker(self->fd, w1));
	/* And on to a fresh worker (id 0 again) while the kicks stay armed. */
	ASSERT_EQ(0, new_worker(self->fd, &w2));
	EXPECT_EQ(0U, w2);
	for (i = 0; i < nvqs; i++)
		ASSERT_EQ(0, attach_worker(self->fd, i, w2));
	EXPECT_EQ(0, free_worker(self->fd, w1));
	EXPECT_EQ(0, close(kick));
	EXPECT_EQ(0, close(call));
}

/* VHOST_SET/GET_FORK_FROM_OWNER */

/*
 * Task-mode workers need vhost_task (Linux 6.4).  Mainline has no fork-owner
 * ioctls before 6.17 (6.12.42), so only vhost-blk answers them on older
 * kernels, where it has kthread workers only: the mode reads KTHREAD and
 * setting TASK fails with EOPNOTSUPP.
 */
static bool have_task_mode(void)
{
	unsigned int major = 0, minor = 0;
	struct utsname u;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return true;
	return major > 6 || (major == 6 && minor >= 4);
}

/* The mode of a fresh device: mainline's fork_from_owner_default (task). */
static __u8 default_fork_owner(void)
{
	return have_task_mode() ? VHOST_FORK_OWNER_TASK : VHOST_FORK_OWNER_KTHREAD;
}

static int get_fork_owner(int fd, __u8 *val)
{
	__u8 buf[8] = {0xff};
	int err = ioctl_errno(fd, VHOST_GET_FORK_FROM_OWNER, buf);

	*val = buf[0];
	return err;
}

static int set_fork_owner(int fd, __u8 val)
{
	return ioctl_errno(fd, VHOST_SET_FORK_FROM_OWNER, &val);
}

TEST_F(vhost, fork_owner_default)
{
	__u8 val;

	REQUIRE_FORK_OWNER();
	ASSERT_EQ(0, get_fork_owner(self->fd, &val));
	EXPECT_EQ(default_fork_owner(), val);
}

TEST_F(vhost, fork_owner_set_before_owner)
{
	int task_errno = have_task_mode() ? 0 : EOPNOTSUPP;
	__u8 val;

	REQUIRE_FORK_OWNER();
	EXPECT_EQ(0, set_fork_owner(self->fd, VHOST_FORK_OWNER_KTHREAD));
	ASSERT_EQ(0, get_fork_owner(self->fd, &val));
	EXPECT_EQ(VHOST_FORK_OWNER_KTHREAD, val);
	EXPECT_EQ(task_errno, set_fork_owner(self->fd, VHOST_FORK_OWNER_TASK));
	ASSERT_EQ(0, get_fork_owner(self->fd, &val));
	EXPECT_EQ(default_fork_owner(), val);
	/* With no owner yet there is no owner check: anyone may set it. */
	val = VHOST_FORK_OWNER_KTHREAD;
	EXPECT_EQ(0, child_errno(self->fd, VHOST_SET_FORK_FROM_OWNER, &val));
	ASSERT_EQ(0, get_fork_owner(self->fd, &val));
	EXPECT_EQ(VHOST_FORK_OWNER_KTHREAD, val);
	EXPECT_EQ(task_errno, set_fork_owner(self->fd, VHOST_FORK_OWNER_TASK));
	ASSERT_EQ(0, get_fork_owner(self->fd, &val));
	EXPECT_EQ(default_fork_owner(), val);
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_SET_FORK_FROM_OWNER, NULL));
	EXPECT_EQ(EFAULT, ioctl_errno(self->fd, VHOST_GET_FORK_FROM_OWNER, NULL));
}

TEST_F(vhost, fork_owner_invalid_einval)
{
	__u8 val;

	REQUIRE_FORK_OWNER();
	EXPECT_EQ(EINVAL, set_fork_owner(self->fd, 2));
	EXPECT_EQ(EINVAL, set_fork_owner(self->fd, 0xff));
	ASSERT_EQ(0, get_fork_owner(self->fd, &val));
	EXPECT_EQ(default_fork_owner(), val);
}

TEST_F(vhost, fork_owner_after_owner_ebusy)
{
	__u8 val;

	REQUIRE_FORK_OWNER();
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EBUSY, set_fork_owner(self->fd, VHOST_FORK_OWNER_KTHREAD));
	EXPECT_EQ(EBUSY, set_fork_owner(self->fd, VHOST_FORK_OWNER_TASK));
	/* "Owned" is checked before the value and before the owner. */
	EXPECT_EQ(EBUSY, set_fork_owner(self->fd, 2));
	EXPECT_EQ(EBUSY, child_errno(self->fd, VHOST_SET_FORK_FROM_OWNER, &val));
	/* GET needs no owner. */
	ASSERT_EQ(0, get_fork_owner(self->fd, &val));
	EXPECT_EQ(default_fork_owner(), val);
	EXPECT_EQ(0, child_errno(self->fd, VHOST_GET_FORK_FROM_OWNER, &val));
}

TEST_F(vhost, fork_owner_kthread_new_worker)
{
	unsigned int id = ~0U;
	__u8 val;

	REQUIRE_FORK_OWNER();
	REQUIRE_WORKERS();
	ASSERT_EQ(0, set_fork_owner(self->fd, VHOST_FORK_OWNER_KTHREAD));
	ASSERT_EQ(0, ioctl_errno(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, get_fork_owner(self->fd, &val));
	EXPECT_EQ(VHOST_FORK_OWNER_KTHREAD, val);
	/* The default worker is a kthread, id 0, on every vq. */
	EXPECT_EQ(0U, vq_worker(self->fd, 0));
	EXPECT_EQ(0, setup_ring(self->fd, self->area, 0));
	EXPECT_EQ(variant->kthread_new_worker_errno, new_worker(self->fd, &id));
	if (!variant->kthread_new_worker_errno) {
		EXPECT_EQ(1U, id);
		EXPECT_EQ(0, attach_worker(self->fd, 0, id));
		EXPECT_EQ(id, vq_worker(self->fd, 0));
	} else {
		/* Nothing was created. */
		EXPECT_EQ(ENODEV, free_worker(self->fd, 1));
	}
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
