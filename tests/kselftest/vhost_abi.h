/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vhost device ABI suites (abi_*_test.c), run unchanged against two
 * devices: the classic vhost ioctls (owner, features, memory table, vrings,
 * kick/call/err files), mainline's four worker ioctls (Linux 6.5), the
 * fork-owner ioctls (6.17, backported to 6.12.42) and RESET_OWNER, with their
 * exact errnos and the order in which the checks are made.
 *
 * Variant "scsi" is /dev/vhost-scsi, mainline's vhost_scsi.ko, the only
 * mainline driver that routes the worker ioctls: it is the oracle.  Variant
 * "blk" is /dev/vhost-blk.  Every case expects the same answer from both,
 * except the deliberate differences, which are fields of the variant, each
 * with a comment saying what differs and why (Documentation/uapi.rst lists
 * them in one table).
 *
 * This header holds the fixture, its variants and the helpers the suites
 * share.
 */
#ifndef VHOST_ABI_H
#define VHOST_ABI_H

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
static inline int ioctl_errno(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? errno : 0;
}

/*
 * The same, from a forked child: it shares the open file but has its own
 * mm, so it is not the owner.  Returns the child's errno, or -1.
 */
static inline int child_errno(int fd, unsigned long req, void *arg)
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
static inline int thread_errno(int fd, unsigned long req, void *arg)
{
	struct thread_call c = {.fd = fd, .req = req, .arg = arg, .err = -1};
	pthread_t t;

	if (pthread_create(&t, NULL, thread_call_fn, &c))
		return -1;
	pthread_join(t, NULL);
	return c.err;
}

/* VHOST_SET_MEM_TABLE with @n regions; returns 0 or errno. */
static inline int set_mem(int fd, unsigned int n, const struct vhost_memory_region *regions)
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
static inline int setup_ring(int fd, void *area, unsigned int index)
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
static inline unsigned int count_vqs(int fd)
{
	unsigned int i;

	for (i = 0; i < BAD_INDEX; i++) {
		struct vhost_vring_state s = {.index = i};

		if (ioctl_errno(fd, VHOST_GET_VRING_BASE, &s) == ENOBUFS)
			break;
	}
	return i;
}

static inline int vring_file(int fd, unsigned long req, unsigned int index, int file)
{
	struct vhost_vring_file f = {.index = index, .fd = file};

	return ioctl_errno(fd, req, &f);
}

static inline int new_worker(int fd, unsigned int *id)
{
	struct vhost_worker_state w = {.worker_id = ~0U};
	int err = ioctl_errno(fd, VHOST_NEW_WORKER, &w);

	*id = w.worker_id;
	return err;
}

static inline int free_worker(int fd, unsigned int id)
{
	struct vhost_worker_state w = {.worker_id = id};

	return ioctl_errno(fd, VHOST_FREE_WORKER, &w);
}

static inline int attach_worker(int fd, unsigned int index, unsigned int id)
{
	struct vhost_vring_worker w = {.index = index, .worker_id = id};

	return ioctl_errno(fd, VHOST_ATTACH_VRING_WORKER, &w);
}

/* The id of the worker serving vq @index, or ~0U on error. */
static inline unsigned int vq_worker(int fd, unsigned int index)
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
static inline int probe_new_worker(const char *path)
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
static inline int probe_fork_owner(const char *path)
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
	/* VHOST_SET_VRING_ADDR with VHOST_VRING_F_LOG before a backend: both accept it. */
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
	.log_flag_errno = 0,
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

/* Fork-owner helpers */
/*
 * vhost-blk's task-mode workers need vhost_task with a kill handler (Linux
 * 6.10).  Mainline has no fork-owner ioctls before 6.17 (6.12.42), so only
 * vhost-blk answers them on older kernels, where it has kthread workers
 * only: the mode reads KTHREAD and setting TASK fails with EOPNOTSUPP.
 */
static inline bool have_task_mode(void)
{
	unsigned int major = 0, minor = 0;
	struct utsname u;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return true;
	return major > 6 || (major == 6 && minor >= 10);
}

/* The mode of a fresh device: mainline's fork_from_owner_default (task). */
static inline __u8 default_fork_owner(void)
{
	return have_task_mode() ? VHOST_FORK_OWNER_TASK : VHOST_FORK_OWNER_KTHREAD;
}

static inline int get_fork_owner(int fd, __u8 *val)
{
	__u8 buf[8] = {0xff};
	int err = ioctl_errno(fd, VHOST_GET_FORK_FROM_OWNER, buf);

	*val = buf[0];
	return err;
}

static inline int set_fork_owner(int fd, __u8 val)
{
	return ioctl_errno(fd, VHOST_SET_FORK_FROM_OWNER, &val);
}

#endif /* VHOST_ABI_H */
