// SPDX-License-Identifier: GPL-2.0
/*
 * operator new and delete of the unit tests, with a failure to inject (see
 * alloc_hook.hpp).  Every block carries a header saying whether it was made
 * while armed; the count of those still live is kept until the next arm().
 */
#include "alloc_hook.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace test::alloc {

namespace {

std::atomic<bool> armed{false};
std::atomic<long> countdown{-1};
std::atomic<long> alive{0};

/* max_align_t's size: the block after it keeps the alignment malloc gives. */
constexpr std::size_t headerSize = alignof(std::max_align_t);
constexpr unsigned int tagCounted = 0x51a70c;

void *allocate(std::size_t n)
{
	bool counted = armed.load(std::memory_order_relaxed);

	if (counted && countdown.fetch_sub(1) == 0)
		throw std::bad_alloc();
	auto *p = static_cast<unsigned char *>(std::malloc(n + headerSize));
	if (!p)
		throw std::bad_alloc();
	*reinterpret_cast<unsigned int *>(p) = counted ? tagCounted : 0;
	if (counted)
		alive++;
	return p + headerSize;
}

void release(void *ptr) noexcept
{
	if (!ptr)
		return;
	auto *p = static_cast<unsigned char *>(ptr) - headerSize;
	if (*reinterpret_cast<unsigned int *>(p) == tagCounted)
		alive--;
	std::free(p);
}

} // namespace

void arm(std::size_t n) noexcept
{
	alive = 0;
	countdown = static_cast<long>(n);
	armed = true;
}

void disarm() noexcept
{
	armed = false;
	countdown = -1;
}

long live() noexcept
{
	return alive.load();
}

} // namespace test::alloc

void *operator new(std::size_t n)
{
	return test::alloc::allocate(n);
}

void *operator new[](std::size_t n)
{
	return test::alloc::allocate(n);
}

void operator delete(void *p) noexcept
{
	test::alloc::release(p);
}

void operator delete[](void *p) noexcept
{
	test::alloc::release(p);
}

void operator delete(void *p, std::size_t) noexcept
{
	test::alloc::release(p);
}

void operator delete[](void *p, std::size_t) noexcept
{
	test::alloc::release(p);
}
