// SPDX-License-Identifier: GPL-2.0
/*
 * Worker threads of a vhost device, seen from userspace: which tasks the
 * worker ioctls create and remove, whose cgroup and RLIMIT_NPROC they are
 * charged to, and that SIGKILL or close() racing with kicks and worker swaps
 * leaves no worker behind.
 *
 * Every case runs against /dev/vhost-blk and, as the reference, against
 * mainline's /dev/vhost-scsi.  Mainline names a worker "vhost-<tid>" after
 * the thread that issued VHOST_SET_OWNER or VHOST_NEW_WORKER; in task mode
 * (the default) it is a thread of that process, in kthread mode
 * (VHOST_SET_FORK_FROM_OWNER 0) a child of kthreadd.  Kernels before 6.5
 * answer the worker ioctls with ENOTTY: those cases skip.
 *
 * No virtqueue gets a backend, so a kick only makes the worker run a handler
 * that finds nothing to do: enough to exercise work queueing and teardown.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/vhost_blk.h>

#include "kselftest_harness.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define NOBODY 65534

/* The virtqueues the race tests drive, and the workers they move them between. */
#define RIG_VQS 2
#define RIG_WORKERS 3
#define RING_NUM 256
#define RING_STRIDE 0x4000 /* desc at +0, avail at +0x1000, used at +0x2000 */

#define RACE_ROUNDS 200
#define RACE_MAX_DELAY_US 5000
#define RACE_TIMEOUT 120

/* ---- /proc helpers ---- */

/* Read up to @size - 1 bytes of @path into @buf, NUL-terminated. */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = read(fd, buf, size - 1);
	close(fd);
	if (len < 0)
		return -1;
	buf[len] = '\0';
	return len;
}

static int write_file(const char *path, const char *text)
{
	ssize_t len = strlen(text);
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) != len)
		ret = -1;
	close(fd);
	return ret;
}

/* The comm of the task behind @path ("/proc/P/task/T/comm"), without the newline. */
static bool read_comm(const char *path, char *comm, size_t size)
{
	ssize_t len = read_file(path, comm, size);

	if (len <= 0)
		return false;
	if (comm[len - 1] == '\n')
		comm[len - 1] = '\0';
	return true;
}

static bool is_number(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/*
 * Threads of process @pid whose comm matches the fnmatch() @pattern; their
 * ids go to @tids (up to @max, may be NULL).  A process that is gone has none.
 */
static int task_threads(pid_t pid, const char *pattern, pid_t *tids, int max)
{
	char path[PATH_MAX], comm[32];
	struct dirent *de;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		if (!is_number(de->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", pid, de->d_name);
		if (!read_comm(path, comm, sizeof(comm)) || fnmatch(pattern, comm, 0))
			continue;
		if (tids && n < max)
			tids[n] = atoi(de->d_name);
		n++;
	}
	closedir(dir);
	return n;
}

/* Kernel threads (children of kthreadd, pid 2) named @comm; pids to @pids. */
static int kthreads(const char *comm, pid_t *pids, int max)
{
	char path[PATH_MAX], buf[512];
	struct dirent *de;
	char *open_paren, *close_paren;
	int ppid, n = 0;
	DIR *dir;
	char state;

	dir = opendir("/proc");
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		if (!is_number(de->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (read_file(path, buf, sizeof(buf)) <= 0)
			continue;
		/* "pid (comm) state ppid ...": comm may hold anything. */
		open_paren = strchr(buf, '(');
		close_paren = strrchr(buf, ')');
		if (!open_paren || !close_paren || close_paren < open_paren)
			continue;
		*close_paren = '\0';
		if (sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2 || ppid != 2 ||
		    strcmp(open_paren + 1, comm))
			continue;
		if (pids && n < max)
			pids[n] = atoi(de->d_name);
		n++;
	}
	closedir(dir);
	return n;
}

/*
 * Tasks anywhere in the system (threads of any process, or kthreads) named
 * "vhost-<owner>" for one of the @n ids in @owners.
 */
static int workers_of(const pid_t *owners, int n)
{
	char path[PATH_MAX], comm[32];
	struct dirent *de, *te;
	DIR *proc, *task;
	int i, found = 0;
	long owner;
	char *end;

	proc = opendir("/proc");
	if (!proc)
		return -1;
	while ((de = readdir(proc))) {
		if (!is_number(de->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", de->d_name);
		task = opendir(path);
		if (!task)
			continue;
		while ((te = readdir(task))) {
			if (!is_number(te->d_name))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/task/%s/comm", de->d_name,
				 te->d_name);
			if (!read_comm(path, comm, sizeof(comm)) || strncmp(comm, "vhost-", 6))
				continue;
			owner = strtol(comm + 6, &end, 10);
			if (*end)
				continue;
			for (i = 0; i < n; i++)
				if (owners[i] == owner)
					found++;
		}
		closedir(task);
	}
	closedir(proc);
	return found;
}

/* Threads with real uid @uid, system-wide: what RLIMIT_NPROC counts for it. */
static int tasks_of_uid(uid_t uid)
{
	char path[PATH_MAX], status[2048], *line;
	struct dirent *de, *te;
	DIR *proc, *task;
	unsigned int ruid;
	int n = 0;

	proc = opendir("/proc");
	if (!proc)
		return -1;
	while ((de = readdir(proc))) {
		if (!is_number(de->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", de->d_name);
		task = opendir(path);
		if (!task)
			continue;
		while ((te = readdir(task))) {
			if (!is_number(te->d_name))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/task/%s/status", de->d_name,
				 te->d_name);
			if (read_file(path, status, sizeof(status)) <= 0)
				continue;
			line = strstr(status, "\nUid:");
			if (line && sscanf(line + 5, "%u", &ruid) == 1 && ruid == uid)
				n++;
		}
		closedir(task);
	}
	closedir(proc);
	return n;
}

/* ---- deadlines ---- */

static struct timespec deadline_in(int ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static bool deadline_passed(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Poll until @pid has @want threads matching @pattern or @ms pass; the last count. */
static int wait_task_threads(pid_t pid, const char *pattern, int want, int ms)
{
	struct timespec deadline = deadline_in(ms);
	int n;

	while ((n = task_threads(pid, pattern, NULL, 0)) != want && !deadline_passed(&deadline))
		usleep(10000);
	return n;
}

static int wait_kthreads(const char *comm, int want, int ms)
{
	struct timespec deadline = deadline_in(ms);
	int n;

	while ((n = kthreads(comm, NULL, 0)) != want && !deadline_passed(&deadline))
		usleep(10000);
	return n;
}

static int wait_workers_gone(const pid_t *owners, int n, int ms)
{
	struct timespec deadline = deadline_in(ms);
	int found;

	while ((found = workers_of(owners, n)) != 0 && !deadline_passed(&deadline))
		usleep(20000);
	return found;
}

/* ---- the device ---- */

static void worker_name(char *name, size_t size, pid_t tid)
{
	snprintf(name, size, "vhost-%d", tid);
}

/*
 * Ask for task (VHOST_FORK_OWNER_TASK) or kthread workers.  0 on success,
 * else the errno: EOPNOTSUPP means the device cannot work in that mode;
 * anything else means the kernel has no mode control at all (ENOTTY, or
 * EPERM from pre-6.17 vhost-scsi, which requires an owner for any unknown
 * ioctl) and the device works in its one built-in mode.
 */
static int select_mode(int fd, __u8 mode)
{
	return ioctl(fd, VHOST_SET_FORK_FROM_OWNER, &mode) ? errno : 0;
}

/* VHOST_NEW_WORKER: 0 and the id in @id, or the errno. */
static int new_worker(int fd, unsigned int *id)
{
	struct vhost_worker_state state = {0};

	if (ioctl(fd, VHOST_NEW_WORKER, &state))
		return errno;
	if (id)
		*id = state.worker_id;
	return 0;
}

/* ---- a device with workers, rings and kicks, and a loop that hammers it ---- */

struct rig {
	int fd;
	unsigned int worker[RIG_WORKERS]; /* [0] is the default worker */
	int kick[RIG_VQS];
	int call[RIG_VQS];
	void *ring;
	const char *failed; /* the step that failed, and its errno */
	int err;
};

static int rig_fail(struct rig *rig, const char *step)
{
	rig->failed = step;
	rig->err = errno;
	return -1;
}

/*
 * Open @path, own it, add two workers, give vq 0 and 1 a memory table, rings,
 * kick and call eventfds, and attach them to the two new workers.  Uses no
 * harness asserts: it also runs in forked children.
 */
static int rig_setup(struct rig *rig, const char *path)
{
	struct vhost_vring_worker vw;
	struct vhost_vring_state state;
	struct vhost_vring_file file;
	struct vhost_vring_addr addr;
	struct vhost_memory *mem;
	size_t ring_size = RIG_VQS * RING_STRIDE;
	char *base;
	int i, ret;

	memset(rig, 0, sizeof(*rig));
	for (i = 0; i < RIG_VQS; i++) {
		rig->kick[i] = -1;
		rig->call[i] = -1;
	}
	rig->fd = open(path, O_RDWR | O_CLOEXEC);
	if (rig->fd < 0)
		return rig_fail(rig, "open");
	if (ioctl(rig->fd, VHOST_SET_OWNER))
		return rig_fail(rig, "VHOST_SET_OWNER");
	vw = (struct vhost_vring_worker){.index = 0};
	if (ioctl(rig->fd, VHOST_GET_VRING_WORKER, &vw))
		return rig_fail(rig, "VHOST_GET_VRING_WORKER");
	rig->worker[0] = vw.worker_id;
	for (i = 1; i < RIG_WORKERS; i++) {
		ret = new_worker(rig->fd, &rig->worker[i]);
		if (ret) {
			errno = ret;
			return rig_fail(rig, "VHOST_NEW_WORKER");
		}
	}

	rig->ring =
		mmap(NULL, ring_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rig->ring == MAP_FAILED) {
		rig->ring = NULL;
		return rig_fail(rig, "mmap");
	}
	base = rig->ring;
	mem = calloc(1, sizeof(*mem) + sizeof(mem->regions[0]));
	if (!mem)
		return rig_fail(rig, "calloc");
	mem->nregions = 1;
	mem->regions[0].guest_phys_addr = 0;
	mem->regions[0].memory_size = ring_size;
	mem->regions[0].userspace_addr = (uintptr_t)base;
	ret = ioctl(rig->fd, VHOST_SET_MEM_TABLE, mem);
	free(mem);
	if (ret)
		return rig_fail(rig, "VHOST_SET_MEM_TABLE");

	for (i = 0; i < RIG_VQS; i++) {
		state = (struct vhost_vring_state){.index = i, .num = RING_NUM};
		if (ioctl(rig->fd, VHOST_SET_VRING_NUM, &state))
			return rig_fail(rig, "VHOST_SET_VRING_NUM");
		state.num = 0;
		if (ioctl(rig->fd, VHOST_SET_VRING_BASE, &state))
			return rig_fail(rig, "VHOST_SET_VRING_BASE");
		addr = (struct vhost_vring_addr){
			.index = i,
			.desc_user_addr = (uintptr_t)(base + i * RING_STRIDE),
			.avail_user_addr = (uintptr_t)(base + i * RING_STRIDE + 0x1000),
			.used_user_addr = (uintptr_t)(base + i * RING_STRIDE + 0x2000),
		};
		if (ioctl(rig->fd, VHOST_SET_VRING_ADDR, &addr))
			return rig_fail(rig, "VHOST_SET_VRING_ADDR");
		/* Before the kick is set: mainline's fast path, no RCU sync. */
		vw = (struct vhost_vring_worker){.index = i, .worker_id = rig->worker[1 + i]};
		if (ioctl(rig->fd, VHOST_ATTACH_VRING_WORKER, &vw))
			return rig_fail(rig, "VHOST_ATTACH_VRING_WORKER");
		rig->kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		rig->call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (rig->kick[i] < 0 || rig->call[i] < 0)
			return rig_fail(rig, "eventfd");
		file = (struct vhost_vring_file){.index = i, .fd = rig->call[i]};
		if (ioctl(rig->fd, VHOST_SET_VRING_CALL, &file))
			return rig_fail(rig, "VHOST_SET_VRING_CALL");
		file.fd = rig->kick[i];
		if (ioctl(rig->fd, VHOST_SET_VRING_KICK, &file))
			return rig_fail(rig, "VHOST_SET_VRING_KICK");
	}
	return 0;
}

/* Everything but the device fd, which the tests close themselves. */
static void rig_release(struct rig *rig)
{
	int i;

	for (i = 0; i < RIG_VQS; i++) {
		if (rig->kick[i] >= 0)
			close(rig->kick[i]);
		if (rig->call[i] >= 0)
			close(rig->call[i]);
	}
	if (rig->ring)
		munmap(rig->ring, RIG_VQS * RING_STRIDE);
}

/*
 * Kick both vqs over and over and, every few kicks, move one of them to the
 * next worker.  Runs until a call fails and returns that errno.  Counts its
 * rounds in @rounds when given.
 */
static int rig_hammer(struct rig *rig, unsigned long *rounds)
{
	struct vhost_vring_worker vw;
	uint64_t one = 1;
	unsigned long i;
	int q;

	for (i = 0;; i++) {
		for (q = 0; q < RIG_VQS; q++)
			if (write(rig->kick[q], &one, sizeof(one)) != sizeof(one))
				return errno;
		if (i % 8 == 0) {
			vw.index = (i / 8) % RIG_VQS;
			vw.worker_id = rig->worker[(i / 16) % RIG_WORKERS];
			if (ioctl(rig->fd, VHOST_ATTACH_VRING_WORKER, &vw))
				return errno;
		}
		if (rounds)
			__atomic_store_n(rounds, i + 1, __ATOMIC_RELAXED);
	}
}

/* ---- reports from forked children ---- */

struct report {
	int code;    /* KSFT_PASS, KSFT_FAIL or KSFT_SKIP */
	int workers; /* how many workers the child's device has */
	char msg[240];
};

static void vsend_report(int fd, int code, int workers, const char *fmt, va_list ap)
{
	struct report rep = {.code = code, .workers = workers};

	vsnprintf(rep.msg, sizeof(rep.msg), fmt, ap);
	if (write(fd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(KSFT_FAIL);
}

static void __attribute__((format(printf, 4, 5)))
send_report(int fd, int code, int workers, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsend_report(fd, code, workers, fmt, ap);
	va_end(ap);
}

/* Report a failure or a skip and end the child with that code. */
static void __attribute__((noreturn, format(printf, 3, 4)))
child_exit(int fd, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsend_report(fd, code, 0, fmt, ap);
	va_end(ap);
	_exit(code);
}

/* Wait up to @ms for a report on @fd; false if the child died first or took too long. */
static bool recv_report(int fd, struct report *rep, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, ms) != 1)
		return false;
	return read(fd, rep, sizeof(*rep)) == sizeof(*rep);
}

/* ---- the fixture: one variant per device ---- */

FIXTURE(worker)
{
	int fd;                /* a device the test opened */
	pid_t child;           /* a helper process, killed and reaped on teardown */
	char cgroup[PATH_MAX]; /* a cgroup the test created */
};

FIXTURE_VARIANT(worker)
{
	const char *path;
	const char *module; /* loaded when the node is missing */
	/*
	 * Deliberate differences of vhost-blk from mainline (vhost-scsi).
	 *
	 * kthread_new_worker_errno: what VHOST_NEW_WORKER answers in kthread
	 * mode (0: it creates the worker).  Mainline refuses with EFAULT
	 * because kthreads escape RLIMIT_NPROC; vhost-blk allows it, since on
	 * kernels without vhost_task (6.1) kthreads are its only workers.
	 *
	 * nproc_new_worker_errno: what VHOST_NEW_WORKER answers when
	 * RLIMIT_NPROC forbids one more task.  Mainline turns every worker
	 * creation failure into ENOMEM; vhost-blk passes fork's EAGAIN
	 * through.
	 */
	int kthread_new_worker_errno;
	int nproc_new_worker_errno;
};

/* clang-format off */
FIXTURE_VARIANT_ADD(worker, scsi)
{
	.path = "/dev/vhost-scsi",
	.module = "vhost_scsi",
	.kthread_new_worker_errno = EFAULT,
	.nproc_new_worker_errno = ENOMEM,
};

FIXTURE_VARIANT_ADD(worker, blk)
{
	.path = "/dev/" VHOST_BLK_DEVICE_NAME,
	.module = NULL,
	.kthread_new_worker_errno = 0,
	.nproc_new_worker_errno = EAGAIN,
};
/* clang-format on */

FIXTURE_SETUP(worker)
{
	char cmd[64];

	self->fd = -1;
	self->child = 0;
	self->cgroup[0] = '\0';
	if (access(variant->path, F_OK) && variant->module) {
		snprintf(cmd, sizeof(cmd), "modprobe -q %s", variant->module);
		if (system(cmd))
			TH_LOG("%s failed", cmd);
	}
	if (access(variant->path, F_OK))
		SKIP(return, "%s is missing", variant->path);
}

FIXTURE_TEARDOWN(worker)
{
	struct timespec deadline = deadline_in(5000);

	if (self->fd >= 0)
		close(self->fd);
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	if (self->cgroup[0]) {
		/* The cgroup is busy until its last task is gone. */
		while (rmdir(self->cgroup) && errno == EBUSY && !deadline_passed(&deadline))
			usleep(10000);
	}
}

/* Open the device into self->fd, own it and make sure worker ioctls exist. */
static void own_with_workers(struct __test_metadata *_metadata, FIXTURE_DATA(worker) * self,
			     const FIXTURE_VARIANT(worker) * variant)
{
	int ret;

	self->fd = open(variant->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd)
	{
		TH_LOG("open %s: %s", variant->path, strerror(errno));
	}
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER))
	{
		TH_LOG("VHOST_SET_OWNER: %s", strerror(errno));
	}
	ret = new_worker(self->fd, NULL);
	if (ret == ENOTTY)
		SKIP(return, "no worker ioctls (kernel < 6.5)");
	if (ret && ret == variant->kthread_new_worker_errno)
		SKIP(return, "kthread workers by default, and no more of them: %s", strerror(ret));
	ASSERT_EQ(0, ret)
	{
		TH_LOG("VHOST_NEW_WORKER: %s", strerror(ret));
	}
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
}

struct namer {
	int fd;
	pid_t tid;
	int err;
	unsigned int id;
};

static void *new_worker_thread(void *arg)
{
	struct namer *namer = arg;

	namer->tid = gettid();
	namer->err = new_worker(namer->fd, &namer->id);
	return NULL;
}

/*
 * Task mode: each worker is a thread of the owner named after the thread that
 * created it, and goes away with VHOST_FREE_WORKER or close().
 */
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
	pid_t children[RACE_ROUNDS];
	struct timespec start, end;
	struct report report;
	int i, rep[2], status, ready = 0;

	own_with_workers(_metadata, self, variant);
	if (_metadata->exit_code == KSFT_SKIP)
		return;
	TH_LOG("seed %u", seed);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < RACE_ROUNDS; i++) {
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
	TH_LOG("%d rounds (%d killed while hammering) in %ld ms", RACE_ROUNDS, ready,
	       (long)((end.tv_sec - start.tv_sec) * 1000 +
		      (end.tv_nsec - start.tv_nsec) / 1000000));

	EXPECT_EQ(0, wait_workers_gone(children, RACE_ROUNDS, 5000));

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
	int i;

	own_with_workers(_metadata, self, variant);
	if (_metadata->exit_code == KSFT_SKIP)
		return;
	TH_LOG("seed %u", seed);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < RACE_ROUNDS; i++) {
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
	TH_LOG("%d rounds, %lu kick rounds, in %ld ms", RACE_ROUNDS, total,
	       (long)((end.tv_sec - start.tv_sec) * 1000 +
		      (end.tv_nsec - start.tv_nsec) / 1000000));
	EXPECT_LT(0UL, total);
	EXPECT_EQ(0, wait_workers_gone(&tid, 1, 5000));
}

TEST_HARNESS_MAIN
