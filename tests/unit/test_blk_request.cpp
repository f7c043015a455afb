// SPDX-License-Identifier: GPL-2.0
#include <catch2/catch_test_macros.hpp>

#include <array>
#include <linux/virtio_blk.h>

#include "vhostctl/blk_request.hpp"

namespace blk = virtio::blk;

namespace {

template <std::size_t N>
std::array<std::byte, N> bytes(const std::array<int, N> &v)
{
	std::array<std::byte, N> out{};
	for (std::size_t i = 0; i < N; i++)
		out[i] = static_cast<std::byte>(v[i]);
	return out;
}

} // namespace

TEST_CASE("Request types and statuses have the spec's numbers", "[blk]")
{
	CHECK(static_cast<uint32_t>(blk::Type::In) == VIRTIO_BLK_T_IN);
	CHECK(static_cast<uint32_t>(blk::Type::Out) == VIRTIO_BLK_T_OUT);
	CHECK(static_cast<uint32_t>(blk::Type::Flush) == VIRTIO_BLK_T_FLUSH);
	CHECK(static_cast<uint32_t>(blk::Type::GetId) == VIRTIO_BLK_T_GET_ID);
	CHECK(static_cast<uint32_t>(blk::Type::Discard) == VIRTIO_BLK_T_DISCARD);
	CHECK(static_cast<uint32_t>(blk::Type::WriteZeroes) == VIRTIO_BLK_T_WRITE_ZEROES);
	CHECK(blk::StatusOk == VIRTIO_BLK_S_OK);
	CHECK(blk::StatusIoErr == VIRTIO_BLK_S_IOERR);
	CHECK(blk::StatusUnsupp == VIRTIO_BLK_S_UNSUPP);
	CHECK(blk::headerSize == sizeof(virtio_blk_outhdr));
	CHECK(blk::segmentSize == sizeof(virtio_blk_discard_write_zeroes));
	CHECK(blk::idBytes == VIRTIO_BLK_ID_BYTES);
}

TEST_CASE("The request header is {le32 type, le32 reserved, le64 sector}", "[blk]")
{
	auto h = blk::encodeHeader(blk::Type::Out, 0x0102030405060708ULL);
	CHECK(h == bytes<16>({1, 0, 0, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1}));

	h = blk::encodeHeader(blk::Type::WriteZeroes, 1);
	CHECK(h == bytes<16>({13, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}));

	h = blk::encodeHeader(blk::Type::In, UINT64_MAX);
	CHECK(h == bytes<16>({0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255}));

	auto d = blk::decodeHeader(blk::encodeHeader(blk::Type::GetId, 123456789));
	CHECK(d.type == VIRTIO_BLK_T_GET_ID);
	CHECK(d.reserved == 0);
	CHECK(d.sector == 123456789);
}

TEST_CASE("Discard and write-zeroes segments are {le64 sector, le32 num, le32 flags}", "[blk]")
{
	auto s = blk::encodeSegment(0x1122334455667788ULL, 0xa0b0c0d0, blk::writeZeroesFlagUnmap);
	CHECK(s == bytes<16>({0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xd0, 0xc0, 0xb0,
			      0xa0, 1, 0, 0, 0}));
}

TEST_CASE("A request's chain: header readable, data by type, status writable", "[blk]")
{
	auto read = blk::requestChain(blk::Type::In, 0x1000, 0x2000, 4096, 0x1010);
	REQUIRE(read.size() == 3);
	CHECK(read[0].gpa == 0x1000);
	CHECK(read[0].len == 16);
	CHECK_FALSE(read[0].deviceWritable);
	CHECK(read[1].gpa == 0x2000);
	CHECK(read[1].len == 4096);
	CHECK(read[1].deviceWritable);
	CHECK(read[2].gpa == 0x1010);
	CHECK(read[2].len == 1);
	CHECK(read[2].deviceWritable);

	auto write = blk::requestChain(blk::Type::Out, 0x1000, 0x2000, 512, 0x1010);
	REQUIRE(write.size() == 3);
	CHECK_FALSE(write[1].deviceWritable);

	auto id = blk::requestChain(blk::Type::GetId, 0x1000, 0x2000, 20, 0x1010);
	CHECK(id[1].deviceWritable);

	auto flush = blk::requestChain(blk::Type::Flush, 0x1000, 0, 0, 0x1010);
	REQUIRE(flush.size() == 2);
	CHECK_FALSE(flush[0].deviceWritable);
	CHECK(flush[1].deviceWritable);
}

TEST_CASE("Request types and statuses have names", "[blk]")
{
	CHECK(blk::typeName(blk::Type::WriteZeroes) == "WRITE_ZEROES");
	CHECK(blk::typeFromName("GET_ID") == blk::Type::GetId);
	CHECK_FALSE(blk::typeFromName("READ"));
	CHECK(blk::statusName(1) == "IOERR");
	CHECK(blk::statusName(0xff) == "UNKNOWN");
}
