// SPDX-License-Identifier: GPL-2.0
/*
 * Which tasks the worker ioctls create and remove, and whose cgroup and
 * RLIMIT_NPROC they are charged to.
 * See worker_common.h for the variants (vhost-scsi as the reference,
 * vhost-blk).  Run in a VM:
 * scripts/vm-run [--load] -- tests/kselftest/run_tests.sh worker_thread_test
 */
#include <sys/mount.h>

#include "worker_common.h"

TEST_F(worker, task_mode_threads)
{
	struct vhost_worker_state state;
	struct vhost_vring_worker vw;
	char name[32], other[32];
	struct namer namer;
	pthread_t thread;
	pid_t pid = getpid();
	unsigned int id = 0;
	int before, ret;

	worker_name(name, sizeof(name), gettid());
	before = task_threads(pid, "vhost-*", NULL, 0);
	EXPECT_EQ(0, before);

	self->fd = open(variant->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ret = select_mode(self->fd, VHOST_FORK_OWNER_TASK);
	if (ret == EOPNOTSUPP)
		SKIP(return, "no task mode on this kernel");
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER))
	{
		TH_LOG("VHOST_SET_OWNER: %s", strerror(errno));
	}
	if (ret && !task_threads(pid, name, NULL, 0) && kthreads(name, NULL, 0))
		SKIP(return, "workers are kthreads on this kernel");
	/* The default worker. */
	EXPECT_EQ(1, wait_task_threads(pid, name, 1, 2000));
	EXPECT_EQ(before + 1, task_threads(pid, "vhost-*", NULL, 0));
	EXPECT_EQ(0, kthreads(name, NULL, 0));

	ret = new_worker(self->fd, &id);
	if (ret == ENOTTY)
		SKIP(return, "no worker ioctls (kernel < 6.5)");
	ASSERT_EQ(0, ret)
	{
		TH_LOG("VHOST_NEW_WORKER: %s", strerror(ret));
	}
	/* Ids are the lowest free ones: the default worker holds 0. */
	EXPECT_EQ(1U, id);
	EXPECT_EQ(2, wait_task_threads(pid, name, 2, 2000));
	EXPECT_EQ(before + 2, task_threads(pid, "vhost-*", NULL, 0));

	/* A worker is named after the thread that asked for it. */
	namer = (struct namer){.fd = self->fd};
	ASSERT_EQ(0, pthread_create(&thread, NULL, new_worker_thread, &namer));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_EQ(0, namer.err);
	worker_name(other, sizeof(other), namer.tid);
	EXPECT_EQ(1, task_threads(pid, other, NULL, 0));
	EXPECT_EQ(before + 3, task_threads(pid, "vhost-*", NULL, 0));

	/* The default worker serves every vq, so it cannot be freed. */
	vw = (struct vhost_vring_worker){.index = 0};
	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_VRING_WORKER, &vw));
	EXPECT_EQ(0U, vw.worker_id);
	state.worker_id = vw.worker_id;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_FREE_WORKER, &state));
	EXPECT_EQ(EBUSY, errno);

	state.worker_id = id;
	ASSERT_EQ(0, ioctl(self->fd, VHOST_FREE_WORKER, &state))
	{
		TH_LOG("VHOST_FREE_WORKER: %s", strerror(errno));
	}
	EXPECT_EQ(1, wait_task_threads(pid, name, 1, 2000));
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_FREE_WORKER, &state));
	EXPECT_EQ(ENODEV, errno);
	state.worker_id = namer.id;
	ASSERT_EQ(0, ioctl(self->fd, VHOST_FREE_WORKER, &state));
	EXPECT_EQ(0, wait_task_threads(pid, other, 0, 2000));

	/* close() takes the rest, including workers nobody freed. */
	ASSERT_EQ(0, new_worker(self->fd, &id));
	EXPECT_EQ(2, wait_task_threads(pid, name, 2, 2000));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, wait_task_threads(pid, name, 0, 2000));
	EXPECT_EQ(before, wait_task_threads(pid, "vhost-*", before, 2000));
}

/*
 * Kthread mode: the default worker is a child of kthreadd, not a thread of
 * ours.  Extra workers: see kthread_new_worker_errno.
 */
TEST_F(worker, kthread_mode_new_worker)
{
	char name[32];
	__u8 mode = 0xff;
	int ret;

	worker_name(name, sizeof(name), gettid());
	self->fd = open(variant->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ret = select_mode(self->fd, VHOST_FORK_OWNER_KTHREAD);
	if (ret == EOPNOTSUPP || ret == ENOTTY || ret == EPERM)
		SKIP(return, "no way to select kthread mode: %s", strerror(ret));
	ASSERT_EQ(0, ret)
	{
		TH_LOG("VHOST_SET_FORK_FROM_OWNER 0: %s", strerror(ret));
	}
	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FORK_FROM_OWNER, &mode));
	EXPECT_EQ(VHOST_FORK_OWNER_KTHREAD, mode);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER))
	{
		TH_LOG("VHOST_SET_OWNER: %s", strerror(errno));
	}
	/* The mode is fixed once there is an owner. */
	EXPECT_EQ(EBUSY, select_mode(self->fd, VHOST_FORK_OWNER_TASK));
	EXPECT_EQ(1, wait_kthreads(name, 1, 2000));
	EXPECT_EQ(0, task_threads(getpid(), "vhost-*", NULL, 0));

	ret = new_worker(self->fd, NULL);
	if (ret == ENOTTY)
		SKIP(return, "no worker ioctls (kernel < 6.5)");
	ASSERT_EQ(variant->kthread_new_worker_errno, ret)
	{
		TH_LOG("VHOST_NEW_WORKER in kthread mode: %s", ret ? strerror(ret) : "succeeded");
	}
	EXPECT_EQ(ret ? 1 : 2, wait_kthreads(name, ret ? 1 : 2, 2000));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, wait_kthreads(name, 0, 2000));
}

/* ---- cgroups ---- */

/*
 * The cgroup child: wait until the parent has moved it, own the device in
 * @mode, add a worker when the mode allows, report, and stay alive until the
 * parent closes @go_fd.
 */
static void cgroup_child(const FIXTURE_VARIANT(worker) * variant, __u8 mode, int go_fd, int rep_fd)
{
	char name[32], c;
	int fd, ret, workers = 1;
	bool is_task;

	if (read(go_fd, &c, 1) != 1)
		_exit(KSFT_FAIL);
	worker_name(name, sizeof(name), getpid());
	fd = open(variant->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		child_exit(rep_fd, KSFT_FAIL, "open: %s", strerror(errno));
	ret = select_mode(fd, mode);
	if (ret == EOPNOTSUPP)
		child_exit(rep_fd, KSFT_SKIP, "no %s mode on this kernel",
			   mode ? "task" : "kthread");
	if (ioctl(fd, VHOST_SET_OWNER))
		child_exit(rep_fd, KSFT_FAIL, "VHOST_SET_OWNER: %s", strerror(errno));
	is_task = task_threads(getpid(), name, NULL, 0) > 0;
	if (is_task != (mode == VHOST_FORK_OWNER_TASK)) {
		if (ret)
			child_exit(rep_fd, KSFT_SKIP, "workers are always %s on this kernel",
				   is_task ? "tasks" : "kthreads");
		else
			child_exit(rep_fd, KSFT_FAIL, "asked for %s workers, got %s",
				   mode ? "task" : "kthread", is_task ? "tasks" : "kthreads");
	}
	ret = new_worker(fd, NULL);
	if (ret == ENOTTY)
		workers = 1; /* a kernel without worker ioctls: the default worker only */
	else if (ret == (is_task ? 0 : variant->kthread_new_worker_errno))
		workers = ret ? 1 : 2;
	else
		child_exit(rep_fd, KSFT_FAIL, "VHOST_NEW_WORKER in %s mode: %s",
			   is_task ? "task" : "kthread", ret ? strerror(ret) : "succeeded");
	send_report(rep_fd, KSFT_PASS, workers, "%d workers", workers);
	/* Keep the device, and so the workers, until the parent is done. */
	while (read(go_fd, &c, 1) > 0)
		;
	_exit(KSFT_PASS);
}

/*
 * Workers run in their owner's cgroup: move a child into a fresh cgroup v2
 * group, let it own the device, and compare /proc/TID/cgroup of each of its
 * workers with its own.
 */
static void check_cgroup(struct __test_metadata *_metadata, FIXTURE_DATA(worker) * self,
			 const FIXTURE_VARIANT(worker) * variant, __u8 mode)
{
	char path[PATH_MAX + 32], name[32], want[512], have[512];
	int go[2], rep[2], i, n, status;
	struct report report;
	pid_t tids[8];

	if (access(CGROUP_ROOT "/cgroup.controllers", F_OK))
		SKIP(return, "no cgroup v2 at " CGROUP_ROOT);
	snprintf(self->cgroup, sizeof(self->cgroup), CGROUP_ROOT "/vhost-worker-test-%d", getpid());
	ASSERT_EQ(0, mkdir(self->cgroup, 0755))
	{
		self->cgroup[0] = '\0';
		TH_LOG("mkdir: %s", strerror(errno));
	}
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(rep, O_CLOEXEC));
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		close(go[1]);
		close(rep[0]);
		cgroup_child(variant, mode, go[0], rep[1]);
	}
	close(go[0]);
	close(rep[1]);

	snprintf(path, sizeof(path), "%s/cgroup.procs", self->cgroup);
	snprintf(want, sizeof(want), "%d", self->child);
	ASSERT_EQ(0, write_file(path, want))
	{
		TH_LOG("moving %d into %s: %s", self->child, self->cgroup, strerror(errno));
	}
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_TRUE(recv_report(rep[0], &report, 10000));
	if (report.code == KSFT_SKIP)
		SKIP(return, "%s", report.msg);
	ASSERT_EQ(KSFT_PASS, report.code)
	{
		TH_LOG("child: %s", report.msg);
	}

	snprintf(path, sizeof(path), "/proc/%d/cgroup", self->child);
	ASSERT_LT(0, read_file(path, want, sizeof(want)));
	/* The child really is in the new group, not in ours. */
	ASSERT_NE(NULL, strstr(want, strrchr(self->cgroup, '/')))
	{
		TH_LOG("child's cgroup: %s", want);
	}

	worker_name(name, sizeof(name), self->child);
	if (mode == VHOST_FORK_OWNER_TASK)
		n = task_threads(self->child, name, tids, 8);
	else
		n = kthreads(name, tids, 8);
	ASSERT_EQ(report.workers, n);
	for (i = 0; i < n && i < 8; i++) {
		if (mode == VHOST_FORK_OWNER_TASK)
			snprintf(path, sizeof(path), "/proc/%d/task/%d/cgroup", self->child,
				 tids[i]);
		else
			snprintf(path, sizeof(path), "/proc/%d/cgroup", tids[i]);
		ASSERT_LT(0, read_file(path, have, sizeof(have)));
		EXPECT_STREQ(want, have)
		{
			TH_LOG("worker %d (%s)", tids[i], name);
		}
	}

	/* Let the child go; its workers leave with its device. */
	close(go[1]);
	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	self->child = 0;
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == KSFT_PASS);
	close(rep[0]);
	if (mode != VHOST_FORK_OWNER_TASK)
		EXPECT_EQ(0, wait_kthreads(name, 0, 2000));
}

TEST_F(worker, cgroup_task_mode)
{
	check_cgroup(_metadata, self, variant, VHOST_FORK_OWNER_TASK);
}

TEST_F(worker, cgroup_kthread_mode)
{
	check_cgroup(_metadata, self, variant, VHOST_FORK_OWNER_KTHREAD);
}

/* ---- RLIMIT_NPROC ---- */

/*
 * As nobody, with RLIMIT_NPROC at "this process + one worker": SET_OWNER's
 * default worker fits, VHOST_NEW_WORKER does not.
 */
static void nproc_child(const FIXTURE_VARIANT(worker) * variant, int rep_fd)
{
	struct vhost_vring_worker vw = {.index = 0};
	struct rlimit rl;
	char name[32];
	int fd, ret, others;

	worker_name(name, sizeof(name), getpid());
	fd = open(variant->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		child_exit(rep_fd, KSFT_FAIL, "open: %s", strerror(errno));
	if (select_mode(fd, VHOST_FORK_OWNER_TASK) == EOPNOTSUPP)
		child_exit(rep_fd, KSFT_SKIP, "no task mode on this kernel");
	others = tasks_of_uid(NOBODY);
	if (others < 0)
		child_exit(rep_fd, KSFT_FAIL, "cannot count the tasks of uid %d", NOBODY);
	rl.rlim_cur = others + 2;
	rl.rlim_max = others + 2;
	if (setrlimit(RLIMIT_NPROC, &rl))
		child_exit(rep_fd, KSFT_FAIL, "setrlimit: %s", strerror(errno));
	/* Root (CAP_SYS_RESOURCE, CAP_SYS_ADMIN) is exempt from RLIMIT_NPROC. */
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		child_exit(rep_fd, KSFT_FAIL, "becoming nobody: %s", strerror(errno));

	if (ioctl(fd, VHOST_SET_OWNER))
		child_exit(rep_fd, KSFT_FAIL,
			   "VHOST_SET_OWNER with room for one worker (limit %d): %s", others + 2,
			   strerror(errno));
	if (task_threads(getpid(), name, NULL, 0) != 1)
		child_exit(rep_fd, KSFT_SKIP, "workers are not threads on this kernel");
	ret = new_worker(fd, NULL);
	if (ret == ENOTTY)
		child_exit(rep_fd, KSFT_SKIP, "no worker ioctls (kernel < 6.5)");
	if (ret != variant->nproc_new_worker_errno)
		child_exit(rep_fd, KSFT_FAIL, "VHOST_NEW_WORKER beyond RLIMIT_NPROC: %s, not %s",
			   ret ? strerror(ret) : "succeeded",
			   strerror(variant->nproc_new_worker_errno));
	if (task_threads(getpid(), "vhost-*", NULL, 0) != 1)
		child_exit(rep_fd, KSFT_FAIL, "a failed VHOST_NEW_WORKER left a thread");
	/* The device still works with its default worker. */
	if (ioctl(fd, VHOST_GET_VRING_WORKER, &vw) || vw.worker_id != 0)
		child_exit(rep_fd, KSFT_FAIL, "VHOST_GET_VRING_WORKER after the failure: %s",
			   strerror(errno));
	send_report(rep_fd, KSFT_PASS, 1, "refused with %s", strerror(ret));
	_exit(KSFT_PASS);
}

TEST_F(worker, rlimit_nproc)
{
	struct report report;
	int rep[2], status;

	if (geteuid() != 0)
		SKIP(return, "needs root to switch to uid %d", NOBODY);
	ASSERT_EQ(0, pipe2(rep, O_CLOEXEC));
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		close(rep[0]);
		nproc_child(variant, rep[1]);
	}
	close(rep[1]);
	ASSERT_TRUE(recv_report(rep[0], &report, 10000));
	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	self->child = 0;
	close(rep[0]);
	if (report.code == KSFT_SKIP)
		SKIP(return, "%s", report.msg);
	ASSERT_EQ(KSFT_PASS, report.code)
	{
		TH_LOG("child: %s", report.msg);
	}
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == KSFT_PASS);
}

#define FAIL_NTH "/proc/thread-self/fail-nth"

/*
 * Make the @nth allocation of this thread from now fail (fault injection);
 * 0 or -errno.  0 stops.
 */
static int fail_nth(unsigned int nth)
{
	char val[16];
	int fd, ret = 0;

	fd = open(FAIL_NTH, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(val, sizeof(val), "%u", nth);
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Was the failure set up with fail_nth() injected?  (It reads 0 then.) */
static bool fail_nth_injected(void)
{
	char val[16] = "";
	int fd = open(FAIL_NTH, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, val, sizeof(val) - 1) <= 0)
		val[0] = 'x';
	if (fd >= 0)
		close(fd);
	return atoi(val) == 0 && val[0] == '0';
}

#define FAILSLAB "/sys/kernel/debug/failslab/"
#define FAIL_PAGE_ALLOC "/sys/kernel/debug/fail_page_alloc/"

static int set_knob(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Every allocation VHOST_NEW_WORKER makes fails in turn (fail-nth, on a
 * kernel with fault injection): the ioctl fails cleanly or copes, and
 * never hangs; whatever it made is gone again, and the device still works.
 */
TEST_F_TIMEOUT(worker, new_worker_allocation_failures_unwind, 300)
{
	struct vhost_worker_state state;
	unsigned int nth, injected = 0, id;
	bool hit;
	int ret;

	if (fail_nth(0) == -ENOENT)
		SKIP(return, "no fault injection in this kernel (" FAIL_NTH ")");
	/* By default failslab spares allocations that may sleep: all of them here. */
	if (access(FAILSLAB "ignore-gfp-wait", F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (set_knob(FAILSLAB "ignore-gfp-wait", "N") ||
	    set_knob(FAIL_PAGE_ALLOC "ignore-gfp-wait", "N"))
		SKIP(return, "cannot configure failslab and fail_page_alloc in debugfs");
	self->fd = open(variant->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	for (nth = 1; nth < 1000; nth++) {
		ASSERT_EQ(0, fail_nth(nth));
		ret = new_worker(self->fd, &id);
		hit = fail_nth_injected();
		fail_nth(0);
		if (ret == ENOTTY)
			SKIP(return, "no worker ioctls (kernel < 6.5)");
		if (ret) {
			/* EFAULT: a user copy fails too (fail_usercopy). */
			EXPECT_TRUE(ret == ENOMEM || ret == EAGAIN || ret == EINTR || ret == EFAULT)
			{
				TH_LOG("allocation %u: %s", nth, strerror(ret));
			}
		} else {
			state.worker_id = id;
			ASSERT_EQ(0, ioctl(self->fd, VHOST_FREE_WORKER, &state));
		}
		if (!hit)
			break;
		injected++;
	}
	TH_LOG("%u allocations of VHOST_NEW_WORKER failed in turn", injected);
	EXPECT_LT(0U, injected);
	ASSERT_EQ(0, new_worker(self->fd, &id));
}

/* The address of kernel symbol @name and of the one after it, from kallsyms. */
static bool symbol_range(const char *name, unsigned long *start, unsigned long *end)
{
	unsigned long addr, found = 0;
	char line[256], sym[128];
	FILE *f = fopen("/proc/kallsyms", "r");

	*start = *end = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %*s %127s", &addr, sym) != 2)
			continue;
		if (found && addr > found) {
			*end = addr;
			break;
		}
		if (!strcmp(sym, name))
			found = addr;
	}
	if (f)
		fclose(f);
	*start = found;
	return found && *end;
}

/*
 * Make every slab allocation of this thread under @fn fail, and only those
 * (failslab with a stack-trace filter); @fn NULL turns it off.
 */
/* The failslab knobs fail_slab_in() sets, and what they were. */
static const char *const slab_knobs[] = {
	"require-start", "require-end", "stacktrace-depth", "task-filter", "ignore-gfp-wait",
	"interval",      "times",       "verbose",          "probability",
};
static char slab_saved[sizeof(slab_knobs) / sizeof(slab_knobs[0])][32];

static int get_knob(const char *path, char *val, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), n;

	n = fd < 0 ? -1 : read(fd, val, size - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -EIO;
	val[n] = 0;
	val[strcspn(val, "\n")] = 0;
	return 0;
}

static int fail_slab_in(const char *fn)
{
	const unsigned int n = sizeof(slab_knobs) / sizeof(slab_knobs[0]);
	char path[96], vals[sizeof(slab_knobs) / sizeof(slab_knobs[0])][32];
	unsigned long start, end;
	unsigned int i;

	if (!fn) {
		set_knob("/proc/thread-self/make-it-fail", "0");
		/* Probability first: injection stops before the filter opens. */
		for (i = n; i--;) {
			snprintf(path, sizeof(path), FAILSLAB "%s", slab_knobs[i]);
			set_knob(path, slab_saved[i]);
		}
		return 0;
	}
	if (!symbol_range(fn, &start, &end))
		return -ENOENT;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), FAILSLAB "%s", slab_knobs[i]);
		if (get_knob(path, slab_saved[i], sizeof(slab_saved[i])))
			return -EIO;
	}
	snprintf(vals[0], sizeof(vals[0]), "%lu", start);
	snprintf(vals[1], sizeof(vals[1]), "%lu", end);
	strcpy(vals[2], "32");
	strcpy(vals[3], "Y");
	strcpy(vals[4], "N");
	strcpy(vals[5], "1");
	strcpy(vals[6], "-1");
	strcpy(vals[7], "0");
	strcpy(vals[8], "100");
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), FAILSLAB "%s", slab_knobs[i]);
		if (set_knob(path, vals[i]))
			return -EIO;
	}
	return set_knob("/proc/thread-self/make-it-fail", "1");
}

/*
 * The new worker's id cannot be allocated (every allocation of
 * __xa_alloc() fails): VHOST_NEW_WORKER fails with ENOMEM, promptly, the
 * thread it started gone, and the device still makes workers.
 */
TEST_F_TIMEOUT(worker, new_worker_id_allocation_failure_unwinds, 60)
{
	unsigned int id;
	int threads;
	int ret;

	if (fail_nth(0) == -ENOENT)
		SKIP(return, "no fault injection in this kernel (" FAIL_NTH ")");
	if (access(FAILSLAB "require-start", F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (access(FAILSLAB "require-start", F_OK))
		SKIP(return, "no failslab stack-trace filter in this kernel");
	self->fd = open(variant->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	threads = task_threads(getpid(), "vhost-*", NULL, 0);
	ret = fail_slab_in("__xa_alloc");
	if (ret == -ENOENT) {
		fail_slab_in(NULL);
		SKIP(return, "no __xa_alloc in /proc/kallsyms");
	}
	ASSERT_EQ(0, ret);
	ret = new_worker(self->fd, &id);
	fail_slab_in(NULL);
	if (ret == ENOTTY)
		SKIP(return, "no worker ioctls (kernel < 6.5)");
	EXPECT_EQ(ENOMEM, ret);
	EXPECT_EQ(threads, task_threads(getpid(), "vhost-*", NULL, 0));
	ASSERT_EQ(0, new_worker(self->fd, &id));
}

TEST_HARNESS_MAIN
