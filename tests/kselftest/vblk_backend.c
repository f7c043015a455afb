// SPDX-License-Identifier: GPL-2.0
/*
 * vblk backends: the block devices and files the data-path suites run
 * against (brd, a memory-backed null_blk configured through configfs, a
 * device-mapper error target, a regular file); see vblk.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>

#include "vblk.h"

#define NULLB_CONFIGFS "/sys/kernel/config/nullb"

static int run_cmd(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 20, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) - 20)
		return -E2BIG;
	strcat(cmd, " >/dev/null 2>&1");
	return system(cmd) == 0 ? 0 : -EIO;
}

static int write_str(const char *dir, const char *attr, const char *val)
{
	char path[160];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return vblk_fail(errno, "open %s", path);
	if (write(fd, val, strlen(val)) < 0)
		ret = vblk_fail(errno, "write '%s' to %s", val, path);
	close(fd);
	return ret;
}

static int read_str(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), n;

	n = fd < 0 ? -1 : read(fd, buf, size - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return vblk_fail(n < 0 ? errno : ENODATA, "read %s", path);
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int open_bdev(struct vblk_backend *b)
{
	b->fd = open(b->path, O_RDWR | O_CLOEXEC);
	if (b->fd < 0)
		return vblk_fail(errno, "open %s", b->path);
	if (ioctl(b->fd, BLKGETSIZE64, &b->size))
		return vblk_fail(errno, "BLKGETSIZE64 %s", b->path);
	return 0;
}

static int open_file(struct vblk_backend *b, uint64_t size)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	b->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (b->fd < 0)
		return vblk_fail(errno, "O_TMPFILE in %s", dir);
	snprintf(b->path, sizeof(b->path), "/proc/self/fd/%d", b->fd);
	if (ftruncate(b->fd, size))
		return vblk_fail(errno, "ftruncate");
	b->size = size;
	return 0;
}

static int open_brd(struct vblk_backend *b, uint64_t size)
{
	snprintf(b->path, sizeof(b->path), "/dev/ram0");
	if (access(b->path, F_OK)) {
		/* Loaded without devices by someone else: load it our way. */
		if (!access("/sys/module/brd", F_OK))
			run_cmd("rmmod brd");
		run_cmd("modprobe brd rd_nr=1 rd_size=%llu", (unsigned long long)size >> 10);
		if (access(b->path, F_OK))
			return vblk_fail(ENODEV, "brd: no %s", b->path);
	}
	return open_bdev(b);
}

static int open_nullb(struct vblk_backend *b, uint64_t size, bool badblocks,
		      unsigned int block_size, unsigned int completion_us)
{
	static unsigned int serial;
	char dir[128], path[160], val[32];
	int ret;

	if (access("/sys/module/null_blk", F_OK))
		run_cmd("modprobe null_blk nr_devices=0");
	if (access(NULLB_CONFIGFS, F_OK))
		mount("configfs", "/sys/kernel/config", "configfs", 0, NULL);
	if (access(NULLB_CONFIGFS, F_OK))
		return vblk_fail(ENODEV, "null_blk: no %s", NULLB_CONFIGFS);
	/* Unique in the process: a suite may stack devices. */
	snprintf(b->name, sizeof(b->name), "vblk%d%s%.0u", getpid(), serial ? "x" : "", serial);
	serial++;
	snprintf(dir, sizeof(dir), NULLB_CONFIGFS "/%s", b->name);
	if (mkdir(dir, 0755))
		return vblk_fail(errno, "mkdir %s", dir);
	snprintf(val, sizeof(val), "%llu", (unsigned long long)size >> 20);
	ret = write_str(dir, "size", val);
	if (!ret)
		ret = write_str(dir, "memory_backed", "1");
	snprintf(val, sizeof(val), "%u", block_size);
	if (!ret)
		ret = write_str(dir, "blocksize", val);
	if (!ret)
		write_str(dir, "discard", "1"); /* optional */
	if (!ret && badblocks)
		ret = write_str(dir, "badblocks", "+0-7");
	/* Completions on a timer, @completion_us after submission. */
	snprintf(val, sizeof(val), "%llu", completion_us * 1000ULL);
	if (!ret && completion_us)
		ret = write_str(dir, "irqmode", "2");
	if (!ret && completion_us)
		ret = write_str(dir, "completion_nsec", val);
	if (!ret)
		ret = write_str(dir, "power", "1");
	if (ret)
		return ret;
	/* 6.12 names the disk after the directory, 6.1 nullb<index>. */
	snprintf(b->path, sizeof(b->path), "/dev/%s", b->name);
	if (access(b->path, F_OK)) {
		snprintf(path, sizeof(path), "%s/index", dir);
		ret = read_str(path, val, sizeof(val));
		if (ret)
			return ret;
		snprintf(b->path, sizeof(b->path), "/dev/nullb%d", atoi(val));
	}
	return open_bdev(b);
}

int vblk_backend_open_slow(struct vblk_backend *b, uint64_t size, unsigned int completion_us)
{
	int ret;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->kind = VBLK_BE_NULLB;
	ret = open_nullb(b, size, false, VBLK_SECTOR, completion_us);
	if (ret)
		vblk_backend_close(b);
	return ret;
}

/* Find the dm-N node of the dm device named b->name, into b->path. */
static int find_dm_node(struct vblk_backend *b)
{
	char name[64], node[16];
	glob_t g;
	size_t i;

	/* Without udev there is no /dev/mapper link, but devtmpfs has dm-N. */
	if (glob("/sys/block/dm-*/dm/name", 0, NULL, &g))
		return vblk_fail(ENODEV, "dm: no /sys/block/dm-*");
	for (i = 0; i < g.gl_pathc; i++)
		if (!read_str(g.gl_pathv[i], name, sizeof(name)) && !strcmp(name, b->name) &&
		    sscanf(g.gl_pathv[i], "/sys/block/%15[^/]", node) == 1)
			snprintf(b->path, sizeof(b->path), "/dev/%s", node);
	globfree(&g);
	if (!b->path[0])
		return vblk_fail(ENODEV, "dm: %s not in /sys/block", b->name);
	return 0;
}

static int dm_ready(void)
{
	if (access("/usr/sbin/dmsetup", X_OK) && access("/sbin/dmsetup", X_OK))
		return vblk_fail(ENODEV, "no dmsetup");
	if (access("/sys/module/dm_mod", F_OK))
		run_cmd("modprobe dm-mod");
	return 0;
}

/* @table with every "%s" standing for @lower, into @buf. */
static void dm_table_text(char *buf, size_t size, const char *table, const char *lower)
{
	size_t n = 0;

	for (const char *p = table; *p && n + 1 < size; p++) {
		if (p[0] == '%' && p[1] == 's') {
			n += snprintf(buf + n, size - n, "%s", lower);
			p++;
			continue;
		}
		buf[n++] = *p;
	}
	buf[n < size ? n : size - 1] = '\0';
}

/* dmsetup @cmd NAME FILE, FILE holding @table for the dm device over b->lower_path. */
static int dm_table_cmd(struct vblk_backend *b, const char *cmd, const char *table)
{
	char path[64], buf[4096];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/tmp/vblk-dm-table-%d", getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return vblk_fail(errno, "open %s", path);
	dm_table_text(buf, sizeof(buf), table, b->lower_path);
	if (write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf))
		ret = vblk_fail(errno, "write %s", path);
	close(fd);
	if (!ret && run_cmd(cmd, b->name, path, b->name))
		ret = vblk_fail(EIO, "dmsetup: %s", cmd);
	unlink(path);
	return ret;
}

/*
 * A dm device named @prefix-PID over a memory-backed null_blk of its own
 * (b->lower), with @table ("%s" is the null_blk).
 */
static int open_dm_on_nullb(struct vblk_backend *b, uint64_t size, const char *prefix,
			    const char *table)
{
	struct vblk_backend lower;
	int ret = dm_ready();

	if (ret)
		return ret;
	memset(&lower, 0, sizeof(lower));
	lower.fd = -1;
	ret = open_nullb(&lower, size, false, VBLK_SECTOR, 0);
	if (lower.fd >= 0)
		close(lower.fd);
	snprintf(b->lower, sizeof(b->lower), "%s", lower.name);
	snprintf(b->lower_path, sizeof(b->lower_path), "%s", lower.path);
	if (ret)
		return ret;
	snprintf(b->name, sizeof(b->name), "%s-%d", prefix, getpid());
	ret = dm_table_cmd(b, "dmsetup create --noudevsync %s %s", table);
	if (ret) {
		b->name[0] = 0;
		return vblk_fail(ENODEV, "dmsetup create %s", prefix);
	}
	ret = find_dm_node(b);
	return ret ? ret : open_bdev(b);
}

int vblk_backend_dm_table(struct vblk_backend *b, const char *table)
{
	if (b->kind != VBLK_BE_DM && b->kind != VBLK_BE_DM_DELAY)
		return vblk_fail(EINVAL, "not a dm backend over a null_blk");
	return dm_table_cmd(b, "dmsetup load %s %s && dmsetup resume --noudevsync %s", table);
}

int vblk_backend_badblocks(struct vblk_backend *b, bool bad, uint64_t first, uint64_t last)
{
	char dir[128], val[64];

	if (b->kind != VBLK_BE_NULLB && b->kind != VBLK_BE_NULLB_BB)
		return vblk_fail(EINVAL, "not a null_blk backend");
	snprintf(dir, sizeof(dir), NULLB_CONFIGFS "/%s", b->name);
	snprintf(val, sizeof(val), "%c%llu-%llu", bad ? '+' : '-', (unsigned long long)first,
		 (unsigned long long)last);
	return write_str(dir, "badblocks", val);
}

static int open_dm_error(struct vblk_backend *b, uint64_t size)
{
	int ret = dm_ready();

	if (ret)
		return ret;
	snprintf(b->name, sizeof(b->name), "vblk-err-%d", getpid());
	if (run_cmd("printf '0 8 error\\n8 %llu zero\\n' | dmsetup create --noudevsync %s",
		    (unsigned long long)(size / VBLK_SECTOR - 8), b->name)) {
		b->name[0] = 0;
		return vblk_fail(ENODEV, "dmsetup create");
	}
	ret = find_dm_node(b);
	return ret ? ret : open_bdev(b);
}

int vblk_backend_open_delayed(struct vblk_backend *b, uint64_t size, unsigned int write_delay_ms)
{
	char table[128];
	int ret;

	memset(b, 0, sizeof(*b));
	b->kind = VBLK_BE_DM_DELAY;
	b->fd = -1;
	if (access("/sys/module/dm_delay", F_OK))
		run_cmd("modprobe dm-delay");
	snprintf(table, sizeof(table), "0 %llu delay %%s 0 0 %%s 0 %u\n",
		 (unsigned long long)(size / VBLK_SECTOR), write_delay_ms);
	ret = open_dm_on_nullb(b, size, "vblk-delay", table);
	if (ret)
		vblk_backend_close(b);
	return ret;
}

int vblk_fs_open(struct vblk_backend *b, uint64_t size, unsigned int block_size,
		 const char *mkfs_opts)
{
	struct vblk_backend lower;
	char dev[96];
	int ret;

	memset(b, 0, sizeof(*b));
	b->kind = VBLK_BE_FS;
	b->fd = -1;
	memset(&lower, 0, sizeof(lower));
	lower.fd = -1;
	ret = open_nullb(&lower, size, false, block_size, 0);
	if (lower.fd >= 0)
		close(lower.fd);
	snprintf(b->lower, sizeof(b->lower), "%s", lower.name);
	snprintf(dev, sizeof(dev), "%s", lower.path);
	if (ret)
		goto err;
	if (run_cmd("mkfs.ext4 -q -F %s %s", mkfs_opts ? mkfs_opts : "", dev)) {
		ret = vblk_fail(EIO, "mkfs.ext4 %s %s", mkfs_opts ? mkfs_opts : "", dev);
		goto err;
	}
	snprintf(b->path, sizeof(b->path), "/tmp/vblk-fs-%d", getpid());
	if (mkdir(b->path, 0755) && errno != EEXIST) {
		ret = vblk_fail(errno, "mkdir %s", b->path);
		goto err;
	}
	if (mount(dev, b->path, "ext4", 0, NULL)) {
		ret = vblk_fail(errno, "mount %s on %s", dev, b->path);
		rmdir(b->path);
		b->path[0] = 0;
		goto err;
	}
	snprintf(b->name, sizeof(b->name), "mounted");
	b->size = size;
	return 0;
err:
	vblk_backend_close(b);
	return ret;
}

int vblk_backend_open(struct vblk_backend *b, enum vblk_backend_kind kind, uint64_t size)
{
	int ret;

	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->fd = -1;
	switch (kind) {
	case VBLK_BE_FILE:
		ret = open_file(b, size);
		break;
	case VBLK_BE_BRD:
		ret = open_brd(b, size);
		break;
	case VBLK_BE_NULLB:
	case VBLK_BE_NULLB_BB:
		ret = open_nullb(b, size, kind == VBLK_BE_NULLB_BB, VBLK_SECTOR, 0);
		break;
	case VBLK_BE_DM_ERROR:
		ret = open_dm_error(b, size);
		break;
	case VBLK_BE_DM: {
		char table[128];

		snprintf(table, sizeof(table), "0 %llu linear %%s 0\n",
			 (unsigned long long)(size / VBLK_SECTOR));
		ret = open_dm_on_nullb(b, size, "vblk-dm", table);
		break;
	}
	default:
		ret = vblk_fail(EINVAL, "backend kind %d", kind);
	}
	if (ret)
		vblk_backend_close(b);
	return ret;
}

void vblk_backend_close(struct vblk_backend *b)
{
	char dir[128];

	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	if ((b->kind == VBLK_BE_NULLB || b->kind == VBLK_BE_NULLB_BB) && b->name[0]) {
		snprintf(dir, sizeof(dir), NULLB_CONFIGFS "/%s", b->name);
		write_str(dir, "power", "0");
		rmdir(dir);
	}
	if ((b->kind == VBLK_BE_DM_ERROR || b->kind == VBLK_BE_DM_DELAY || b->kind == VBLK_BE_DM) &&
	    b->name[0])
		run_cmd("dmsetup remove --noudevsync %s", b->name);
	if (b->kind == VBLK_BE_FS && b->name[0]) {
		umount2(b->path, MNT_DETACH);
		rmdir(b->path);
	}
	if (b->lower[0]) {
		snprintf(dir, sizeof(dir), NULLB_CONFIGFS "/%s", b->lower);
		write_str(dir, "power", "0");
		rmdir(dir);
	}
	b->name[0] = 0;
	b->lower[0] = 0;
}

int vblk_backend_reopen(struct vblk_backend *b, int flags)
{
	int fd = open(b->path, flags | O_CLOEXEC);

	return fd < 0 ? vblk_fail(errno, "open %s", b->path) : fd;
}

uint64_t vblk_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}
