// SPDX-License-Identifier: GPL-2.0
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cerrno>
#include <fcntl.h>

#include "vhostctl/error.hpp"

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;

namespace {

/* An argument whose formatting changes errno, as an allocation may. */
struct ClobbersErrno {};

} // namespace

template <>
struct fmt::formatter<ClobbersErrno> : fmt::formatter<std::string_view> {
	auto format(ClobbersErrno, fmt::format_context &ctx) const
	{
		errno = EAGAIN;
		return fmt::formatter<std::string_view>::format("/dev/vhost-blk", ctx);
	}
};

TEST_CASE("Error carries the errno and what was being done", "[error]")
{
	vhost::Error e(EBUSY, "VHOST_SET_OWNER on /dev/vhost-blk");

	CHECK(e.errnum() == EBUSY);
	CHECK(e.context() == "VHOST_SET_OWNER on /dev/vhost-blk");
	CHECK(e.code() == std::errc::device_or_resource_busy);
	CHECK_THAT(e.what(), StartsWith("VHOST_SET_OWNER on /dev/vhost-blk: "));
	CHECK_THAT(e.what(), ContainsSubstring("busy"));
}

TEST_CASE("throwErrno reports the errno of the failed call", "[error]")
{
	int fd = ::open("/nonexistent/vhost-blk", O_RDWR);

	REQUIRE(fd < 0);
	try {
		vhost::throwErrno("open {}", "/nonexistent/vhost-blk");
		FAIL("throwErrno returned");
	} catch (const vhost::Error &e) {
		CHECK(e.errnum() == ENOENT);
		CHECK(e.context() == "open /nonexistent/vhost-blk");
	}
}

TEST_CASE("throwErrno saves errno before it formats the message", "[error]")
{
	errno = ENOSPC;
	try {
		vhost::throwErrno("write {} at {}", ClobbersErrno{}, 4096);
		FAIL("throwErrno returned");
	} catch (const vhost::Error &e) {
		CHECK(e.errnum() == ENOSPC);
		CHECK(e.context() == "write /dev/vhost-blk at 4096");
	}
}
