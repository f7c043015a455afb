// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost-user-blk backend that bridges to /dev/vhost-blk: one connection's
 * messages, the state of its rings, when the backing file is attached, and
 * the config space that follows the backend's size.
 */
#include "vhostctl/vhost_user_backend.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vhostctl/error.hpp"
#include "vhostctl/eventfd.hpp"
#include "vhostctl/packed_queue.hpp"

namespace vhost::user {

namespace {

constexpr uint64_t bit(unsigned int n)
{
	return 1ULL << n;
}

/* The largest ring virtio allows. */
constexpr unsigned int maxRingSize = 32768;

/* Config-space features: the bridge owns the config space, not the kernel. */
constexpr uint64_t configFeatures =
	bit(VIRTIO_BLK_F_SEG_MAX) | bit(VIRTIO_BLK_F_BLK_SIZE) | bit(VIRTIO_BLK_F_TOPOLOGY);

/*
 * The requests whose reply is not a REPLY_ACK: the frontend waits for it.
 * SET_LOG_BASE has one once LOG_SHMFD is negotiated (@protocol).
 */
bool hasReply(uint32_t request, uint64_t protocol)
{
	switch (static_cast<Request>(request)) {
	case Request::SetLogBase:
		return protocol & bit(protocolLogShmfd);
	case Request::GetFeatures:
	case Request::GetProtocolFeatures:
	case Request::GetVringBase:
	case Request::GetQueueNum:
	case Request::GetConfig:
	case Request::GetInflightFd:
	case Request::GetMaxMemSlots:
	case Request::GetStatus:
		return true;
	default:
		return false;
	}
}

/*
 * The largest dirty log accepted: a bit per 4 KiB, so 1 GiB of log covers
 * 32 TiB of guest physical addresses.
 */
constexpr uint64_t maxLogBytes = 1ULL << 30;

/*
 * Bytes of a ring's three parts for @num entries.  Split: the descriptor
 * table, the available ring (with used_event) and the used ring (with
 * avail_event).  Packed: the descriptor ring, the driver's and the device's
 * event suppression areas.
 */
uint64_t descBytes(unsigned int num)
{
	return 16ULL * num;
}
uint64_t availBytes(unsigned int num, bool packed)
{
	return packed ? 4 : 6 + 2ULL * num;
}
uint64_t usedBytes(unsigned int num, bool packed)
{
	return packed ? 4 : 6 + 8ULL * num;
}

/*
 * The bridge addresses of ring @a with @num entries of either layout: each
 * of its three parts must lie whole in one region of @mem, or the kernel
 * would read and write this process's own memory past the mapping.
 * Error(EFAULT) otherwise.  The log flag and the used ring's guest physical
 * address pass as they are: the kernel checks them against the log.
 */
VringAddr translateRing(const GuestMemory &mem, const VringAddrMsg &a, unsigned int num,
			bool packed)
{
	if (mem.empty())
		throw Error(EFAULT,
			    fmt::format("vq {}: ring addresses before SET_MEM_TABLE", a.index));
	try {
		return VringAddr{mem.translate(a.desc, descBytes(num)),
				 mem.translate(a.avail, availBytes(num, packed)),
				 mem.translate(a.used, usedBytes(num, packed)), a.flags, a.log};
	} catch (const Error &e) {
		throw Error(e.errnum(), fmt::format("vq {}: a {} ring of {} entries: {}", a.index,
						    packed ? "packed" : "split", num, e.context()));
	}
}

/* Can a ring of the layout have @num entries?  Error(EINVAL) otherwise. */
void checkRingSize(unsigned int index, unsigned int num, bool packed)
{
	if (packed && (!num || num > maxRingSize))
		throw Error(EINVAL, fmt::format("vq {}: packed ring size {} is not from 1 to {}",
						index, num, maxRingSize));
	if (!packed && (!num || num > maxRingSize || !std::has_single_bit(num)))
		throw Error(EINVAL,
			    fmt::format("vq {}: ring size {} is not a power of two from 1 to {}",
					index, num, maxRingSize));
}

/*
 * Is @base a VRING_BASE for a ring of the layout with @num entries (if
 * known)?  Split: an avail index of 16 bits.  Packed: both 15-bit indices
 * within the ring.  Error(EINVAL) otherwise.
 */
void checkRingBase(unsigned int index, unsigned int base, std::optional<unsigned int> num,
		   bool packed)
{
	if (!packed) {
		if (base > 0xffff)
			throw Error(EINVAL,
				    fmt::format("vq {}: base {} is not a ring index", index, base));
		return;
	}
	auto b = virtio::PackedVringBase::decode(base);
	if (num && (b.availIdx >= *num || b.usedIdx >= *num))
		throw Error(EINVAL, fmt::format("vq {}: packed base {:#x} (avail {}, used {}) is "
						"past a ring of {} entries",
						index, base, b.availIdx, b.usedIdx, *num));
}

} // namespace

uint64_t bridgeableFeatures() noexcept
{
	return bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_ANY_LAYOUT) | bit(VIRTIO_F_NOTIFY_ON_EMPTY) |
	       bit(VIRTIO_RING_F_INDIRECT_DESC) | bit(VIRTIO_RING_F_EVENT_IDX) |
	       bit(VIRTIO_BLK_F_MQ) | bit(VIRTIO_BLK_F_FLUSH) | bit(VIRTIO_BLK_F_DISCARD) |
	       bit(VIRTIO_BLK_F_WRITE_ZEROES) | bit(VHOST_F_LOG_ALL) | bit(VIRTIO_F_RING_PACKED);
}

uint64_t offeredFeatures(uint64_t kernelFeatures, bool readOnly, bool packed) noexcept
{
	uint64_t f = kernelFeatures & bridgeableFeatures();

	/* Unless asked for: a reconnect cannot recover a packed ring (BackendOptions). */
	if (!packed)
		f &= ~bit(VIRTIO_F_RING_PACKED);

	if (readOnly)
		f = (f & ~(bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES))) |
		    bit(VIRTIO_BLK_F_RO);
	return f | configFeatures | bit(featureProtocolFeatures);
}

Backend::Backend(UniqueFd sock, KernelFactory kernel, BackendOptions opts)
	: sock_(std::move(sock)), factory_(std::move(kernel)), opts_(std::move(opts)),
	  rings_(opts_.queues)
{
	if (!opts_.queues || opts_.queues > vringIndexMask + 1)
		throw Error(EINVAL, fmt::format("vhost-user backend: {} queues", opts_.queues));
	/* A connection serves the backend as it is now. */
	if (opts_.probe)
		opts_.geometry = opts_.probe();
}

Backend::~Backend()
{
	reset();
}

void Backend::log(LogLevel level, std::string_view line)
{
	if (opts_.log)
		opts_.log(level, line);
}

void Backend::reply(const Header &req, std::span<const std::byte> payload)
{
	Header h = {req.request, version | flagReply, static_cast<uint32_t>(payload.size())};

	sendMessage(sock_.get(), h, payload, {},
		    fmt::format("vhost-user reply to {}", requestName(req.request)),
		    opts_.ioTimeout);
}

BlkTransport &Backend::kernel()
{
	if (!kernel_)
		kernel_ = factory_();
	return *kernel_;
}

BlkTransport &Backend::owned(Request req)
{
	if (!owner_)
		throw Error(EPERM, fmt::format("{} before SET_OWNER", requestName(req)));
	return *kernel_;
}

Backend::Ring &Backend::ring(Request req, unsigned int index)
{
	if (index >= rings_.size())
		throw Error(EINVAL, fmt::format("{} vq {}: only {} queues", requestName(req), index,
						rings_.size()));
	return rings_[index];
}

uint64_t Backend::offered()
{
	return offeredFeatures(kernel().features(), opts_.readOnly, opts_.packed);
}

bool Backend::packed() const noexcept
{
	return acked_ & bit(VIRTIO_F_RING_PACKED);
}

bool Backend::enabled(const Ring &r) const noexcept
{
	/* Without bit 30 a ring is enabled as soon as it starts. */
	return !(acked_ & bit(featureProtocolFeatures)) || r.enabled;
}

bool Backend::wanted(const Ring &r) const noexcept
{
	return r.num && r.kernelAddr && r.kick && enabled(r);
}

void Backend::setOwner()
{
	if (owner_)
		throw Error(EBUSY, "SET_OWNER: the device has an owner");
	BlkTransport &k = kernel();
	k.setOwner();
	owner_ = true;
	dirty_ = true;
	if (opts_.serial)
		k.setSerial(*opts_.serial);
	k.setLimits(virtio::blk::limitsOf(configParams()));
}

void Backend::setFeatures(uint64_t features)
{
	uint64_t offer = offered();

	if (features & ~offer)
		throw Error(EINVAL, fmt::format("SET_FEATURES {:#x}: bits {:#x} were not offered",
						features, features & ~offer));
	/* Bit 30 and the config-space bits are the bridge's: the kernel refuses them. */
	uint64_t kernelBits = features & kernel().features() & ~bit(featureProtocolFeatures);
	owned(Request::SetFeatures).setFeatures(kernelBits);
	acked_ = features;
	dirty_ = true;
}

void Backend::setProtocolFeatures(uint64_t features)
{
	if (features & ~protocolFeatures)
		throw Error(EINVAL,
			    fmt::format("SET_PROTOCOL_FEATURES {:#x}: bits {:#x} were not offered",
					features, features & ~protocolFeatures));
	protocol_ = features;
}

void Backend::setMemTable(Message &m)
{
	BlkTransport &k = owned(Request::SetMemTable);
	auto regions = decodeMemTable(m.payload);
	GuestMemory next = GuestMemory::map(regions, m.fds, &mem_);

	/* Every ring must still fit in the new table before anything changes. */
	std::vector<std::optional<VringAddr>> addrs(rings_.size());
	for (std::size_t i = 0; i < rings_.size(); i++) {
		const Ring &r = rings_[i];
		if (r.addr)
			addrs[i] = translateRing(next, *r.addr, r.num.value_or(1), packed());
	}
	k.setMemTable(next.kernelTable());

	/*
	 * All or nothing: a ring address the kernel refuses puts the old
	 * table and addresses back, whose mappings are still there.
	 */
	std::vector<unsigned int> moved;
	try {
		for (std::size_t i = 0; i < rings_.size(); i++) {
			const Ring &r = rings_[i];
			if (!r.kernelAddr || !addrs[i])
				continue;
			const VringAddr &a = *addrs[i];
			const VringAddr &old = *r.kernelAddr;
			if (a.desc == old.desc && a.avail == old.avail && a.used == old.used)
				continue;
			k.setVringAddr(static_cast<unsigned int>(i), a);
			moved.push_back(static_cast<unsigned int>(i));
		}
	} catch (const Error &) {
		try {
			k.setMemTable(mem_.kernelTable());
			for (unsigned int i : moved)
				k.setVringAddr(i, *rings_[i].kernelAddr);
		} catch (const Error &e) {
			/*
			 * The kernel may use either table now: keep both
			 * mapped until the device is closed, and end.
			 */
			retired_.push_back(std::move(next));
			fatal_ = true;
			log(LogLevel::Error,
			    fmt::format("SET_MEM_TABLE: the kernel's memory table could not be "
					"restored ({}): closing the connection",
					e.what()));
		}
		throw;
	}
	for (unsigned int i : moved)
		rings_[i].kernelAddr = addrs[i];
	/* The old mappings go only now that the kernel no longer uses them. */
	mem_ = std::move(next);
	dirty_ = true;
	log(LogLevel::Info, fmt::format("memory table: {} regions", regions.size()));
}

void Backend::setVringNum(const VringState &s)
{
	BlkTransport &k = owned(Request::SetVringNum);
	Ring &r = ring(Request::SetVringNum, s.index);

	checkRingSize(s.index, s.num, packed());
	/* The ring must still fit where its addresses put it. */
	if (r.addr)
		translateRing(mem_, *r.addr, s.num, packed());
	if (r.active)
		detach();
	k.setVringNum(s.index, s.num);
	r.num = s.num;
	dirty_ = true;
}

void Backend::setVringBase(const VringState &s)
{
	BlkTransport &k = owned(Request::SetVringBase);
	Ring &r = ring(Request::SetVringBase, s.index);

	/* Packed: both indices and wrap counters, as the vhost-user spec says. */
	checkRingBase(s.index, s.num, r.num, packed());
	if (r.active)
		detach();
	k.setVringBase(s.index, s.num);
	r.base = s.num;
	r.stopped = false;
	dirty_ = true;
}

void Backend::setVringAddr(const VringAddrMsg &a)
{
	BlkTransport &k = owned(Request::SetVringAddr);
	Ring &r = ring(Request::SetVringAddr, a.index);

	/*
	 * The log flag passes for packed rings too: the kernel logs a packed
	 * ring's used descriptors and device area at the guest addresses its
	 * memory table maps them at, not through the log address.
	 */
	if (a.flags & ~bit(VHOST_VRING_F_LOG))
		throw Error(EINVAL, fmt::format("vq {}: unknown flags {:#x}", a.index, a.flags));
	/* Checked again with the ring's size when it changes, and at start. */
	VringAddr kaddr = translateRing(mem_, a, r.num.value_or(1), packed());
	/*
	 * Logging turned on or off (QEMU at the start and end of a
	 * migration) leaves the ring where it is: the kernel takes it while
	 * the ring runs, and the requests in flight go on.
	 */
	bool moved = !r.kernelAddr || kaddr.desc != r.kernelAddr->desc ||
		     kaddr.avail != r.kernelAddr->avail || kaddr.used != r.kernelAddr->used;
	if (r.active && moved)
		detach();
	k.setVringAddr(a.index, kaddr);
	r.addr = a;
	r.kernelAddr = kaddr;
	dirty_ = dirty_ || moved;
}

void Backend::setLogBase(Message &m)
{
	BlkTransport &k = owned(Request::SetLogBase);

	if (!(protocol_ & bit(protocolLogShmfd)))
		throw Error(EOPNOTSUPP, "LOG_SHMFD was not negotiated: no shared log to map");
	LogMsg l = decodeLog(m.payload);
	if (m.fds.size() != 1)
		throw Error(EINVAL, fmt::format("{} descriptors instead of 1", m.fds.size()));
	if (!l.mmapSize || l.mmapSize > maxLogBytes || l.mmapOffset > maxLogBytes)
		throw Error(EINVAL, fmt::format("a log of {} bytes at offset {}: 1 to {} bytes",
						l.mmapSize, l.mmapOffset, maxLogBytes));
	struct stat st = {};
	if (::fstat(m.fds.front().get(), &st) < 0)
		throwErrno("the log's descriptor: fstat");
	/* Past the end of the file the kernel's log writes would fault. */
	if (!S_ISREG(st.st_mode) ||
	    l.mmapOffset + l.mmapSize > static_cast<uint64_t>(std::max<off_t>(st.st_size, 0)))
		throw Error(EINVAL,
			    fmt::format("a log of {} bytes at offset {} in a {} of {} bytes",
					l.mmapSize, l.mmapOffset,
					S_ISREG(st.st_mode) ? "file" : "non-regular file",
					st.st_size));
	auto map = std::make_unique<Mapping>(m.fds.front().get(), l.mmapOffset, l.mmapSize);
	k.setLogBase(reinterpret_cast<uintptr_t>(map->data()));
	/* The old log goes only now that the kernel writes the new one. */
	log_ = std::move(map);
	log(LogLevel::Info, fmt::format("dirty log: {} bytes", l.mmapSize));
}

void Backend::setLogFd(Message &m)
{
	BlkTransport &k = owned(Request::SetLogFd);

	if (m.fds.size() != 1)
		throw Error(EINVAL, fmt::format("{} descriptors instead of 1", m.fds.size()));
	if (!m.payload.empty())
		decodeU64(m.payload);
	k.setLogFd(m.fds.front().get());
}

VringState Backend::getVringBase(const VringState &s)
{
	BlkTransport &k = owned(Request::GetVringBase);
	Ring &r = ring(Request::GetVringBase, s.index);

	/* The kernel stops the ring and drains it before it reads the index. */
	unsigned int next = k.getVringBase(s.index);
	r.stopped = true;
	/* A stopped ring starts again on its next kick. */
	r.kick.reset();
	return VringState{s.index, next};
}

void Backend::setVringFile(Message &m)
{
	Request req = m.request();
	uint64_t arg = decodeU64(m.payload);
	auto index = static_cast<unsigned int>(arg & vringIndexMask);
	bool noFd = arg & vringNoFd;
	BlkTransport &k = owned(req);
	Ring &r = ring(req, index);

	if (arg & ~(vringIndexMask | vringNoFd))
		throw Error(EINVAL, fmt::format("{} {:#x}: unknown bits", requestName(req), arg));
	if (noFd != m.fds.empty() || m.fds.size() > 1)
		throw Error(EINVAL, fmt::format("{} vq {}: {} descriptors {}", requestName(req),
						index, m.fds.size(),
						noFd ? "with the no-fd bit" : "instead of 1"));
	int fd = noFd ? -1 : m.fds.front().get();

	switch (req) {
	case Request::SetVringKick:
		if (noFd)
			throw Error(EOPNOTSUPP,
				    fmt::format("SET_VRING_KICK vq {}: polling without a kick "
						"eventfd is not supported by the kernel device",
						index));
		k.setVringKick(index, fd);
		r.kick = std::move(m.fds.front());
		r.stopped = false;
		/* The kernel takes kicks of a running ring at once: a disabled one must not. */
		if (r.active && !enabled(r)) {
			k.getVringBase(index);
			r.stopped = true;
		}
		dirty_ = true;
		break;
	case Request::SetVringCall:
		/* Re-sent whenever QEMU masks or unmasks: forward every one. */
		k.setVringCall(index, fd);
		break;
	default:
		k.setVringErr(index, fd);
		break;
	}
}

void Backend::setVringEnable(const VringState &s)
{
	BlkTransport &k = owned(Request::SetVringEnable);
	Ring &r = ring(Request::SetVringEnable, s.index);

	if (s.num > 1)
		throw Error(EINVAL, fmt::format("SET_VRING_ENABLE vq {}: {}", s.index, s.num));
	r.enabled = s.num;
	if (r.enabled && r.active && r.stopped && r.kick) {
		k.setVringKick(s.index, r.kick.get());
		r.stopped = false;
	} else if (!r.enabled && r.active && !r.stopped) {
		k.getVringBase(s.index);
		r.stopped = true;
	}
	dirty_ = true;
}

std::vector<std::byte> Backend::getConfig(std::span<const std::byte> payload)
{
	ConfigMsg c = decodeConfig(payload);
	std::size_t size = c.data.size();

	if (c.offset > maxConfigSize || size > maxConfigSize - c.offset)
		throw Error(EINVAL,
			    fmt::format("GET_CONFIG {} bytes at {}: the config space has {}", size,
					c.offset, maxConfigSize));
	auto cfg = virtio::blk::encodeConfig(configParams());
	/* Exactly the size asked: QEMU refuses any other. */
	return encodeConfig(c.offset, static_cast<uint32_t>(size), 0,
			    std::span<const std::byte>(cfg).subspan(c.offset, size));
}

virtio::blk::ConfigParams Backend::configParams()
{
	virtio::blk::ConfigParams p;

	p.geometry = opts_.geometry;
	p.features = offered();
	p.queues = opts_.queues;
	p.segMax = opts_.segMax;
	return p;
}

void Backend::setBackendReqFd(Message &m)
{
	if (!(protocol_ & bit(protocolBackendReq)))
		throw Error(EINVAL, "BACKEND_REQ was not negotiated");
	if (m.fds.size() != 1)
		throw Error(EINVAL, fmt::format("{} descriptors instead of 1", m.fds.size()));
	if (!m.payload.empty())
		decodeU64(m.payload);
	backendReq_ = std::move(m.fds.front());
}

void Backend::notifyConfigChange()
{
	if (!(protocol_ & bit(protocolConfig)) || !backendReq_) {
		log(LogLevel::Warning, "the frontend gave no backend channel: the guest sees the "
				       "new size only once it reads the config space again");
		return;
	}
	/*
	 * Without NEED_REPLY: the frontend reads the config space (GET_CONFIG
	 * on the main channel) before it would acknowledge, and this process
	 * answers that only once it is back in run().
	 */
	Header h = {static_cast<uint32_t>(BackendRequest::ConfigChangeMsg), version, 0};
	try {
		sendMessage(backendReq_.get(), h, {}, {}, "vhost-user BACKEND_CONFIG_CHANGE_MSG",
			    opts_.ioTimeout);
	} catch (const Error &e) {
		log(LogLevel::Warning, fmt::format("{}: the backend channel is closed", e.what()));
		backendReq_.reset();
	}
}

bool Backend::checkGeometry()
{
	if (!opts_.probe)
		return false;
	virtio::blk::Geometry g = opts_.probe();
	virtio::blk::Geometry old = opts_.geometry;
	uint64_t before = old.bytes;
	if (g.bytes == before)
		return false;
	/*
	 * The device first: the config space offers only the capacity the
	 * kernel enforces.  Refused, nothing changes, and the next check
	 * tries again.
	 */
	opts_.geometry = g;
	if (owner_) {
		try {
			kernel_->setLimits(virtio::blk::limitsOf(configParams()));
		} catch (...) {
			opts_.geometry = old;
			throw;
		}
	}
	log(g.bytes > before ? LogLevel::Notice : LogLevel::Warning,
	    fmt::format("the backend {} from {} to {} bytes: the config space follows",
			g.bytes > before ? "grew" : "shrank", before, g.bytes));
	notifyConfigChange();
	return true;
}

void Backend::configureWorkers()
{
	BlkTransport &k = *kernel_;
	std::vector<unsigned int> pool;
	auto ids = applyLayout(k, opts_.queues, opts_.workers, &pool);

	if (opts_.workers.kind == WorkerLayout::Auto && opts_.layoutSample)
		autoLayout_.emplace(std::vector<uint32_t>(pool.begin(), pool.end()),
				    std::vector<uint32_t>(ids.begin(), ids.end()));
	if (opts_.busyPoll)
		setBusyPoll(k, opts_.queues, *opts_.busyPoll);
	log(LogLevel::Info,
	    fmt::format("workers {} (vq:worker {}){}", opts_.workers.text(), formatBindings(ids),
			opts_.busyPoll ? fmt::format(", busy-poll {} us", *opts_.busyPoll) : ""));
}

void Backend::detach()
{
	if (!attached_)
		return;
	/* Waits for every request in flight to complete and reach the guest. */
	kernel_->detachBackend();
	attached_ = false;
	/* The next interval would span the pause. */
	if (autoLayout_)
		autoLayout_->restart();
	for (auto &r : rings_)
		r.active = false;
}

void Backend::reconcile()
{
	if (!owner_ || opts_.backendFd < 0)
		return;
	std::vector<bool> want(rings_.size());
	bool any = false, missing = false;
	for (std::size_t i = 0; i < rings_.size(); i++) {
		want[i] = wanted(rings_[i]);
		any = any || want[i];
		missing = missing || (want[i] && !rings_[i].active);
	}
	if (!any || (attached_ && !missing))
		return;
	/*
	 * At start, every ring that will run must have a size and base of
	 * its layout (the features may have changed since), and fit its
	 * memory at its size.
	 */
	for (std::size_t i = 0; i < rings_.size(); i++) {
		if (!want[i])
			continue;
		const Ring &r = rings_[i];
		auto idx = static_cast<unsigned int>(i);
		checkRingSize(idx, *r.num, packed());
		if (r.base)
			checkRingBase(idx, *r.base, r.num, packed());
		translateRing(mem_, *r.addr, *r.num, packed());
	}
	detach();

	BlkTransport &k = *kernel_;
	static constexpr VringAddr none = {0, 0, 0, 0};
	/*
	 * The kernel starts every ring whose addresses are set: hide those
	 * of the rings that are set up but not enabled, for the attach.
	 */
	std::vector<unsigned int> hidden;
	for (std::size_t i = 0; i < rings_.size(); i++) {
		auto idx = static_cast<unsigned int>(i);
		Ring &r = rings_[i];
		if (want[i] && r.stopped) {
			k.setVringKick(idx, r.kick.get());
			r.stopped = false;
		} else if (!want[i] && r.kernelAddr) {
			k.setVringAddr(idx, none);
			hidden.push_back(idx);
		}
	}
	auto unhide = [&] {
		for (unsigned int i : hidden)
			k.setVringAddr(i, *rings_[i].kernelAddr);
	};
	try {
		if (!workersDone_) {
			configureWorkers();
			workersDone_ = true;
		}
		k.setBackend(opts_.backendFd);
	} catch (...) {
		unhide();
		throw;
	}
	attached_ = true;
	unhide();
	std::string active;
	for (std::size_t i = 0; i < rings_.size(); i++) {
		rings_[i].active = want[i];
		if (want[i])
			active += fmt::format("{}{}", active.empty() ? "" : ",", i);
	}
	log(LogLevel::Info, fmt::format("backend attached, serving vq {}", active));
}

void Backend::reset() noexcept
{
	/* Closing the device finishes its requests; only then unmap. */
	kernel_.reset();
	log_.reset();
	mem_ = GuestMemory();
	rings_.clear();
	rings_.resize(opts_.queues);
	retired_.clear();
	owner_ = false;
	attached_ = false;
	workersDone_ = false;
	autoLayout_.reset();
	dirty_ = false;
	acked_ = 0;
}

std::optional<std::vector<std::byte>> Backend::dispatch(Message &m)
{
	const auto &p = m.payload;
	auto expectEmpty = [&] {
		if (!p.empty())
			throw Error(EPROTO, fmt::format("payload of {} bytes", p.size()));
	};

	if (m.truncated)
		throw Error(EPROTO, fmt::format("more than {} descriptors", maxFds));
	if (!m.fds.empty() && m.request() != Request::SetMemTable &&
	    m.request() != Request::SetVringKick && m.request() != Request::SetVringCall &&
	    m.request() != Request::SetVringErr && m.request() != Request::SetBackendReqFd &&
	    m.request() != Request::SetLogBase && m.request() != Request::SetLogFd)
		throw Error(EINVAL, fmt::format("{} descriptors with a message that takes none",
						m.fds.size()));

	switch (m.request()) {
	case Request::GetFeatures:
		expectEmpty();
		return encodeU64(offered());
	case Request::SetFeatures:
		setFeatures(decodeU64(p));
		return std::nullopt;
	case Request::SetOwner:
		setOwner();
		return std::nullopt;
	case Request::ResetOwner:
		log(LogLevel::Info, "RESET_OWNER: closing the device");
		reset();
		return std::nullopt;
	case Request::SetMemTable:
		setMemTable(m);
		return std::nullopt;
	case Request::SetVringNum:
		setVringNum(decodeVringState(p));
		return std::nullopt;
	case Request::SetVringAddr:
		setVringAddr(decodeVringAddr(p));
		return std::nullopt;
	case Request::SetVringBase:
		setVringBase(decodeVringState(p));
		return std::nullopt;
	case Request::GetVringBase:
		return encodeVringState(getVringBase(decodeVringState(p)));
	case Request::SetVringKick:
	case Request::SetVringCall:
	case Request::SetVringErr:
		setVringFile(m);
		return std::nullopt;
	case Request::GetProtocolFeatures:
		expectEmpty();
		return encodeU64(protocolFeatures);
	case Request::SetProtocolFeatures:
		setProtocolFeatures(decodeU64(p));
		return std::nullopt;
	case Request::GetQueueNum:
		expectEmpty();
		return encodeU64(opts_.queues);
	case Request::SetVringEnable:
		setVringEnable(decodeVringState(p));
		return std::nullopt;
	case Request::GetConfig:
		return getConfig(p);
	case Request::SetConfig:
		throw Error(EPERM, "the config space is read-only");
	case Request::SetBackendReqFd:
		setBackendReqFd(m);
		return std::nullopt;
	case Request::SetLogBase:
		setLogBase(m);
		/* An empty reply, as QEMU reads one. */
		return std::vector<std::byte>{};
	case Request::SetLogFd:
		setLogFd(m);
		return std::nullopt;
	default:
		throw Error(EOPNOTSUPP, "not supported by this backend");
	}
}

bool Backend::handleOne(std::chrono::milliseconds timeout)
{
	Message m;

	try {
		m = recvMessage(sock_.get(), "vhost-user backend", timeout);
	} catch (const Error &e) {
		if (e.errnum() != ECONNRESET) {
			log(LogLevel::Error, e.what());
			failed_ = true;
		}
		return false;
	}
	std::string name = requestName(m.header.request);
	if ((m.header.flags & flagVersionMask) != version || (m.header.flags & flagReply)) {
		log(LogLevel::Error,
		    fmt::format("vhost-user {}: flags {:#x}, not a version 1 request: closing",
				name, m.header.flags));
		failed_ = true;
		return false;
	}
	bool needReply = m.header.flags & flagNeedReply;
	uint64_t status = 0;
	try {
		auto out = dispatch(m);
		if (out) {
			reply(m.header, *out);
			return true;
		}
		/*
		 * Only a message that changed the rings may start them: a
		 * failure to is this message's, and the rings stay stopped
		 * until another change.
		 */
		if (std::exchange(dirty_, false))
			reconcile();
	} catch (const Error &e) {
		dirty_ = false;
		log(LogLevel::Warning, fmt::format("vhost-user {} refused: {}", name, e.what()));
		if (hasReply(m.header.request, protocol_)) {
			log(LogLevel::Error,
			    fmt::format(
				    "vhost-user {}: the frontend waits for a reply that cannot be "
				    "given: closing",
				    name));
			failed_ = true;
			return false;
		}
		status = static_cast<uint64_t>(e.errnum() ? e.errnum() : EIO);
	}
	/* REPLY_ACK: asked for, and negotiated (SET_PROTOCOL_FEATURES included). */
	if (needReply && (protocol_ & bit(protocolReplyAck))) {
		try {
			reply(m.header, encodeU64(status));
		} catch (const Error &e) {
			log(LogLevel::Error, e.what());
			failed_ = true;
			return false;
		}
	}
	if (fatal_) {
		failed_ = true;
		return false;
	}
	return true;
}

void Backend::stepLayout()
{
	if (!autoLayout_ || !attached_)
		return;
	std::optional<LayoutSample> s;
	try {
		s = opts_.layoutSample();
	} catch (const std::exception &e) {
		log(LogLevel::Warning, fmt::format("auto layout: no sample ({}): the layout "
						   "stays as it is",
						   e.what()));
		autoLayout_.reset();
		return;
	}
	if (!s) {
		/* Once, not every 250 ms: the layout stays where it is. */
		log(LogLevel::Warning, "auto layout: the module does not list this device "
				       "(no netlink family, or another network namespace): "
				       "the layout stays as it is");
		autoLayout_.reset();
		return;
	}
	for (const LayoutMove &m : autoLayout_->decide(*s)) {
		uint32_t was = 0;
		try {
			was = kernel_->getVringWorker(m.vq);
			kernel_->attachVringWorker(m.vq, m.worker);
			log(LogLevel::Info, fmt::format("auto layout: vq {} from worker {} to {}",
							m.vq, was, m.worker));
		} catch (const Error &e) {
			autoLayout_->moveFailed(m, was);
			log(LogLevel::Warning, fmt::format("auto layout: vq {} to worker {}: {}",
							   m.vq, m.worker, e.what()));
		}
	}
}

Backend::End Backend::run(int stopFd, int refreshFd)
{
	using Clock = std::chrono::steady_clock;
	bool timed = opts_.probe && opts_.checkInterval.count() > 0;
	auto nextCheck = Clock::now() + opts_.checkInterval;
	bool adaptive = opts_.workers.kind == WorkerLayout::Auto && opts_.layoutSample;
	auto nextLayout = Clock::now() + opts_.layoutInterval;
	auto until = [](Clock::time_point t) {
		return static_cast<int>(std::max<Clock::rep>(
			0, std::chrono::ceil<std::chrono::milliseconds>(t - Clock::now()).count()));
	};

	for (;;) {
		/* poll() skips the entries whose descriptor is -1. */
		std::array<struct pollfd, 3> pfd = {
			{{sock_.get(), POLLIN, 0}, {stopFd, POLLIN, 0}, {refreshFd, POLLIN, 0}}};
		int timeout = -1;
		if (timed)
			timeout = until(nextCheck);
		if (adaptive)
			timeout = timeout < 0 ? until(nextLayout)
					      : std::min(timeout, until(nextLayout));
		int n = ::poll(pfd.data(), pfd.size(), timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log(LogLevel::Error, fmt::format("poll: {}", std::strerror(errno)));
			return End::Failed;
		}
		if (pfd[1].revents)
			return End::Stopped;
		bool asked = pfd[2].revents;
		if (asked)
			drain(refreshFd);
		if (adaptive && Clock::now() >= nextLayout) {
			nextLayout = Clock::now() + opts_.layoutInterval;
			stepLayout();
		}
		if (asked || (timed && Clock::now() >= nextCheck)) {
			nextCheck = Clock::now() + opts_.checkInterval;
			try {
				checkGeometry();
			} catch (const Error &e) {
				log(LogLevel::Warning, fmt::format("backend size: {}", e.what()));
			}
		}
		if (!pfd[0].revents)
			continue;
		try {
			if (!handleOne(opts_.ioTimeout))
				return failed_ ? End::Failed : End::Disconnected;
		} catch (const std::exception &e) {
			log(LogLevel::Error, fmt::format("unexpected failure: {}", e.what()));
			return End::Failed;
		}
	}
}

} // namespace vhost::user
