// SPDX-License-Identifier: GPL-2.0
/*
 * Names of virtio feature bits: the transport's (VERSION_1, EVENT_IDX, ...),
 * virtio-blk's (FLUSH, MQ, DISCARD, ...) and vhost's (LOG_ALL).
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vhost {

struct FeatureBit {
	unsigned int bit;
	std::string name;
	bool known;
};

/* The name of feature bit @bit of a block device, if it has one. */
std::optional<std::string_view> featureName(unsigned int bit);

/* The bit of the feature called @name ("EVENT_IDX", case-insensitive). */
std::optional<unsigned int> featureBit(std::string_view name);

/* Every bit set in @mask, lowest first; unknown ones named "bit N". */
std::vector<FeatureBit> decodeFeatures(uint64_t mask);

/* The names of decodeFeatures(@mask) joined with single spaces. */
std::string featureNames(uint64_t mask);

} // namespace vhost
