// SPDX-License-Identifier: GPL-2.0
/*
 * The worker ioctls (NEW, FREE, ATTACH_VRING, GET_VRING) and the
 * fork-owner ioctls.  Worker cases skip where NEW_WORKER answers ENOTTY
 * (kernels < 6.5, e.g. Debian's 6.1), fork-owner cases where
 * GET_FORK_FROM_OWNER does (< 6.17; vhost-blk has them on every kernel,
 * kthread mode only before 6.4).
 * See vhost_abi.h for the variants (vhost-scsi as the oracle, vhost-blk).
 * Run in a VM: scripts/vm-run [--load] -- tests/kselftest/run_tests.sh abi_worker_test
 */
#include "vhost_abi.h"

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

TEST_HARNESS_MAIN
