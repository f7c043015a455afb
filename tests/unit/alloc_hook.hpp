// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failure on demand, for the tests that construct an object
 * while each of its allocations fails in turn: operator new of the test
 * program (alloc_hook.cpp) throws std::bad_alloc at the chosen allocation
 * while armed, and counts the allocations made while armed that are still
 * live, so that a test sees what a failed construction leaked.
 */
#pragma once

#include <cstddef>

namespace test::alloc {

/* Fail allocation number @n (0: the next one) from now on; count what lives. */
void arm(std::size_t n) noexcept;
/* Stop failing; the count stays. */
void disarm() noexcept;
/* Allocations made while armed that are not freed yet. */
long live() noexcept;

} // namespace test::alloc
