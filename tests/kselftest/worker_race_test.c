// SPDX-License-Identifier: GPL-2.0
/*
 * SIGKILL of the owner, or close() of the device, racing with kicks and
 * worker swaps: 200 rounds each (VHB_RACE_ROUNDS) must leave no worker behind.
 * See worker_common.h for the variants (vhost-scsi as the reference,
 * vhost-blk).  Run in a VM:
 * scripts/vm-run [--load] -- tests/kselftest/run_tests.sh worker_race_test
 */
#include "worker_common.h"

/* ---- races ---- */

/* Set up a rig, say so, then hammer it until SIGKILL. */
static void kill_race_child(const char *path, int rep_fd)
{
	struct rig rig;
	int err;

	if (rig_setup(&rig, path))
		child_exit(rep_fd, KSFT_FAIL, "%s: %s", rig.failed, strerror(rig.err));
	send_report(rep_fd, KSFT_PASS, RIG_WORKERS, "ready");
	err = rig_hammer(&rig, NULL);
	child_exit(rep_fd, KSFT_FAIL, "hammering stopped: %s", strerror(err));
	_exit(KSFT_FAIL);
}

/*
 * SIGKILL an owner while it sets up, kicks, or moves vqs between workers:
 * every worker must go away with it, and the device must stay usable.  Even
 * rounds kill 0-5 ms after fork (anywhere from open to the hammering), odd
 * rounds 0-5 ms after the child is ready (while it kicks and swaps).
 */
TEST_F_TIMEOUT(worker, kill_race, RACE_TIMEOUT)
{
	unsigned int seed = time(NULL) ^ getpid();
	pid_t children[RACE_ROUNDS_MAX];
	int rounds = race_rounds();
	struct timespec start, end;
	struct report report;
	int i, rep[2], status, ready = 0;

	own_with_workers(_metadata, self, variant);
	if (_metadata->exit_code == KSFT_SKIP)
		return;
	TH_LOG("seed %u", seed);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < rounds; i++) {
		ASSERT_EQ(0, pipe2(rep, O_CLOEXEC));
		self->child = fork();
		ASSERT_LE(0, self->child);
		if (self->child == 0) {
			close(rep[0]);
			kill_race_child(variant->path, rep[1]);
		}
		close(rep[1]);
		children[i] = self->child;
		if (i % 2) {
			ASSERT_TRUE(recv_report(rep[0], &report, 10000))
			{
				TH_LOG("round %d: the child did not get ready", i);
			}
			ASSERT_EQ(KSFT_PASS, report.code)
			{
				TH_LOG("round %d: %s", i, report.msg);
			}
			ready++;
		}
		usleep(rand_r(&seed) % (RACE_MAX_DELAY_US + 1));
		ASSERT_EQ(0, kill(self->child, SIGKILL));
		ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
		self->child = 0;
		/* A child that exited by itself failed: say why. */
		if (!WIFSIGNALED(status)) {
			while (recv_report(rep[0], &report, 0) && report.code == KSFT_PASS)
				;
			ASSERT_TRUE(WIFSIGNALED(status))
			{
				TH_LOG("round %d: child exited with %d: %s", i, WEXITSTATUS(status),
				       report.msg);
			}
		}
		EXPECT_EQ(SIGKILL, WTERMSIG(status));
		close(rep[0]);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	TH_LOG("%d rounds (%d killed while hammering) in %ld ms", rounds, ready,
	       (long)((end.tv_sec - start.tv_sec) * 1000 +
		      (end.tv_nsec - start.tv_nsec) / 1000000));

	EXPECT_EQ(0, wait_workers_gone(children, rounds, 5000));

	/* The device is still there for the next owner. */
	self->fd = open(variant->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(0, new_worker(self->fd, NULL));
}

struct hammer {
	struct rig *rig;
	unsigned long rounds;
	int err;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;

	h->err = rig_hammer(h->rig, &h->rounds);
	return NULL;
}

/*
 * close() the device while another thread kicks its vqs and moves them
 * between workers; the release then races with queued work and worker
 * swaps.  The other thread stops at its first EBADF.  Odd rounds close only
 * once the thread has started hammering.
 */
TEST_F_TIMEOUT(worker, close_race, RACE_TIMEOUT)
{
	unsigned int seed = time(NULL) ^ getpid();
	struct timespec start, end, deadline;
	unsigned long total = 0;
	pid_t tid = gettid();
	struct hammer h;
	pthread_t thread;
	struct rig rig;
	int rounds = race_rounds();
	int i;

	own_with_workers(_metadata, self, variant);
	if (_metadata->exit_code == KSFT_SKIP)
		return;
	TH_LOG("seed %u", seed);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < rounds; i++) {
		ASSERT_EQ(0, rig_setup(&rig, variant->path))
		{
			TH_LOG("round %d: %s: %s", i, rig.failed, strerror(rig.err));
		}
		h = (struct hammer){.rig = &rig};
		ASSERT_EQ(0, pthread_create(&thread, NULL, hammer_thread, &h));
		if (i % 2) {
			deadline = deadline_in(10000);
			while (!__atomic_load_n(&h.rounds, __ATOMIC_RELAXED) &&
			       !deadline_passed(&deadline))
				sched_yield();
		}
		usleep(rand_r(&seed) % (RACE_MAX_DELAY_US + 1));
		ASSERT_EQ(0, close(rig.fd));
		ASSERT_EQ(0, pthread_join(thread, NULL));
		EXPECT_EQ(EBADF, h.err)
		{
			TH_LOG("round %d: hammering stopped: %s", i, strerror(h.err));
		}
		total += h.rounds;
		rig_release(&rig);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	TH_LOG("%d rounds, %lu kick rounds, in %ld ms", rounds, total,
	       (long)((end.tv_sec - start.tv_sec) * 1000 +
		      (end.tv_nsec - start.tv_nsec) / 1000000));
	EXPECT_LT(0UL, total);
	EXPECT_EQ(0, wait_workers_gone(&tid, 1, 5000));
}

TEST_HARNESS_MAIN
