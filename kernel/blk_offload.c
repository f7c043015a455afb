// SPDX-License-Identifier: GPL-2.0
/*
 * Requests a handler would block on, run on the device's workqueue instead:
 * FLUSH, DISCARD, WRITE_ZEROES, and reads and writes the handler cannot
 * submit without waiting (a backend without non-blocking direct I/O, a
 * request direct I/O refuses or would wait for).
 *
 * Data requests carry their guest pages, pinned by the handler in the
 * owner's mm, so the workqueue never touches guest addresses (which the VMM
 * may remap once the handler let go of vq->mutex) and needs no mm.  Each
 * request runs as the backend's setter would run it: with their
 * credentials and charged to their block and memory cgroups.  A write waits
 * for a frozen filesystem by trying again later, never in sb_start_write(),
 * so no worker sits on a freeze and the freeze never waits for a queued
 * request.  Each device has its own workqueue, so a backend that hangs (a
 * dead NFS server, a FUSE daemon that does not answer) stalls that device
 * only; the limits in force bound each request, and zeroing stops early
 * once the device is released.
 */
#include <linux/blkdev.h>
#include <linux/blk-cgroup.h>
#include <linux/cred.h>
#include <linux/falloc.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/virtio_blk.h>

#include "blk.h"

/* A frozen filesystem is tried again after this long, doubling, in ms. */
#define VHB_BLK_RETRY_MIN_MS 4
#define VHB_BLK_RETRY_MAX_MS 256
/* Zeroing goes in pieces of this many bytes, to stop early on release. */
#define VHB_BLK_ZERO_CHUNK SZ_64M
/* Pages pinned per call. */
#define VHB_BLK_PIN_BATCH 32
/* A block device's misaligned request goes through bounce pages of this size. */
#define VHB_BLK_BOUNCE_BYTES SZ_1M

/* Run as the backend's setter would: credentials and cgroups. */
struct vhb_blk_ctx {
	const struct cred *old_cred;
	struct mem_cgroup *old_memcg;
};

static void vhb_blk_ctx_enter(const struct vhb_blk_backend *backend,
			      struct vhb_blk_ctx *ctx)
{
	ctx->old_cred = override_creds(backend->cred);
#ifdef CONFIG_BLK_CGROUP
	kthread_associate_blkcg(backend->blkcg_css);
#endif
#ifdef CONFIG_MEMCG
	ctx->old_memcg = set_active_memcg(backend->memcg);
#endif
}

static void vhb_blk_ctx_leave(struct vhb_blk_ctx *ctx)
{
#ifdef CONFIG_MEMCG
	set_active_memcg(ctx->old_memcg);
#endif
#ifdef CONFIG_BLK_CGROUP
	kthread_associate_blkcg(NULL);
#endif
	revert_creds(ctx->old_cred);
}

/* Try @req again later, with its backoff; it stays in flight. */
static void vhb_blk_requeue(struct vhb_blk_req *req)
{
	req->retry_ms = clamp_t(unsigned int, req->retry_ms * 2,
				VHB_BLK_RETRY_MIN_MS, VHB_BLK_RETRY_MAX_MS);
	queue_delayed_work(req->bvq->blk->wq, &req->work,
			   msecs_to_jiffies(req->retry_ms));
}

/*
 * Freeze protection for the duration of an offloaded write, without
 * waiting: false when the filesystem is frozen or freezing.
 */
static bool vhb_blk_try_start_write(const struct vhb_blk_backend *backend)
{
	return !backend->sb || sb_start_write_trylock(backend->sb);
}

static void vhb_blk_end_write_now(const struct vhb_blk_backend *backend)
{
	if (backend->sb)
		sb_end_write(backend->sb);
}

static void vhb_blk_free_bounce(struct bio_vec *bv, unsigned int n)
{
	while (n--)
		__free_page(bv[n].bv_page);
	kfree(bv);
}

/*
 * A block device never has its page cache used (mixed with direct I/O, it
 * would not be coherent): a request whose guest buffers direct I/O cannot
 * take goes through page-aligned bounce pages, a megabyte at a time.
 */
static ssize_t vhb_blk_bounce_rw(struct vhb_blk_req *req, struct kiocb *kiocb,
				 bool write)
{
	struct file *file = kiocb->ki_filp;
	unsigned int npages, i;
	struct iov_iter guest, bounce;
	struct bio_vec *bv;
	size_t done, chunk;
	ssize_t ret = 0;

	npages = DIV_ROUND_UP(min_t(size_t, req->len, VHB_BLK_BOUNCE_BYTES),
			      PAGE_SIZE);
	bv = kcalloc(npages, sizeof(*bv), GFP_KERNEL);
	if (!bv)
		return -ENOMEM;
	for (i = 0; i < npages; i++) {
		struct page *page = alloc_page(GFP_KERNEL);

		if (!page) {
			vhb_blk_free_bounce(bv, i);
			return -ENOMEM;
		}
		bvec_set_page(&bv[i], page, PAGE_SIZE, 0);
	}
	iov_iter_bvec(&guest, write ? ITER_SOURCE : ITER_DEST, req->buf, req->nr,
		      req->len);
	for (done = 0; done < req->len; done += chunk) {
		chunk = min_t(size_t, req->len - done, (size_t)npages * PAGE_SIZE);
		iov_iter_bvec(&bounce, write ? ITER_SOURCE : ITER_DEST, bv,
			      DIV_ROUND_UP(chunk, PAGE_SIZE), chunk);
		for (i = 0; write && i < DIV_ROUND_UP(chunk, PAGE_SIZE); i++) {
			size_t part = min_t(size_t, chunk - i * PAGE_SIZE, PAGE_SIZE);

			if (copy_page_from_iter(bv[i].bv_page, 0, part, &guest) != part) {
				ret = -EFAULT;
				goto out;
			}
		}
		kiocb->ki_pos = req->pos + done;
		ret = write ? file->f_op->write_iter(kiocb, &bounce) :
			      file->f_op->read_iter(kiocb, &bounce);
		if (ret != chunk) {
			ret = ret < 0 ? ret : -EIO;
			goto out;
		}
		for (i = 0; !write && i < DIV_ROUND_UP(chunk, PAGE_SIZE); i++) {
			size_t part = min_t(size_t, chunk - i * PAGE_SIZE, PAGE_SIZE);

			if (copy_page_to_iter(bv[i].bv_page, 0, part, &guest) != part) {
				ret = -EFAULT;
				goto out;
			}
		}
	}
	ret = done;
out:
	vhb_blk_free_bounce(bv, npages);
	return ret;
}

/* Offloaded IN and OUT: synchronous I/O on the pinned pages. */
static void vhb_blk_offload_rw(struct vhb_blk_req *req)
{
	const struct vhb_blk_backend *backend = &req->bvq->blk->backend;
	bool write = req->type == VIRTIO_BLK_T_OUT;
	struct file *file = backend->file;
	struct vhb_blk_ctx ctx;
	struct iov_iter iter;
	struct kiocb kiocb = {
		.ki_filp = file,
		.ki_pos = req->pos,
		.ki_flags = req->kiocb_flags | (req->direct ? IOCB_DIRECT : 0),
		.ki_ioprio = req->ioprio,
	};

	iov_iter_bvec(&iter, write ? ITER_SOURCE : ITER_DEST, req->buf, req->nr,
		      req->len);
	vhb_blk_ctx_enter(backend, &ctx);
	if (backend->bdev && !req->direct) {
		kiocb.ki_flags |= IOCB_DIRECT;
		req->ret = vhb_blk_bounce_rw(req, &kiocb, write);
		vhb_blk_ctx_leave(&ctx);
		return;
	}
	if (write)
		req->ret = file->f_op->write_iter(&kiocb, &iter);
	else
		req->ret = file->f_op->read_iter(&kiocb, &iter);
	/* Direct I/O refused the alignment after all: buffered, then. */
	if (req->ret == -EINVAL && req->direct) {
		kiocb.ki_flags &= ~IOCB_DIRECT;
		kiocb.ki_pos = req->pos;
		iov_iter_bvec(&iter, write ? ITER_SOURCE : ITER_DEST, req->buf,
			      req->nr, req->len);
		if (write)
			req->ret = file->f_op->write_iter(&kiocb, &iter);
		else
			req->ret = file->f_op->read_iter(&kiocb, &iter);
	}
	vhb_blk_ctx_leave(&ctx);
}

/*
 * Discard a block device range: drop its page cache, as BLKDISCARD does
 * (the module never fills it, but another opener's reads may have; nobody
 * holds the device exclusively, see vhb_blk_backend_init()), then discard.
 * vfs_fallocate() offers no plain discard of a block device, only zeroing.
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
	ret = blkdev_issue_discard(bdev, pos >> SECTOR_SHIFT,
				   len >> SECTOR_SHIFT, GFP_KERNEL);
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
static int vhb_blk_zero(const struct vhb_blk_backend *backend, u32 type,
			bool unmap, u64 pos, u64 len)
{
	struct file *file = backend->file;
	int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	int zero = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	int ret;

	if (type == VIRTIO_BLK_T_DISCARD)
		return backend->bdev ? vhb_blk_discard_bdev(file, pos, len) :
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

/* Offloaded DISCARD and WRITE_ZEROES: every segment, in order, in pieces. */
static u8 vhb_blk_offload_zero(struct vhb_blk_req *req)
{
	struct vhb_blk *blk = req->bvq->blk;
	const struct vhb_blk_zero_seg *seg = req->buf;
	const struct vhb_blk_backend *backend = &blk->backend;
	struct vhb_blk_ctx ctx;
	u8 status = VIRTIO_BLK_S_OK;
	unsigned int i;

	vhb_blk_ctx_enter(backend, &ctx);
	for (i = 0; i < req->nr && status == VIRTIO_BLK_S_OK; i++, seg++) {
		u64 done, chunk;
		int ret;

		for (done = 0; done < seg->len; done += chunk) {
			if (READ_ONCE(blk->dying)) {
				status = VIRTIO_BLK_S_IOERR;
				break;
			}
			chunk = min_t(u64, seg->len - done, VHB_BLK_ZERO_CHUNK);
			ret = vhb_blk_zero(backend, req->type, seg->unmap,
					   seg->pos + done, chunk);
			if (ret) {
				req->ret = ret;
				status = ret == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP :
							      VIRTIO_BLK_S_IOERR;
				break;
			}
			cond_resched();
		}
	}
	vhb_blk_ctx_leave(&ctx);
	return status;
}

static u8 vhb_blk_offload_flush(struct vhb_blk_req *req)
{
	const struct vhb_blk_backend *backend = &req->bvq->blk->backend;
	struct vhb_blk_ctx ctx;
	int ret;

	vhb_blk_ctx_enter(backend, &ctx);
	ret = vfs_fsync(backend->file, 0);
	vhb_blk_ctx_leave(&ctx);
	req->ret = ret;
	return ret ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/* A request the handler would block on, on the device's workqueue. */
static void vhb_blk_offload_fn(struct work_struct *work)
{
	struct vhb_blk_req *req = container_of(to_delayed_work(work),
					       struct vhb_blk_req, work);
	const struct vhb_blk_backend *backend = &req->bvq->blk->backend;
	bool changes = req->type != VIRTIO_BLK_T_IN &&
		       req->type != VIRTIO_BLK_T_FLUSH;

	/*
	 * A write holds freeze protection only while it runs here, so a
	 * freeze never waits for a queued request.  fallocate() takes its
	 * own; a freeze that starts after this check makes it wait for the
	 * thaw, holding nothing.
	 */
	if (changes && !vhb_blk_try_start_write(backend)) {
		vhb_blk_requeue(req);
		return;
	}
	if (changes && req->type != VIRTIO_BLK_T_OUT)
		vhb_blk_end_write_now(backend);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		vhb_blk_offload_rw(req);
		break;
	case VIRTIO_BLK_T_FLUSH:
		req->result = vhb_blk_offload_flush(req);
		break;
	default:
		req->result = vhb_blk_offload_zero(req);
		kfree(req->buf);
		req->buf = NULL;
		break;
	}
	if (req->type == VIRTIO_BLK_T_OUT)
		vhb_blk_end_write_now(backend);
	vhb_blk_req_done(req);
}

void vhb_blk_offload_init(struct vhb_blk_req *req)
{
	INIT_DELAYED_WORK(&req->work, vhb_blk_offload_fn);
}

/* Run @req on the device's workqueue.  Caller holds vq->mutex. */
void vhb_blk_offload(struct vhb_blk_req *req)
{
	vhb_stat_add(&req->bvq->offloaded, 1);
	req->retry_ms = 0;
	queue_delayed_work(req->bvq->blk->wq, &req->work, 0);
}

/* Drop the pages of an offloaded read or write, dirtying what was read. */
void vhb_blk_unpin(struct vhb_blk_req *req)
{
	struct bio_vec *bv = req->buf;
	unsigned int i;

	if (!req->pinned)
		return;
	for (i = 0; i < req->nr; i++) {
		if (req->type == VIRTIO_BLK_T_IN && req->ret > 0)
			set_page_dirty_lock(bv[i].bv_page);
		put_page(bv[i].bv_page);
	}
	kvfree(bv);
	req->buf = NULL;
	req->pinned = false;
}

/*
 * Pin the guest pages of @iov[0..@nr) (@len bytes), in the owner's mm,
 * into a bio_vec array in @req.  0, or a negative errno with nothing kept.
 */
static int vhb_blk_pin(struct vhb_blk_req *req, const struct iovec *iov,
		       unsigned int nr, size_t len, bool write)
{
	struct page *pages[VHB_BLK_PIN_BATCH];
	unsigned int max, n = 0, i;
	struct iov_iter iter;
	struct bio_vec *bv;

	/*
	 * An iovec of n bytes spans at most n / PAGE_SIZE + 2 pages: it may
	 * start and end in pages it shares with nothing else.
	 */
	max = len / PAGE_SIZE + 2 * nr;
	bv = kvmalloc_array(max, sizeof(*bv), GFP_KERNEL_ACCOUNT);
	if (!bv)
		return -ENOMEM;
	req->buf = bv;
	req->nr = 0;
	req->pinned = true;
	iov_iter_init(&iter, write ? ITER_SOURCE : ITER_DEST, iov, nr, len);
	while (iov_iter_count(&iter)) {
		size_t off, left;
		ssize_t got;

		got = iov_iter_get_pages2(&iter, pages, iov_iter_count(&iter),
					  min_t(unsigned int, max - n,
						VHB_BLK_PIN_BATCH), &off);
		if (got <= 0) {
			vhb_blk_unpin(req);
			return got ? got : -EFAULT;
		}
		for (i = 0, left = got; left; i++) {
			size_t part = min_t(size_t, left, PAGE_SIZE - off);

			bvec_set_page(&bv[n++], pages[i], part, off);
			req->nr = n;
			left -= part;
			off = 0;
		}
	}
	return 0;
}

/*
 * Offload a read or a write: pin its pages, then queue it, @direct or not
 * (buffered on a file, through bounce pages on a block device), with
 * @kiocb_flags.  Caller holds vq->mutex and has checked the request.
 */
int vhb_blk_offload_rw_req(struct vhb_blk_req *req, const struct iovec *iov,
			   unsigned int nr, bool direct, int kiocb_flags)
{
	int ret = vhb_blk_pin(req, iov, nr, req->len,
			      req->type == VIRTIO_BLK_T_OUT);

	if (ret)
		return ret;
	req->direct = direct;
	req->kiocb_flags = kiocb_flags;
	req->ioprio = get_current_ioprio();
	vhb_blk_offload(req);
	return 0;
}
