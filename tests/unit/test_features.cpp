// SPDX-License-Identifier: GPL-2.0
#include <catch2/catch_test_macros.hpp>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "vhostctl/features.hpp"
#include "vhostctl/split_queue.hpp"

TEST_CASE("Feature bits have the names of the spec", "[features]")
{
	CHECK(vhost::featureName(VIRTIO_F_VERSION_1) == "VERSION_1");
	CHECK(vhost::featureName(VIRTIO_F_ANY_LAYOUT) == "ANY_LAYOUT");
	CHECK(vhost::featureName(VIRTIO_F_NOTIFY_ON_EMPTY) == "NOTIFY_ON_EMPTY");
	CHECK(vhost::featureName(virtio::featureIndirectDesc) == "INDIRECT_DESC");
	CHECK(vhost::featureName(virtio::featureEventIdx) == "EVENT_IDX");
	CHECK(vhost::featureName(VIRTIO_BLK_F_MQ) == "MQ");
	CHECK(vhost::featureName(VIRTIO_BLK_F_FLUSH) == "FLUSH");
	CHECK(vhost::featureName(VIRTIO_BLK_F_DISCARD) == "DISCARD");
	CHECK(vhost::featureName(VIRTIO_BLK_F_WRITE_ZEROES) == "WRITE_ZEROES");
	CHECK(vhost::featureName(VIRTIO_F_ACCESS_PLATFORM) == "ACCESS_PLATFORM");
	CHECK(vhost::featureName(VIRTIO_F_RING_PACKED) == "RING_PACKED");
	CHECK_FALSE(vhost::featureName(63));
}

TEST_CASE("A mask decodes into its bits, lowest first", "[features]")
{
	uint64_t mask = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << virtio::featureEventIdx) |
			(1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << 50);
	auto bits = vhost::decodeFeatures(mask);

	REQUIRE(bits.size() == 4);
	CHECK(bits[0].bit == VIRTIO_BLK_F_FLUSH);
	CHECK(bits[0].name == "FLUSH");
	CHECK(bits[1].name == "EVENT_IDX");
	CHECK(bits[2].name == "VERSION_1");
	CHECK(bits[3].name == "bit 50");
	CHECK_FALSE(bits[3].known);
	CHECK(vhost::featureNames(mask) == "FLUSH EVENT_IDX VERSION_1 bit 50");
	CHECK(vhost::featureNames(0).empty());
}

TEST_CASE("A feature is found by name in any case", "[features]")
{
	CHECK(vhost::featureBit("event_idx") == virtio::featureEventIdx);
	CHECK(vhost::featureBit("VERSION_1") == VIRTIO_F_VERSION_1);
	CHECK_FALSE(vhost::featureBit("NOPE"));
}
