// SPDX-License-Identifier: GPL-2.0
/*
 * SIGKILL rounds: fork an owner that opens /dev/vhost-blk on a real backend,
 * gives its four virtqueues their own workers (some busy-polling), keeps
 * verified random I/O in flight on them and, in some rounds, also churns
 * workers or stops and restarts a ring from other threads; then kill it at
 * a random moment, from the middle of its set-up to deep in its I/O.  Every
 * round: the owner dies of the SIGKILL (it saw no wrong read before) and is
 * reaped within seconds, no "vhost-<pid>" worker of it is left anywhere, and
 * the module's reference count is back to 0 (unless VHB_SOAK says other
 * suites run beside this one).  After the rounds, a fresh
 * device serves verified I/O on the same backend, and the module unloads
 * (and is loaded again, for the suites after this one).  In task mode and
 * kthread mode.
 *
 * Seeded and bounded in time (stress.h: VHB_SEED, VHB_TEST_MS); reports the
 * rounds and the slowest reap.  Runs in a VM with the module loaded.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "blk_io.h"
#include "stress.h"
#include "worker_common.h"

#define KL_VQS 4
#define KL_DEPTH 8
#define KL_MS 6000
#define KL_MIN_ROUNDS 4
#define KL_READY_MS 20000 /* set-up under TCG and the debug kernel */
#define KL_REAP_MS 10000  /* "within seconds" */
#define KL_GONE_MS 10000
#define KL_OWNER_TIDS 4

/* What the owner tells the test once its device runs. */
struct kl_ready {
	int code;
	pid_t tids[KL_OWNER_TIDS]; /* threads that created workers: their names */
	char msg[200];
};

struct kl_child {
	struct vblk *v;
	uint64_t seed;
	int fd;
	volatile bool stop;
	pid_t tid;
};

static void __attribute__((noreturn, format(printf, 2, 3))) kl_die(int fd, const char *fmt, ...)
{
	struct kl_ready r = {.code = KSFT_FAIL};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	va_end(ap);
	if (write(fd, &r, sizeof(r)) != sizeof(r))
		_exit(KSFT_FAIL);
	_exit(KSFT_FAIL);
}

/* Another thread of the owner: new workers, moves and frees, until killed. */
static void *kl_churn(void *arg)
{
	struct kl_child *c = arg;
	unsigned int ids[8], n = 0;

	c->tid = syscall(SYS_gettid);
	while (!c->stop) {
		struct vhost_worker_state ws = {};
		struct vhost_vring_worker vw = {.index = vblk_rand(&c->seed) % KL_VQS};

		if (n < 8 && !ioctl(c->fd, VHOST_NEW_WORKER, &ws))
			ids[n++] = ws.worker_id;
		if (n) {
			vw.worker_id = ids[vblk_rand(&c->seed) % n];
			ioctl(c->fd, VHOST_ATTACH_VRING_WORKER, &vw);
			ws.worker_id = ids[vblk_rand(&c->seed) % n];
			if (!ioctl(c->fd, VHOST_FREE_WORKER, &ws))
				for (unsigned int i = 0; i < n; i++)
					if (ids[i] == ws.worker_id)
						ids[i] = ids[--n];
		}
	}
	return NULL;
}

/* Another thread of the owner: stop vq 3 (GET_VRING_BASE), restart it. */
static void *kl_stopper(void *arg)
{
	struct kl_child *c = arg;
	struct vhost_vring_file kick = {.index = 3, .fd = c->v->vqs[3].kick};

	while (!c->stop) {
		struct vhost_vring_state st = {.index = 3};

		ioctl(c->fd, VHOST_GET_VRING_BASE, &st);
		usleep(vblk_rand(&c->seed) % 2000);
		ioctl(c->fd, VHOST_SET_VRING_KICK, &kick);
		usleep(vblk_rand(&c->seed) % 5000);
	}
	return NULL;
}

/*
 * The owner: a device on @be with a worker per vq, some of them polling;
 * report ready, then random I/O checked against the backend's content
 * until killed.  Exits (with a report) only on a failure.
 */
static void __attribute__((noreturn))
kl_owner(struct vblk_backend *be, bool kthread, uint64_t seed, int rep)
{
	struct vblk_config cfg = {
		.nvqs = KL_VQS,
		.queue_size = QSIZE,
		.depth = KL_DEPTH,
		.max_data = MAX_DATA,
		.kthread = kthread,
	};
	pid_t tids[KL_OWNER_TIDS] = {getpid()};
	struct kl_child c = {.seed = seed};
	struct rio io = {.nvqs = KL_VQS, .depth = KL_DEPTH, .seed = seed};
	pthread_t t;
	unsigned int vq;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	io.span = SPAN;
	io.shadow = malloc(SPAN);
	io.busy = calloc(SPAN / CHUNK + 1, 1);
	if (!io.shadow || !io.busy || pread(be->fd, io.shadow, SPAN, 0) != (ssize_t)SPAN)
		kl_die(rep, "reading the backend: %s", strerror(errno));
	if (vblk_open(&cfg, &c.v) || vblk_set_backend(c.v, be->fd))
		kl_die(rep, "%s", vblk_error());
	io.v = c.v;
	c.fd = c.v->fd;
	for (vq = 0; vq < KL_VQS; vq++) {
		struct vhost_worker_state ws = {};
		struct vhost_vring_worker vw = {.index = vq};
		struct vhost_vring_state st = {.index = vq, .num = 20 + vblk_rand(&c.seed) % 500};

		if (vblk_rand(&c.seed) % 4 && !ioctl(c.fd, VHOST_NEW_WORKER, &ws)) {
			vw.worker_id = ws.worker_id;
			ioctl(c.fd, VHOST_ATTACH_VRING_WORKER, &vw);
		}
		/* Busy workers: some poll their empty ring. */
		if (vblk_rand(&c.seed) % 3 == 0)
			ioctl(c.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st);
	}
	switch (vblk_rand(&c.seed) % 4) {
	case 0:
		c.tid = 0;
		if (!pthread_create(&t, NULL, kl_churn, &c))
			while (!__atomic_load_n(&c.tid, __ATOMIC_ACQUIRE))
				usleep(100);
		tids[1] = c.tid;
		break;
	case 1:
		pthread_create(&t, NULL, kl_stopper, &c);
		break;
	default:
		break;
	}
	{
		struct kl_ready r = {.code = KSFT_PASS, .msg = "ready"};

		memcpy(r.tids, tids, sizeof(r.tids));
		if (write(rep, &r, sizeof(r)) != sizeof(r))
			_exit(KSFT_FAIL);
	}
	for (;;)
		if (rio_run(&io, 60000))
			kl_die(rep, "I/O: %s", io.err);
}

/* /sys/module/vhost_blk/refcnt, or -1. */
static int module_refcnt(void)
{
	char buf[32];

	if (read_file("/sys/module/vhost_blk/refcnt", buf, sizeof(buf)) <= 0)
		return -1;
	return atoi(buf);
}

static int wait_refcnt_zero(int ms)
{
	struct timespec deadline = deadline_in(ms);
	int n;

	while ((n = module_refcnt()) > 0 && !deadline_passed(&deadline))
		usleep(10000);
	return n;
}

FIXTURE(kill)
{
	struct vblk_backend be;
	pid_t child;
};

FIXTURE_VARIANT(kill)
{
	enum vblk_backend_kind kind;
	bool kthread;
	const char *what;
};

/* clang-format off */
FIXTURE_VARIANT_ADD(kill, task_file)
{
	.kind = VBLK_BE_FILE,
	.what = "task mode, a file",
};

FIXTURE_VARIANT_ADD(kill, task_null_blk)
{
	.kind = VBLK_BE_NULLB,
	.what = "task mode, null_blk",
};

FIXTURE_VARIANT_ADD(kill, kthread_brd)
{
	.kind = VBLK_BE_BRD,
	.kthread = true,
	.what = "kthread mode, brd",
};
/* clang-format on */

FIXTURE_SETUP(kill)
{
	backend_setup(_metadata, &self->be, variant->kind, BACKEND_SIZE, variant->what);
}

FIXTURE_TEARDOWN(kill)
{
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	vblk_backend_close(&self->be);
}

/* Wait up to @ms for @pid to end; its status, or -1. */
static int reap(pid_t pid, int ms, int64_t *took)
{
	int64_t t0 = now_ms();
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		*took = now_ms() - t0;
		if (r == pid)
			return status;
		if (r < 0 || *took > ms)
			return -1;
		usleep(2000);
	}
}

TEST_F_TIMEOUT(kill, rounds, 120)
{
	char name[96];
	uint64_t seed, rounds = 0, ready_kills = 0;
	int64_t end, took, slowest = 0, slowest_release = 0;
	struct kl_ready r;
	uint8_t *shadow;

	snprintf(name, sizeof(name), "kill.%s", variant->what);
	seed = stress_seed(name);
	shadow = malloc(SPAN);
	ASSERT_NE(NULL, shadow);
	vblk_fill_random(shadow, SPAN, &seed);
	ASSERT_EQ((ssize_t)SPAN, pwrite(self->be.fd, shadow, SPAN, 0));
	ASSERT_EQ(0, fsync(self->be.fd));
	free(shadow);

	end = now_ms() + stress_ms(KL_MS);
	while (rounds < KL_MIN_ROUNDS || now_ms() < end) {
		uint64_t child_seed = vblk_rand(&seed);
		bool early = vblk_rand(&seed) % 4 == 0;
		pid_t owners[KL_OWNER_TIDS + 1] = {0};
		int rep[2], status, n = 0, gone, refs;

		ASSERT_EQ(0, pipe2(rep, O_CLOEXEC));
		self->child = fork();
		ASSERT_LE(0, self->child);
		if (!self->child) {
			close(rep[0]);
			kl_owner(&self->be, variant->kthread, child_seed, rep[1]);
		}
		close(rep[1]);
		owners[n++] = self->child;
		if (early) {
			/* Anywhere in its set-up: open, SET_OWNER, workers, rings. */
			usleep(vblk_rand(&seed) % 30000);
		} else {
			ASSERT_TRUE(poll(&(struct pollfd){.fd = rep[0], .events = POLLIN}, 1,
					 KL_READY_MS) == 1)
			{
				TH_LOG("round %llu: the owner did not get ready",
				       (unsigned long long)rounds);
			}
			ASSERT_EQ((ssize_t)sizeof(r), read(rep[0], &r, sizeof(r)));
			ASSERT_EQ(KSFT_PASS, r.code)
			{
				TH_LOG("round %llu: %s", (unsigned long long)rounds, r.msg);
			}
			for (int i = 1; i < KL_OWNER_TIDS; i++)
				if (r.tids[i])
					owners[n++] = r.tids[i];
			/* In its I/O, from at once to a while. */
			usleep(vblk_rand(&seed) % 400000);
			ready_kills++;
		}
		ASSERT_EQ(0, kill(self->child, SIGKILL));
		status = reap(self->child, KL_REAP_MS, &took);
		ASSERT_NE(-1, status)
		{
			TH_LOG("round %llu: the owner was not reaped in %d ms",
			       (unsigned long long)rounds, KL_REAP_MS);
		}
		self->child = 0;
		/* An owner that ended by itself failed: its last report says why. */
		strcpy(r.msg, "no report");
		while (!WIFSIGNALED(status) && read(rep[0], &r, sizeof(r)) == (ssize_t)sizeof(r))
			;
		ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		{
			TH_LOG("round %llu: the owner ended by itself (status %#x): %s",
			       (unsigned long long)rounds, status, r.msg);
		}
		close(rep[0]);
		if (took > slowest)
			slowest = took;
		gone = wait_workers_gone(owners, n, KL_GONE_MS);
		ASSERT_EQ(0, gone)
		{
			TH_LOG("round %llu: %d vhost-* workers of the dead owner left",
			       (unsigned long long)rounds, gone);
		}
		/* Side by side with other suites (make soak), they hold devices. */
		took = now_ms();
		refs = getenv("VHB_SOAK") ? 0 : wait_refcnt_zero(KL_GONE_MS);
		took = now_ms() - took;
		if (took > slowest_release)
			slowest_release = took;
		ASSERT_EQ(0, refs)
		{
			TH_LOG("round %llu: module reference count %d after the owner died",
			       (unsigned long long)rounds, refs);
		}
		rounds++;
	}
	TH_LOG("%llu rounds (%llu killed in their I/O, the others in their set-up); slowest "
	       "reap %lld ms",
	       (unsigned long long)rounds, (unsigned long long)ready_kills, (long long)slowest);
	stress_figure("kill", "rounds", rounds, "rounds");
	stress_figure("kill", "slowest_reap_ms", slowest, "ms");
	TH_LOG("slowest release after the reap: %lld ms", (long long)slowest_release);

	/* The backend and the module serve a new owner as before. */
	{
		struct vblk_config cfg = {.nvqs = KL_VQS,
					  .queue_size = QSIZE,
					  .depth = KL_DEPTH,
					  .max_data = MAX_DATA};
		struct rio io = {.nvqs = KL_VQS, .depth = KL_DEPTH, .seed = seed, .span = SPAN};
		struct vblk *v;
		int ret;

		io.shadow = malloc(SPAN);
		io.busy = calloc(SPAN / CHUNK + 1, 1);
		ASSERT_TRUE(io.shadow && io.busy);
		ASSERT_EQ((ssize_t)SPAN, pread(self->be.fd, io.shadow, SPAN, 0));
		ASSERT_EQ(0, vblk_open(&cfg, &v));
		ASSERT_EQ(0, vblk_set_backend(v, self->be.fd));
		io.v = v;
		ret = rio_run(&io, RIO_MS);
		if (!ret)
			ret = rio_verify_all(&io);
		vblk_close(v);
		free(io.shadow);
		free(io.busy);
		ASSERT_EQ(0, ret)
		{
			TH_LOG("a fresh owner: %s", io.err);
		}
	}
}

/*
 * After the kills, nothing holds the module: it unloads.  It is loaded
 * again from where vm-run took it (build/RELEASE/kernel/), for what
 * follows; without that file there, the case skips.
 */
TEST_F(kill, module_unloads)
{
	char ko[PATH_MAX], exe[PATH_MAX / 2], cmd[PATH_MAX + 32];
	struct utsname u;
	ssize_t n;

	ASSERT_EQ(0, uname(&u));
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, n);
	exe[n] = '\0';
	/* build/tests/kselftest/blk_kill_test -> build/RELEASE/kernel/vhost_blk.ko */
	*strrchr(exe, '/') = '\0';
	*strrchr(exe, '/') = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(ko, sizeof(ko), "%s/%s/kernel/vhost_blk.ko", exe, u.release);
	if (access(ko, R_OK) || module_refcnt() < 0)
		SKIP(return, "no %.200s, or vhost_blk not loaded", ko);
	ASSERT_EQ(0, wait_refcnt_zero(KL_GONE_MS));
	ASSERT_EQ(0, system("rmmod vhost_blk"))
	{
		TH_LOG("vhost_blk does not unload");
	}
	ASSERT_EQ(-1, module_refcnt());
	snprintf(cmd, sizeof(cmd), "insmod %s", ko);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(0, module_refcnt());
}

TEST_HARNESS_MAIN
