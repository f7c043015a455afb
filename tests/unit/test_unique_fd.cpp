// SPDX-License-Identifier: GPL-2.0
#include <catch2/catch_test_macros.hpp>

#include <fcntl.h>
#include <unistd.h>
#include <utility>

#include "vhostctl/unique_fd.hpp"

namespace {

bool isOpen(int fd)
{
	return ::fcntl(fd, F_GETFD) != -1;
}

} // namespace

TEST_CASE("UniqueFd closes what it owns", "[fd]")
{
	int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	REQUIRE(raw >= 0);
	{
		vhost::UniqueFd fd(raw);
		CHECK(fd.isValid());
		CHECK(fd.get() == raw);
		CHECK(isOpen(raw));
	}
	CHECK_FALSE(isOpen(raw));
}

TEST_CASE("UniqueFd moves ownership and releases on request", "[fd]")
{
	vhost::UniqueFd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
	REQUIRE(a);
	int raw = a.get();

	vhost::UniqueFd b(std::move(a));
	CHECK_FALSE(a.isValid());
	CHECK(b.get() == raw);

	vhost::UniqueFd c;
	c = std::move(b);
	CHECK(c.get() == raw);
	CHECK(isOpen(raw));

	int released = c.release();
	CHECK_FALSE(c.isValid());
	CHECK(isOpen(released));
	::close(released);
}

TEST_CASE("UniqueFd::reset closes the old descriptor", "[fd]")
{
	int first = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	int second = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	REQUIRE(first >= 0);
	REQUIRE(second >= 0);

	vhost::UniqueFd fd(first);
	fd.reset(second);
	CHECK_FALSE(isOpen(first));
	CHECK(fd.get() == second);
	fd.reset();
	CHECK_FALSE(isOpen(second));
	CHECK_FALSE(fd.isValid());
}
