// SPDX-License-Identifier: GPL-2.0
/*
 * Busy-polling of /dev/vhost-blk (VHOST_SET_VRING_BUSYLOOP_TIMEOUT): a worker
 * whose ring runs empty keeps polling it for the timeout, so a request the
 * driver publishes meanwhile is served without a kick; the poll ends when
 * the timeout passes, and gives way at once to other work of its worker.
 * Runs in a VM with the module loaded:
 * scripts/vm-run --load -- tests/kselftest/run_tests.sh blk_poll_test
 */
#include <sched.h>
#include <sys/sysinfo.h>

#include "blk_io.h"
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

FIXTURE(poll)
{
	struct vblk_backend be;
	struct vblk *v;
};

FIXTURE_VARIANT(poll)
{
	enum vblk_backend_kind kind;
	const char *what;
};

/* clang-format off */
FIXTURE_VARIANT_ADD(poll, null_blk)
{
	.kind = VBLK_BE_NULLB,
	.what = "null_blk, memory-backed, through configfs",
};

FIXTURE_VARIANT_ADD(poll, file)
{
	.kind = VBLK_BE_FILE,
	.what = "a regular file in $TMPDIR",
};
/* clang-format on */

FIXTURE_SETUP(poll)
{
	int ret;

	self->be.fd = -1;
	if (get_nprocs() < 2)
		SKIP(return, "busy-polling needs a second CPU");
	ret = vblk_probe();
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	ret = vblk_backend_open(&self->be, variant->kind, BACKEND_SIZE);
	if (ret == -ENODEV)
		SKIP(return, "no %s: %s", variant->what, vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("backend: %s", vblk_error());
	}
}

FIXTURE_TEARDOWN(poll)
{
	vblk_close(self->v);
	vblk_backend_close(&self->be);
	/* Back to every CPU for the next case. */
	sched_setaffinity(0, sizeof(cpu_set_t), &(cpu_set_t){{~0UL}});
}

static struct vblk *poll_dev(struct __test_metadata *_metadata, FIXTURE_DATA(poll) * self,
			     unsigned int nvqs)
{
	struct vblk_config cfg = {
		.nvqs = nvqs,
		.queue_size = QSIZE,
		.depth = 4,
		.max_data = MAX_DATA,
	};

	if (vblk_open(&cfg, &self->v) || vblk_set_backend(self->v, self->be.fd)) {
		TH_LOG("%s", vblk_error());
		return NULL;
	}
	return self->v;
}

TEST_F(poll, unkicked_request_served_while_polling)
{
	struct vblk *v = poll_dev(_metadata, self, 1);
	int tries, served = 0;

	ASSERT_NE(NULL, v);
	split_cpus(_metadata);

	/* Without a busy-loop timeout the device waits for a kick. */
	EXPECT_FALSE(unkicked_served(_metadata, v, 0));

	/* With one, a request published within it is seen without one. */
	ASSERT_EQ(0, set_busyloop(v, 0, 500000));
	for (tries = 0; tries < POLL_TRIES && !served; tries++)
		served += unkicked_served(_metadata, v, 0);
	EXPECT_EQ(1, served)
	{
		TH_LOG("no unkicked request served in %d tries with a 500 ms busy-loop", tries);
	}

	/* Back to 0: no polling any more. */
	ASSERT_EQ(0, set_busyloop(v, 0, 0));
	EXPECT_FALSE(unkicked_served(_metadata, v, 0));
}

TEST_F(poll, poll_ends_and_notifications_come_back)
{
	struct vblk *v = poll_dev(_metadata, self, 1);
	struct vblk_req *r[2];
	struct vblk_vq *q;
	int i;

	ASSERT_NE(NULL, v);
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
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	EXPECT_TRUE(vring_need_event(*vblk_avail_event(v, 0), q->avail_idx, q->kicked_idx));
	ASSERT_EQ(0, vblk_kick(v, 0, false));
	ASSERT_EQ(0, vblk_wait(v, r[1], VBLK_TIMEOUT_MS));
	for (i = 0; i < 2; i++)
		EXPECT_EQ(S_OK, *r[i]->status);
}

TEST_F(poll, poll_gives_way_to_other_virtqueues)
{
	struct vblk *v = poll_dev(_metadata, self, 2);
	struct vblk_req *r = NULL;
	int64_t start, took = 0;
	bool polling = false;
	int tries;

	ASSERT_NE(NULL, v);
	split_cpus(_metadata);
	/* vq 0 polls for up to a second; both share the one worker. */
	ASSERT_EQ(0, set_busyloop(v, 0, 1000000));
	for (tries = 0; tries < POLL_TRIES && !polling; tries++)
		polling = unkicked_served(_metadata, v, 0);
	ASSERT_TRUE(polling);

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

TEST_F(poll, close_while_polling)
{
	struct vblk *v = poll_dev(_metadata, self, 1);
	int64_t start;
	int tries;
	bool polling = false;

	ASSERT_NE(NULL, v);
	split_cpus(_metadata);
	ASSERT_EQ(0, set_busyloop(v, 0, 1000000));
	for (tries = 0; tries < POLL_TRIES && !polling; tries++)
		polling = unkicked_served(_metadata, v, 0);
	ASSERT_TRUE(polling);

	/* Release waits for vq->mutex, and the poll lets go of it: no 1 s wait. */
	start = now_ms();
	vblk_close(v);
	self->v = NULL;
	EXPECT_GT(500, now_ms() - start);
}

TEST_HARNESS_MAIN
