// SPDX-License-Identifier: GPL-2.0
/*
 * The adaptive worker layout's policy (vhostctl/auto_layout.hpp), fed
 * synthetic counters: it spreads a saturated worker's virtqueues, gathers
 * idle ones, waits for a condition to hold, never moves a virtqueue out of
 * the pool, and stays put between its two thresholds.
 */
#include <algorithm>
#include <map>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "fake_kernel_device.hpp"
#include "vhostctl/auto_layout.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/worker_layout.hpp"

using vhost::AutoLayout;
using vhost::LayoutMove;
using vhost::LayoutSample;

namespace {

/*
 * A device whose workers' busy time and virtqueues' requests grow by the
 * given fraction of each 0.25 s interval and rate, with the virtqueues
 * where the policy put them.
 */
struct Sim {
	AutoLayout &layout;
	LayoutSample s;

	explicit Sim(AutoLayout &l) : layout(l) { s.requests.assign(l.serving().size(), 0); }

	/* @busy per worker id (a fraction of the interval), @rate per vq (req/s). */
	std::vector<LayoutMove> step(const std::map<uint32_t, double> &busy,
				     const std::vector<double> &rate)
	{
		s.at += 0.25;
		for (const auto &[w, b] : busy)
			s.busyNs[w] += static_cast<uint64_t>(b * 0.25e9);
		for (std::size_t q = 0; q < rate.size(); q++)
			s.requests[q] += static_cast<uint64_t>(rate[q] * 0.25);
		return layout.decide(s);
	}
};

} // namespace

TEST_CASE("auto layout: a saturated worker with two busy vqs gives one away", "[auto]")
{
	AutoLayout layout({0, 1}, {0, 0});
	Sim sim(layout);

	CHECK(sim.step({{0, 1.0}, {1, 0}}, {40000, 40000}).empty());  /* the first sample */
	CHECK(sim.step({{0, 0.97}, {1, 0}}, {40000, 40000}).empty()); /* patience: 1 of 2 */
	auto moves = sim.step({{0, 0.95}, {1, 0}}, {40000, 41000});
	REQUIRE(moves.size() == 1);
	CHECK(moves[0].worker == 1);
	CHECK(layout.serving()[moves[0].vq] == 1);
	CHECK(layout.serving()[1 - moves[0].vq] == 0);
	CHECK(layout.moves() == 1);
	/* Spread, each worker busy 60%: one vq each, nothing more to do. */
	for (int i = 0; i < 8; i++)
		CHECK(sim.step({{0, 0.6}, {1, 0.6}}, {50000, 50000}).empty());
	CHECK(layout.moves() == 1);
}

TEST_CASE("auto layout: four vqs on one saturated worker spread one at a time", "[auto]")
{
	AutoLayout layout({0, 1, 2, 3}, {0, 0, 0, 0});
	Sim sim(layout);
	std::vector<double> rate(4, 20000);

	sim.step({{0, 1}}, rate);
	unsigned int steps = 0;
	while (layout.moves() < 3 && steps++ < 20) {
		/* Each worker is saturated in proportion to the vqs it serves. */
		std::map<uint32_t, double> busy;
		for (uint32_t w : layout.serving())
			busy[w] = 0;
		for (uint32_t w : layout.serving())
			busy[w] += 0.45;
		for (auto &[w, b] : busy)
			b = std::min(b, 1.0);
		auto moves = sim.step(busy, rate);
		CHECK(moves.size() <= 1);
	}
	/* Two vqs per worker at 0.9, then one each: four workers, one vq each. */
	auto serving = layout.serving();
	std::sort(serving.begin(), serving.end());
	CHECK(serving == std::vector<uint32_t>{0, 1, 2, 3});
	CHECK(layout.moves() == 3);
}

TEST_CASE("auto layout: idle vqs spread over workers gather onto the busiest", "[auto]")
{
	AutoLayout layout({0, 1, 2}, {0, 1, 2});
	Sim sim(layout);

	sim.step({{0, 0.05}, {1, 0.08}, {2, 0.02}}, {500, 800, 200});
	CHECK(sim.step({{0, 0.05}, {1, 0.08}, {2, 0.02}}, {500, 800, 200}).empty());
	auto moves = sim.step({{0, 0.05}, {1, 0.08}, {2, 0.02}}, {500, 800, 200});
	REQUIRE(moves.size() == 2);
	CHECK(layout.serving() == std::vector<uint32_t>{1, 1, 1});
	/* Gathered, 15% busy: below the spread threshold, it stays. */
	for (int i = 0; i < 8; i++)
		CHECK(sim.step({{1, 0.15}}, {500, 800, 200}).empty());
}

TEST_CASE("auto layout: between the thresholds nothing moves", "[auto]")
{
	SECTION("spread, moderately busy")
	{
		AutoLayout layout({0, 1}, {0, 1});
		Sim sim(layout);
		for (int i = 0; i < 10; i++)
			CHECK(sim.step({{0, 0.4}, {1, 0.4}}, {10000, 10000}).empty());
	}
	SECTION("gathered, busy under the spread threshold")
	{
		AutoLayout layout({0, 1}, {0, 0});
		Sim sim(layout);
		for (int i = 0; i < 10; i++)
			CHECK(sim.step({{0, 0.45}}, {10000, 10000}).empty());
	}
	SECTION("one busy vq on a saturated worker has nothing to give")
	{
		AutoLayout layout({0, 1}, {0, 0});
		Sim sim(layout);
		for (int i = 0; i < 10; i++)
			CHECK(sim.step({{0, 1.0}}, {90000, 0}).empty());
	}
}

TEST_CASE("auto layout: a condition that lapses starts its count again", "[auto]")
{
	AutoLayout layout({0, 1}, {0, 0});
	Sim sim(layout);

	sim.step({{0, 1}}, {1, 1});
	for (int i = 0; i < 5; i++) {
		CHECK(sim.step({{0, 1.0}}, {40000, 40000}).empty()); /* 1 of 2 */
		CHECK(sim.step({{0, 0.3}}, {40000, 40000}).empty()); /* lapsed */
	}
	CHECK(layout.moves() == 0);
}

TEST_CASE("auto layout: counters that go back or a clock that stands still are no sample", "[auto]")
{
	AutoLayout layout({0, 1}, {0, 0});
	LayoutSample s;
	s.requests = {100, 100};
	s.busyNs = {{0, 1000}};
	s.at = 1;
	CHECK(layout.decide(s).empty());
	CHECK(layout.decide(s).empty()); /* same time */
	s.at = 2;
	s.requests = {50, 50}; /* a reset device */
	s.busyNs = {{0, 10}};
	CHECK(layout.decide(s).empty());
	s.requests = {1}; /* the wrong number of vqs */
	s.at = 3;
	CHECK(layout.decide(s).empty());
	CHECK(layout.moves() == 0);
}

TEST_CASE("auto layout: a worker outside the pool is refused", "[auto]")
{
	CHECK_THROWS_AS(AutoLayout({}, {}), vhost::Error);
	CHECK_THROWS_AS(AutoLayout({0, 1}, {0, 7}), vhost::Error);
}

TEST_CASE("auto layout: applyLayout makes a pool of one worker per vq, all on the first", "[auto]")
{
	test::FakeKernel kernel;
	auto dev = kernel.factory()();
	std::vector<unsigned int> pool;

	dev->setOwner();
	auto serving = vhost::applyLayout(*dev, 3,
					  vhost::WorkerLayout{vhost::WorkerLayout::Auto, 0}, &pool);
	REQUIRE(pool.size() == 3);
	CHECK(serving == std::vector<unsigned int>(3, pool[0]));
	CHECK(vhost::WorkerLayout::parse("auto")->kind == vhost::WorkerLayout::Auto);
	CHECK(vhost::WorkerLayout::parse("auto")->text() == "auto");
}

TEST_CASE("auto layout: it starts from where the kernel has the vqs", "[auto]")
{
	/* The policy put both on worker 0; an administrator moved vq 1 to 2. */
	AutoLayout layout({0, 1, 2}, {0, 0});
	Sim sim(layout);

	sim.s.serving = {0, 2};
	sim.step({{0, 0.6}, {2, 0.6}}, {30000, 30000});
	/* Two busy workers with one vq each: nothing to spread, nothing undone. */
	for (int i = 0; i < 6; i++)
		CHECK(sim.step({{0, 0.6}, {2, 0.6}}, {30000, 30000}).empty());
	CHECK(layout.serving() == std::vector<uint32_t>{0, 2});
	/* A worker outside the pool: the kernel's word is not taken. */
	sim.s.serving = {0, 9};
	sim.step({{0, 0.6}}, {30000, 30000});
	CHECK(layout.serving() == std::vector<uint32_t>{0, 2});
}

TEST_CASE("auto layout: a failed move is not counted; restart forgets the last sample", "[auto]")
{
	AutoLayout layout({0, 1}, {0, 0});
	Sim sim(layout);

	sim.step({{0, 1}}, {40000, 40000});
	sim.step({{0, 1}}, {40000, 40000});
	auto moves = sim.step({{0, 1}}, {40000, 40000});
	REQUIRE(moves.size() == 1);
	layout.moveFailed(moves[0], 0);
	CHECK(layout.moves() == 0);
	CHECK(layout.serving() == std::vector<uint32_t>{0, 0});

	/* After a restart the next sample is a first one again. */
	layout.restart();
	CHECK(sim.step({{0, 1}}, {40000, 40000}).empty());
	CHECK(sim.step({{0, 1}}, {40000, 40000}).empty());
	CHECK(sim.step({{0, 1}}, {40000, 40000}).size() == 1);
}
