// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-blk requests: parse each chain the core fetches, submit it to the
 * backend, and return it to the guest when the backend is done.
 *
 * Reads and writes are async direct kiocbs on the backend file, over an
 * iov_iter of the owner's user addresses (the worker runs in the owner's
 * mm): no page-cache copy, no thread per request.  The backend completes
 * them, often in interrupt context, onto the virtqueue's done list; the
 * virtqueue's worker then writes the status bytes and returns the chains in
 * batches with one call signal per batch.
 *
 * No assumption is made about framing (VIRTIO_F_ANY_LAYOUT): the header may
 * span descriptors, data and the status byte may share one.  Every number in
 * a request is the guest's and is checked; a bad request completes with
 * VIRTIO_BLK_S_IOERR (or UNSUPP), a bad ring stops the virtqueue.
 */
#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/pagemap.h>
#include <linux/sched/stat.h>
#include <linux/uio.h>
#include <linux/virtio_blk.h>
#include <linux/wait_bit.h>

#include "blk.h"

#define VHB_SECTOR_SHIFT 9
#define VHB_SECTOR_SIZE BIT(VHB_SECTOR_SHIFT)
/* Segments a DISCARD or WRITE_ZEROES request may carry. */
#define VHB_BLK_MAX_ZERO_SEGS 256
/* Chains returned per used-index update and call signal. */
#define VHB_BLK_DONE_BATCH 64
/*
 * The longest busy-poll, whatever the busy-loop timeout says: the poll holds
 * vq->mutex, and a thread that takes it with mutex_lock() is not seen.
 */
#define VHB_BLK_POLL_MAX_US USEC_PER_SEC

u64 vhb_blk_backend_size(const struct vhb_blk_backend *backend)
{
	struct inode *inode = backend->file->f_mapping->host;

	if (backend->bdev)
		return bdev_nr_bytes(I_BDEV(inode));
	return i_size_read(inode);
}

/*
 * The request's outcome is known: put it on the done list for the worker.
 * Any context.  The in-flight count drops last, so that whoever waits for it
 * to reach zero finds every request on the done list.
 */
static void vhb_blk_req_done(struct vhb_blk_req *req)
{
	struct vhb_blk_vq *bvq = req->bvq;

	/*
	 * A running handler returns the request itself.  llist_add() is a full
	 * barrier before reading serving; vhb_blk_serve_end() pairs with it.
	 */
	llist_add(&req->node, &bvq->done);
	if (!READ_ONCE(bvq->serving))
		vhb_vq_work_queue(&bvq->vq, &bvq->done_work);
	if (atomic_dec_and_test(&bvq->in_flight))
		wake_up_var(&bvq->in_flight);
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

/* The sector range [@sector, @sector + @len) within the backend? */
static bool vhb_blk_in_range(struct vhb_blk *blk, u64 sector, u64 len)
{
	u64 size = vhb_blk_backend_size(&blk->backend);
	u64 pos;

	if (sector > (U64_MAX >> VHB_SECTOR_SHIFT))
		return false;
	pos = sector << VHB_SECTOR_SHIFT;
	return pos <= size && len <= size - pos;
}

/*
 * Submit a read or a write.  Direct and async when the backend and the
 * buffers allow it; otherwise buffered and synchronous, which is correct for
 * any alignment.
 */
static void vhb_blk_rw(struct vhb_blk_vq *bvq, struct vhb_blk_req *req,
		       struct iov_iter *iter, u64 sector, bool write)
{
	const struct vhb_blk_backend *backend = &bvq->blk->backend;
	size_t len = iov_iter_count(iter);
	struct kiocb *iocb = &req->iocb;
	ssize_t ret;
	u64 pos;

	if (len % VHB_SECTOR_SIZE || !vhb_blk_in_range(bvq->blk, sector, len)) {
		vhb_blk_finish(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	if (write && !backend->writable) {
		vhb_blk_finish(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	pos = sector << VHB_SECTOR_SHIFT;
	req->len = len;
	req->io = true;

	init_sync_kiocb(iocb, backend->file);
	iocb->ki_pos = pos;
	if (write)
		iocb->ki_flags |= IOCB_WRITE;
	if (backend->direct &&
	    !((iov_iter_alignment(iter) | pos) & (backend->block_size - 1))) {
		iocb->ki_flags |= IOCB_DIRECT;
		iocb->ki_complete = vhb_blk_rw_complete;
	}

	if (write)
		ret = vfs_iocb_iter_write(backend->file, iocb, iter);
	else
		ret = vfs_iocb_iter_read(backend->file, iocb, iter);
	if (ret == -EIOCBQUEUED) {
		req->write_started = write;
		return;
	}
	vhb_blk_rw_complete(iocb, ret);
}

static u8 vhb_blk_flush(struct vhb_blk *blk)
{
	return vfs_fsync(blk->backend.file, 0) ? VIRTIO_BLK_S_IOERR :
						 VIRTIO_BLK_S_OK;
}

/*
 * Discard a block device range: drop its page cache (buffered fallbacks may
 * have filled it), then discard.  vfs_fallocate() offers no plain discard
 * of a block device, only zeroing.
 */
static int vhb_blk_discard_bdev(struct file *file, u64 pos, u64 len)
{
	struct address_space *mapping = file->f_mapping;
	struct block_device *bdev = I_BDEV(mapping->host);
	int ret;

	if (!bdev_max_discard_sectors(bdev))
		return -EOPNOTSUPP;
	if ((pos | len) & (bdev_logical_block_size(bdev) - 1))
		return -EINVAL;

	filemap_invalidate_lock(mapping);
	truncate_inode_pages_range(mapping, pos, pos + len - 1);
	ret = blkdev_issue_discard(bdev, pos >> VHB_SECTOR_SHIFT,
				   len >> VHB_SECTOR_SHIFT, GFP_KERNEL);
	filemap_invalidate_unlock(mapping);
	return ret;
}

/*
 * DISCARD deallocates [@pos, @pos + @len); WRITE_ZEROES makes it read back
 * as zeros, deallocating it if @unmap.  A mode the backend lacks falls back
 * to another that gives the guest what it asked: tmpfs cannot zero a range
 * (punch instead), a block device without write-zeroes-with-unmap cannot
 * punch (zero instead).
 */
static int vhb_blk_zero(struct vhb_blk *blk, u32 type, bool unmap, u64 pos,
			u64 len)
{
	struct file *file = blk->backend.file;
	int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	int zero = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	int ret;

	if (type == VIRTIO_BLK_T_DISCARD)
		return blk->backend.bdev ? vhb_blk_discard_bdev(file, pos, len) :
					   vfs_fallocate(file, punch, pos, len);
	if (unmap) {
		ret = vfs_fallocate(file, punch, pos, len);
		if (ret != -EOPNOTSUPP)
			return ret;
		return vfs_fallocate(file, zero, pos, len);
	}
	ret = vfs_fallocate(file, zero, pos, len);
	if (ret == -EOPNOTSUPP)
		ret = vfs_fallocate(file, punch, pos, len);
	return ret;
}

/*
 * DISCARD and WRITE_ZEROES: a list of {sector, num_sectors, flags}, little
 * endian whatever the features.
 */
static u8 vhb_blk_discard_zeroes(struct vhb_blk *blk, u32 type,
				 struct iov_iter *segs)
{
	struct virtio_blk_discard_write_zeroes seg;
	size_t count = iov_iter_count(segs);
	unsigned int n, i;

	if (!blk->backend.writable)
		return VIRTIO_BLK_S_IOERR;
	if (!count || count % sizeof(seg))
		return VIRTIO_BLK_S_IOERR;
	n = count / sizeof(seg);
	if (n > VHB_BLK_MAX_ZERO_SEGS)
		return VIRTIO_BLK_S_IOERR;

	for (i = 0; i < n; i++) {
		u64 sector, len;
		u32 flags;
		int ret;

		if (copy_from_iter(&seg, sizeof(seg), segs) != sizeof(seg))
			return VIRTIO_BLK_S_IOERR;
		sector = le64_to_cpu(seg.sector);
		len = (u64)le32_to_cpu(seg.num_sectors) << VHB_SECTOR_SHIFT;
		flags = le32_to_cpu(seg.flags);
		/* UNMAP is for WRITE_ZEROES only; no other flag exists. */
		if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ||
		    (type == VIRTIO_BLK_T_DISCARD && flags))
			return VIRTIO_BLK_S_UNSUPP;
		if (!vhb_blk_in_range(blk, sector, len))
			return VIRTIO_BLK_S_IOERR;
		if (!len)
			continue;
		ret = vhb_blk_zero(blk, type,
				   flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
				   sector << VHB_SECTOR_SHIFT, len);
		if (ret == -EOPNOTSUPP)
			return VIRTIO_BLK_S_UNSUPP;
		if (ret)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
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
 * Start the request in chain @head: @out readable iovecs then @in writable
 * ones in bvq->iov.  Returns 0 once the request is under way or completed,
 * or a negative errno for a chain that cannot even carry a status, which
 * stops the virtqueue.  Caller holds vq->mutex.
 */
static int vhb_blk_start_req(struct vhb_blk_vq *bvq, unsigned int head,
			     unsigned int out, unsigned int in)
{
	struct vhb_virtqueue *vq = &bvq->vq;
	struct vhb_blk_req *req = &bvq->reqs[head];
	struct virtio_blk_outhdr hdr;
	struct iov_iter out_it, in_it;
	size_t in_len;
	u8 __user *status;
	u64 sector;

	if (req->busy) {
		vhb_vq_err(vq, "head %u made available again while in flight\n",
			   head);
		return -EINVAL;
	}
	status = vhb_blk_status_byte(bvq->iov + out, in);
	if (!status) {
		vhb_vq_err(vq, "request %u has no writable status byte\n", head);
		return -EINVAL;
	}

	req->busy = true;
	req->status = status;
	req->io = false;
	req->write_started = false;
	req->len = 0;
	req->written = 0;
	atomic_inc(&bvq->in_flight);

	in_len = iov_length(bvq->iov + out, in);
	iov_iter_init(&out_it, ITER_SOURCE, bvq->iov, out,
		      iov_length(bvq->iov, out));
	iov_iter_init(&in_it, ITER_DEST, bvq->iov + out, in, in_len);
	iov_iter_truncate(&in_it, in_len - 1);

	if (copy_from_iter(&hdr, sizeof(hdr), &out_it) != sizeof(hdr)) {
		vhb_blk_finish(req, VIRTIO_BLK_S_IOERR);
		return 0;
	}
	req->type = vhb32_to_cpu(vq, hdr.type);
	sector = vhb64_to_cpu(vq, hdr.sector);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		if (iov_iter_count(&out_it))
			break;
		vhb_blk_rw(bvq, req, &in_it, sector, false);
		return 0;
	case VIRTIO_BLK_T_OUT:
		if (iov_iter_count(&in_it))
			break;
		vhb_blk_rw(bvq, req, &out_it, sector, true);
		return 0;
	case VIRTIO_BLK_T_FLUSH:
		if (iov_iter_count(&out_it) || iov_iter_count(&in_it))
			break;
		vhb_blk_finish(req, vhb_blk_flush(bvq->blk));
		return 0;
	case VIRTIO_BLK_T_GET_ID:
		if (iov_iter_count(&out_it))
			break;
		req->written = copy_to_iter(bvq->blk->serial,
					    min_t(size_t, iov_iter_count(&in_it),
						  VHOST_BLK_SERIAL_BYTES),
					    &in_it);
		vhb_blk_finish(req, VIRTIO_BLK_S_OK);
		return 0;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (iov_iter_count(&in_it))
			break;
		vhb_blk_finish(req, vhb_blk_discard_zeroes(bvq->blk, req->type,
							   &out_it));
		return 0;
	default:
		vhb_blk_finish(req, VIRTIO_BLK_S_UNSUPP);
		return 0;
	}
	/* Data in the wrong direction for the type. */
	vhb_blk_finish(req, VIRTIO_BLK_S_IOERR);
	return 0;
}

/* The request's final status; ends a write's freeze protection. */
static u8 vhb_blk_req_status(struct vhb_blk_req *req)
{
	if (req->write_started) {
		vhb_kiocb_end_write(&req->iocb);
		req->write_started = false;
	}
	if (!req->io)
		return req->result;
	if (req->ret < 0 || (size_t)req->ret != req->len)
		return VIRTIO_BLK_S_IOERR;
	if (req->type == VIRTIO_BLK_T_IN)
		req->written = req->len;
	return VIRTIO_BLK_S_OK;
}

/*
 * Return the completed requests to the guest: write each status byte, then
 * add the chains to the used ring in batches, one call signal per batch.
 * Caller holds vq->mutex.
 */
static void vhb_blk_return_done(struct vhb_blk_vq *bvq)
{
	struct vhb_virtqueue *vq = &bvq->vq;
	struct vhb_used used[VHB_BLK_DONE_BATCH];
	struct vhb_blk_req *req, *next;
	struct llist_node *node;
	unsigned int n = 0;

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
		used[n].id = req - bvq->reqs;
		used[n].len = req->written + 1;
		req->busy = false;
		if (++n == ARRAY_SIZE(used)) {
			vhb_add_used_n(vq, used, n);
			vhb_signal(vq);
			n = 0;
		}
	}
	if (n) {
		vhb_add_used_n(vq, used, n);
		vhb_signal(vq);
	}
}

/**
 * vhb_blk_done_work - return completed requests to the guest
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
		if (vhb_vq_avail_pending(vq))
			return true;
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

/**
 * vhb_blk_handle_kick - serve a virtqueue's available requests
 *
 * Runs on the virtqueue's worker.  Submissions are plugged together, and
 * every submit_batch of them the completed requests go back to the guest.
 * The run ends when the ring is empty (after a busy-poll, if the virtqueue
 * has a busy-loop timeout), on a malformed ring, or when the fairness budget
 * is spent (the handler is then queued again).
 */
void vhb_blk_handle_kick(struct vhb_work *work)
{
	struct vhb_virtqueue *vq = container_of(work, struct vhb_virtqueue,
						poll.work);
	struct vhb_blk_vq *bvq = container_of(vq, struct vhb_blk_vq, vq);
	unsigned int batch_max = READ_ONCE(submit_batch);
	unsigned int out, in, batch = 0;
	struct blk_plug plug;
	int head, reqs = 0;

	mutex_lock(&vq->mutex);
	vhb_stat_add(&vq->stats.kicks, 1);
	if (!vq->private_data || vq->stopped)
		goto out;

	vhb_blk_serve_begin(bvq);
	vhb_disable_notify(vq);
	blk_start_plug(&plug);
	for (;;) {
		head = vhb_get_vq_desc(vq, bvq->iov, VHB_MAX_IOV, &out, &in);
		if (head < 0)
			break;
		if (head == vq->num) {
			/* The requests go to the device before any poll. */
			vhb_blk_unplug(&plug);
			batch = 0;
			if (vhb_blk_busy_poll(bvq))
				continue;
			/* Empty: ask for kicks, unless requests came meanwhile. */
			if (unlikely(vhb_enable_notify(vq))) {
				vhb_disable_notify(vq);
				continue;
			}
			break;
		}
		if (vhb_blk_start_req(bvq, head, out, in))
			break;
		if (vhb_exceeds_weight(vq, ++reqs, 0))
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
	vhb_blk_serve_end(bvq);
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
		vhb_blk_req_status(req);
		req->busy = false;
	}
}
