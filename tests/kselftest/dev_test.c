// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/vhost-blk: the node, opening it, and what it answers to a command it
 * does not know.  Runs with the module loaded (scripts/vm-run --load).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/vhost_blk.h>

#include "kselftest_harness.h"

#define DEV_PATH "/dev/" VHOST_BLK_DEVICE_NAME

/* Misc devices are major 10; vhost-blk has the fixed minor 243. */
#define MISC_MAJOR 10U
#define VHOST_BLK_MINOR 243U

TEST(node_is_the_misc_device)
{
	struct stat st;

	ASSERT_EQ(0, stat(DEV_PATH, &st))
	{
		TH_LOG("stat %s: %s", DEV_PATH, strerror(errno));
	}
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(MISC_MAJOR, major(st.st_rdev));
	EXPECT_EQ(VHOST_BLK_MINOR, minor(st.st_rdev));
}

TEST(module_reports_a_version)
{
	char version[64] = "";
	FILE *f = fopen("/sys/module/vhost_blk/version", "r");

	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(version, sizeof(version), f));
	fclose(f);
	EXPECT_GT(strlen(version), (size_t)1);
}

FIXTURE(dev)
{
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd)
	{
		TH_LOG("open %s: %s", DEV_PATH, strerror(errno));
	}
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
}

TEST_F(dev, opens_are_independent)
{
	int fd2 = open(DEV_PATH, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd2);
	EXPECT_NE(self->fd, fd2);
	EXPECT_EQ(0, close(fd2));
	/* The first file is still usable after the second is gone. */
	EXPECT_EQ(-1, ioctl(self->fd, _IO('x', 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(dev, unknown_ioctl_is_enotty)
{
	/* A foreign magic, and an unused number on the vhost magic. */
	EXPECT_EQ(-1, ioctl(self->fd, _IO('x', 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO(VHOST_VIRTIO, 0xfe)));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(dev, not_seekable_nor_readable)
{
	char buf[8];

	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
