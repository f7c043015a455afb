// SPDX-License-Identifier: GPL-2.0
/*
 * A vhost::BlkTransport that records every call instead of issuing ioctls,
 * for driving the vhost-user backend without a kernel.  The devices
 * a factory opens share one FakeKernel, which outlives them.
 */
#pragma once

#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vhostctl/error.hpp"
#include "vhostctl/vhost_user_backend.hpp"

namespace test {

struct KernelCall {
	/* Which device (1 for the first opened), and what. */
	unsigned int dev = 0;
	std::string op;
	unsigned int index = 0;
	uint64_t a = 0, b = 0, c = 0;
};

constexpr uint64_t fakeBit(unsigned int n)
{
	return 1ULL << n;
}

class FakeKernel
{
public:
	/* What /dev/vhost-blk offers (Documentation/uapi.rst). */
	static constexpr uint64_t vhostBlkFeatures =
		fakeBit(VIRTIO_F_VERSION_1) | fakeBit(VIRTIO_F_ANY_LAYOUT) |
		fakeBit(VIRTIO_F_NOTIFY_ON_EMPTY) | fakeBit(VIRTIO_RING_F_INDIRECT_DESC) |
		fakeBit(VIRTIO_RING_F_EVENT_IDX) | fakeBit(VIRTIO_BLK_F_MQ) |
		fakeBit(VIRTIO_BLK_F_FLUSH) | fakeBit(VIRTIO_BLK_F_DISCARD) |
		fakeBit(VIRTIO_BLK_F_WRITE_ZEROES);

	uint64_t features = vhostBlkFeatures;
	/* VHOST_GET_VRING_BASE answers this. */
	unsigned int vringBase = 0;
	/* Failures to inject: each fails its op once, after @after calls of it pass. */
	struct Failure {
		std::string op;
		int err = EIO;
		unsigned int after = 0;
	};
	std::vector<Failure> failures;

	void fail(const std::string &op, int err = EIO, unsigned int after = 0)
	{
		std::lock_guard lock(mutex);
		failures.push_back({op, err, after});
	}

	mutable std::mutex mutex;
	std::vector<KernelCall> calls;
	unsigned int opened = 0, closed = 0;
	/* Duplicates of the last descriptor given per (op, vq), as the kernel keeps a reference. */
	std::map<std::pair<std::string, unsigned int>, vhost::UniqueFd> files;
	std::vector<vhost::MemRegion> memTable;

	/* What the open device holds, as the kernel would. */
	struct Vq {
		unsigned int num = 0;
		vhost::VringAddr addr{0, 0, 0};
		/* Addresses set when the backend came: the kernel serves it. */
		bool served = false;
	};
	std::vector<Vq> vqs = std::vector<Vq>(256);
	bool attached = false;
	/* VHOST_SET_FEATURES as last given: packed rings have other sizes. */
	uint64_t acked = 0;
	/* Broken invariants of a kernel that would touch bad memory. */
	std::vector<std::string> violations;

	/*
	 * With the backend attached, the kernel serves every ring whose
	 * addresses are set: each part of each must lie in a region of its
	 * memory table, at the ring's size, and each region must be mapped
	 * in this process.  Records a violation otherwise; the caller holds
	 * the mutex.  Checked when the backend is attached and, by the tests,
	 * after each message: within one (a new table, then the rings moved
	 * into it) the old mappings are still there.
	 */
	void checkLocked(const std::string &when)
	{
		for (const auto &r : memTable) {
			uintptr_t page = r.userAddr & ~uintptr_t(4095);
			if (::msync(reinterpret_cast<void *>(page), r.userAddr + r.size - page,
				    MS_ASYNC) < 0)
				violations.push_back(
					fmt::format("{}: region at {:#x}+{:#x} unmapped", when,
						    r.userAddr, r.size));
		}
		if (!attached)
			return;
		auto inTable = [this](uint64_t addr, uint64_t len) {
			for (const auto &r : memTable)
				if (addr >= r.userAddr && addr - r.userAddr < r.size &&
				    len <= r.size - (addr - r.userAddr))
					return true;
			return false;
		};
		for (std::size_t i = 0; i < vqs.size(); i++) {
			const Vq &v = vqs[i];
			if (!v.served)
				continue;
			uint64_t n = v.num;
			bool packed = acked & fakeBit(VIRTIO_F_RING_PACKED);
			uint64_t availLen = packed ? 4 : 6 + 2 * n,
				 usedLen = packed ? 4 : 6 + 8 * n;
			if (!n || !inTable(v.addr.desc, 16 * n) ||
			    !inTable(v.addr.avail, availLen) || !inTable(v.addr.used, usedLen))
				violations.push_back(fmt::format(
					"{}: vq {} of {} entries outside the table", when, i, n));
		}
	}
	void check(const std::string &when)
	{
		std::lock_guard lock(mutex);
		checkLocked(when);
	}

	vhost::user::KernelFactory factory()
	{
		return [this] { return std::make_unique<Device>(*this); };
	}

	std::vector<KernelCall> snapshot() const
	{
		std::lock_guard lock(mutex);
		return calls;
	}
	/* The ops in order, "setVringNum 0" for vring ones. */
	std::vector<std::string> ops(bool withIndex = true) const
	{
		std::vector<std::string> out;
		for (const auto &c : snapshot()) {
			bool vring = c.op.find("Vring") != std::string::npos;
			out.push_back(vring && withIndex ? c.op + " " + std::to_string(c.index)
							 : c.op);
		}
		return out;
	}
	std::size_t count(const std::string &op) const
	{
		std::size_t n = 0;
		for (const auto &c : snapshot())
			n += c.op == op;
		return n;
	}
	/* The last call of @op (on vq @index, if given). */
	KernelCall last(const std::string &op, int index = -1) const
	{
		auto all = snapshot();
		for (auto it = all.rbegin(); it != all.rend(); ++it)
			if (it->op == op && (index < 0 || it->index == unsigned(index)))
				return *it;
		FAIL("no kernel call " << op);
		return {};
	}
	int file(const std::string &op, unsigned int index)
	{
		std::lock_guard lock(mutex);
		return files[{op, index}].get();
	}
	void clear()
	{
		std::lock_guard lock(mutex);
		calls.clear();
	}

private:
	class Device final : public vhost::BlkTransport
	{
	public:
		explicit Device(FakeKernel &k) : k_(k)
		{
			std::lock_guard lock(k_.mutex);
			id_ = ++k_.opened;
			k_.vqs.assign(256, {});
			k_.memTable.clear();
			k_.attached = false;
			k_.acked = 0;
		}
		~Device() override
		{
			std::lock_guard lock(k_.mutex);
			k_.closed++;
			k_.calls.push_back({id_, "close"});
			k_.vqs.assign(256, {});
			k_.memTable.clear();
			k_.attached = false;
		}
		std::string name() const override { return "fake"; }
		uint64_t features() override { return k_.features; }
		void setOwner() override { record("setOwner"); }
		void setFeatures(uint64_t f) override
		{
			if (f & ~k_.features)
				throw vhost::Error(EOPNOTSUPP, "VHOST_SET_FEATURES");
			record("setFeatures", 0, f);
			std::lock_guard lock(k_.mutex);
			k_.acked = f;
		}
		void setMemTable(std::span<const vhost::MemRegion> regions) override
		{
			record("setMemTable", 0, regions.size());
			std::lock_guard lock(k_.mutex);
			k_.memTable.assign(regions.begin(), regions.end());
		}
		void setVringNum(unsigned int i, unsigned int num) override
		{
			busyIfServed("setVringNum", i);
			record("setVringNum", i, num);
			std::lock_guard lock(k_.mutex);
			k_.vqs.at(i).num = num;
		}
		void setVringAddr(unsigned int i, const vhost::VringAddr &a) override
		{
			record("setVringAddr", i, a.desc, a.avail, a.used);
			std::lock_guard lock(k_.mutex);
			k_.vqs.at(i).addr = a;
		}
		void setVringBase(unsigned int i, unsigned int base) override
		{
			busyIfServed("setVringBase", i);
			record("setVringBase", i, base);
		}
		unsigned int getVringBase(unsigned int i) override
		{
			record("getVringBase", i);
			return k_.vringBase;
		}
		void setVringKick(unsigned int i, int fd) override { file("setVringKick", i, fd); }
		void setVringCall(unsigned int i, int fd) override { file("setVringCall", i, fd); }
		void setVringErr(unsigned int i, int fd) override { file("setVringErr", i, fd); }
		void setBackend(int fd) override
		{
			{
				std::lock_guard lock(k_.mutex);
				if (k_.attached)
					throw vhost::Error(EBUSY, "setBackend");
			}
			record("setBackend", 0, uint64_t(fd));
			std::lock_guard lock(k_.mutex);
			k_.attached = true;
			for (auto &v : k_.vqs)
				v.served = v.addr.desc && v.addr.avail && v.addr.used;
			k_.checkLocked("setBackend");
		}
		void detachBackend() override
		{
			record("detachBackend");
			std::lock_guard lock(k_.mutex);
			k_.attached = false;
			for (auto &v : k_.vqs)
				v.served = false;
		}
		void setSerial(std::string_view s) override { record("setSerial", 0, s.size()); }
		void setLimits(const virtio::blk::Limits &l) override
		{
			record("setLimits", 0, l.capacity, l.readOnly);
		}
		void enableVring(unsigned int, bool) override {}
		void close() noexcept override {}
		void setForkFromOwner(vhost::WorkerMode mode) override
		{
			record("setForkFromOwner", 0, static_cast<uint64_t>(mode));
		}
		unsigned int newWorker() override
		{
			record("newWorker");
			std::lock_guard lock(k_.mutex);
			return ++workers_;
		}
		void attachVringWorker(unsigned int i, unsigned int worker) override
		{
			record("attachVringWorker", i, worker);
		}
		unsigned int getVringWorker(unsigned int i) override
		{
			record("getVringWorker", i);
			return 0;
		}
		void setVringBusyloopTimeout(unsigned int i, unsigned int us) override
		{
			record("setVringBusyloopTimeout", i, us);
		}
		void setLogBase(uint64_t userAddr) override { record("setLogBase", 0, userAddr); }
		void setLogFd(int fd) override { file("setLogFd", 0, fd); }

	private:
		void record(const std::string &op, unsigned int index = 0, uint64_t a = 0,
			    uint64_t b = 0, uint64_t c = 0)
		{
			std::lock_guard lock(k_.mutex);
			for (auto it = k_.failures.begin(); it != k_.failures.end(); ++it) {
				if (it->op != op)
					continue;
				if (it->after) {
					it->after--;
					continue;
				}
				int err = it->err;
				k_.failures.erase(it);
				throw vhost::Error(err, op);
			}
			k_.calls.push_back({id_, op, index, a, b, c});
		}
		/* The kernel refuses to resize or rebase a ring while it serves it. */
		void busyIfServed(const std::string &op, unsigned int i)
		{
			std::lock_guard lock(k_.mutex);
			if (k_.vqs.at(i).served)
				throw vhost::Error(EBUSY, op);
		}
		void file(const std::string &op, unsigned int i, int fd)
		{
			record(op, i, uint64_t(int64_t(fd)));
			std::lock_guard lock(k_.mutex);
			k_.files[{op, i}] = vhost::UniqueFd(fd >= 0 ? ::dup(fd) : -1);
		}

		FakeKernel &k_;
		unsigned int id_ = 0;
		unsigned int workers_ = 0;
	};
};

} // namespace test
