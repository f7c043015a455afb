// SPDX-License-Identifier: GPL-2.0
/*
 * An in-process virtio-blk device behind a vhost::BlkTransport, so that
 * virtio::BlkDriver and the I/O engine of run and bench can be tested
 * without a kernel.  It plays /dev/vhost-blk: the rings and buffers are in
 * this process's memory (the memory table maps guest addresses to it), a
 * thread per queue waits on the kick eventfd once the backend is attached,
 * serves IN, OUT, FLUSH and GET_ID on a disk in memory, and signals the
 * call eventfd.  Offered VIRTIO_F_RING_PACKED (a constructor argument) and
 * acked, it serves packed rings through the reference device of
 * packed_ref.hpp.  Without EVENT_IDX every kick happens, and every call
 * the driver's event area does not DISABLE.  Offered VIRTIO_RING_F_EVENT_IDX
 * as well, for packed rings only (acked with a split ring it is refused),
 * it asks for a kick at the next slot it will read before it sleeps, and
 * calls only when the driver's event area asks, as a real device does
 * while the driver runs.
 */
#pragma once

#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <poll.h>
#include <set>
#include <thread>
#include <unistd.h>
#include <vector>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "packed_ref.hpp"
#include "vhostctl/blk_request.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/eventfd.hpp"
#include "vhostctl/kernel_transport.hpp"
#include "vhostctl/le.hpp"
#include "vhostctl/split_queue.hpp"

namespace test {

/* What the devices of one test share: the disk, and what to fail. */
struct FakeDisk {
	explicit FakeDisk(std::size_t bytes) : data(bytes) {}

	std::mutex mutex;
	std::vector<std::byte> data;
	/* Requests that touch these sectors complete with IOERR. */
	std::set<uint64_t> badSectors;
	/* The next request is reported as a malformed ring instead. */
	std::atomic<bool> malformed{false};
	/* Packed: the next request is used with a buffer id past the ring. */
	std::atomic<bool> badUsedId{false};
	std::atomic<uint64_t> requests{0};
	std::atomic<uint64_t> reads{0}, writes{0};
	/* Packed: calls signalled, and those the driver's event area did not want. */
	std::atomic<uint64_t> calls{0}, callsSuppressed{0};
	/* The features the last device was given (VHOST_SET_FEATURES). */
	std::atomic<uint64_t> acked{0};
};

class FakeBlkDevice final : public vhost::BlkTransport
{
public:
	static constexpr uint64_t offered = (1ULL << VIRTIO_F_VERSION_1) |
					    (1ULL << VIRTIO_BLK_F_FLUSH) |
					    (1ULL << VIRTIO_BLK_F_MQ);

	/*
	 * @extra: features offered besides @offered (VIRTIO_F_RING_PACKED,
	 * and VIRTIO_RING_F_EVENT_IDX with it, say).
	 */
	explicit FakeBlkDevice(FakeDisk &disk, uint64_t extra = 0)
		: disk_(disk), offered_(offered | extra), vqs_(64)
	{}
	~FakeBlkDevice() override { close(); }

	std::string name() const override { return "fake-blk"; }
	void setOwner() override {}
	uint64_t features() override { return offered_; }
	void setFeatures(uint64_t f) override
	{
		if (f & ~offered_)
			throw vhost::Error(EOPNOTSUPP, "VHOST_SET_FEATURES");
		if ((f & (1ULL << virtio::featureEventIdx)) &&
		    !(f & (1ULL << virtio::featureRingPacked)))
			throw vhost::Error(EOPNOTSUPP,
					   "fake device: EVENT_IDX only on packed rings");
		acked_ = f;
		disk_.acked = f;
	}
	uint64_t acked() const noexcept { return acked_; }
	void setMemTable(std::span<const vhost::MemRegion> regions) override
	{
		table_.assign(regions.begin(), regions.end());
	}
	/* A packed ring's device state goes with its size, addresses and base. */
	void setVringNum(unsigned int i, unsigned int num) override
	{
		vqs_.at(i).num = num;
		vqs_.at(i).ref.reset();
	}
	void setVringAddr(unsigned int i, const vhost::VringAddr &a) override
	{
		vqs_.at(i).addr = a;
		vqs_.at(i).ref.reset();
	}
	void setVringBase(unsigned int i, unsigned int base) override
	{
		vqs_.at(i).lastAvail = static_cast<uint16_t>(base);
		vqs_.at(i).base = base;
		vqs_.at(i).ref.reset();
	}
	unsigned int getVringBase(unsigned int i) override
	{
		Vq &q = vqs_.at(i);
		/* Between two batches, as the kernel stops a ring before it answers. */
		std::lock_guard lock(q.mutex);
		if (packed())
			return q.ref ? q.ref->base().encode() : q.base;
		return q.lastAvail;
	}
	void setVringKick(unsigned int i, int fd) override { vqs_.at(i).kick = ::dup(fd); }
	void setVringCall(unsigned int i, int fd) override { vqs_.at(i).call = ::dup(fd); }
	void setVringErr(unsigned int i, int fd) override { vqs_.at(i).err = ::dup(fd); }
	void enableVring(unsigned int, bool) override {}
	void close() noexcept override
	{
		stop_.signal();
		for (auto &t : threads_)
			t.join();
		threads_.clear();
		/* The backend may be attached again (a bridge's rings set up again). */
		stop_.consume();
	}

	void setBackend(int) override
	{
		for (std::size_t i = 0; i < vqs_.size(); i++) {
			if (vqs_[i].num && vqs_[i].kick >= 0)
				threads_.emplace_back([this, i] { serve(vqs_[i]); });
		}
	}
	void detachBackend() override { close(); }
	void setSerial(std::string_view) override {}
	void setLimits(const virtio::blk::Limits &) override {}
	void setForkFromOwner(vhost::WorkerMode) override {}
	unsigned int newWorker() override { return ++workers_; }
	void attachVringWorker(unsigned int, unsigned int) override {}
	unsigned int getVringWorker(unsigned int) override { return 0; }
	void setVringBusyloopTimeout(unsigned int, unsigned int) override {}
	void setLogBase(uint64_t) override {}
	void setLogFd(int) override {}

private:
	struct Vq {
		unsigned int num = 0;
		vhost::VringAddr addr{0, 0, 0};
		uint16_t lastAvail = 0;
		uint16_t used = 0;
		/* VHOST_SET_VRING_BASE as given, and the packed ring's device. */
		unsigned int base = 0;
		std::unique_ptr<PackedRef> ref;
		/* Held by the thread serving the ring while it serves a batch. */
		std::mutex mutex;
		int kick = -1, call = -1, err = -1;

		Vq() = default;
		Vq(const Vq &) = delete;
		Vq &operator=(const Vq &) = delete;
		~Vq()
		{
			for (int fd : {kick, call, err})
				if (fd >= 0)
					::close(fd);
		}
	};

	std::byte *host(uint64_t gpa, uint64_t len) const
	{
		for (const auto &r : table_) {
			if (gpa >= r.guestPhysAddr && gpa - r.guestPhysAddr < r.size &&
			    len <= r.size - (gpa - r.guestPhysAddr))
				return reinterpret_cast<std::byte *>(r.userAddr +
								     (gpa - r.guestPhysAddr));
		}
		throw vhost::Error(EFAULT, "fake device: a buffer outside guest memory");
	}

	static std::byte *at(uint64_t addr, std::size_t offset)
	{
		return reinterpret_cast<std::byte *>(addr) + offset;
	}

	bool packed() const noexcept { return acked_ & (1ULL << virtio::featureRingPacked); }

	/* The buffers of the split chain at @head. */
	std::vector<virtio::Buffer> splitChain(Vq &q, uint16_t head)
	{
		std::vector<virtio::Buffer> chain;
		for (uint16_t d = head;;) {
			std::byte *desc = at(q.addr.desc, 16 * d);
			uint64_t gpa = vhost::le::load<uint64_t>(desc);
			uint32_t len = vhost::le::load<uint32_t>(desc + 8);
			uint16_t flags = vhost::le::load<uint16_t>(desc + 12);
			chain.push_back({gpa, len, (flags & virtio::descFWrite) != 0});
			if (!(flags & virtio::descFNext))
				break;
			d = vhost::le::load<uint16_t>(desc + 14);
		}
		return chain;
	}

	/* Serve one request; returns the bytes written into the driver's buffers. */
	uint32_t request(const std::vector<virtio::Buffer> &bufs)
	{
		struct Buf {
			std::byte *p;
			uint32_t len;
			bool write;
		};
		std::vector<Buf> chain;
		for (const auto &b : bufs)
			chain.push_back({host(b.gpa, b.len), b.len, b.deviceWritable});
		auto h = virtio::blk::decodeHeader(
			std::span<const std::byte, virtio::blk::headerSize>(
				chain.front().p, virtio::blk::headerSize));
		Buf &status = chain.back();
		uint64_t offset = h.sector * virtio::blk::sectorSize;
		uint8_t st = virtio::blk::StatusOk;
		uint32_t written = 1;
		std::lock_guard lock(disk_.mutex);
		disk_.requests++;
		for (std::size_t i = 1; i + 1 < chain.size(); i++) {
			Buf &b = chain[i];
			uint64_t first = offset / virtio::blk::sectorSize;
			for (uint64_t s = first; s < first + b.len / virtio::blk::sectorSize; s++)
				if (disk_.badSectors.count(s))
					st = virtio::blk::StatusIoErr;
			if (offset + b.len > disk_.data.size())
				st = virtio::blk::StatusIoErr;
			if (st != virtio::blk::StatusOk)
				break;
			if (h.type == static_cast<uint32_t>(virtio::blk::Type::In)) {
				std::memcpy(b.p, disk_.data.data() + offset, b.len);
				written += b.len;
				disk_.reads++;
			} else if (h.type == static_cast<uint32_t>(virtio::blk::Type::Out)) {
				std::memcpy(disk_.data.data() + offset, b.p, b.len);
				disk_.writes++;
			}
			offset += b.len;
		}
		*status.p = static_cast<std::byte>(st);
		return st == virtio::blk::StatusOk ? written : 1;
	}

	/* Serve every buffer the driver made available; false: serve no more. */
	bool servePackedBatch(Vq &q)
	{
		uint64_t one = 1;
		while (auto c = q.ref->pop()) {
			if (disk_.malformed.exchange(false)) {
				(void)!::write(q.err, &one, sizeof(one));
				continue;
			}
			if (disk_.badUsedId.exchange(false)) {
				/* Then serve no more: the next would overwrite it. */
				q.ref->writeUsedRaw(static_cast<uint16_t>(q.num), 1,
						    q.ref->usedFlagsNow());
				(void)!::write(q.call, &one, sizeof(one));
				return false;
			}
			if (q.ref->push(*c, request(c->bufs))) {
				disk_.calls++;
				(void)!::write(q.call, &one, sizeof(one));
			} else {
				disk_.callsSuppressed++;
			}
		}
		return true;
	}

	/*
	 * A packed ring, through the reference device.  With EVENT_IDX the
	 * device area asks for a kick at the next slot to read, and the ring
	 * is looked at once more after that: a buffer made available
	 * meanwhile was not kicked for.
	 */
	void servePacked(Vq &q)
	{
		bool eventIdx = acked_ & (1ULL << virtio::featureEventIdx);
		if (!q.ref) {
			q.ref = std::make_unique<PackedRef>(q.addr, q.num, eventIdx);
			q.ref->setBase(virtio::PackedVringBase::decode(q.base));
		}
		for (;;) {
			std::array<struct pollfd, 2> pfd = {
				{{q.kick, POLLIN, 0}, {stop_.fd(), POLLIN, 0}}};
			if (::poll(pfd.data(), 2, -1) < 0 || pfd[1].revents)
				return;
			vhost::drain(q.kick);
			std::lock_guard lock(q.mutex);
			do {
				if (!servePackedBatch(q))
					return;
				if (!eventIdx)
					break;
				q.ref->wantKickAt(0);
				/* The request before looking at the ring again. */
				std::atomic_thread_fence(std::memory_order_seq_cst);
			} while (q.ref->hasAvail());
		}
	}

	void serve(Vq &q)
	{
		if (packed())
			return servePacked(q);
		std::byte *avail = at(q.addr.avail, 0);
		std::byte *used = at(q.addr.used, 0);
		auto availIdx = [&] {
			return vhost::le::convert(
				std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t *>(avail + 2))
					.load(std::memory_order_acquire));
		};
		for (;;) {
			std::array<struct pollfd, 2> pfd = {
				{{q.kick, POLLIN, 0}, {stop_.fd(), POLLIN, 0}}};
			if (::poll(pfd.data(), 2, -1) < 0 || pfd[1].revents)
				return;
			vhost::drain(q.kick);
			std::lock_guard lock(q.mutex);
			while (q.lastAvail != availIdx()) {
				uint16_t head = vhost::le::load<uint16_t>(
					avail + 4 + 2 * (q.lastAvail % q.num));
				q.lastAvail++;
				if (disk_.malformed.exchange(false)) {
					uint64_t one = 1;
					(void)!::write(q.err, &one, sizeof(one));
					continue;
				}
				uint32_t len = request(splitChain(q, head));
				std::byte *e = used + 4 + 8 * (q.used % q.num);
				vhost::le::store<uint32_t>(e, head);
				vhost::le::store<uint32_t>(e + 4, len);
				q.used++;
				std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t *>(used + 2))
					.store(vhost::le::convert(q.used),
					       std::memory_order_release);
				uint64_t one = 1;
				(void)!::write(q.call, &one, sizeof(one));
			}
		}
	}

	FakeDisk &disk_;
	uint64_t offered_;
	uint64_t acked_ = 0;
	std::vector<vhost::MemRegion> table_;
	std::vector<Vq> vqs_;
	std::vector<std::thread> threads_;
	vhost::EventFd stop_;
	unsigned int workers_ = 0;
};

} // namespace test
