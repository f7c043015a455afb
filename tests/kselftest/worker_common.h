/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Worker threads of a vhost device, seen from userspace (worker_*_test.c):
 * the shared fixture, /proc and cgroup helpers, and a device "rig" with
 * workers, rings and kicks that the race tests hammer.
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
#ifndef WORKER_COMMON_H
#define WORKER_COMMON_H

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

/*
 * Rounds of each race: VHB_RACE_ROUNDS (1 to RACE_ROUNDS_MAX), else all;
 * make check runs fewer to stay within its time, make check FULL=1 and
 * make soak all.
 */
#define RACE_ROUNDS_MAX 200
#define RACE_MAX_DELAY_US 5000
#define RACE_TIMEOUT 120

static inline int race_rounds(void)
{
	const char *env = getenv("VHB_RACE_ROUNDS");
	char *end;
	long n;

	if (!env || !*env)
		return RACE_ROUNDS_MAX;
	n = strtol(env, &end, 10);
	if (*end || n < 1 || n > RACE_ROUNDS_MAX)
		return RACE_ROUNDS_MAX;
	return n;
}

/* ---- /proc helpers ---- */

/* Read up to @size - 1 bytes of @path into @buf, NUL-terminated. */
static inline ssize_t read_file(const char *path, char *buf, size_t size)
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

static inline int write_file(const char *path, const char *text)
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
static inline bool read_comm(const char *path, char *comm, size_t size)
{
	ssize_t len = read_file(path, comm, size);

	if (len <= 0)
		return false;
	if (comm[len - 1] == '\n')
		comm[len - 1] = '\0';
	return true;
}

static inline bool is_number(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/*
 * Threads of process @pid whose comm matches the fnmatch() @pattern; their
 * ids go to @tids (up to @max, may be NULL).  A process that is gone has none.
 */
static inline int task_threads(pid_t pid, const char *pattern, pid_t *tids, int max)
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
static inline int kthreads(const char *comm, pid_t *pids, int max)
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
static inline int workers_of(const pid_t *owners, int n)
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
static inline int tasks_of_uid(uid_t uid)
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

static inline struct timespec deadline_in(int ms)
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

static inline bool deadline_passed(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Poll until @pid has @want threads matching @pattern or @ms pass; the last count. */
static inline int wait_task_threads(pid_t pid, const char *pattern, int want, int ms)
{
	struct timespec deadline = deadline_in(ms);
	int n;

	while ((n = task_threads(pid, pattern, NULL, 0)) != want && !deadline_passed(&deadline))
		usleep(10000);
	return n;
}

static inline int wait_kthreads(const char *comm, int want, int ms)
{
	struct timespec deadline = deadline_in(ms);
	int n;

	while ((n = kthreads(comm, NULL, 0)) != want && !deadline_passed(&deadline))
		usleep(10000);
	return n;
}

static inline int wait_workers_gone(const pid_t *owners, int n, int ms)
{
	struct timespec deadline = deadline_in(ms);
	int found;

	while ((found = workers_of(owners, n)) != 0 && !deadline_passed(&deadline))
		usleep(20000);
	return found;
}

/* ---- the device ---- */

static inline void worker_name(char *name, size_t size, pid_t tid)
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
static inline int select_mode(int fd, __u8 mode)
{
	return ioctl(fd, VHOST_SET_FORK_FROM_OWNER, &mode) ? errno : 0;
}

/* VHOST_NEW_WORKER: 0 and the id in @id, or the errno. */
static inline int new_worker(int fd, unsigned int *id)
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

static inline int rig_fail(struct rig *rig, const char *step)
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
static inline int rig_setup(struct rig *rig, const char *path)
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
static inline void rig_release(struct rig *rig)
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
static inline int rig_hammer(struct rig *rig, unsigned long *rounds)
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

static inline void vsend_report(int fd, int code, int workers, const char *fmt, va_list ap)
{
	struct report rep = {.code = code, .workers = workers};

	vsnprintf(rep.msg, sizeof(rep.msg), fmt, ap);
	if (write(fd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(KSFT_FAIL);
}

static inline void __attribute__((format(printf, 4, 5)))
send_report(int fd, int code, int workers, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsend_report(fd, code, workers, fmt, ap);
	va_end(ap);
}

/* Report a failure or a skip and end the child with that code. */
static inline void __attribute__((noreturn, format(printf, 3, 4)))
child_exit(int fd, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsend_report(fd, code, 0, fmt, ap);
	va_end(ap);
	_exit(code);
}

/* Wait up to @ms for a report on @fd; false if the child died first or took too long. */
static inline bool recv_report(int fd, struct report *rep, int ms)
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
static inline void own_with_workers(struct __test_metadata *_metadata, FIXTURE_DATA(worker) * self,
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

static inline void *new_worker_thread(void *arg)
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

#endif /* WORKER_COMMON_H */
