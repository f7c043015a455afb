// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/auto_layout.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>

#include <fmt/format.h>

#include "vhostctl/error.hpp"

namespace vhost {

AutoLayout::AutoLayout(std::vector<uint32_t> pool, std::vector<uint32_t> serving,
		       AutoLayoutPolicy policy)
	: pool_(std::move(pool)), serving_(std::move(serving)), policy_(policy)
{
	if (pool_.empty())
		throw Error(EINVAL, "an adaptive layout needs a pool of workers");
	for (uint32_t w : serving_) {
		if (std::find(pool_.begin(), pool_.end(), w) == pool_.end())
			throw Error(
				EINVAL,
				fmt::format("worker {} serves a virtqueue but is not in the pool",
					    w));
	}
}

std::vector<LayoutMove> AutoLayout::decide(const LayoutSample &s)
{
	if (!last_ || s.at <= last_->at || s.requests.size() != serving_.size() ||
	    last_->requests.size() != s.requests.size()) {
		last_ = s;
		spreadFor_ = 0;
		consolidateFor_ = 0;
		return {};
	}
	/* Where the kernel has the virtqueues, when every one is in the pool. */
	if (s.serving.size() == serving_.size() &&
	    std::all_of(s.serving.begin(), s.serving.end(), [this](uint32_t w) {
		    return std::find(pool_.begin(), pool_.end(), w) != pool_.end();
	    }))
		serving_ = s.serving;
	const double dt = s.at - last_->at;
	std::map<uint32_t, double> busy;
	for (uint32_t w : pool_) {
		const auto &was = last_->busyNs;
		auto now = s.busyNs.find(w);
		auto before = was.find(w);
		double b = 0;
		if (now != s.busyNs.end() && before != was.end() && now->second >= before->second)
			b = static_cast<double>(now->second - before->second) / 1e9 / dt;
		busy[w] = std::clamp(b, 0.0, 1.0);
	}
	std::vector<double> rate(serving_.size());
	for (std::size_t q = 0; q < rate.size(); q++) {
		if (s.requests[q] >= last_->requests[q])
			rate[q] = static_cast<double>(s.requests[q] - last_->requests[q]) / dt;
	}
	last_ = s;

	/* The busy virtqueues of each worker. */
	std::map<uint32_t, std::vector<unsigned int>> active;
	for (std::size_t q = 0; q < rate.size(); q++) {
		if (rate[q] > 0)
			active[serving_[q]].push_back(static_cast<unsigned int>(q));
	}
	std::optional<uint32_t> hot;
	double total = 0;
	for (const auto &[w, qs] : active) {
		total += busy[w];
		if (qs.size() >= 2 && busy[w] >= policy_.spreadAbove &&
		    (!hot || busy[w] > busy[*hot]))
			hot = w;
	}
	bool gather = active.size() >= 2 && total < policy_.consolidateBelow;
	spreadFor_ = hot ? spreadFor_ + 1 : 0;
	consolidateFor_ = gather ? consolidateFor_ + 1 : 0;

	std::vector<LayoutMove> moves;
	if (hot && spreadFor_ >= policy_.patience) {
		/* The worker to spread to: one with no busy virtqueue, else the idlest. */
		std::optional<uint32_t> to;
		for (uint32_t w : pool_) {
			if (w == *hot)
				continue;
			auto n = active.contains(w) ? active[w].size() : 0;
			auto best = (to && active.contains(*to)) ? active[*to].size() : 0;
			if (!to || n < best || (n == best && busy[w] < busy[*to]))
				to = w;
		}
		bool roomy = to && (!active.contains(*to) || busy[*to] < policy_.spreadAbove / 2);
		if (roomy) {
			/* Give away the virtqueue nearest half of the worker's load. */
			const auto &qs = active[*hot];
			double sum = 0;
			for (unsigned int q : qs)
				sum += rate[q];
			unsigned int give = qs[1];
			for (unsigned int q : qs) {
				if (std::abs(rate[q] - sum / 2) < std::abs(rate[give] - sum / 2))
					give = q;
			}
			moves.push_back({give, *to});
		}
	} else if (gather && consolidateFor_ >= policy_.patience) {
		/* Onto the busiest worker: what moves is what was least busy. */
		uint32_t home = active.begin()->first;
		for (const auto &[w, qs] : active) {
			if (busy[w] > busy[home])
				home = w;
		}
		for (std::size_t q = 0; q < serving_.size(); q++) {
			if (serving_[q] != home)
				moves.push_back({static_cast<unsigned int>(q), home});
		}
	}
	for (const LayoutMove &m : moves)
		serving_[m.vq] = m.worker;
	if (!moves.empty()) {
		moves_ += static_cast<unsigned int>(moves.size());
		spreadFor_ = 0;
		consolidateFor_ = 0;
	}
	return moves;
}

void AutoLayout::moveFailed(const LayoutMove &m, uint32_t stayed)
{
	if (m.vq < serving_.size())
		serving_[m.vq] = stayed;
	if (moves_)
		moves_--;
}

void AutoLayout::restart() noexcept
{
	last_.reset();
	spreadFor_ = 0;
	consolidateFor_ = 0;
}

} // namespace vhost
