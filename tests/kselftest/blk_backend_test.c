// SPDX-License-Identifier: GPL-2.0
/*
 * What the device takes from the backend it is given, and what it must not.
 *
 * The flags the backend was opened with do not leak into requests: a file
 * opened O_APPEND is written in place, one opened O_DIRECT still serves
 * 512-byte I/O on a 4096-byte-sector disk.  Direct I/O takes what the
 * filesystem can (its STATX_DIOALIGN alignment, not its block size): 512-
 * aligned I/O on a 4 KiB-block ext4 is not offloaded, and block-aligned
 * I/O on a block device never is, wherever the status byte sits.  I/O runs
 * with the credentials of whoever set the backend: an unprivileged setter
 * cannot write into ext4's blocks reserved for root, with task or kthread
 * workers, direct or buffered.  Pseudo-files (procfs, sysfs, configfs,
 * debugfs) are refused as backends.  Runs as root in a VM with the module
 * loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/fs.h>
#include <linux/virtio_blk.h>

#include "kselftest_harness.h"
#include "vblk.h"
#include "vblk_nl.h"

#define NOBODY 65534

static struct vblk *dev_open(struct __test_metadata *_metadata, struct vblk **v, bool kthread)
{
	struct vblk_config cfg = {
		.nvqs = 1,
		.queue_size = 64,
		.depth = 8,
		.max_data = 1 << 20,
		.kthread = kthread,
	};

	ASSERT_EQ(0, vblk_open(&cfg, v))
	{
		TH_LOG("%s", vblk_error());
	}
	return *v;
}

static uint8_t rw_on(struct __test_metadata *_metadata, struct vblk *v, unsigned int vq,
		     uint32_t type, uint64_t sector, void *buf, uint32_t len, unsigned int layout)
{
	uint8_t status = 0xff;
	uint32_t used;

	EXPECT_EQ(0, vblk_run(v, vq, type, sector, buf, len, layout, &status, &used))
	{
		TH_LOG("%s", vblk_error());
	}
	return status;
}

static uint8_t rw(struct __test_metadata *_metadata, struct vblk *v, uint32_t type, uint64_t sector,
		  void *buf, uint32_t len, unsigned int layout)
{
	return rw_on(_metadata, v, 0, type, sector, buf, len, layout);
}

static int probe(void)
{
	int ret = vblk_probe();

	return ret == -ENOTTY ? ret : 0;
}

TEST(append_backend_is_written_in_place)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[128];
	uint8_t buf[4096], back[4096];
	struct vblk *v = NULL;
	struct stat st;
	int fd;

	if (probe())
		SKIP(return, "no data path");
	snprintf(path, sizeof(path), "%s/append.%d", dir, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, 1 << 20));
	dev_open(_metadata, &v, false);
	ASSERT_EQ(0, vblk_set_backend(v, fd));
	memset(buf, 0xa7, sizeof(buf));
	EXPECT_EQ(VIRTIO_BLK_S_OK, rw(_metadata, v, VIRTIO_BLK_T_OUT, 16, buf, sizeof(buf), 0));
	ASSERT_EQ((ssize_t)sizeof(back), pread(fd, back, sizeof(back), 16 * 512));
	EXPECT_EQ(0, memcmp(buf, back, sizeof(buf)));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(1 << 20, st.st_size)
	{
		TH_LOG("the write went to the end of the file");
	}
	vblk_close(v);
	close(fd);
}

TEST(direct_backend_serves_512_byte_io_on_4k_sectors)
{
	struct vblk_backend fs;
	uint8_t buf[512], back[512];
	struct vblk *v = NULL;
	char path[160];
	int fd, ret;

	if (probe())
		SKIP(return, "no data path");
	ret = vblk_fs_open(&fs, 64 << 20, 4096, NULL);
	if (ret == -ENODEV)
		SKIP(return, "%s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	snprintf(path, sizeof(path), "%s/disk", fs.path);
	fd = open(path, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 1 << 20));
	dev_open(_metadata, &v, false);
	ASSERT_EQ(0, vblk_set_backend(v, fd));
	memset(buf, 0x5d, sizeof(buf));
	EXPECT_EQ(VIRTIO_BLK_S_OK, rw(_metadata, v, VIRTIO_BLK_T_OUT, 3, buf, sizeof(buf), 0));
	EXPECT_EQ(VIRTIO_BLK_S_OK, rw(_metadata, v, VIRTIO_BLK_T_IN, 3, back, sizeof(back), 0));
	EXPECT_EQ(0, memcmp(buf, back, sizeof(buf)));
	vblk_close(v);
	close(fd);
	vblk_backend_close(&fs);
}

TEST(aligned_io_on_a_4k_block_fs_is_direct)
{
	struct vblk_backend fs;
	uint8_t buf[1024], back[1024];
	struct vblk *v = NULL;
	__u64 offloaded = ~0ULL, before = 0;
	char path[160];
	int fd, ret;

	if (probe())
		SKIP(return, "no data path");
	/* 4 KiB filesystem blocks on 512-byte sectors. */
	ret = vblk_fs_open(&fs, 64 << 20, 512, "-b 4096");
	if (ret == -ENODEV)
		SKIP(return, "%s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	snprintf(path, sizeof(path), "%s/disk", fs.path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	/* Written blocks: overwriting them needs no allocation, no wait. */
	memset(buf, 0x11, sizeof(buf));
	for (ret = 0; ret < 1024; ret++)
		ASSERT_EQ((ssize_t)sizeof(buf), pwrite(fd, buf, sizeof(buf), ret * 1024));
	ASSERT_EQ(0, fsync(fd));
	dev_open(_metadata, &v, false);
	ASSERT_EQ(0, vblk_set_backend(v, fd));
	/* 1 KiB at 512-byte offsets, none aligned to the filesystem block. */
	for (ret = 0; ret < 8; ret++) {
		memset(buf, 0x60 + ret, sizeof(buf));
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  rw(_metadata, v, VIRTIO_BLK_T_OUT, 3 + 16 * ret, buf, sizeof(buf), 0));
	}
	/*
	 * Reads are direct, not handed to the workqueue (as buffered I/O
	 * would be).  (ext4 has unaligned writes wait for each other: those
	 * may go to the workqueue, still direct.)
	 */
	ASSERT_EQ(0, nl_my_vq_u64(0, VHOST_BLK_A_VQ_OFFLOADED, &before));
	for (ret = 0; ret < 8; ret++) {
		memset(buf, 0x60 + ret, sizeof(buf));
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  rw(_metadata, v, VIRTIO_BLK_T_IN, 3 + 16 * ret, back, sizeof(back), 0));
		EXPECT_EQ(0, memcmp(buf, back, sizeof(buf)));
	}
	ASSERT_EQ(0, nl_my_vq_u64(0, VHOST_BLK_A_VQ_OFFLOADED, &offloaded));
	EXPECT_EQ(before, offloaded)
	{
		TH_LOG("%llu of 8 512-aligned reads on a 4 KiB-block filesystem were not direct",
		       (unsigned long long)(offloaded - before));
	}
	vblk_close(v);
	close(fd);
	vblk_backend_close(&fs);
}

/*
 * Block-aligned I/O on a block device goes straight to it, wherever the
 * driver keeps its status byte: a status byte at an odd address (as in a
 * driver whose status sits in its request structure, Linux's virtio_blk
 * among them) does not make the data look unaligned.
 */
TEST(block_device_io_is_direct_wherever_the_status_is)
{
	static const unsigned int layouts[] = {0, VBLK_STAT_ODD, VBLK_STAT_ODD | VBLK_SPLIT_HDR};
	struct vblk_config cfg = {
		.nvqs = 2,
		.queue_size = 64,
		.depth = 8,
		.max_data = 1 << 20,
	};
	uint8_t buf[8192], back[8192];
	struct vblk_backend be;
	struct vblk *v = NULL;
	__u64 offloaded = ~0ULL, before = 0;
	unsigned int i, l;
	int ret;

	if (probe())
		SKIP(return, "no data path");
	ret = vblk_backend_open(&be, VBLK_BE_NULLB, 16 << 20);
	if (ret == -ENODEV)
		SKIP(return, "%s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	/* vq 1: the memory regions' boundary cuts a buffer of vq 0. */
	ASSERT_EQ(0, vblk_open(&cfg, &v))
	{
		TH_LOG("%s", vblk_error());
	}
	ASSERT_EQ(0, vblk_set_backend(v, be.fd));
	ASSERT_EQ(0, nl_my_vq_u64(1, VHOST_BLK_A_VQ_OFFLOADED, &before));
	for (l = 0; l < ARRAY_SIZE(layouts); l++) {
		for (i = 0; i < 4; i++) {
			uint64_t sector = 64 * (4 * l + i);

			memset(buf, 0x31 + 4 * l + i, sizeof(buf));
			EXPECT_EQ(VIRTIO_BLK_S_OK, rw_on(_metadata, v, 1, VIRTIO_BLK_T_OUT, sector,
							 buf, sizeof(buf), layouts[l]));
			EXPECT_EQ(VIRTIO_BLK_S_OK, rw_on(_metadata, v, 1, VIRTIO_BLK_T_IN, sector,
							 back, sizeof(back), layouts[l]));
			EXPECT_EQ(0, memcmp(buf, back, sizeof(buf)));
		}
	}
	ASSERT_EQ(0, nl_my_vq_u64(1, VHOST_BLK_A_VQ_OFFLOADED, &offloaded));
	EXPECT_EQ(before, offloaded)
	{
		TH_LOG("%llu of 24 block-aligned requests on a block device were not direct",
		       (unsigned long long)(offloaded - before));
	}
	vblk_close(v);
	vblk_backend_close(&be);
}

/* The filesystem of the cred cases, and how much the device tries to write. */
#define FS_MIB 16
#define FILL_MIB 14

/*
 * In a child: a device with @kthread workers, owned while root, whose
 * backend (a file owned by nobody on an ext4 that reserves half its blocks
 * for root) is set after dropping to nobody; write 1 MiB pieces until one
 * fails.  Exits with the MiB written, or 250+ on a setup error.
 */
static int fill_as_nobody(const char *path, bool kthread, unsigned int layout)
{
	struct vblk_config cfg = {.nvqs = 1, .queue_size = 64, .depth = 8};
	static uint8_t buf[1 << 20];
	unsigned int mib;
	struct vblk *v;
	int fd;

	cfg.max_data = sizeof(buf);
	/* Buffered: pieces direct I/O cannot take, few enough for one chain. */
	cfg.frag_size = 4000;
	cfg.kthread = kthread;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fchown(fd, NOBODY, NOBODY) || ftruncate(fd, FILL_MIB << 20))
		return 250;
	if (vblk_open(&cfg, &v))
		return 251;
	if (setresgid(NOBODY, NOBODY, NOBODY) || setresuid(NOBODY, NOBODY, NOBODY))
		return 252;
	if (vblk_set_backend(v, fd))
		return 253;
	memset(buf, 0x42, sizeof(buf));
	for (mib = 0; mib < FILL_MIB; mib++) {
		uint8_t status = 0xff;
		uint32_t used;

		if (vblk_run(v, 0, VIRTIO_BLK_T_OUT, (uint64_t)mib << 11, buf, sizeof(buf), layout,
			     &status, &used))
			return 254;
		if (status != VIRTIO_BLK_S_OK)
			break;
	}
	vblk_close(v);
	return mib;
}

FIXTURE(cred)
{
	struct vblk_backend fs;
};

FIXTURE_VARIANT(cred)
{
	bool kthread;
	unsigned int layout;
};

FIXTURE_VARIANT_ADD(cred, task_direct){
	.kthread = false,
	.layout = 0,
};

FIXTURE_VARIANT_ADD(cred, kthread_direct){
	.kthread = true,
	.layout = 0,
};

FIXTURE_VARIANT_ADD(cred, kthread_buffered){
	.kthread = true,
	.layout = VBLK_FRAG | VBLK_INDIRECT,
};

FIXTURE_SETUP(cred)
{
	int ret;

	self->fs.fd = -1;
	if (probe())
		SKIP(return, "no data path");
	/* Half of it reserved for root (or CAP_SYS_RESOURCE). */
	ret = vblk_fs_open(&self->fs, (uint64_t)FS_MIB << 20, 512, "-m 50");
	if (ret == -ENODEV)
		SKIP(return, "%s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
}

FIXTURE_TEARDOWN(cred)
{
	vblk_backend_close(&self->fs);
}

TEST_F_TIMEOUT(cred, io_runs_as_whoever_set_the_backend, 120)
{
	bool task_mode_unsupported = false;
	char path[160];
	int status;
	pid_t pid;

	if (!variant->kthread) {
		uint8_t mode = VHOST_FORK_OWNER_TASK;
		int fd = open(VBLK_DEV_PATH, O_RDWR | O_CLOEXEC);

		ASSERT_LE(0, fd);
		task_mode_unsupported = ioctl(fd, VHOST_SET_FORK_FROM_OWNER, &mode) != 0;
		close(fd);
		if (task_mode_unsupported)
			SKIP(return, "no task-mode workers on this kernel");
	}
	snprintf(path, sizeof(path), "%s/disk", self->fs.path);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(fill_as_nobody(path, variant->kthread, variant->layout));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_GT(250, WEXITSTATUS(status))
	{
		TH_LOG("setup failed: %d", WEXITSTATUS(status));
	}
	/* About half the 16 MiB is free to nobody; root could write ~14. */
	EXPECT_LE(3, WEXITSTATUS(status));
	EXPECT_GE(10, WEXITSTATUS(status))
	{
		TH_LOG("nobody wrote %d MiB: into the blocks reserved for root",
		       WEXITSTATUS(status));
	}
}

/* SET_BACKEND with @path opened @flags: its errno, 0 on success. */
static int backend_errno(struct vblk *v, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC), ret;

	if (fd < 0)
		return -1000 - errno;
	ret = vblk_set_backend(v, fd);
	if (!ret)
		vblk_set_backend(v, -1);
	close(fd);
	return -ret;
}

TEST(append_only_and_busy_backends_are_refused)
{
	struct vblk_backend fs;
	struct vblk *v = NULL;
	char path[160];
	int fd, flags, ret;

	if (probe())
		SKIP(return, "no data path");
	ret = vblk_fs_open(&fs, 64 << 20, 512, NULL);
	if (ret == -ENODEV)
		SKIP(return, "%s", vblk_error());
	ASSERT_EQ(0, ret)
	{
		TH_LOG("%s", vblk_error());
	}
	dev_open(_metadata, &v, false);

	/* chattr +a: writing anywhere but the end would bypass it. */
	snprintf(path, sizeof(path), "%s/log", fs.path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 1 << 20));
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFLAGS, &flags));
	flags |= FS_APPEND_FL;
	ASSERT_EQ(0, ioctl(fd, FS_IOC_SETFLAGS, &flags));
	close(fd);
	EXPECT_EQ(EPERM, backend_errno(v, path, O_RDWR | O_APPEND));
	EXPECT_EQ(0, backend_errno(v, path, O_RDONLY));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	flags &= ~FS_APPEND_FL;
	EXPECT_EQ(0, ioctl(fd, FS_IOC_SETFLAGS, &flags));
	close(fd);

	/* The mounted filesystem's device: not for the guest to write. */
	snprintf(path, sizeof(path), "/dev/%s", fs.lower);
	if (access(path, F_OK)) {
		char index[32], attr[160];
		FILE *f;

		snprintf(attr, sizeof(attr), "/sys/kernel/config/nullb/%s/index", fs.lower);
		f = fopen(attr, "r");
		ASSERT_NE(NULL, f);
		ASSERT_NE(NULL, fgets(index, sizeof(index), f));
		fclose(f);
		snprintf(path, sizeof(path), "/dev/nullb%d", atoi(index));
	}
	EXPECT_EQ(EBUSY, backend_errno(v, path, O_RDWR));
	EXPECT_EQ(0, backend_errno(v, path, O_RDONLY));
	vblk_close(v);
	vblk_backend_close(&fs);
}

TEST(pseudo_files_are_refused)
{
	struct vblk_backend nullb;
	struct vblk *v = NULL;
	char attr[160];

	if (probe())
		SKIP(return, "no data path");
	dev_open(_metadata, &v, false);
	EXPECT_EQ(EINVAL, backend_errno(v, "/proc/sys/vm/swappiness", O_RDWR));
	EXPECT_EQ(EINVAL, backend_errno(v, "/proc/self/status", O_RDONLY));
	if (!access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK))
		EXPECT_EQ(EINVAL,
			  backend_errno(v, "/sys/kernel/mm/transparent_hugepage/enabled", O_RDWR));
	if (!vblk_backend_open(&nullb, VBLK_BE_NULLB, 16 << 20)) {
		snprintf(attr, sizeof(attr), "/sys/kernel/config/nullb/%s/size", nullb.name);
		EXPECT_EQ(EINVAL, backend_errno(v, attr, O_RDONLY));
		/* The device itself is a fine backend. */
		EXPECT_EQ(0, backend_errno(v, nullb.path, O_RDWR));
		vblk_backend_close(&nullb);
	}
	if (access("/sys/kernel/debug/sched/debug", F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (!access("/sys/kernel/debug/sched/debug", F_OK))
		EXPECT_EQ(EINVAL, backend_errno(v, "/sys/kernel/debug/sched/debug", O_RDONLY));
	EXPECT_EQ(EINVAL, backend_errno(v, "/dev/null", O_RDWR));
	vblk_close(v);
}

TEST_HARNESS_MAIN
