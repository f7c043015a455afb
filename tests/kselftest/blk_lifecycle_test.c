// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/vhost-blk while the device changes under I/O: workers per
 * virtqueue, shared and moved while I/O runs; rings stopped with
 * GET_VRING_BASE and restarted; backends detached with requests in flight;
 * close() with requests in flight; read-only backends; and a 4 KiB random
 * read IOPS measurement.  On brd, null_blk and a file.
 * Runs in a VM with the module loaded:
 * scripts/vm-run --load -- tests/kselftest/run_tests.sh blk_lifecycle_test
 */
#include <sys/wait.h>

#include "blk_io.h"

/* ---- workers ---- */

static unsigned int new_worker(struct __test_metadata *_metadata, struct vblk *v)
{
	struct vhost_worker_state w = {};

	ASSERT_EQ(0, ioctl(v->fd, VHOST_NEW_WORKER, &w))
	{
		TH_LOG("VHOST_NEW_WORKER: %s", strerror(errno));
	}
	return w.worker_id;
}

static void attach(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq,
		   unsigned int id)
{
	struct vhost_vring_worker w = {.index = vq, .worker_id = id};

	ASSERT_EQ(0, ioctl(v->fd, VHOST_ATTACH_VRING_WORKER, &w));
	w.worker_id = ~0U;
	ASSERT_EQ(0, ioctl(v->fd, VHOST_GET_VRING_WORKER, &w));
	ASSERT_EQ(id, w.worker_id);
}

TEST_F_TIMEOUT(io, workers_per_vq, 60)
{
	struct vblk *v = dev_new(_metadata, self, 4, 8, 0, self->be.fd);
	unsigned int vq, ids[4];

	shadow_init(_metadata, self, SPAN);
	for (vq = 0; vq < 4; vq++) {
		ids[vq] = new_worker(_metadata, v);
		ASSERT_TRUE(vq == 0 || ids[vq] != ids[vq - 1]);
		attach(_metadata, v, vq, ids[vq]);
	}
	random_io(_metadata, self, v, 8, RIO_MS);
}

TEST_F_TIMEOUT(io, workers_shared, 60)
{
	struct vblk *v = dev_new(_metadata, self, 4, 8, 0, self->be.fd);
	unsigned int vq, id;

	shadow_init(_metadata, self, SPAN);
	id = new_worker(_metadata, v);
	for (vq = 0; vq < 4; vq++)
		attach(_metadata, v, vq, id);
	random_io(_metadata, self, v, 8, RIO_MS);
}

TEST_F_TIMEOUT(io, workers_set_nworkers, 60)
{
	struct vblk *v = dev_new(_metadata, self, 4, 8, 0, self->be.fd);
	struct vhost_vring_worker w;
	unsigned int vq, ids[4];
	int n = 4;

	shadow_init(_metadata, self, SPAN);
	ASSERT_EQ(0, ioctl(v->fd, VHOST_SET_NWORKERS, &n));
	/* Round robin: the first four virtqueues have four different workers. */
	for (vq = 0; vq < 4; vq++) {
		w = (struct vhost_vring_worker){.index = vq};
		ASSERT_EQ(0, ioctl(v->fd, VHOST_GET_VRING_WORKER, &w));
		ids[vq] = w.worker_id;
	}
	EXPECT_TRUE(ids[0] != ids[1] && ids[0] != ids[2] && ids[0] != ids[3] && ids[1] != ids[2] &&
		    ids[1] != ids[3] && ids[2] != ids[3]);
	random_io(_metadata, self, v, 8, RIO_MS / 2);
}

struct mover {
	int fd;
	unsigned int ids[2];
	volatile bool stop;
	unsigned int moves;
	int err;
};

static void *mover_thread(void *arg)
{
	struct mover *m = arg;
	struct timespec ts = {.tv_nsec = 2 * 1000 * 1000};

	while (!m->stop && !m->err) {
		for (unsigned int vq = 0; vq < 4; vq++) {
			struct vhost_vring_worker w = {
				.index = vq,
				.worker_id = m->ids[(m->moves / 4 + vq) & 1],
			};

			if (ioctl(m->fd, VHOST_ATTACH_VRING_WORKER, &w))
				m->err = errno;
			m->moves++;
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

TEST_F_TIMEOUT(io, workers_moved_under_io, 60)
{
	struct vblk *v = dev_new(_metadata, self, 4, 8, 0, self->be.fd);
	struct mover m = {.fd = v->fd};
	pthread_t t;
	int ret;

	shadow_init(_metadata, self, SPAN);
	m.ids[0] = new_worker(_metadata, v);
	m.ids[1] = new_worker(_metadata, v);
	rio_init(_metadata, self, v, 8);
	ASSERT_EQ(0, pthread_create(&t, NULL, mover_thread, &m));
	ret = rio_run(&self->io, RIO_MS * 2);
	m.stop = true;
	pthread_join(t, NULL);
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s (after %u moves)", self->io.err, m.moves);
	}
	ASSERT_EQ(0, m.err)
	{
		TH_LOG("VHOST_ATTACH_VRING_WORKER: %s", strerror(m.err));
	}
	EXPECT_GE(m.moves, 16U);
	TH_LOG("%u moves", m.moves);
	random_io(_metadata, self, v, 8, 0);
}

/* ---- the backend and the memory table ---- */

TEST_F(io, backend_rules)
{
	struct vblk *v = dev_new(_metadata, self, 1, 4, 0, -1);
	struct vhost_vring_file f = {.index = 0};
	int null_fd, dir_fd, status;
	pid_t pid;

	/* Detaching when nothing is attached is fine. */
	f.fd = -1;
	EXPECT_EQ(0, ioctl(v->fd, VHOST_BLK_SET_BACKEND, &f));
	/* Neither a block device nor a regular file. */
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	dir_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, null_fd);
	ASSERT_LE(0, dir_fd);
	f.fd = null_fd;
	EXPECT_EQ(-1, ioctl(v->fd, VHOST_BLK_SET_BACKEND, &f));
	EXPECT_EQ(EINVAL, errno);
	f.fd = dir_fd;
	EXPECT_EQ(-1, ioctl(v->fd, VHOST_BLK_SET_BACKEND, &f));
	EXPECT_EQ(EINVAL, errno);
	close(null_fd);
	close(dir_fd);
	f.fd = 1000;
	EXPECT_EQ(-1, ioctl(v->fd, VHOST_BLK_SET_BACKEND, &f));
	EXPECT_EQ(EBADF, errno);

	/* Only the owner; a forked child is not. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		f.fd = self->be.fd;
		_exit(ioctl(v->fd, VHOST_BLK_SET_BACKEND, &f) ? errno : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(EPERM, WEXITSTATUS(status));

	/* Attached: a second backend is refused until the first is detached. */
	ASSERT_EQ(0, vblk_set_backend(v, self->be.fd));
	f.fd = self->be.fd;
	EXPECT_EQ(-1, ioctl(v->fd, VHOST_BLK_SET_BACKEND, &f));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, vblk_set_backend(v, -1));
	ASSERT_EQ(0, vblk_set_backend(v, self->be.fd));
	shadow_init(_metadata, self, SPAN);
	random_io(_metadata, self, v, 4, RIO_MS);
}

struct remapper {
	struct vblk *v;
	volatile bool stop;
	unsigned int tables;
	int err;
};

/*
 * Replace the memory table over and over with equivalent ones cut into one,
 * two or three regions, so that every translation must use the table in
 * force when it happens.
 */
static void *remap_thread(void *arg)
{
	struct remapper *r = arg;
	struct vblk *v = r->v;
	struct timespec ts = {.tv_nsec = 1000 * 1000};
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region regions[3];
	} mt;

	while (!r->stop && !r->err) {
		unsigned int n = 1 + r->tables % 3, i;
		uint64_t cut = v->mem_size / n / 4096 * 4096;

		memset(&mt, 0, sizeof(mt));
		mt.hdr.nregions = n;
		for (i = 0; i < n; i++) {
			uint64_t start = i * cut;
			uint64_t end = i == n - 1 ? v->mem_size : start + cut;

			mt.regions[i].guest_phys_addr = start;
			mt.regions[i].memory_size = end - start;
			mt.regions[i].userspace_addr = (uintptr_t)v->mem + start;
		}
		if (ioctl(v->fd, VHOST_SET_MEM_TABLE, &mt))
			r->err = errno;
		r->tables++;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

TEST_F_TIMEOUT(io, mem_table_replaced_under_io, 60)
{
	struct vblk *v = dev_new(_metadata, self, 2, 8, 0, self->be.fd);
	struct remapper r = {.v = v};
	pthread_t t;
	int ret;

	shadow_init(_metadata, self, SPAN);
	rio_init(_metadata, self, v, 8);
	ASSERT_EQ(0, pthread_create(&t, NULL, remap_thread, &r));
	ret = rio_run(&self->io, RIO_MS * 2);
	r.stop = true;
	pthread_join(t, NULL);
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s (after %u tables)", self->io.err, r.tables);
	}
	ASSERT_EQ(0, r.err)
	{
		TH_LOG("VHOST_SET_MEM_TABLE: %s", strerror(r.err));
	}
	EXPECT_GE(r.tables, 16U);
	TH_LOG("%u tables", r.tables);
	random_io(_metadata, self, v, 8, 0);
}

/* ---- stopping and restarting ---- */

/*
 * STOP_REQS requests on @vq, alternately writes and reads of disjoint
 * STOP_LEN ranges from @off, published together and kicked once.
 */
static void stop_batch(struct __test_metadata *_metadata, FIXTURE_DATA(io) * self, struct vblk *v,
		       unsigned int vq, uint64_t off, struct vblk_req **r)
{
	for (unsigned int i = 0; i < STOP_REQS; i++) {
		ASSERT_EQ(0, vblk_req_new(v, vq, i & 1 ? T_IN : T_OUT,
					  (off + i * STOP_LEN) / VBLK_SECTOR, STOP_LEN,
					  i % 3 ? 0 : VBLK_INDIRECT, &r[i]))
		{
			TH_LOG("%s", vblk_error());
		}
		if (!(i & 1))
			vblk_fill_random(r[i]->data, STOP_LEN, &self->seed);
		ASSERT_EQ(0, vblk_publish(v, r[i]));
	}
	ASSERT_EQ(0, vblk_kick(v, vq, true));
}

/* Wait for @vq's first used entry: the device has begun the batch. */
static bool batch_begun(struct vblk *v, unsigned int vq)
{
	int64_t end = now_ms() + VBLK_TIMEOUT_MS;

	while (!vblk_used_idx(v, vq))
		if (now_ms() > end)
			return false;
	return true;
}

/* Check a used request of a batch against the shadow and update it. */
static void stop_check(struct __test_metadata *_metadata, FIXTURE_DATA(io) * self, struct vblk *v,
		       struct vblk_req *r)
{
	uint64_t off = r->sector * VBLK_SECTOR;

	ASSERT_TRUE(r->done);
	ASSERT_EQ(S_OK, *r->status);
	ASSERT_EQ(writable_len(r->type, r->len, 0), r->used_len);
	if (r->type == T_IN) {
		ASSERT_EQ(-1, first_diff(r->data, self->shadow + off, r->len));
	} else {
		memcpy(self->shadow + off, r->data, r->len);
	}
	ASSERT_EQ(0, vblk_req_free(v, r));
}

/* Reap exactly @n requests of @vq, with no more waiting behind them. */
static void reap_n(struct __test_metadata *_metadata, FIXTURE_DATA(io) * self, struct vblk *v,
		   unsigned int vq, unsigned int n, int timeout_ms)
{
	struct vblk_req *done[STOP_REQS * 2];
	unsigned int got = 0;
	int ret;

	while (got < n) {
		ret = vblk_reap(v, vq, done, STOP_REQS * 2, timeout_ms);
		ASSERT_LT(0, ret)
		{
			TH_LOG("%u of %u: %s", got, n, vblk_error());
		}
		for (int i = 0; i < ret; i++)
			stop_check(_metadata, self, v, done[i]);
		got += ret;
	}
	ASSERT_EQ(n, got);
	ASSERT_EQ(0, vblk_reap(v, vq, done, 1, 0));
}

/*
 * Stop @vq: the number of requests the device took (a packed ring's base is
 * a slot; vblk counts the requests up to it), what it returned in *@raw.
 */
static unsigned int get_vring_base(struct __test_metadata *_metadata, struct vblk *v,
				   unsigned int vq, uint32_t *raw)
{
	struct vhost_vring_state st = {.index = vq};
	int n;

	ASSERT_EQ(0, ioctl(v->fd, VHOST_GET_VRING_BASE, &st));
	n = vblk_vring_base_count(v, vq, st.num);
	ASSERT_LE(0, n)
	{
		TH_LOG("%s", vblk_error());
	}
	if (raw)
		*raw = st.num;
	return n;
}

static void read_span(struct __test_metadata *_metadata, FIXTURE_DATA(io) * self, struct vblk *v,
		      unsigned int vq, uint64_t off, uint64_t len)
{
	for (uint64_t o = off; o < off + len; o += MAX_DATA)
		read_check(_metadata, v, vq, o, self->shadow + o, MAX_DATA, 0);
}

TEST_F_TIMEOUT(io, stop_with_get_vring_base, 60)
{
	struct vblk *v = dev_new(_metadata, self, 1, STOP_REQS + 4, 0, self->be.fd);
	struct vhost_vring_file kick;
	struct vblk_req *r[STOP_REQS + 4];
	unsigned int base, used, i;

	shadow_init(_metadata, self, 4 << 20);
	stop_batch(_metadata, self, v, 0, 0, r);
	ASSERT_TRUE(batch_begun(v, 0));
	used = vblk_used_idx(v, 0);
	base = get_vring_base(_metadata, v, 0, NULL);
	/* Every request before the returned index has completed. */
	ASSERT_GE(STOP_REQS, base);
	ASSERT_EQ(base, vblk_used_idx(v, 0));
	reap_n(_metadata, self, v, 0, base, 0);
	TH_LOG("%u of %u requests used at the stop, %u before the base", used, STOP_REQS, base);

	/* The ring is stopped: a kick does nothing. */
	for (i = STOP_REQS; i < STOP_REQS + 4; i++) {
		ASSERT_EQ(0, vblk_req_new(v, 0, T_IN, (3 << 20) / VBLK_SECTOR + i * 8, 4096, 0,
					  &r[i]));
		ASSERT_EQ(0, vblk_publish(v, r[i]));
	}
	ASSERT_EQ(0, vblk_kick(v, 0, true));
	usleep(300 * 1000);
	ASSERT_EQ(base, vblk_used_idx(v, 0));

	/* SET_VRING_KICK restarts it where it stopped. */
	kick = (struct vhost_vring_file){.index = 0, .fd = v->vqs[0].kick};
	ASSERT_EQ(0, ioctl(v->fd, VHOST_SET_VRING_KICK, &kick));
	ASSERT_EQ(0, vblk_kick(v, 0, true));
	reap_n(_metadata, self, v, 0, STOP_REQS + 4 - base, VBLK_TIMEOUT_MS);
	ASSERT_EQ(STOP_REQS + 4, vblk_used_idx(v, 0));
	read_span(_metadata, self, v, 0, 0, STOP_REQS * STOP_LEN);
}

TEST_F_TIMEOUT(io, detach_with_requests_in_flight, 60)
{
	struct vblk *v = dev_new(_metadata, self, 2, STOP_REQS, 0, self->be.fd);
	struct vblk_req *r[2][STOP_REQS];
	uint16_t used[2];
	unsigned int vq;

	shadow_init(_metadata, self, 4 << 20);
	stop_batch(_metadata, self, v, 0, 0, r[0]);
	stop_batch(_metadata, self, v, 1, STOP_REQS * STOP_LEN, r[1]);
	ASSERT_TRUE(batch_begun(v, 0));
	ASSERT_EQ(0, vblk_set_backend(v, -1))
	{
		TH_LOG("detach: %s", vblk_error());
	}
	/* What the device took has completed; nothing completes later. */
	for (vq = 0; vq < 2; vq++)
		used[vq] = vblk_used_idx(v, vq);
	usleep(300 * 1000);
	for (vq = 0; vq < 2; vq++) {
		ASSERT_EQ(used[vq], vblk_used_idx(v, vq));
		reap_n(_metadata, self, v, vq, used[vq], 0);
		ASSERT_EQ(0, vblk_kick(v, vq, true));
	}
	usleep(100 * 1000);
	for (vq = 0; vq < 2; vq++)
		ASSERT_EQ(used[vq], vblk_used_idx(v, vq));
	TH_LOG("%u and %u of %u requests done at detach", used[0], used[1], STOP_REQS);

	/* A new backend serves the rest. */
	ASSERT_EQ(0, vblk_set_backend(v, self->be.fd))
	{
		TH_LOG("reattach: %s", vblk_error());
	}
	for (vq = 0; vq < 2; vq++) {
		ASSERT_EQ(0, vblk_kick(v, vq, true));
		reap_n(_metadata, self, v, vq, STOP_REQS - used[vq], VBLK_TIMEOUT_MS);
	}
	read_span(_metadata, self, v, 1, 0, 2 * STOP_REQS * STOP_LEN);
}

/* What a VMM does to stop and restart: GET_VRING_BASE, detach, SET_VRING_BASE. */
TEST_F_TIMEOUT(io, restart_at_vring_base, 60)
{
	struct vblk *v = dev_new(_metadata, self, 2, STOP_REQS, 0, self->be.fd);
	struct vblk_req *r[2][STOP_REQS];
	struct vhost_vring_state st;
	unsigned int vq, base[2];
	uint32_t raw[2];

	shadow_init(_metadata, self, 4 << 20);
	stop_batch(_metadata, self, v, 0, 0, r[0]);
	stop_batch(_metadata, self, v, 1, STOP_REQS * STOP_LEN, r[1]);
	/* At once: maybe before the device has fetched anything. */
	for (vq = 0; vq < 2; vq++) {
		base[vq] = get_vring_base(_metadata, v, vq, &raw[vq]);
		ASSERT_EQ(base[vq], vblk_used_idx(v, vq));
	}
	TH_LOG("stopped at %u and %u of %u", base[0], base[1], STOP_REQS);
	ASSERT_EQ(0, vblk_set_backend(v, -1));
	for (vq = 0; vq < 2; vq++) {
		reap_n(_metadata, self, v, vq, base[vq], 0);
		st = (struct vhost_vring_state){.index = vq, .num = raw[vq]};
		ASSERT_EQ(0, ioctl(v->fd, VHOST_SET_VRING_BASE, &st));
	}
	ASSERT_EQ(0, vblk_set_backend(v, self->be.fd));
	for (vq = 0; vq < 2; vq++) {
		ASSERT_EQ(0, vblk_kick(v, vq, true));
		reap_n(_metadata, self, v, vq, STOP_REQS - base[vq], VBLK_TIMEOUT_MS);
	}
	read_span(_metadata, self, v, 0, 0, 2 * STOP_REQS * STOP_LEN);
	random_io(_metadata, self, v, 8, RIO_MS / 4);
}

/*
 * Closing the device with requests in flight: once close() returns, the
 * device writes nothing more into what was the guest's memory.
 */
TEST_F_TIMEOUT(io, close_with_requests_in_flight, 60)
{
	struct vblk *v = dev_new(_metadata, self, 2, STOP_REQS, 0, self->be.fd);
	struct vblk_req *r[2][STOP_REQS];
	uint64_t size = v->mem_size;
	uint8_t *mem = v->mem, *again;
	long d;

	shadow_init(_metadata, self, 5 << 20);
	stop_batch(_metadata, self, v, 0, 0, r[0]);
	stop_batch(_metadata, self, v, 1, STOP_REQS * STOP_LEN, r[1]);
	vblk_close(v);
	self->v[0] = NULL;
	again = mmap(mem, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_EQ(mem, again);
	memset(again, 0x5c, size);
	usleep(300 * 1000);
	d = first_diff(again, again + 1, size - 1);
	munmap(again, size);
	ASSERT_EQ(-1, d)
	{
		TH_LOG("byte %ld of the old guest memory changed after close", d);
	}
	/* The backend serves a new device (the batches stayed below 4 MiB). */
	v = dev_new(_metadata, self, 1, 4, 0, self->be.fd);
	read_check(_metadata, v, 0, 4 << 20, self->shadow + (4 << 20), 65536, 0);
}

TEST_F(io, read_only_backend)
{
	struct virtio_blk_discard_write_zeroes seg = {.sector = 16, .num_sectors = 8};
	uint8_t buf[4096];
	struct vblk *v;
	uint8_t st;

	shadow_init(_metadata, self, 1 << 20);
	self->fd2 = vblk_backend_reopen(&self->be, O_RDONLY);
	ASSERT_LE(0, self->fd2);
	v = dev_new(_metadata, self, 1, 4, 0, self->fd2);
	read_check(_metadata, v, 0, 0, self->shadow, 65536, 0);

	vblk_fill_random(buf, sizeof(buf), &self->seed);
	EXPECT_EQ(S_IOERR, run_req(_metadata, v, 0, T_OUT, 8, buf, sizeof(buf), 0));
	EXPECT_EQ(S_IOERR, run_dwz(_metadata, v, 0, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1, 0));
	seg.flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	EXPECT_EQ(S_IOERR, run_dwz(_metadata, v, 0, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1, 0));
	seg.flags = 0;
	st = run_dwz(_metadata, v, 0, VIRTIO_BLK_T_DISCARD, &seg, 1, 0);
	EXPECT_TRUE(st == S_IOERR || st == S_UNSUPP)
	{
		TH_LOG("DISCARD on a read-only backend: status %u", st);
	}
	/* Nothing changed. */
	read_check(_metadata, v, 0, 0, self->shadow, 65536, 0);
	ASSERT_EQ((ssize_t)sizeof(buf), pread(self->be.fd, buf, sizeof(buf), 4096));
	EXPECT_EQ(-1, first_diff(buf, self->shadow + 4096, sizeof(buf)));
}

/* 4 KiB random reads, one virtqueue 32 deep, every read checked. */
TEST_F_TIMEOUT(io, iops_4k_randread_qd32, 60)
{
	struct vblk *v = dev_new(_metadata, self, 1, 32, 0, self->be.fd);
	struct rio *io;
	int64_t t0, ms;

	shadow_init(_metadata, self, SPAN);
	io = rio_init(_metadata, self, v, 32);
	io->fixed_len = 4096;
	io->reads_only = true;
	t0 = now_ms();
	ASSERT_EQ(0, rio_run(io, 1000))
	{
		TH_LOG("%s", io->err);
	}
	ms = now_ms() - t0;
	ASSERT_LT(0ULL, io->reads);
	TH_LOG("4k random read, qd 32: %llu reads in %lld ms: %llu IOPS",
	       (unsigned long long)io->reads, (long long)ms,
	       (unsigned long long)(io->reads * 1000 / (ms ? ms : 1)));
}

TEST_HARNESS_MAIN
