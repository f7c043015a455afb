// SPDX-License-Identifier: GPL-2.0
#include <catch2/catch_test_macros.hpp>

#include <cerrno>

#include "vhostctl/error.hpp"
#include "vhostctl/memory.hpp"

using virtio::Memory;

TEST_CASE("Memory hands out aligned, zeroed chunks at guest addresses", "[memory]")
{
	Memory mem(64 * 1024, 0x40000000);

	CHECK(mem.size() == 64 * 1024);
	auto a = mem.alloc(10);
	CHECK(a.gpa == 0x40000000);
	CHECK(a.host.size() == 10);
	auto b = mem.alloc(100, 4096);
	CHECK(b.gpa == 0x40001000);
	CHECK(reinterpret_cast<uintptr_t>(b.host.data()) % 4096 == 0);
	for (auto byte : b.host)
		REQUIRE(byte == std::byte{0});

	CHECK(mem.gpa(b.host.data() + 5) == 0x40001005);
	CHECK(mem.host(0x40001005) == b.host.data() + 5);
	CHECK(b.userAddr() == reinterpret_cast<uintptr_t>(b.host.data()));
}

TEST_CASE("Memory refuses what it does not hold", "[memory]")
{
	Memory mem(8192);

	mem.alloc(8000);
	try {
		mem.alloc(512);
		FAIL("no error");
	} catch (const vhost::Error &e) {
		CHECK(e.errnum() == ENOMEM);
	}
	CHECK_THROWS_AS(mem.host(8192), vhost::Error);
	CHECK_THROWS_AS(mem.host(8000, 193), vhost::Error);
	int outside = 0;
	CHECK_THROWS_AS(mem.gpa(&outside), vhost::Error);
	CHECK_THROWS_AS(Memory(4096, 0x123), vhost::Error);
}

TEST_CASE("The memory table splits the area into contiguous regions", "[memory]")
{
	Memory mem(5 * 4096, 0x100000, 2);
	auto regions = mem.regions();

	REQUIRE(regions.size() == 2);
	CHECK(regions[0].guestPhysAddr == 0x100000);
	CHECK(regions[0].size == 3 * 4096);
	CHECK(regions[1].guestPhysAddr == 0x100000 + 3 * 4096);
	CHECK(regions[1].size == 2 * 4096);
	CHECK(regions[1].userAddr == regions[0].userAddr + 3 * 4096);
	CHECK(regions[0].userAddr == reinterpret_cast<uintptr_t>(mem.host(0x100000)));
}
