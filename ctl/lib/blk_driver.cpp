// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/blk_driver.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "vhostctl/error.hpp"
#include "vhostctl/kernel_transport.hpp"
#include "vhostctl/packed_queue.hpp"
#include "vhostctl/split_queue.hpp"
#include "vhostctl/system.hpp"

namespace virtio {

namespace {

/* A slot's header block: the 16-byte header, then the status byte. */
constexpr std::size_t slotHeaderBytes = 32;
constexpr std::size_t statusOffset = blk::headerSize;
/* Descriptors a request takes: header, data, status. */
constexpr unsigned int descsPerRequest = 3;

constexpr uint64_t bit(unsigned int b)
{
	return 1ULL << b;
}

void validate(const BlkDriverConfig &cfg)
{
	auto bad = [](std::string what) { throw vhost::Error(EINVAL, std::move(what)); };

	if (!cfg.queues)
		bad("a driver needs at least one queue");
	if (cfg.ring == RingType::Packed) {
		if (!cfg.queueSize || cfg.queueSize > maxQueueSize)
			bad(fmt::format("packed queue size {}: not from 1 to {}", cfg.queueSize,
					maxQueueSize));
		/* A packed ring is virtio 1's: a legacy device has none. */
		if (cfg.features && !(cfg.features & bit(VIRTIO_F_VERSION_1)))
			bad(fmt::format("packed virtqueues need VIRTIO_F_VERSION_1 (bit {}), "
					"which the features asked for ({:#x}) leave out",
					VIRTIO_F_VERSION_1, cfg.features));
	} else if (!cfg.queueSize || cfg.queueSize > maxQueueSize ||
		   (cfg.queueSize & (cfg.queueSize - 1))) {
		bad(fmt::format("queue size {}: not a power of two from 1 to {}", cfg.queueSize,
				maxQueueSize));
	}
	if (!cfg.depth || cfg.depth * descsPerRequest > cfg.queueSize)
		bad(fmt::format("depth {}: a queue of {} entries holds 1 to {} requests", cfg.depth,
				cfg.queueSize, cfg.queueSize / descsPerRequest));
	if (!cfg.maxData || cfg.maxData % blk::sectorSize)
		bad(fmt::format("request size {}: not a multiple of {}", cfg.maxData,
				blk::sectorSize));
}

/* Bytes of one ring of @cfg's layout and size. */
std::size_t ringBytes(const BlkDriverConfig &cfg)
{
	if (cfg.ring == RingType::Packed)
		return PackedLayout::compute(cfg.queueSize).totalSize;
	return RingLayout::compute(cfg.queueSize).totalSize;
}

std::unique_ptr<Virtqueue> makeRing(const BlkDriverConfig &cfg, std::span<std::byte> area,
				    bool eventIdx)
{
	if (cfg.ring == RingType::Packed)
		return std::make_unique<PackedQueue>(area, cfg.queueSize, eventIdx);
	return std::make_unique<SplitQueue>(area, cfg.queueSize, eventIdx);
}

} // namespace

const uint64_t BlkDriverConfig::defaultFeatures =
	bit(VIRTIO_F_VERSION_1) | bit(featureEventIdx) | bit(VIRTIO_BLK_F_MQ) |
	bit(VIRTIO_BLK_F_FLUSH) | bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES);

BlkQueue::BlkQueue(unsigned int index, Memory &mem, const BlkDriverConfig &cfg, bool eventIdx)
	: index_(index), ringArea_(mem.alloc(ringBytes(cfg), vhost::pageSize())),
	  ring_(makeRing(cfg, ringArea_.host, eventIdx)), headSlot_(cfg.queueSize, -1)
{
	slots_.resize(cfg.depth);
	for (auto &slot : slots_)
		slot.header = mem.alloc(slotHeaderBytes, slotHeaderBytes);
	for (auto &slot : slots_)
		slot.data = mem.alloc(cfg.maxData, vhost::pageSize());
	for (unsigned int i = cfg.depth; i-- > 0;)
		freeSlots_.push_back(i);
}

std::span<std::byte> BlkQueue::data(unsigned int slot) const
{
	return slots_.at(slot).data.host;
}

std::optional<unsigned int> BlkQueue::submit(const BlkRequest &req)
{
	if (freeSlots_.empty())
		return std::nullopt;

	unsigned int s = freeSlots_.back();
	Slot &slot = slots_[s];
	if (req.len > slot.data.host.size())
		throw std::invalid_argument(fmt::format("request of {} bytes, slots hold {}",
							req.len, slot.data.host.size()));

	auto header = blk::encodeHeader(req.type, req.sector);
	std::memcpy(slot.header.host.data(), header.data(), header.size());
	/* Not a status the device can write: a completion without one shows. */
	slot.header.host[statusOffset] = std::byte{0xff};

	auto chain = blk::requestChain(req.type, slot.header.gpa, slot.data.gpa, req.len,
				       slot.header.gpa + statusOffset);
	auto head = ring_->add(chain);
	if (!head)
		return std::nullopt;

	freeSlots_.pop_back();
	headSlot_[*head] = static_cast<int>(s);
	slot.busy = true;
	slot.req = req;
	inFlight_++;
	return s;
}

void BlkQueue::notify()
{
	if (ring_->publish())
		kick_.signal();
}

std::size_t BlkQueue::reap(const std::function<void(const BlkCompletion &)> &fn)
{
	std::size_t n = 0;
	auto pop = [this] {
		try {
			return ring_->popUsed();
		} catch (const vhost::Error &e) {
			throw vhost::Error(e.errnum(),
					   fmt::format("vq {}: {}", index_, e.context()));
		}
	};

	while (auto used = pop()) {
		int s = headSlot_[used->head];

		if (s < 0)
			throw vhost::Error(EPROTO, fmt::format("vq {}: used head {} has no request",
							       index_, used->head));
		headSlot_[used->head] = -1;

		Slot &slot = slots_[static_cast<unsigned int>(s)];
		BlkCompletion c;
		c.slot = static_cast<unsigned int>(s);
		c.status = std::to_integer<uint8_t>(slot.header.host[statusOffset]);
		c.len = used->len;
		c.cookie = slot.req.cookie;
		c.type = slot.req.type;
		c.sector = slot.req.sector;
		slot.busy = false;
		freeSlots_.push_back(c.slot);
		inFlight_--;
		n++;
		fn(c);
	}
	return n;
}

bool BlkQueue::wait(std::chrono::nanoseconds timeout)
{
	if (ring_->enableCalls())
		return true;
	bool called = call_.wait(timeout);
	call_.consume();
	return called || ring_->hasUsed();
}

bool BlkQueue::poll(std::chrono::nanoseconds budget) const
{
	auto end = std::chrono::steady_clock::now() + budget;

	for (;;) {
		if (ring_->hasUsed())
			return true;
		if (std::chrono::steady_clock::now() >= end)
			return false;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
}

uint64_t BlkQueue::takeRingErrors()
{
	return err_.consume();
}

std::size_t BlkDriver::memorySize(const BlkDriverConfig &cfg)
{
	validate(cfg);
	std::size_t ring = Memory::alignUp(ringBytes(cfg), vhost::pageSize());
	std::size_t headers = Memory::alignUp(cfg.depth * slotHeaderBytes, vhost::pageSize());
	std::size_t data = cfg.depth * Memory::alignUp(cfg.maxData, vhost::pageSize());

	return cfg.queues * (ring + headers + data + vhost::pageSize());
}

BlkDriver::BlkDriver(vhost::BlkDevice dev, const BlkDriverConfig &cfg)
	: BlkDriver(std::make_unique<vhost::KernelTransport>(std::move(dev)), cfg)
{}

BlkDriver::BlkDriver(std::unique_ptr<Transport> transport, const BlkDriverConfig &cfg)
	: cfg_(cfg), mem_(memorySize(cfg), cfg.gpaBase, cfg.memRegions),
	  transport_(std::move(transport))
{
	Transport &t = *transport_;

	if (cfg_.workerMode)
		kernel().setForkFromOwner(*cfg_.workerMode);
	t.setOwner();

	uint64_t want = cfg_.features ? cfg_.features : BlkDriverConfig::defaultFeatures;
	uint64_t offered = t.features();
	bool packed = cfg_.ring == RingType::Packed;
	if (packed && !(offered & bit(featureRingPacked)))
		throw vhost::Error(EOPNOTSUPP,
				   fmt::format("{}: packed virtqueues: the device does not offer "
					       "VIRTIO_F_RING_PACKED (bit {}; it offers {:#x})",
					       t.name(), featureRingPacked, offered));
	want = (want & ~bit(featureRingPacked)) | (packed ? bit(featureRingPacked) : 0);
	features_ = want & offered;
	t.setFeatures(features_);
	t.setMemTable(mem_.regions());

	bool eventIdx = features_ & bit(featureEventIdx);
	for (unsigned int q = 0; q < cfg_.queues; q++) {
		/*
		 * The constructor is private: no make_unique.  Owned before the
		 * vector grows, which may throw.
		 */
		std::unique_ptr<BlkQueue> owned(new BlkQueue(q, mem_, cfg_, eventIdx));
		queues_.push_back(std::move(owned));
		BlkQueue &bq = *queues_.back();

		t.setVringNum(q, cfg_.queueSize);
		t.setVringAddr(q, bq.ring_->addresses());
		/* Packed: index 0 and wrap counter 1 on both sides. */
		t.setVringBase(q, bq.ring_->vringBase());
		t.setVringCall(q, bq.call_.fd());
		t.setVringErr(q, bq.err_.fd());
		t.setVringKick(q, bq.kick_.fd());
		t.enableVring(q, true);
	}
}

BlkDriver::~BlkDriver()
{
	/* The device finishes requests in flight, writing into mem_, on close. */
	transport_->close();
}

vhost::BlkTransport &BlkDriver::kernel()
{
	auto *kernel = dynamic_cast<vhost::BlkTransport *>(transport_.get());

	if (!kernel)
		throw vhost::Error(ENOTTY, fmt::format("{} is not an in-kernel vhost-blk device",
						       transport_->name()));
	return *kernel;
}

} // namespace virtio
