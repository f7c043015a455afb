// SPDX-License-Identifier: GPL-2.0
/* A StateSource with canned netlink state, for driving vhostctl in tests. */
#pragma once

#include <cerrno>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "cli.hpp"
#include "vhostctl/error.hpp"

namespace test {

class FakeState : public vhostctl::StateSource
{
public:
	std::vector<nl::DevInfo> devs;
	std::vector<nl::WorkerInfo> workerList;
	std::vector<nl::VqInfo> vqList;
	std::vector<std::tuple<uint32_t, uint32_t, uint32_t>> attached;
	int attachErrno = 0;

	std::vector<nl::DevInfo> devices() override { return devs; }
	std::vector<nl::WorkerInfo> workers(std::optional<uint32_t> dev) override
	{
		std::vector<nl::WorkerInfo> out;
		for (const auto &w : workerList) {
			if (!dev || w.devId == *dev)
				out.push_back(w);
		}
		return out;
	}
	std::vector<nl::VqInfo> vqs(std::optional<uint32_t> dev) override
	{
		std::vector<nl::VqInfo> out;
		for (const auto &v : vqList) {
			if (!dev || v.devId == *dev)
				out.push_back(v);
		}
		return out;
	}
	void attachVq(uint32_t dev, uint32_t vq, uint32_t worker) override
	{
		if (attachErrno)
			throw vhost::Error(attachErrno, "VHOST_BLK_CMD_VQ_ATTACH");
		attached.emplace_back(dev, vq, worker);
	}

	/* Device 1 with two vqs on workers 1 and 2, device 2 idle on worker 0. */
	static FakeState sample()
	{
		FakeState s;
		nl::DevInfo d1;
		d1.id = 1;
		d1.ownerPid = 500;
		d1.ownerTid = 500;
		d1.ownerUid = 0;
		d1.backend = "/tmp/disk.img";
		d1.backendSize = 64ULL << 20;
		d1.features = 0x130000000ULL;
		d1.numVqs = 2;
		d1.numWorkers = 3;
		d1.workerMode = 1;
		/* What the module reports of the limits in force and the serial. */
		d1.capacity = 131072;
		d1.readOnly = false;
		d1.sizeMax = 0;
		d1.segMax = 126;
		d1.maxDiscardSectors = 4194304;
		d1.maxDiscardSeg = 1;
		d1.maxWriteZeroesSectors = 4194304;
		d1.maxWriteZeroesSeg = 1;
		d1.serial = "disk-1";
		nl::DevInfo d2;
		d2.id = 2;
		d2.numVqs = 1;
		s.devs = {d1, d2};
		s.workerList = {
			{1, 0, 501, {}, 1, 100, 1},
			{1, 1, 502, {0}, 1000, 2000000, 10},
			{1, 2, 503, {1}, 2000, 4000000, 20},
			{2, 0, 601, {0}, 0, 0, 0},
		};
		s.vqList = {
			{1, 0, 1u, 128, true, 10, 100, 409600, 2, 0},
			{1, 1, 2u, 128, true, 20, 200, 819200, 0, 0},
			{2, 0, std::nullopt, 1, false, 0, 0, 0, 0, 0},
		};
		/* vq 0 of device 1: 100 reads, latency histograms of both kinds. */
		nl::Histogram service, queue;
		service.op = 0;
		service.buckets[5] = 10;  /* [16, 32) us */
		service.buckets[6] = 80;  /* [32, 64) us */
		service.buckets[10] = 10; /* [512, 1024) us */
		service.sumNs = 9000000;
		service.maxNs = 900000;
		queue = service;
		queue.kind = nl::HistKind::queue;
		queue.buckets = {};
		queue.buckets[1] = 100; /* [1, 2) us */
		queue.sumNs = 150000;
		queue.maxNs = 1900;
		s.vqList[0].hists = {queue, service};
		return s;
	}
};

/* Hands the tool a view of a FakeState the test keeps. */
class Forward : public vhostctl::StateSource
{
public:
	explicit Forward(FakeState &state) : s_(state) {}
	std::vector<nl::DevInfo> devices() override { return s_.devices(); }
	std::vector<nl::WorkerInfo> workers(std::optional<uint32_t> dev) override
	{
		return s_.workers(dev);
	}
	std::vector<nl::VqInfo> vqs(std::optional<uint32_t> dev) override { return s_.vqs(dev); }
	void attachVq(uint32_t dev, uint32_t vq, uint32_t worker) override
	{
		s_.attachVq(dev, vq, worker);
	}

private:
	FakeState &s_;
};

/* Run vhostctl with @args on @state; stdout and stderr are captured. */
struct Run {
	int status;
	std::string out;
	std::string err;
};

inline Run tool(FakeState &state, std::vector<std::string> args)
{
	std::ostringstream out, err;
	vhostctl::Context ctx(out, err, [&state]() -> std::unique_ptr<vhostctl::StateSource> {
		return std::make_unique<Forward>(state);
	});
	int status = vhostctl::main(ctx, args);
	return {status, out.str(), err.str()};
}

/* Run vhostctl on a system without the module: the family cannot be resolved. */
inline Run toolNoModule(std::vector<std::string> args)
{
	std::ostringstream out, err;
	vhostctl::Context ctx(out, err, []() -> std::unique_ptr<vhostctl::StateSource> {
		throw vhost::Error(ENOENT, "generic netlink family vhost_blk");
	});
	int status = vhostctl::main(ctx, args);
	return {status, out.str(), err.str()};
}

} // namespace test
