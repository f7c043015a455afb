// SPDX-License-Identifier: GPL-2.0
/*
 * vhost::Device without a vhost device: /dev/null answers every ioctl with
 * ENOTTY, which is enough to see what a failure says.
 */
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cerrno>
#include <fcntl.h>

#include "vhostctl/device.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/eventfd.hpp"

using Catch::Matchers::StartsWith;

namespace {

template <typename F>
vhost::Error failure(F &&f)
{
	try {
		f();
	} catch (const vhost::Error &e) {
		return e;
	}
	FAIL("no error");
	return vhost::Error(0, "");
}

} // namespace

TEST_CASE("A failed ioctl names the ioctl and its arguments", "[device]")
{
	vhost::BlkDevice dev(vhost::UniqueFd(::open("/dev/null", O_RDWR | O_CLOEXEC)), "/dev/null");

	auto e = failure([&] { dev.attachVringWorker(3, 7); });
	CHECK(e.errnum() == ENOTTY);
	CHECK(e.context() == "VHOST_ATTACH_VRING_WORKER vq 3 worker 7");
	CHECK_THAT(e.what(), StartsWith("VHOST_ATTACH_VRING_WORKER vq 3 worker 7: "));

	CHECK(failure([&] { dev.setOwner(); }).context() == "VHOST_SET_OWNER");
	CHECK(failure([&] { dev.freeWorker(2); }).context() == "VHOST_FREE_WORKER worker 2");
	CHECK(failure([&] { dev.setVringNum(1, 256); }).context() ==
	      "VHOST_SET_VRING_NUM vq 1 num 256");
	CHECK(failure([&] { dev.setFeatures(0x100000000); }).context() ==
	      "VHOST_SET_FEATURES 0x100000000");
	CHECK(failure([&] { dev.setBackend(5); }).context() == "VHOST_BLK_SET_BACKEND fd 5");
	CHECK(failure([&] { dev.getVringWorker(0); }).errnum() == ENOTTY);
}

TEST_CASE("Opening a missing device says which", "[device]")
{
	auto e = failure([] { vhost::BlkDevice::open("/nonexistent/vhost-blk"); });
	CHECK(e.errnum() == ENOENT);
	CHECK(e.context() == "open /nonexistent/vhost-blk");
}

TEST_CASE("A serial number longer than 20 bytes is refused before the ioctl", "[device]")
{
	vhost::BlkDevice dev(vhost::UniqueFd(::open("/dev/null", O_RDWR | O_CLOEXEC)), "/dev/null");

	CHECK(failure([&] { dev.setSerial("123456789012345678901"); }).errnum() == EINVAL);
	CHECK(failure([&] { dev.setSerial("12345678901234567890"); }).errnum() == ENOTTY);
}

TEST_CASE("EventFd counts signals and wakes waiters", "[eventfd]")
{
	vhost::EventFd e;

	CHECK_FALSE(e.wait(0));
	CHECK(e.consume() == 0);
	e.signal();
	e.signal();
	CHECK(e.wait(0));
	CHECK(e.consume() == 2);
	CHECK_FALSE(e.wait(10));
}
