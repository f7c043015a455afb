// SPDX-License-Identifier: GPL-2.0
/*
 * Busy-polling of /dev/vhost-blk (VHOST_SET_VRING_BUSYLOOP_TIMEOUT): a worker
 * whose ring runs empty keeps polling it for the timeout, so a request the
 * driver publishes meanwhile is served without a kick; the poll ends when
 * the timeout passes, and gives way at once to other work of its worker and
 * to release.  On the data-path fixture's backends: brd, null_blk, a file.
 * Runs in a VM with the module loaded:
 * scripts/vm-run --load -- tests/kselftest/run_tests.sh blk_poll_test
 */
#include <sched.h>
#include <sys/sysinfo.h>

#include "blk_io.h"
#include "vblk_nl.h"
#include "worker_common.h"

/* Tries at catching the poll: a reschedule on the worker's CPU ends one. */
#define POLL_TRIES 20
/* How long a published, unkicked request is given to be served. */
#define UNKICKED_MS 300

static int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/*
 * Put the device's workers on CPU 1 and this thread on CPU 0: a waking
 * driver on the worker's CPU would end every poll.  Task-mode workers are
 * threads of this process, kthreads are found by name.
 */
static void split_cpus(struct __test_metadata *_metadata)
{
	pid_t tids[16];
	char comm[32];
	cpu_set_t set;
	int i, n;

	snprintf(comm, sizeof(comm), "vhost-%d", getpid());
	n = task_threads(getpid(), comm, tids, 16);
	if (!n)
		n = kthreads(comm, tids, 16);
	ASSERT_LT(0, n);
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	for (i = 0; i < n && i < 16; i++)
		ASSERT_EQ(0, sched_setaffinity(tids[i], sizeof(set), &set));
	ASSERT_EQ(0, pin_self(0));
}

static int set_busyloop(struct vblk *v, unsigned int vq, unsigned int us)
{
	struct vhost_vring_state s = {.index = vq, .num = us};

	return ioctl(v->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
}

/* Wait up to @ms for @vq's used index to reach @idx. */
static bool used_within(struct vblk *v, unsigned int vq, uint16_t idx, int ms)
{
	int64_t end = now_ms() + ms;

	while (vblk_used_idx(v, vq) != idx)
		if (now_ms() > end)
			return false;
	return true;
}

/*
 * One read through the ring as the device asks (kicked if it wants), then,
 * once it is used, a second one published without any kick.  Returns
 * whether the device served the second within UNKICKED_MS; either way both
 * are complete and freed on return.
 */
static bool unkicked_served(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq)
{
	struct vblk_req *r[2];
	bool served;
	int i;

	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, vblk_req_new(v, vq, T_IN, 8 * i, 4096, 0, &r[i]));
	EXPECT_EQ(0, vblk_submit(v, r[0]));
	EXPECT_EQ(0, vblk_wait(v, r[0], VBLK_TIMEOUT_MS));
	EXPECT_EQ(0, vblk_publish(v, r[1]));
	served = used_within(v, vq, v->vqs[vq].used_idx + 1, UNKICKED_MS);
	/* Account for it, so that a later kick decision starts from here. */
	v->vqs[vq].kicked_idx = v->vqs[vq].avail_idx;
	if (!served)
		EXPECT_EQ(0, vblk_kick(v, vq, true));
	EXPECT_EQ(0, vblk_wait(v, r[1], VBLK_TIMEOUT_MS));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(S_OK, *r[i]->status);
		EXPECT_EQ(0, vblk_req_free(v, r[i]));
	}
	return served;
}

/*
 * Serve a request on @vq and catch the worker polling after it: true once
 * an unkicked request was served (the worker then polls again).
 */
static bool catch_poll(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq)
{
	int tries;

	for (tries = 0; tries < POLL_TRIES; tries++)
		if (unkicked_served(_metadata, v, vq))
			return true;
	return false;
}

/*
 * A device of @nvqs virtqueues on the backend, for a machine of two CPUs
 * whose backend takes reads directly: a read the worker hands to the
 * workqueue (a file without O_DIRECT, as tmpfs on 6.1) runs a kworker,
 * and a poll gives way to any other task on its CPU.
 */
static struct vblk *poll_dev(struct __test_metadata *_metadata, FIXTURE_DATA(io) * self,
			     unsigned int nvqs, const char **why)
{
	uint8_t buf[4096], status;
	__u64 offloaded = 0;
	struct vblk *v;
	uint32_t used;

	*why = "busy-polling needs a second CPU";
	if (get_nprocs() < 2)
		return NULL;
	v = dev_new(_metadata, self, nvqs, 4, 0, self->be.fd);
	EXPECT_EQ(0, vblk_run(v, 0, T_IN, 0, buf, sizeof(buf), 0, &status, &used));
	EXPECT_EQ(0, nl_my_vq_u64(0, VHOST_BLK_A_VQ_OFFLOADED, &offloaded));
	*why = "the backend's reads run on the workqueue, which a poll gives way to";
	return offloaded ? NULL : v;
}

#define NEED_TWO_CPUS(v, why)                                                                      \
	do {                                                                                       \
		if (!(v))                                                                          \
			SKIP(return, "%s", why);                                                   \
	} while (0)

TEST_F(io, unkicked_request_served_while_polling)
{
	const char *why;
	struct vblk *v = poll_dev(_metadata, self, 1, &why);

	NEED_TWO_CPUS(v, why);
	split_cpus(_metadata);

	/* Without a busy-loop timeout the device waits for a kick. */
	EXPECT_FALSE(unkicked_served(_metadata, v, 0));

	/* With one, a request published within it is seen without one. */
	ASSERT_EQ(0, set_busyloop(v, 0, 500000));
	EXPECT_TRUE(catch_poll(_metadata, v, 0))
	{
		TH_LOG("no unkicked request served in %d tries with a 500 ms busy-loop",
		       POLL_TRIES);
	}

	/* Back to 0: no polling any more. */
	ASSERT_EQ(0, set_busyloop(v, 0, 0));
	EXPECT_FALSE(unkicked_served(_metadata, v, 0));
}

TEST_F(io, poll_ends_and_notifications_come_back)
{
	const char *why;
	struct vblk *v = poll_dev(_metadata, self, 1, &why);
	struct vblk_req *r[2];
	struct vblk_vq *q;
	int i;

	NEED_TWO_CPUS(v, why);
	q = &v->vqs[0];
	ASSERT_EQ(0, set_busyloop(v, 0, 50000));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, vblk_req_new(v, 0, T_IN, 8 * i, 4096, 0, &r[i]));
	ASSERT_EQ(0, vblk_submit(v, r[0]));
	ASSERT_EQ(0, vblk_wait(v, r[0], VBLK_TIMEOUT_MS));

	/* Long after the 50 ms poll: the device sleeps again. */
	usleep(500 * 1000);
	ASSERT_EQ(0, vblk_publish(v, r[1]));
	EXPECT_FALSE(used_within(v, 0, q->used_idx + 1, UNKICKED_MS));
	/* ...and has asked for a kick again (avail_event), which serves it. */
	EXPECT_TRUE(vblk_kick_wanted(v, 0));
	ASSERT_EQ(0, vblk_kick(v, 0, false));
	ASSERT_EQ(0, vblk_wait(v, r[1], VBLK_TIMEOUT_MS));
	for (i = 0; i < 2; i++)
		EXPECT_EQ(S_OK, *r[i]->status);
}

TEST_F(io, poll_gives_way_to_other_virtqueues)
{
	const char *why;
	struct vblk *v = poll_dev(_metadata, self, 2, &why);
	struct vblk_req *r = NULL;
	int64_t start, took = 0;

	NEED_TWO_CPUS(v, why);
	split_cpus(_metadata);
	/* vq 0 polls for up to a second; both share the one worker. */
	ASSERT_EQ(0, set_busyloop(v, 0, 1000000));
	ASSERT_TRUE(catch_poll(_metadata, v, 0));

	/* vq 0 has just been served, so its worker polls it: vq 1's kick cuts in. */
	ASSERT_EQ(0, vblk_req_new(v, 1, T_IN, 64, 4096, 0, &r));
	start = now_ms();
	ASSERT_EQ(0, vblk_submit(v, r));
	ASSERT_EQ(0, vblk_wait(v, r, VBLK_TIMEOUT_MS));
	took = now_ms() - start;
	EXPECT_EQ(S_OK, *r->status);
	EXPECT_GT(500, took)
	{
		TH_LOG("vq 1 waited %lld ms behind vq 0's 1 s poll", (long long)took);
	}
}

TEST_F(io, close_while_polling)
{
	const char *why;
	struct vblk *v = poll_dev(_metadata, self, 1, &why);
	int64_t start;

	NEED_TWO_CPUS(v, why);
	split_cpus(_metadata);
	ASSERT_EQ(0, set_busyloop(v, 0, 1000000));
	ASSERT_TRUE(catch_poll(_metadata, v, 0));

	/* Release waits for vq->mutex, and the poll lets go of it: no 1 s wait. */
	start = now_ms();
	vblk_close(v);
	self->v[0] = NULL;
	EXPECT_GT(500, now_ms() - start);
}

TEST_HARNESS_MAIN
