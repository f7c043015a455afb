// SPDX-License-Identifier: GPL-2.0
/*
 * vhost::user::Backend: the backend side of vhost-user-blk (QEMU
 * docs/interop/vhost-user.rst) as a bridge to an in-kernel device: the
 * frontend (QEMU's vhost-user-blk-pci, say) talks to this process, and this
 * process drives /dev/vhost-blk, so the data path is entirely in the kernel.
 *
 * - Guest memory: the descriptors of SET_MEM_TABLE are mapped here, and the
 *   kernel's memory table uses these mappings.  Ring addresses arrive in the
 *   frontend's address space and are translated into them.
 * - Kick, call and error eventfds go straight to the kernel; a call re-sent
 *   (QEMU masks and unmasks) is forwarded every time.
 * - Features: the kernel's, masked to what the bridge can honour, plus the
 *   config-space bits the bridge itself serves (SEG_MAX, BLK_SIZE, TOPOLOGY,
 *   RO) and VHOST_USER_F_PROTOCOL_FEATURES; only the kernel's bits reach
 *   VHOST_SET_FEATURES.  Protocol features: MQ, LOG_SHMFD, REPLY_ACK,
 *   BACKEND_REQ, CONFIG.
 * - Dirty logging (live migration): VHOST_F_LOG_ALL when the kernel offers
 *   it; the log QEMU shares (SET_LOG_BASE with LOG_SHMFD) is mapped here
 *   and the mapping handed to the kernel (VHOST_SET_LOG_BASE), which sets
 *   the bits itself; SET_LOG_FD and each ring's log flag and used-ring
 *   address go to the kernel as they come, the ring left running.  A log
 *   that cannot be mapped ends the connection: QEMU takes any reply to
 *   SET_LOG_BASE as success.
 * - Packed rings (VIRTIO_F_RING_PACKED, offered only when asked for,
 *   BackendOptions::packed, and the kernel offers it): any size up to
 *   32768, the three areas checked at their packed sizes, SET/GET_VRING_BASE
 *   in the packed encoding (both indices and wrap counters) passed
 *   through.  Dirty logging passes through as for split rings (LOG_ALL,
 *   the ring's log flag): the kernel logs a packed ring's used
 *   descriptors and device area at the guest addresses its memory table
 *   maps them at, not through the ring's log address.  Off by default: a
 *   frontend that reconnects after this process died cannot recover a
 *   packed ring.
 * - Rings: the backing file is attached once the rings are set up and
 *   enabled; GET_VRING_BASE (or SET_VRING_ENABLE 0) stops a ring in the
 *   kernel, which drains it first; reconfiguring a ring detaches the backend
 *   (which waits for every request in flight) and a later enable attaches
 *   it again.
 * - Resize: when the backend's size changes (checkGeometry(), which serve
 *   calls on a timer and on SIGHUP), the config space follows, the kernel
 *   is told the new limits, and the frontend gets
 *   VHOST_USER_BACKEND_CONFIG_CHANGE_MSG on the backend channel
 *   (BACKEND_REQ), upon which QEMU reads the config space again and
 *   passes the change to the guest.
 *
 * The kernel side is a vhost::BlkTransport, so that tests can record calls.
 * Every failure is a vhost::Error; a message that fails is refused (a
 * non-zero REPLY_ACK when asked for) and reported through the logger, and
 * the connection goes on, unless the frontend waits for a reply it cannot
 * be given.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vhostctl/auto_layout.hpp"
#include "vhostctl/blk_config.hpp"
#include "vhostctl/device.hpp"
#include "vhostctl/guest_memory.hpp"
#include "vhostctl/kernel_transport.hpp"
#include "vhostctl/log.hpp"
#include "vhostctl/unique_fd.hpp"
#include "vhostctl/unix_socket.hpp"
#include "vhostctl/vhost_user.hpp"
#include "vhostctl/worker_layout.hpp"

namespace vhost::user {

/* Open a fresh in-kernel device (not yet owned). */
using KernelFactory = std::function<std::unique_ptr<BlkTransport>()>;

struct BackendOptions {
	/* The backing file, open (O_RDONLY when @readOnly); not owned. */
	int backendFd = -1;
	virtio::blk::Geometry geometry;
	/*
	 * The backend's geometry now, asked at every connection and by
	 * checkGeometry(); none: @geometry never changes.
	 */
	std::function<virtio::blk::Geometry()> probe;
	/* How often run() calls checkGeometry() (0: only when asked). */
	std::chrono::milliseconds checkInterval{0};
	/* GET_QUEUE_NUM and the config's num_queues. */
	unsigned int queues = 1;
	bool readOnly = false;
	/* VHOST_BLK_SET_SERIAL after SET_OWNER, when set. */
	std::optional<std::string> serial;
	uint32_t segMax = 126;
	/*
	 * Offer VIRTIO_F_RING_PACKED when the kernel does.  Off by default:
	 * a frontend that reconnects after this process died cannot recover
	 * a packed ring's state from guest memory as it does a split ring's
	 * (QEMU's virtio_queue_packed_restore_last_avail_idx does nothing),
	 * and there is no inflight tracking (INFLIGHT_SHMFD) to fall back on.
	 */
	bool packed = false;
	/* How the virtqueues are spread over workers, once per device. */
	WorkerLayout workers;
	/*
	 * For WorkerLayout::Auto: the device's counters now (its workers'
	 * busy time, its virtqueues' requests), which run() reads every
	 * layoutInterval while the backend is attached, for the policy of
	 * AutoLayout; none: the layout stays as it started.
	 */
	std::function<std::optional<LayoutSample>()> layoutSample;
	std::chrono::milliseconds layoutInterval{250};
	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT of every vq with the layout, if set. */
	std::optional<unsigned int> busyPoll;
	/* The longest wait for the rest of a message, or for a reply to go. */
	std::chrono::milliseconds ioTimeout{10000};
	/* Where refusals and connection events are reported. */
	Logger log;
};

/* Virtio feature bits the bridge may pass on from the kernel. */
uint64_t bridgeableFeatures() noexcept;
/*
 * GET_FEATURES: the kernel's bits the bridge can honour, the config-space
 * bits the bridge serves itself, and bit 30.  VIRTIO_F_RING_PACKED only
 * with @packed (BackendOptions::packed).
 */
uint64_t offeredFeatures(uint64_t kernelFeatures, bool readOnly, bool packed) noexcept;

/* One connection, from accept to hang-up. */
class Backend final
{
public:
	/* The protocol features offered. */
	static constexpr uint64_t protocolFeatures =
		(1ULL << protocolMq) | (1ULL << protocolLogShmfd) | (1ULL << protocolReplyAck) |
		(1ULL << protocolBackendReq) | (1ULL << protocolConfig);

	Backend(UniqueFd sock, KernelFactory kernel, BackendOptions opts);
	Backend(const Backend &) = delete;
	Backend &operator=(const Backend &) = delete;
	/* Closes the kernel device (its requests finish), then unmaps. */
	~Backend();

	enum class End {
		Disconnected, /* the frontend hung up */
		Stopped,      /* @stopFd became readable */
		Failed,       /* the stream is out of step or a reply could not be given */
	};
	/*
	 * Serve messages until the connection ends or @stopFd (-1: none) is
	 * readable.  When @refreshFd (an eventfd or signalfd; -1: none) is
	 * readable it is drained and checkGeometry() runs, as it does every
	 * BackendOptions::checkInterval.
	 */
	End run(int stopFd = -1, int refreshFd = -1);
	/*
	 * Probe the backend again; if its size changed, serve the new
	 * capacity in the config space, tell the kernel (setLimits) and
	 * the frontend (CONFIG_CHANGE_MSG, when it gave a backend channel).
	 * Returns whether it changed.  Throws vhost::Error if the probe
	 * fails.
	 */
	bool checkGeometry();
	/*
	 * Receive and handle one message, waiting at most @timeout for it.
	 * False when the connection is over.
	 */
	bool handleOne(std::chrono::milliseconds timeout);

	/* State, for tests and messages. */
	bool hasKernelDevice() const noexcept { return kernel_ != nullptr; }
	bool backendAttached() const noexcept { return attached_; }
	uint64_t ackedFeatures() const noexcept { return acked_; }
	uint64_t ackedProtocolFeatures() const noexcept { return protocol_; }
	const GuestMemory &memory() const noexcept { return mem_; }
	const virtio::blk::Geometry &geometry() const noexcept { return opts_.geometry; }

private:
	struct Ring {
		std::optional<unsigned int> num;
		/* SET_VRING_BASE as given: packed, both indices and wrap counters. */
		std::optional<unsigned int> base;
		std::optional<VringAddrMsg> addr;
		/* Translated, as the kernel has it. */
		std::optional<VringAddr> kernelAddr;
		UniqueFd kick;
		bool enabled = false;
		/* The kernel serves it: it was set up when the backend was attached. */
		bool active = false;
		/* Stopped in the kernel by VHOST_GET_VRING_BASE. */
		bool stopped = false;
	};

	void log(LogLevel level, std::string_view line);
	void reply(const Header &req, std::span<const std::byte> payload);
	/* Dispatch; returns the reply payload of a message that has one. */
	std::optional<std::vector<std::byte>> dispatch(Message &m);
	BlkTransport &kernel();
	BlkTransport &owned(Request req);
	Ring &ring(Request req, unsigned int index);
	uint64_t offered();

	void setOwner();
	void setFeatures(uint64_t features);
	void setProtocolFeatures(uint64_t features);
	void setMemTable(Message &m);
	void setVringNum(const VringState &s);
	void setVringBase(const VringState &s);
	void setVringAddr(const VringAddrMsg &a);
	VringState getVringBase(const VringState &s);
	void setVringFile(Message &m);
	void setVringEnable(const VringState &s);
	std::vector<std::byte> getConfig(std::span<const std::byte> payload);
	void setBackendReqFd(Message &m);
	void setLogBase(Message &m);
	void setLogFd(Message &m);
	/* What the config space says, from the options and the offer. */
	virtio::blk::ConfigParams configParams();
	/* CONFIG_CHANGE_MSG on the backend channel, if there is one. */
	void notifyConfigChange();

	/* VIRTIO_F_RING_PACKED was acked: the rings are packed. */
	bool packed() const noexcept;
	bool enabled(const Ring &r) const noexcept;
	bool wanted(const Ring &r) const noexcept;
	/* Lay the virtqueues out over workers, and set the busy-poll timeout. */
	void configureWorkers();
	/* Detach the backend, so that a ring may be reconfigured. */
	void detach();
	/* Attach the backend when enabled rings wait for it. */
	void reconcile();
	/* Close the kernel device, unmap, forget the rings: as if just connected. */
	void reset() noexcept;

	UniqueFd sock_;
	KernelFactory factory_;
	BackendOptions opts_;
	std::unique_ptr<BlkTransport> kernel_;
	/* The backend channel (SET_BACKEND_REQ_FD). */
	UniqueFd backendReq_;
	bool owner_ = false;
	bool workersDone_ = false;
	/* --workers auto: the policy, once the pool exists. */
	std::optional<AutoLayout> autoLayout_;
	void stepLayout();
	bool attached_ = false;
	uint64_t acked_ = 0;
	bool failed_ = false;
	/* A message changed what reconcile() decides. */
	bool dirty_ = false;
	/* The kernel's state could not be put back after a failure: end. */
	bool fatal_ = false;
	uint64_t protocol_ = 0;
	/* After the kernel device: destroyed first, unmapped after it closed. */
	GuestMemory mem_;
	/* The dirty log (SET_LOG_BASE), unmapped after the kernel device closed. */
	std::unique_ptr<Mapping> log_;
	/* Mappings the kernel may still use after a failed rollback. */
	std::vector<GuestMemory> retired_;
	std::vector<Ring> rings_;
};

struct ServerOptions {
	BackendOptions backend;
	/*
	 * Readable (an eventfd or signalfd) when the backend's size should
	 * be checked now: Backend::run()'s @refreshFd; drained while no
	 * connection is open (the next one probes the backend anyway).
	 */
	int refreshFd = -1;
	/*
	 * Who may connect (SO_PEERCRED, SO_PEERGROUPS): a peer it does not
	 * allow is logged and hung up on before any message is read.
	 */
	AccessPolicy access = AccessPolicy::ownerOnly();
};

/*
 * Accept connections on @listenFd one at a time, serving each with a
 * Backend, until @stopFd is readable.  Returns the connections served
 * (refused ones not counted).
 */
unsigned int serveConnections(int listenFd, int stopFd, const KernelFactory &kernel,
			      const ServerOptions &opts);

} // namespace vhost::user
