// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-blk requests: parse each chain the core fetches, submit it to the
 * backend, and return it to the guest when the backend is done.
 *
 * The handler never waits for the backend.  Reads and writes the backend can
 * take directly are async direct kiocbs over an iov_iter of the owner's user
 * addresses (the worker runs in the owner's mm): no page-cache copy, no
 * thread per request.  Everything that would block the handler (buffered
 * I/O for what direct I/O refuses, FLUSH, DISCARD, WRITE_ZEROES) is
 * offloaded (blk_offload.c); the limits the VMM stated
 * (VHOST_BLK_SET_LIMITS) bound each such request.  Either way the
 * backend completes the request, often in interrupt context, onto the
 * virtqueue's done list; the virtqueue's worker then writes the status bytes
 * and returns the chains in batches with one call signal per batch.
 *
 * A write to a regular file holds its filesystem's freeze protection from
 * submission to completion, as aio does.  The handler never waits for a
 * frozen filesystem: a request that cannot take the protection stays in the
 * ring, and a timer tries it again.
 *
 * No assumption is made about framing (VIRTIO_F_ANY_LAYOUT): the header may
 * span descriptors, data and the status byte may share one.  Every number in
 * a request is the guest's and is checked; a bad request completes with
 * VIRTIO_BLK_S_IOERR (or UNSUPP), a bad ring stops the virtqueue.
 */
#include <linux/blkdev.h>
#include <linux/cred.h>
#include <linux/ioprio.h>
#include <linux/sched/stat.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/virtio_blk.h>

#include "blk.h"

#define VHB_SECTOR_SHIFT 9
#define VHB_SECTOR_SIZE BIT(VHB_SECTOR_SHIFT)
/* Chains returned per used-index update and call signal. */
#define VHB_BLK_DONE_BATCH 64
/*
 * The longest busy-poll, whatever the busy-loop timeout says: the poll holds
 * vq->mutex, and a thread that takes it with mutex_lock() is not seen.
 */
#define VHB_BLK_POLL_MAX_US USEC_PER_SEC
/* Retries of a request its frozen filesystem holds back, in ms. */
#define VHB_BLK_RETRY_MIN_MS 4
#define VHB_BLK_RETRY_MAX_MS 256

u64 vhb_blk_backend_size(const struct vhb_blk_backend *backend)
{
	struct inode *inode = backend->file->f_mapping->host;

	if (backend->bdev)
		return bdev_nr_bytes(I_BDEV(inode));
	return i_size_read(inode);
}

/*
 * Latency histograms: two clock reads per request (at submission, and when
 * the avail index that shows it is read) and one per batch returned.
 */
static bool latency_stats = true;
module_param(latency_stats, bool, 0644);
MODULE_PARM_DESC(latency_stats,
		 "Keep per-virtqueue histograms of queue and service time (default on)");

/* The histograms' request type of a virtio-blk request type. */
u32 vhb_blk_op(u32 type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN:
		return VHOST_BLK_OP_READ;
	case VIRTIO_BLK_T_OUT:
		return VHOST_BLK_OP_WRITE;
	case VIRTIO_BLK_T_FLUSH:
		return VHOST_BLK_OP_FLUSH;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return VHOST_BLK_OP_DISCARD;
	}
	return VHOST_BLK_OP_OTHER;
}

/* Count @ns in @h.  Caller holds vq->mutex: the one writer. */
static void vhb_hist_add(struct vhb_hist *h, u64 ns)
{
	u64 us = div_u64(ns, NSEC_PER_USEC);
	unsigned int b = min_t(unsigned int, fls64(us),
			       VHOST_BLK_HIST_BUCKETS - 1);

	vhb_stat_add(&h->buckets[b], 1);
	vhb_stat_add(&h->sum_ns, ns);
	if (ns > h->max_ns)
		WRITE_ONCE(h->max_ns, ns);
}

/* The avail index is read now: requests it shows are seen from now on. */
static void vhb_blk_seen(struct vhb_blk_vq *bvq)
{
	bvq->seen_ns = READ_ONCE(latency_stats) ? ktime_get_ns() : 0;
}

/* Freeze protection, held by a request until it completes. */
static bool vhb_blk_start_write(struct vhb_blk_req *req,
				const struct vhb_blk_backend *backend)
{
	if (!backend->sb)
		return true;
	if (!sb_start_write_trylock(backend->sb))
		return false;
	/* Whoever completes the request inherits it (lockdep). */
	__sb_writers_release(backend->sb, SB_FREEZE_WRITE);
	req->freeze_held = true;
	return true;
}

static void vhb_blk_end_write(struct vhb_blk_req *req)
{
	struct super_block *sb = req->bvq->blk->backend.sb;

	if (req->freeze_held) {
		__sb_writers_acquired(sb, SB_FREEZE_WRITE);
		sb_end_write(sb);
		req->freeze_held = false;
	}
}

/*
 * Is the filesystem frozen (or freezing)?  For the requests whose kernel
 * helper takes freeze protection itself (fallocate): it must not wait for
 * a thaw in the handler, nor hold a kworker for one.
 */
static bool vhb_blk_frozen(const struct vhb_blk_backend *backend)
{
	if (!backend->sb)
		return false;
	if (!sb_start_write_trylock(backend->sb))
		return true;
	sb_end_write(backend->sb);
	return false;
}

/* One request of @bvq fewer in flight: wake whoever waits for none. */
static void vhb_blk_put_in_flight(struct vhb_blk_vq *bvq)
{
	struct vhb_blk *blk = bvq->blk;

	/*
	 * atomic_dec_and_test() is a full barrier between the count and the
	 * waiter check; wait_event() orders its queueing before the condition.
	 */
	if (atomic_dec_and_test(&bvq->in_flight) && waitqueue_active(&blk->drain_wq))
		wake_up_all(&blk->drain_wq);
}

/*
 * The request's outcome is known: put it on the done list for the worker.
 * Any context.  Freeze protection ends here, at completion, as aio ends it;
 * the in-flight count drops last, so that whoever waits for it to reach
 * zero finds every request on the done list.
 */
void vhb_blk_req_done(struct vhb_blk_req *req)
{
	struct vhb_blk_vq *bvq = req->bvq;

	vhb_blk_end_write(req);
	/* The device is freed after a grace period: see vhb_blk_put(). */
	rcu_read_lock();
	/*
	 * A running handler returns the request itself.  llist_add() is a full
	 * barrier before reading serving; vhb_blk_serve_end() pairs with it.
	 */
	llist_add(&req->node, &bvq->done);
	if (!READ_ONCE(bvq->serving))
		vhb_vq_work_queue(&bvq->vq, &bvq->done_work);
	vhb_blk_put_in_flight(bvq);
	rcu_read_unlock();
}

static void vhb_blk_finish(struct vhb_blk_req *req, u8 status)
{
	req->result = status;
	vhb_blk_req_done(req);
}

static void vhb_blk_rw_complete(struct kiocb *iocb, long ret)
{
	struct vhb_blk_req *req = container_of(iocb, struct vhb_blk_req, iocb);

	req->ret = ret;
	vhb_blk_req_done(req);
}

/* The bytes [@pos, @pos + @len) within the disk the guest sees? */
static bool vhb_blk_in_range(struct vhb_blk_vq *bvq, u64 pos, u64 len)
{
	u64 size = vhb_blk_backend_size(&bvq->blk->backend);

	if (bvq->limits.capacity)
		size = min(size, bvq->limits.capacity);
	return pos <= size && len <= size - pos;
}

/*
 * The kiocb flags of a request: never those the file was opened with but
 * what the opener asked of durability (O_DSYNC, O_SYNC); and a driver that
 * did not negotiate VIRTIO_BLK_F_FLUSH has a write-through device.
 */
static int vhb_blk_iocb_flags(struct vhb_blk_vq *bvq, bool write)
{
	const struct vhb_blk_backend *backend = &bvq->blk->backend;
	int flags = backend->file->f_iocb_flags & (IOCB_DSYNC | IOCB_SYNC);

	if (!write)
		return 0;
	if (!vhb_has_feature(&bvq->vq, VIRTIO_BLK_F_FLUSH))
		flags |= IOCB_DSYNC;
	return flags | IOCB_WRITE;
}

/* Can direct I/O take [@pos, @pos + @len) from these buffers as they are? */
static bool vhb_blk_dio_ok(const struct vhb_blk_backend *backend, u64 pos,
			   const struct iovec *iov, unsigned int nr, size_t len)
{
	unsigned long mem = backend->dio_mem_align - 1;
	unsigned long off = backend->dio_offset_align - 1;
	unsigned int i;

	if (!backend->direct || ((pos | len) & off))
		return false;
	/* Empty iovecs carry no data: their addresses do not matter. */
	for (i = 0; i < nr; i++) {
		if (iov[i].iov_len &&
		    (((unsigned long)iov[i].iov_base & mem) || (iov[i].iov_len & off)))
			return false;
	}
	return true;
}

/*
 * Submit a read or a write of the buffers @iov[0..@nr), @len bytes, at
 * sector @sector.  Direct and async when the backend and the buffers allow
 * it and the backend can take it without waiting; otherwise offloaded, direct
 * or buffered.  Returns 0 once the request is under way or completed, or
 * -EAGAIN when a write's filesystem is frozen: the request has not started.
 */
static int vhb_blk_rw(struct vhb_blk_vq *bvq, struct vhb_blk_req *req,
		      const struct iovec *iov, unsigned int nr, size_t len,
		      u64 sector, bool write)
{
	const struct vhb_blk_backend *backend = &bvq->blk->backend;
	struct file *file = backend->file;
	struct kiocb *iocb = &req->iocb;
	struct iov_iter iter;
	bool direct;
	ssize_t ret;

	if (len % VHB_SECTOR_SIZE || sector > (U64_MAX >> VHB_SECTOR_SHIFT) ||
	    !vhb_blk_in_range(bvq, sector << VHB_SECTOR_SHIFT, len) ||
	    (write && bvq->limits.read_only) ||
	    /* A block device is only read and written whole blocks. */
	    (backend->bdev && ((sector << VHB_SECTOR_SHIFT) | len) &
			      (backend->dio_offset_align - 1))) {
		vhb_blk_finish(req, VIRTIO_BLK_S_IOERR);
		return 0;
	}
	if (write && !vhb_blk_start_write(req, backend))
		return -EAGAIN;
	req->pos = sector << VHB_SECTOR_SHIFT;
	req->len = len;
	req->io = true;

	direct = vhb_blk_dio_ok(backend, req->pos, iov, nr, len);
	if (direct && !backend->offload_all) {
		*iocb = (struct kiocb) {
			.ki_filp = file,
			.ki_pos = req->pos,
			.ki_flags = vhb_blk_iocb_flags(bvq, write) | IOCB_DIRECT |
				    (backend->nowait ? IOCB_NOWAIT : 0),
			.ki_ioprio = get_current_ioprio(),
			.ki_complete = vhb_blk_rw_complete,
		};
		iov_iter_init(&iter, write ? ITER_SOURCE : ITER_DEST, iov, nr,
			      len);
		if (write)
			ret = file->f_op->write_iter(iocb, &iter);
		else
			ret = file->f_op->read_iter(iocb, &iter);
		if (ret == -EIOCBQUEUED)
			return 0;
		/*
		 * It would have waited (EAGAIN: a lock, an allocation, page
		 * cache to write back), or refused the alignment (EINVAL):
		 * offloaded, direct or buffered.
		 */
		if (ret != -EAGAIN && ret != -EINVAL) {
			vhb_blk_rw_complete(iocb, ret);
			return 0;
		}
		direct = ret == -EAGAIN;
	}

	/* The workqueue takes freeze protection while it writes. */
	vhb_blk_end_write(req);
	ret = vhb_blk_offload_rw_req(req, iov, nr, direct,
				     vhb_blk_iocb_flags(bvq, write));
	if (ret) {
		req->ret = ret;
		vhb_blk_req_done(req);
	}
	return 0;
}

/*
 * DISCARD and WRITE_ZEROES: a list of {sector, num_sectors, flags}, little
 * endian whatever the features.  Checks every segment against the limits
 * and copies it in, then offloads the request.  Returns 0 once the request
 * is under way or completed, -EAGAIN when the filesystem is frozen.
 */
static int vhb_blk_discard_zeroes(struct vhb_blk_vq *bvq,
				  struct vhb_blk_req *req, struct iov_iter *segs)
{
	const struct vhb_blk_limits *l = &bvq->limits;
	bool discard = req->type == VIRTIO_BLK_T_DISCARD;
	u64 max_len = discard ? l->max_discard_bytes : l->max_write_zeroes_bytes;
	u32 max_seg = discard ? l->max_discard_seg : l->max_write_zeroes_seg;
	size_t count = iov_iter_count(segs);
	struct virtio_blk_discard_write_zeroes seg;
	struct vhb_blk_zero_seg *zs;
	unsigned int n, i, k;
	u8 status;

	if (!vhb_has_feature(&bvq->vq, discard ? VIRTIO_BLK_F_DISCARD :
						VIRTIO_BLK_F_WRITE_ZEROES)) {
		vhb_blk_finish(req, VIRTIO_BLK_S_UNSUPP);
		return 0;
	}
	if (l->read_only || !count || count % sizeof(seg)) {
		vhb_blk_finish(req, VIRTIO_BLK_S_IOERR);
		return 0;
	}
	if (!max_len) {
		vhb_blk_finish(req, VIRTIO_BLK_S_UNSUPP);
		return 0;
	}
	n = count / sizeof(seg);
	if (n > max_seg) {
		vhb_blk_finish(req, VIRTIO_BLK_S_UNSUPP);
		return 0;
	}
	if (vhb_blk_frozen(&bvq->blk->backend))
		return -EAGAIN;

	zs = kmalloc_array(n, sizeof(*zs), GFP_KERNEL_ACCOUNT);
	if (!zs) {
		vhb_blk_finish(req, VIRTIO_BLK_S_IOERR);
		return 0;
	}
	for (i = 0, k = 0; i < n; i++) {
		u64 sector, len;
		u32 flags;

		status = VIRTIO_BLK_S_IOERR;
		if (copy_from_iter(&seg, sizeof(seg), segs) != sizeof(seg))
			goto err;
		sector = le64_to_cpu(seg.sector);
		len = (u64)le32_to_cpu(seg.num_sectors) << VHB_SECTOR_SHIFT;
		flags = le32_to_cpu(seg.flags);
		/* UNMAP is for WRITE_ZEROES only; no other flag exists. */
		status = VIRTIO_BLK_S_UNSUPP;
		if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ||
		    (discard && flags))
			goto err;
		status = VIRTIO_BLK_S_IOERR;
		if (len > max_len || sector > (U64_MAX >> VHB_SECTOR_SHIFT) ||
		    !vhb_blk_in_range(bvq, sector << VHB_SECTOR_SHIFT, len))
			goto err;
		if (!len)
			continue;
		zs[k].pos = sector << VHB_SECTOR_SHIFT;
		zs[k].len = len;
		zs[k].unmap = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		k++;
	}
	if (!k) {
		kfree(zs);
		vhb_blk_finish(req, VIRTIO_BLK_S_OK);
		return 0;
	}
	req->buf = zs;
	req->nr = k;
	vhb_blk_offload(req);
	return 0;

err:
	kfree(zs);
	vhb_blk_finish(req, status);
	return 0;
}

/* The serial GET_ID returns, at most @max bytes of it into @buf: how many. */
static size_t vhb_blk_serial(struct vhb_blk *blk, char *buf, size_t max)
{
	spin_lock(&blk->dev.snap_lock);
	memcpy(buf, blk->serial, VHOST_BLK_SERIAL_BYTES);
	spin_unlock(&blk->dev.snap_lock);
	return min_t(size_t, max, VHOST_BLK_SERIAL_BYTES);
}

/* The user address of the chain's last writable byte: the status. */
static u8 __user *vhb_blk_status_byte(const struct iovec *iov, unsigned int n)
{
	while (n--) {
		if (iov[n].iov_len)
			return (u8 __user *)iov[n].iov_base + iov[n].iov_len - 1;
	}
	return NULL;
}

/*
 * Drop @bytes from the front of the iovecs @iov[0..*@nr): returns where the
 * rest starts, and its count in *@nr.  The iovecs are the chain's scratch.
 */
static struct iovec *vhb_iov_pull(struct iovec *iov, unsigned int *nr,
				  size_t bytes)
{
	while (*nr && bytes >= iov->iov_len) {
		bytes -= iov->iov_len;
		iov++;
		(*nr)--;
	}
	if (*nr && bytes) {
		iov->iov_base += bytes;
		iov->iov_len -= bytes;
	}
	return iov;
}

/*
 * Drop the last byte of the iovecs @iov[0..@nr), the status byte, and the
 * empty iovecs it leaves at the end.  Returns how many iovecs remain.
 */
static unsigned int vhb_iov_drop_status(struct iovec *iov, unsigned int nr)
{
	while (nr && !iov[nr - 1].iov_len)
		nr--;
	if (nr)
		iov[nr - 1].iov_len--;
	while (nr && !iov[nr - 1].iov_len)
		nr--;
	return nr;
}

/* Does the chain keep to the VMM's segment limits (seg_max, size_max)? */
static bool vhb_blk_chain_ok(const struct vhb_blk_vq *bvq,
			     const struct vhb_chain_info *info)
{
	const struct vhb_blk_limits *l = &bvq->limits;

	if (info->oversized)
		return false;
	/* The header and the status may take a descriptor each. */
	if (l->seg_max && info->ndesc > l->seg_max + 2)
		return false;
	return !l->size_max || info->max_len <= l->size_max;
}

/*
 * Start a request on the chain's data, by its type.  @iov holds @info->out
 * readable iovecs then @info->in writable ones, header and status still
 * in.  Returns 0 once the request is under way or completed, -EAGAIN when
 * it cannot start yet.
 */
static int vhb_blk_dispatch(struct vhb_blk_vq *bvq, struct vhb_blk_req *req,
			    struct iovec *iov, const struct vhb_chain_info *info)
{
	struct iovec *out_iov = iov, *in_iov = iov + info->out;
	unsigned int out = info->out, in = info->in;
	size_t out_len = iov_length(out_iov, out);
	size_t in_len = iov_length(in_iov, in) - 1;
	char serial[VHOST_BLK_SERIAL_BYTES];
	struct virtio_blk_outhdr hdr;
	struct iov_iter it;
	u64 sector;

	iov_iter_init(&it, ITER_SOURCE, out_iov, out, out_len);
	if (!vhb_blk_chain_ok(bvq, info) ||
	    copy_from_iter(&hdr, sizeof(hdr), &it) != sizeof(hdr)) {
		vhb_blk_finish(req, VIRTIO_BLK_S_IOERR);
		return 0;
	}
	req->type = vhb32_to_cpu(&bvq->vq, hdr.type);
	sector = vhb64_to_cpu(&bvq->vq, hdr.sector);
	out_iov = vhb_iov_pull(out_iov, &out, sizeof(hdr));
	out_len -= sizeof(hdr);
	in = vhb_iov_drop_status(in_iov, in);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		if (out_len)
			break;
		return vhb_blk_rw(bvq, req, in_iov, in, in_len, sector, false);
	case VIRTIO_BLK_T_OUT:
		if (in_len)
			break;
		return vhb_blk_rw(bvq, req, out_iov, out, out_len, sector, true);
	case VIRTIO_BLK_T_FLUSH:
		if (out_len || in_len)
			break;
		vhb_blk_offload(req);
		return 0;
	case VIRTIO_BLK_T_GET_ID:
		if (out_len)
			break;
		iov_iter_init(&it, ITER_DEST, in_iov, in, in_len);
		in_len = vhb_blk_serial(bvq->blk, serial, in_len);
		req->written = copy_to_iter(serial, in_len, &it);
		vhb_blk_finish(req, VIRTIO_BLK_S_OK);
		return 0;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (in_len)
			break;
		iov_iter_init(&it, ITER_SOURCE, out_iov, out, out_len);
		return vhb_blk_discard_zeroes(bvq, req, &it);
	default:
		vhb_blk_finish(req, VIRTIO_BLK_S_UNSUPP);
		return 0;
	}
	/* Data in the wrong direction for the type. */
	vhb_blk_finish(req, VIRTIO_BLK_S_IOERR);
	return 0;
}

/*
 * Start the request in chain @head, whose buffers are in bvq->iov.  Returns
 * 0 once the request is under way or completed, -EAGAIN when it cannot
 * start yet (the caller gives the chain back to the ring), or another
 * negative errno for a chain that cannot even carry a status, which stops
 * the virtqueue.  Caller holds vq->mutex.
 */
static int vhb_blk_start_req(struct vhb_blk_vq *bvq, unsigned int head,
			     const struct vhb_chain_info *info)
{
	struct vhb_virtqueue *vq = &bvq->vq;
	struct vhb_blk_req *req = &bvq->reqs[head];
	int ret;

	if (req->busy) {
		vhb_vq_err(vq, "head %u made available again while in flight\n",
			   head);
		return -EINVAL;
	}
	req->status = vhb_blk_status_byte(bvq->iov + info->out, info->in);
	if (!req->status) {
		vhb_vq_err(vq, "request %u has no writable status byte\n", head);
		return -EINVAL;
	}

	req->busy = true;
	req->io = false;
	req->freeze_held = false;
	req->type = 0;
	req->len = 0;
	req->written = 0;
	req->ret = 0;
	req->seen_ns = bvq->seen_ns;
	req->submit_ns = READ_ONCE(latency_stats) && req->seen_ns ?
			 ktime_get_ns() : 0;
	atomic_inc(&bvq->in_flight);

	ret = vhb_blk_dispatch(bvq, req, bvq->iov, info);
	if (ret == -EAGAIN) {
		/* Not started: the ring keeps the chain. */
		req->busy = false;
		vhb_blk_put_in_flight(bvq);
	} else if (req->submit_ns) {
		/* Done or not, the request and its type stay until returned. */
		vhb_hist_add(&bvq->hist[VHOST_BLK_HIST_QUEUE][vhb_blk_op(req->type)],
			     req->submit_ns - req->seen_ns);
	}
	return ret;
}

/* The request's final status; drops what an offloaded one held. */
static u8 vhb_blk_req_status(struct vhb_blk_req *req)
{
	vhb_blk_unpin(req);
	if (!req->io)
		return req->result;
	if (req->ret < 0 || (size_t)req->ret != req->len)
		return VIRTIO_BLK_S_IOERR;
	if (req->type == VIRTIO_BLK_T_IN)
		req->written = req->len;
	return VIRTIO_BLK_S_OK;
}

/*
 * While migrating (VHOST_F_LOG_ALL), mark the guest memory a completed
 * request wrote: a read's whole buffer once it went to the backend (a
 * failed read may have written part of it), GET_ID's serial, and the
 * status byte of every request.
 */
static void vhb_blk_log_req(struct vhb_blk_vq *bvq, struct vhb_blk_req *req)
{
	u64 data = req->written;

	if (req->type == VIRTIO_BLK_T_IN && req->io)
		data = req->len;
	vhb_log_chain(&bvq->vq, req - bvq->reqs, data);
}

/* Count a request the backend failed, and announce it (rate-limited). */
static void vhb_blk_io_error(struct vhb_blk_vq *bvq, struct vhb_blk_req *req)
{
	vhb_stat_add(&bvq->io_errors, 1);
	vhb_nl_notify_io_error(bvq, req->ret < 0 ? -req->ret : EIO,
			       vhb_blk_op(req->type));
}

/* Count a returned request's service time; @now is 0 until read. */
static void vhb_blk_account(struct vhb_blk_vq *bvq, struct vhb_blk_req *req,
			    u64 *now)
{
	if (!req->submit_ns)
		return;
	if (!*now)
		*now = ktime_get_ns();
	vhb_hist_add(&bvq->hist[VHOST_BLK_HIST_SERVICE][vhb_blk_op(req->type)],
		     *now - req->submit_ns);
}

/*
 * Return the completed requests to the guest: write each status byte, then
 * add the chains to the used ring in batches, one call signal per batch.
 * What they wrote is marked in the dirty log before they are returned.
 * Caller holds vq->mutex.
 */
static void vhb_blk_return_done(struct vhb_blk_vq *bvq)
{
	struct vhb_virtqueue *vq = &bvq->vq;
	struct vhb_used used[VHB_BLK_DONE_BATCH];
	bool logs = vhb_vq_logs_writes(vq);
	struct vhb_blk_req *req, *next;
	struct llist_node *node;
	unsigned int n = 0;
	u64 now = 0;

	/* Read before taking: a busy-poll calls this in a loop. */
	if (llist_empty(&bvq->done))
		return;
	node = llist_reverse_order(llist_del_all(&bvq->done));
	llist_for_each_entry_safe(req, next, node, node) {
		u8 status = vhb_blk_req_status(req);

		if (put_user(status, req->status))
			vhb_vq_err(vq, "cannot write the status of request %td\n",
				   req - bvq->reqs);
		if (status == VIRTIO_BLK_S_OK)
			vhb_stat_add(&vq->stats.bytes, req->len);
		else if (status == VIRTIO_BLK_S_IOERR && (req->io || req->ret < 0))
			vhb_blk_io_error(bvq, req);
		vhb_blk_account(bvq, req, &now);
		if (logs)
			vhb_blk_log_req(bvq, req);
		used[n].id = req - bvq->reqs;
		used[n].len = req->written + 1;
		req->busy = false;
		if (++n == ARRAY_SIZE(used)) {
			vhb_add_used_n(vq, used, n);
			vhb_log_signal(vq);
			vhb_signal(vq);
			n = 0;
		}
	}
	if (n) {
		vhb_add_used_n(vq, used, n);
		vhb_log_signal(vq);
		vhb_signal(vq);
	}
}

/**
 * vhb_blk_done_work - return completed requests to the guest
 * @work: the virtqueue's done_work
 *
 * Runs on the virtqueue's worker, queued by the first completion of a batch
 * while no handler of the virtqueue runs (a running one returns them).
 */
void vhb_blk_done_work(struct vhb_work *work)
{
	struct vhb_blk_vq *bvq = container_of(work, struct vhb_blk_vq,
					      done_work);

	mutex_lock(&bvq->vq.mutex);
	vhb_blk_return_done(bvq);
	mutex_unlock(&bvq->vq.mutex);
}

/*
 * The ring is empty: spin for up to the virtqueue's busy-loop timeout
 * (VHOST_SET_VRING_BUSYLOOP_TIMEOUT), returning completions as they come,
 * until the driver adds a request.  The driver need not kick meanwhile, and
 * the worker need not sleep and be woken.  Gives way to another task on
 * its CPU, a signal, the worker's other work and anyone waiting for
 * vq->mutex.  Returns whether a request is there.  Caller holds vq->mutex,
 * serving, with notifications disabled and nothing plugged.
 */
static bool vhb_blk_busy_poll(struct vhb_blk_vq *bvq)
{
	struct vhb_virtqueue *vq = &bvq->vq;
	u64 end;

	if (!vq->busyloop_timeout)
		return false;

	end = ktime_get_ns() +
	      min_t(u64, vq->busyloop_timeout, VHB_BLK_POLL_MAX_US) * NSEC_PER_USEC;
	for (;;) {
		vhb_blk_return_done(bvq);
		if (vhb_vq_avail_pending(vq)) {
			vhb_blk_seen(bvq);
			return true;
		}
		if (need_resched() || !single_task_running() ||
		    signal_pending(current) || vhb_vq_worker_has_work(vq) ||
		    vhb_vq_lock_wanted(vq) || ktime_get_ns() >= end)
			return false;
		cpu_relax();
	}
}

/*
 * The handler returns completions itself while it runs: they queue no done
 * work, which would only wake the worker for nothing, and end a busy-poll.
 */
static void vhb_blk_serve_begin(struct vhb_blk_vq *bvq)
{
	WRITE_ONCE(bvq->serving, true);
}

static void vhb_blk_serve_end(struct vhb_blk_vq *bvq)
{
	/* Completions from now on queue the done work. */
	WRITE_ONCE(bvq->serving, false);
	/*
	 * Pairs with llist_add() in vhb_blk_req_done(): a completion that
	 * still saw serving set is on the list read below.
	 */
	smp_mb();
	vhb_blk_return_done(bvq);
}

/* Send the plugged requests to the device (6.1 exports no blk_flush_plug()). */
static void vhb_blk_unplug(struct blk_plug *plug)
{
	blk_finish_plug(plug);
	blk_start_plug(plug);
}

/*
 * Completions go back to the guest every submit_batch submissions of a run,
 * not only once the ring is empty, while the worker has its CPU to itself:
 * the guest reaps and refills while the worker goes on submitting, instead
 * of the two taking turns.
 */
static unsigned int submit_batch = 16;
module_param(submit_batch, uint, 0644);
MODULE_PARM_DESC(submit_batch,
		 "Requests a worker submits before it returns those completed to the guest (default 16; 0: once the ring is empty)");

/* A request could not start: try the ring again later, backing off. */
static void vhb_blk_retry_later(struct vhb_blk_vq *bvq)
{
	bvq->retry_ms = clamp(bvq->retry_ms * 2, VHB_BLK_RETRY_MIN_MS,
			      VHB_BLK_RETRY_MAX_MS);
	mod_timer(&bvq->retry_timer,
		  jiffies + msecs_to_jiffies(bvq->retry_ms));
}

void vhb_blk_retry_timer(struct timer_list *t)
{
	struct vhb_blk_vq *bvq = from_timer(bvq, t, retry_timer);

	vhb_vq_work_queue(&bvq->vq, &bvq->vq.poll.work);
}

/*
 * Fetch and start requests until the ring is empty, the fairness budget is
 * spent (the handler is queued again) or a request must wait.  Returns
 * whether the ring was found empty.
 */
static bool vhb_blk_serve_ring(struct vhb_blk_vq *bvq)
{
	struct vhb_virtqueue *vq = &bvq->vq;
	unsigned int batch_max = READ_ONCE(submit_batch);
	struct vhb_chain_info info;
	unsigned int batch = 0;
	struct blk_plug plug;
	int head, ret, reqs = 0;
	bool empty = false;

	blk_start_plug(&plug);
	for (;;) {
		/* It reads the avail index when it has used up the last one. */
		if (vhb_vq_avail_seen_all(vq))
			vhb_blk_seen(bvq);
		head = vhb_get_vq_desc(vq, bvq->iov, VHB_MAX_IOV, &info);
		if (head < 0) {
			vhb_vq_set_broken(vq);
			break;
		}
		if (head == vq->num) {
			empty = true;
			break;
		}
		ret = vhb_blk_start_req(bvq, head, &info);
		if (ret) {
			/*
			 * The chain stays in the ring: retried later, or where
			 * the stopped ring's VHOST_GET_VRING_BASE says it is.
			 */
			vhb_unget_vq_desc(vq);
			if (ret == -EAGAIN)
				vhb_blk_retry_later(bvq);
			else
				vhb_vq_set_broken(vq);
			break;
		}
		bvq->retry_ms = 0;
		if (vhb_exceeds_weight(vq, ++reqs))
			break;
		if (batch_max && ++batch >= batch_max) {
			batch = 0;
			/*
			 * Only with a CPU to itself: where other tasks wait for
			 * this one, a woken driver just competes with them.
			 */
			if (single_task_running()) {
				vhb_blk_unplug(&plug);
				vhb_blk_return_done(bvq);
			}
		}
	}
	blk_finish_plug(&plug);
	return empty;
}

/**
 * vhb_blk_handle_kick - serve a virtqueue's available requests
 * @work: the virtqueue's kick work
 *
 * Runs on the virtqueue's worker, with the credentials of whoever set the
 * backend.  Submissions are plugged together, and every submit_batch of
 * them the completed requests go back to the guest.  The run ends when the
 * ring is empty (after a busy-poll, if the virtqueue has a busy-loop
 * timeout), on a malformed ring (which stops the virtqueue), when the
 * fairness budget is spent (the handler is then queued again), or when a
 * request must wait for its filesystem to thaw (a timer queues it again).
 */
void vhb_blk_handle_kick(struct vhb_work *work)
{
	struct vhb_virtqueue *vq = container_of(work, struct vhb_virtqueue,
						poll.work);
	struct vhb_blk_vq *bvq = container_of(vq, struct vhb_blk_vq, vq);
	const struct cred *old_cred;
	struct vhb_blk *blk;

	mutex_lock(&vq->mutex);
	vhb_stat_add(&vq->stats.kicks, 1);
	blk = vq->private_data;
	if (!blk || vq->stopped || vq->broken)
		goto out;

	old_cred = override_creds(blk->backend.cred);
	vhb_blk_serve_begin(bvq);
	vhb_disable_notify(vq);
	for (;;) {
		if (!vhb_blk_serve_ring(bvq))
			break;
		/* Empty: the requests went to the device; poll a while. */
		if (vhb_blk_busy_poll(bvq))
			continue;
		/* Ask for kicks, unless requests came meanwhile. */
		if (likely(!vhb_enable_notify(vq)))
			break;
		vhb_disable_notify(vq);
	}
	vhb_blk_serve_end(bvq);
	revert_creds(old_cred);
out:
	mutex_unlock(&vq->mutex);
}

/*
 * Forget completed requests without returning them: the guest is gone (its
 * worker was killed) and the device is being torn down.
 */
void vhb_blk_drop_done(struct vhb_blk_vq *bvq)
{
	struct vhb_blk_req *req, *next;
	struct llist_node *node = llist_del_all(&bvq->done);

	llist_for_each_entry_safe(req, next, node, node) {
		vhb_blk_unpin(req);
		req->busy = false;
	}
}

static unsigned int drain_timeout_ms = 30000;
module_param(drain_timeout_ms, uint, 0644);
MODULE_PARM_DESC(drain_timeout_ms,
		 "How long stopping a virtqueue or detaching the backend waits for requests in flight, in ms (default 30000)");

/* When a drain that starts now must give up. */
unsigned long vhb_blk_drain_deadline(void)
{
	return jiffies + msecs_to_jiffies(READ_ONCE(drain_timeout_ms));
}

/**
 * vhb_blk_wait_idle - wait until every request of @bvq has completed
 * @bvq: the virtqueue
 * @deadline: in jiffies, from vhb_blk_drain_deadline()
 *
 * Killable.  Returns 0, -EINTR or -ETIMEDOUT.
 */
int vhb_blk_wait_idle(struct vhb_blk_vq *bvq, unsigned long deadline)
{
	long left = (long)(deadline - jiffies), ret;

	ret = wait_event_killable_timeout(bvq->blk->drain_wq,
					  !atomic_read(&bvq->in_flight),
					  max(left, 1L));
	if (ret < 0)
		return -EINTR;
	return ret ? 0 : -ETIMEDOUT;
}

/*
 * The same, without bound, for the device's release: requests in flight
 * use the device's memory.
 */
void vhb_blk_wait_idle_forever(struct vhb_blk_vq *bvq)
{
	wait_event(bvq->blk->drain_wq, !atomic_read(&bvq->in_flight));
}
