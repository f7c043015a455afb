// SPDX-License-Identifier: GPL-2.0
/*
 * Worker churn under verified I/O: while random reads and writes run on
 * four virtqueues and every read is checked against a shadow copy, another
 * thread of the owner creates, attaches, looks up and frees workers in a
 * random loop (VHOST_NEW_WORKER, VHOST_ATTACH_VRING_WORKER,
 * VHOST_GET_VRING_WORKER, VHOST_FREE_WORKER), including the refusals: a
 * worker that serves a virtqueue cannot be freed (EBUSY), a freed or
 * unknown one can be neither attached nor freed (ENODEV).  Every answer must
 * be the expected one, no read may mismatch, no request may be lost, and the
 * whole span reads back at the end.  In task mode and in kthread mode, on
 * brd, null_blk and a file.
 *
 * Seeded and bounded in time (stress.h: VHB_SEED, VHB_TEST_MS); reports the
 * worker operations done.  Runs in a VM with the module loaded.
 */
#include "blk_io.h"
#include "stress.h"

#define CH_VQS 4
#define CH_DEPTH 8
#define CH_MAX_WORKERS 6
#define CH_MS 3000

struct churn {
	int fd;
	uint64_t seed;
	volatile bool stop;
	unsigned int live[CH_MAX_WORKERS + 1]; /* worker ids */
	unsigned int nlive;
	unsigned int dead; /* a freed id not given again since, or ~0U */
	unsigned int vq_worker[CH_VQS];
	unsigned int first; /* the default worker */
	uint64_t ops, news, frees, attaches, gets, refusals;
	char err[256];
};

static int ch_ioctl(struct churn *c, unsigned long req, void *arg)
{
	c->ops++;
	return ioctl(c->fd, req, arg) ? errno : 0;
}

static bool ch_attached(struct churn *c, unsigned int id)
{
	/* The default worker also serves the device's vqs beyond ours. */
	if (id == c->first)
		return true;
	for (unsigned int vq = 0; vq < CH_VQS; vq++)
		if (c->vq_worker[vq] == id)
			return true;
	return false;
}

/* One random worker operation and its expected answer; false on a wrong one. */
static bool ch_step(struct churn *c)
{
	unsigned int op = vblk_rand(&c->seed) % 8, i, vq = vblk_rand(&c->seed) % CH_VQS;
	unsigned int pick = c->nlive ? vblk_rand(&c->seed) % c->nlive : 0;
	struct vhost_vring_worker vw = {.index = vq};
	struct vhost_worker_state ws = {};
	int ret, want;

	switch (op) {
	case 0:
	case 1:
		if (c->nlive >= CH_MAX_WORKERS)
			return true;
		ret = ch_ioctl(c, VHOST_NEW_WORKER, &ws);
		for (i = 0; !ret && i < c->nlive; i++)
			if (c->live[i] == ws.worker_id)
				ret = EEXIST;
		if (ret) {
			snprintf(c->err, sizeof(c->err), "VHOST_NEW_WORKER: %s (id %u)",
				 strerror(ret), ws.worker_id);
			return false;
		}
		c->live[c->nlive++] = ws.worker_id;
		c->news++;
		if (ws.worker_id == c->dead)
			c->dead = ~0U; /* ids are reused */
		return true;
	case 2:
	case 3:
		vw.worker_id = c->live[pick];
		ret = ch_ioctl(c, VHOST_ATTACH_VRING_WORKER, &vw);
		if (ret) {
			snprintf(c->err, sizeof(c->err), "attach vq %u to worker %u: %s", vq,
				 vw.worker_id, strerror(ret));
			return false;
		}
		c->vq_worker[vq] = vw.worker_id;
		c->attaches++;
		return true;
	case 4:
		vw.worker_id = ~0U;
		ret = ch_ioctl(c, VHOST_GET_VRING_WORKER, &vw);
		if (ret || vw.worker_id != c->vq_worker[vq]) {
			snprintf(c->err, sizeof(c->err), "get vq %u: %s, worker %u, not %u", vq,
				 strerror(ret), vw.worker_id, c->vq_worker[vq]);
			return false;
		}
		c->gets++;
		return true;
	case 5:
	case 6:
		/* Free a worker: refused while it serves a vq. */
		if (!c->nlive)
			return true;
		ws.worker_id = c->live[pick];
		want = ch_attached(c, ws.worker_id) ? EBUSY : 0;
		ret = ch_ioctl(c, VHOST_FREE_WORKER, &ws);
		if (ret != want) {
			snprintf(c->err, sizeof(c->err), "free worker %u: %s, not %s", ws.worker_id,
				 strerror(ret), want ? strerror(want) : "success");
			return false;
		}
		if (ret) {
			c->refusals++;
			return true;
		}
		c->dead = ws.worker_id;
		c->live[pick] = c->live[--c->nlive];
		c->frees++;
		return true;
	default:
		/* A freed worker is gone for attach and free alike. */
		if (c->dead == ~0U)
			return true;
		vw.worker_id = c->dead;
		ws.worker_id = c->dead;
		ret = ch_ioctl(c, VHOST_ATTACH_VRING_WORKER, &vw);
		want = ch_ioctl(c, VHOST_FREE_WORKER, &ws);
		if (ret != ENODEV || want != ENODEV) {
			snprintf(c->err, sizeof(c->err), "freed worker %u: attach %s, free %s",
				 c->dead, strerror(ret), strerror(want));
			return false;
		}
		c->refusals += 2;
		return true;
	}
}

static void *churn_thread(void *arg)
{
	struct churn *c = arg;

	while (!c->stop && ch_step(c))
		;
	return NULL;
}

static void churn(struct __test_metadata *_metadata, FIXTURE_DATA(io) * self, bool kthread)
{
	struct vblk_config cfg = {
		.nvqs = CH_VQS,
		.queue_size = QSIZE,
		.depth = CH_DEPTH,
		.max_data = MAX_DATA,
		.kthread = kthread,
	};
	struct churn c = {.dead = ~0U};
	struct vhost_vring_worker vw;
	char name[96];
	pthread_t t;
	int ret;

	snprintf(name, sizeof(name), "churn.%s.%s", kthread ? "kthread" : "task",
		 self->be.kind == VBLK_BE_BRD     ? "brd"
		 : self->be.kind == VBLK_BE_NULLB ? "null_blk"
						  : "file");
	self->seed = stress_seed(name);
	ASSERT_EQ(0, vblk_open(&cfg, &self->v[0]))
	{
		TH_LOG("vblk_open: %s", vblk_error());
	}
	ASSERT_EQ(0, vblk_set_backend(self->v[0], self->be.fd));
	shadow_init(_metadata, self, SPAN);
	rio_init(_metadata, self, self->v[0], CH_DEPTH);

	/* Where SET_OWNER put every vq: on the default worker. */
	c.fd = self->v[0]->fd;
	c.seed = self->seed ^ 0x5bd1e995;
	for (unsigned int vq = 0; vq < CH_VQS; vq++) {
		vw = (struct vhost_vring_worker){.index = vq};
		ASSERT_EQ(0, ioctl(c.fd, VHOST_GET_VRING_WORKER, &vw));
		c.vq_worker[vq] = vw.worker_id;
	}
	c.first = c.vq_worker[0];
	c.live[c.nlive++] = c.first;

	ASSERT_EQ(0, pthread_create(&t, NULL, churn_thread, &c));
	ret = rio_run(&self->io, stress_ms(CH_MS));
	c.stop = true;
	pthread_join(t, NULL);
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s (after %llu worker operations)", self->io.err,
		       (unsigned long long)c.ops);
	}
	ASSERT_EQ('\0', c.err[0])
	{
		TH_LOG("after %llu worker operations: %s", (unsigned long long)c.ops, c.err);
	}
	EXPECT_LT(0ULL, c.news);
	EXPECT_LT(0ULL, c.frees);
	EXPECT_LT(0ULL, c.attaches);
	EXPECT_LT(0ULL, c.refusals);
	/* The workers left serve on, and everything reads back. */
	random_io(_metadata, self, self->v[0], CH_DEPTH, 0);
	TH_LOG("%llu worker operations: %llu new, %llu freed, %llu attached, %llu looked up, "
	       "%llu refused",
	       (unsigned long long)c.ops, (unsigned long long)c.news, (unsigned long long)c.frees,
	       (unsigned long long)c.attaches, (unsigned long long)c.gets,
	       (unsigned long long)c.refusals);
	stress_figure("churn", "worker_ops", c.ops, "ioctls");
	stress_figure("churn", "requests", self->io.reads + self->io.writes, "requests");
}

TEST_F_TIMEOUT(io, churn_task_mode, 60)
{
	churn(_metadata, self, false);
}

TEST_F_TIMEOUT(io, churn_kthread_mode, 60)
{
	churn(_metadata, self, true);
}

TEST_HARNESS_MAIN
