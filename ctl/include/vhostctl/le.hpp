// SPDX-License-Identifier: GPL-2.0
/*
 * The one little-endian codec of libvhostctl.  Virtio's structures (the
 * rings, the request header, the config space) are little endian; the
 * vhost-user wire format is in the host's byte order, which is little endian
 * on every host this project builds for (vhost_user.cpp asserts it).  Loads
 * and stores go through memcpy: the bytes need not be aligned.
 */
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>

namespace vhost::le {

/* @v from the host's order to little endian, or back. */
template <std::unsigned_integral T>
constexpr T convert(T v) noexcept
{
	if constexpr (std::endian::native == std::endian::little || sizeof(T) == 1) {
		return v;
	} else {
		T out = 0;

		for (std::size_t i = 0; i < sizeof(T); i++, v >>= 8)
			out = static_cast<T>((out << 8) | (v & 0xff));
		return out;
	}
}

template <std::unsigned_integral T>
void store(std::byte *p, T v) noexcept
{
	v = convert(v);
	std::memcpy(p, &v, sizeof(v));
}

template <std::unsigned_integral T>
T load(const std::byte *p) noexcept
{
	T v;

	std::memcpy(&v, p, sizeof(v));
	return convert(v);
}

/* The same at byte @at of @bytes; std::out_of_range past its end. */
template <std::unsigned_integral T>
void store(std::span<std::byte> bytes, std::size_t at, T v)
{
	if (at > bytes.size() || sizeof(T) > bytes.size() - at)
		throw std::out_of_range("le::store past the end");
	store(bytes.data() + at, v);
}

template <std::unsigned_integral T>
T load(std::span<const std::byte> bytes, std::size_t at)
{
	if (at > bytes.size() || sizeof(T) > bytes.size() - at)
		throw std::out_of_range("le::load past the end");
	return load<T>(bytes.data() + at);
}

} // namespace vhost::le
