// SPDX-License-Identifier: GPL-2.0
/*
 * Workers: the threads that run a device's work, and the four worker ioctls.
 *
 * A worker runs work items from a lock-free list, in order.  It is either a
 * vhost_task, a thread of the owning process that inherits its mm, cgroups,
 * namespaces and RLIMIT_NPROC accounting, or (on kernels without vhost_task,
 * or when userspace asks with VHOST_SET_FORK_FROM_OWNER) a kthread that
 * adopts the owner's mm and cgroups.
 *
 * A virtqueue's worker is published through vq->worker (RCU).  Moving a
 * virtqueue to another worker publishes the new one, waits for RCU readers
 * that may still queue on the old one, then flushes the old one: its work for
 * that virtqueue has run before the move completes, and any work queued from
 * then on runs on the new worker.  Handlers hold vq->mutex, so even a work
 * item still running on the old worker never overlaps one on the new.
 */
#include <linux/cgroup.h>
#include <linux/completion.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "vhost.h"

atomic_t vhb_topology_gen = ATOMIC_INIT(0);

static unsigned int kthread_max_workers = 16;
module_param(kthread_max_workers, uint, 0644);
MODULE_PARM_DESC(kthread_max_workers,
		 "Most workers a device may have in kthread mode, where workers escape RLIMIT_NPROC (default 16)");

struct vhb_worker_ops {
	/* Create the thread, stopped; returns 0 or a negative errno. */
	int (*create)(struct vhb_worker *worker, const char *name);
	void (*start)(struct vhb_worker *worker);
	/* Stop and reap the thread; its list is empty by then. */
	void (*stop)(struct vhb_worker *worker);
	void (*wake)(struct vhb_worker *worker);
};

void vhb_work_init(struct vhb_work *work, vhb_work_fn_t fn)
{
	clear_bit(VHB_WORK_QUEUED, &work->flags);
	work->fn = fn;
}

static void vhb_worker_queue(struct vhb_worker *worker, struct vhb_work *work)
{
	if (!test_and_set_bit(VHB_WORK_QUEUED, &work->flags)) {
		/*
		 * llist_add() orders the list insertion before the wake-up
		 * and pairs with llist_del_all() in vhb_worker_run().
		 */
		llist_add(&work->node, &worker->work_list);
		worker->ops->wake(worker);
	}
}

/**
 * vhb_vq_work_queue - queue work on the worker that serves @vq
 * @vq: the virtqueue
 * @work: the work to run
 *
 * Returns false when @vq has no worker (not owned yet, or its worker was
 * killed); the caller then owns the consequences.
 */
bool vhb_vq_work_queue(struct vhb_virtqueue *vq, struct vhb_work *work)
{
	struct vhb_worker *worker;
	bool queued = false;

	rcu_read_lock();
	worker = rcu_dereference(vq->worker);
	if (worker) {
		vhb_worker_queue(worker, work);
		queued = true;
	}
	rcu_read_unlock();
	return queued;
}

/*
 * Run every work item on the worker's list; in the worker's thread.  Returns
 * whether there was any.
 */
static bool vhb_worker_run(void *data)
{
	struct vhb_worker *worker = data;
	struct vhb_work *work, *next;
	struct llist_node *node;
	u64 start;

	node = llist_del_all(&worker->work_list);
	if (!node)
		return false;

	__set_current_state(TASK_RUNNING);
	start = ktime_get_ns();
	/* The list is LIFO; run the items in the order they were queued. */
	node = llist_reverse_order(node);
	llist_for_each_entry_safe(work, next, node, node) {
		/*
		 * Clear QUEUED before running, so that the work can be queued
		 * again while it runs and is not lost.
		 */
		clear_bit(VHB_WORK_QUEUED, &work->flags);
		work->fn(work);
		/* Netlink reads the counters locklessly. */
		vhb_stat_add(&worker->stats.works, 1);
		cond_resched();
	}
	vhb_stat_add(&worker->stats.wakeups, 1);
	vhb_stat_add(&worker->stats.busy_ns, ktime_get_ns() - start);
	return true;
}

struct vhb_flush {
	struct vhb_work work;
	struct completion done;
	/* A killable flush is on the heap, shared with its waiter. */
	refcount_t ref;
	bool heap;
};

static void vhb_flush_put(struct vhb_flush *flush)
{
	if (refcount_dec_and_test(&flush->ref))
		kfree(flush);
}

static void vhb_flush_fn(struct vhb_work *work)
{
	struct vhb_flush *flush = container_of(work, struct vhb_flush, work);
	bool heap = flush->heap;

	/* A flush on its waiter's stack is gone once completed. */
	complete(&flush->done);
	if (heap)
		vhb_flush_put(flush);
}

/*
 * Queue a flush on @worker and wait until it and everything queued before it
 * ran.  Caller holds worker->mutex, which is dropped while waiting: the
 * SIGKILL handler needs it to finish the flush by running the list.  A
 * killed worker has already run its list; an unattached one has no
 * virtqueue work to flush, unless @force.
 */
static void __vhb_worker_flush(struct vhb_worker *worker, bool force)
{
	struct vhb_flush flush;

	if (worker->killed || (!force && !worker->attachment_cnt))
		return;

	init_completion(&flush.done);
	vhb_work_init(&flush.work, vhb_flush_fn);
	flush.heap = false;
	vhb_worker_queue(worker, &flush.work);
	mutex_unlock(&worker->mutex);
	wait_for_completion(&flush.done);
	mutex_lock(&worker->mutex);
}

static void vhb_worker_flush(struct vhb_worker *worker)
{
	mutex_lock(&worker->mutex);
	__vhb_worker_flush(worker, false);
	mutex_unlock(&worker->mutex);
}

/*
 * Flush @worker, giving up on a fatal signal: the flush, on the heap, then
 * frees itself when the worker gets to it.  0, -EINTR or -ENOMEM.
 */
static int vhb_worker_flush_killable(struct vhb_worker *worker)
{
	struct vhb_flush *flush;
	int ret = 0;

	flush = kmalloc(sizeof(*flush), GFP_KERNEL);
	if (!flush)
		return -ENOMEM;
	init_completion(&flush->done);
	vhb_work_init(&flush->work, vhb_flush_fn);
	refcount_set(&flush->ref, 2);
	flush->heap = true;

	mutex_lock(&worker->mutex);
	if (worker->killed || !worker->attachment_cnt) {
		mutex_unlock(&worker->mutex);
		kfree(flush);
		return 0;
	}
	vhb_worker_queue(worker, &flush->work);
	mutex_unlock(&worker->mutex);
	if (wait_for_completion_killable(&flush->done))
		ret = -EINTR;
	vhb_flush_put(flush);
	return ret;
}

/**
 * vhb_vq_flush_killable - flush the worker serving @vq, killably
 * @vq: the virtqueue
 *
 * For the waits userspace causes (VHOST_GET_VRING_BASE, a detach): a
 * handler may be stuck on guest memory (a userfaultfd page).  Caller holds
 * dev->mutex, not vq->mutex.  0, -EINTR or -ENOMEM.
 */
int vhb_vq_flush_killable(struct vhb_virtqueue *vq)
{
	struct vhb_worker *worker;

	rcu_read_lock();
	worker = rcu_dereference(vq->worker);
	rcu_read_unlock();
	return worker ? vhb_worker_flush_killable(worker) : 0;
}

/* Flush every worker of @dev.  Caller holds dev->mutex. */
void vhb_dev_flush(struct vhb_dev *dev)
{
	struct vhb_worker *worker;
	unsigned long i;

	xa_for_each(&dev->worker_ids, i, worker)
		vhb_worker_flush(worker);
}

/*
 * Flush the worker serving @vq.  Caller holds dev->mutex, which keeps the
 * worker from being freed, and not vq->mutex, which the work may need.
 */
void vhb_vq_flush(struct vhb_virtqueue *vq)
{
	struct vhb_worker *worker;

	rcu_read_lock();
	worker = rcu_dereference(vq->worker);
	rcu_read_unlock();
	if (worker)
		vhb_worker_flush(worker);
}

/**
 * vhb_vq_worker_has_work - is work waiting on the worker that serves @vq?
 * @vq: the virtqueue
 *
 * For a handler that busy-polls its ring: it must give way to the other
 * work of its worker.  A worker that is moving away may be missed; the poll
 * is bounded anyway.
 */
bool vhb_vq_worker_has_work(struct vhb_virtqueue *vq)
{
	struct vhb_worker *worker;
	bool ret = false;

	rcu_read_lock();
	worker = rcu_dereference(vq->worker);
	if (worker)
		ret = !llist_empty(&worker->work_list);
	rcu_read_unlock();
	return ret;
}

/* Task mode: the worker is a vhost_task, a thread of the owner. */
#ifdef VHB_HAVE_VHOST_TASK
/*
 * The owner was killed: SIGKILL ends a vhost_task.  Detach the worker from
 * its virtqueues so nothing is queued on it any more, then run what is left
 * on its list so that pending flushes complete.
 */
static void vhb_task_killed(void *data)
{
	struct vhb_worker *worker = data;
	struct vhb_dev *dev = worker->dev;
	int detached = 0;
	unsigned int i;

	mutex_lock(&worker->mutex);
	worker->killed = true;
	for (i = 0; i < dev->nvqs; i++) {
		struct vhb_virtqueue *vq = dev->vqs[i];

		vhb_vq_lock(vq);
		if (rcu_access_pointer(vq->worker) == worker) {
			rcu_assign_pointer(vq->worker, NULL);
			detached++;
		}
		mutex_unlock(&vq->mutex);
	}
	worker->attachment_cnt -= detached;
	if (detached) {
		vhb_topology_changed();
		synchronize_rcu();
	}
	vhb_worker_run(worker);
	mutex_unlock(&worker->mutex);
}

static int vhb_task_create(struct vhb_worker *worker, const char *name)
{
	struct vhost_task *vtsk;

	vtsk = vhb_vhost_task_create(vhb_worker_run, vhb_task_killed, worker,
				     name);
	if (IS_ERR(vtsk))
		return PTR_ERR(vtsk);
	worker->thread = vtsk;
	return 0;
}

static void vhb_task_start(struct vhb_worker *worker)
{
	vhost_task_start(worker->thread);
}

static void vhb_task_stop(struct vhb_worker *worker)
{
	vhost_task_stop(worker->thread);
}

static void vhb_task_wake(struct vhb_worker *worker)
{
	vhost_task_wake(worker->thread);
}

static const struct vhb_worker_ops vhb_task_ops = {
	.create	= vhb_task_create,
	.start	= vhb_task_start,
	.stop	= vhb_task_stop,
	.wake	= vhb_task_wake,
};

bool vhb_fork_owner_supported(void)
{
	return true;
}
#else
bool vhb_fork_owner_supported(void)
{
	return false;
}
#endif

/*
 * Kthread mode: a kernel thread that adopts the owner's mm for its whole life
 * and joins the owner's cgroups before it runs anything.
 */
static int vhb_kthread_fn(void *data)
{
	struct vhb_worker *worker = data;
	struct mm_struct *mm = worker->dev->mm;

	kthread_use_mm(mm);
	for (;;) {
		/* Pairs with the wake-up: set the state before looking. */
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}
		if (!vhb_worker_run(worker))
			schedule();
	}
	kthread_unuse_mm(mm);
	return 0;
}

static int vhb_kthread_create(struct vhb_worker *worker, const char *name)
{
	struct task_struct *task;
	int ret;

	task = kthread_create(vhb_kthread_fn, worker, "%s", name);
	if (IS_ERR(task))
		return PTR_ERR(task);

	/* The caller is the owner: put the thread in its cgroups. */
	ret = cgroup_attach_task_all(current, task);
	if (ret) {
		kthread_stop(task);
		return ret;
	}
	worker->thread = task;
	worker->pid = get_task_pid(task, PIDTYPE_PID);
	return 0;
}

static void vhb_kthread_start(struct vhb_worker *worker)
{
	wake_up_process(worker->thread);
}

static void vhb_kthread_stop(struct vhb_worker *worker)
{
	kthread_stop(worker->thread);
}

static void vhb_kthread_wake(struct vhb_worker *worker)
{
	wake_up_process(worker->thread);
}

static const struct vhb_worker_ops vhb_kthread_ops = {
	.create	= vhb_kthread_create,
	.start	= vhb_kthread_start,
	.stop	= vhb_kthread_stop,
	.wake	= vhb_kthread_wake,
};

static const struct vhb_worker_ops *vhb_worker_ops(struct vhb_dev *dev)
{
#ifdef VHB_HAVE_VHOST_TASK
	if (dev->fork_owner == VHOST_FORK_OWNER_TASK)
		return &vhb_task_ops;
#endif
	return &vhb_kthread_ops;
}

struct vhb_worker_hello {
	struct vhb_work work;
	struct vhb_worker *worker;
};

/* Runs first on a new worker: learn a vhost_task's pid. */
static void vhb_worker_hello_fn(struct vhb_work *work)
{
	struct vhb_worker_hello *hello =
		container_of(work, struct vhb_worker_hello, work);

	/* Netlink reads it without a lock. */
	if (!hello->worker->pid)
		WRITE_ONCE(hello->worker->pid, get_task_pid(current, PIDTYPE_PID));
}

/* Run a first work on a started worker and wait for it. */
static int vhb_worker_greet(struct vhb_worker *worker)
{
	struct vhb_worker_hello hello = { .worker = worker };
	int ret = 0;

	vhb_work_init(&hello.work, vhb_worker_hello_fn);
	mutex_lock(&worker->mutex);
	if (worker->killed) {
		/* The owner is being killed: no point in a new worker. */
		ret = -EINTR;
	} else {
		vhb_worker_queue(worker, &hello.work);
		__vhb_worker_flush(worker, true);
	}
	mutex_unlock(&worker->mutex);
	return ret;
}

/* Announce that @worker was created or freed. */
static void vhb_worker_notify(struct vhb_worker *worker,
			      enum vhb_event_type type)
{
	struct vhb_event ev = {
		.type = type,
		.worker_id = worker->id,
		.worker_pid = worker->pid,
	};

	vhb_dev_notify(worker->dev, &ev);
}

/* Stop and free a started worker that no virtqueue serves. */
static void vhb_worker_free(struct vhb_worker *worker)
{
	WARN_ON_ONCE(!llist_empty(&worker->work_list));
	worker->ops->stop(worker);
	put_pid(worker->pid);
	kfree(worker);
}

/*
 * Unpublish @worker and free it.  Netlink reads workers under RCU, so the
 * worker (and its pid) outlive a grace period.  Caller holds dev->mutex.
 */
static void vhb_worker_destroy(struct vhb_dev *dev, struct vhb_worker *worker)
{
	xa_erase(&dev->worker_ids, worker->id);
	vhb_topology_changed();
	synchronize_rcu();
	vhb_worker_free(worker);
}

/*
 * Create a worker for @dev in the calling thread's context: it becomes a
 * thread of the caller (task mode) or adopts the caller's cgroups.  Caller
 * holds dev->mutex and is the owner.
 *
 * The thread starts before the worker is published, as in mainline: a
 * vhost_task that never ran cannot be stopped (vhost_task_stop() waits for
 * it to exit), so every failure after creation must find it running.
 */
static struct vhb_worker *vhb_worker_create(struct vhb_dev *dev)
{
	struct vhb_worker *worker;
	char name[TASK_COMM_LEN];
	u32 id;
	int ret;

	worker = kzalloc(sizeof(*worker), GFP_KERNEL_ACCOUNT);
	if (!worker)
		return ERR_PTR(-ENOMEM);
	worker->dev = dev;
	worker->ops = vhb_worker_ops(dev);
	init_llist_head(&worker->work_list);
	mutex_init(&worker->mutex);

	snprintf(name, sizeof(name), "vhost-%d", current->pid);
	ret = worker->ops->create(worker, name);
	if (ret) {
		kfree(worker);
		return ERR_PTR(ret);
	}
	worker->ops->start(worker);

	ret = xa_alloc(&dev->worker_ids, &id, worker, xa_limit_32b,
		       GFP_KERNEL_ACCOUNT);
	if (ret) {
		vhb_worker_free(worker);
		return ERR_PTR(ret);
	}
	worker->id = id;
	vhb_topology_changed();

	ret = vhb_worker_greet(worker);
	if (ret) {
		vhb_worker_destroy(dev, worker);
		return ERR_PTR(ret);
	}
	vhb_worker_notify(worker, VHB_EV_WORKER_CREATED);
	return worker;
}

/*
 * Make @worker serve @vq.  Caller holds dev->mutex.  When @vq had another
 * worker and may have work in flight (it has a kick or a backend), wait for
 * that work to finish on the old worker.
 */
static void vhb_vq_attach(struct vhb_virtqueue *vq, struct vhb_worker *worker)
{
	struct vhb_worker *old;
	bool busy;

	mutex_lock(&worker->mutex);
	if (worker->killed) {
		mutex_unlock(&worker->mutex);
		return;
	}

	vhb_vq_lock(vq);
	old = rcu_dereference_protected(vq->worker,
					lockdep_is_held(&vq->mutex));
	rcu_assign_pointer(vq->worker, worker);
	worker->attachment_cnt++;
	busy = vq->kick || vq->private_data;
	mutex_unlock(&vq->mutex);
	mutex_unlock(&worker->mutex);
	if (old != worker) {
		struct vhb_event ev = {
			.type = VHB_EV_VQ_ATTACHED,
			.worker_id = worker->id,
			.vq = vq,
		};

		vhb_topology_changed();
		vhb_dev_notify(vq->dev, &ev);
	}

	if (!old || old == worker) {
		if (old) {
			mutex_lock(&worker->mutex);
			worker->attachment_cnt--;
			mutex_unlock(&worker->mutex);
		}
		return;
	}

	mutex_lock(&old->mutex);
	if (old->killed) {
		mutex_unlock(&old->mutex);
		return;
	}
	if (busy) {
		mutex_unlock(&old->mutex);
		/* Queuers that saw the old worker are done after this... */
		synchronize_rcu();
		mutex_lock(&old->mutex);
		/* ...and what they queued has run after this. */
		__vhb_worker_flush(old, false);
	}
	if (!old->killed)
		old->attachment_cnt--;
	mutex_unlock(&old->mutex);
}

/* The default worker, at SET_OWNER: create it and attach every virtqueue. */
int vhb_workers_setup(struct vhb_dev *dev)
{
	struct vhb_worker *worker;
	unsigned int i;

	worker = vhb_worker_create(dev);
	if (IS_ERR(worker))
		return PTR_ERR(worker);

	for (i = 0; i < dev->nvqs; i++)
		vhb_vq_attach(dev->vqs[i], worker);
	return 0;
}

/* Free every worker of @dev.  Caller holds dev->mutex; polls are stopped. */
void vhb_workers_free(struct vhb_dev *dev)
{
	struct vhb_worker *worker, *tmp;
	LIST_HEAD(dead);
	unsigned long i;

	for (i = 0; i < dev->nvqs; i++) {
		struct vhb_virtqueue *vq = dev->vqs[i];

		vhb_vq_lock(vq);
		rcu_assign_pointer(vq->worker, NULL);
		mutex_unlock(&vq->mutex);
	}
	xa_for_each(&dev->worker_ids, i, worker) {
		vhb_worker_notify(worker, VHB_EV_WORKER_FREED);
		xa_erase(&dev->worker_ids, i);
		list_add(&worker->dead, &dead);
	}
	vhb_topology_changed();
	/* Neither queuers nor netlink readers see the workers after this. */
	synchronize_rcu();

	list_for_each_entry_safe(worker, tmp, &dead, dead)
		vhb_worker_free(worker);
	xa_destroy(&dev->worker_ids);
}

/* How many workers @dev has; for netlink, under RCU or dev->mutex. */
unsigned int vhb_dev_num_workers(struct vhb_dev *dev)
{
	struct vhb_worker *worker;
	unsigned long id;
	unsigned int n = 0;

	xa_for_each(&dev->worker_ids, id, worker)
		n++;
	return n;
}

static struct vhb_worker *vhb_worker_find(struct vhb_dev *dev, u32 id)
{
	return xa_load(&dev->worker_ids, id);
}

static int vhb_new_worker(struct vhb_dev *dev, struct vhost_worker_state *state)
{
	struct vhb_worker *worker;

	/*
	 * Kthreads are not counted against the owner's RLIMIT_NPROC, so in
	 * kthread mode a module parameter bounds them instead.
	 */
	if (vhb_worker_ops(dev) == &vhb_kthread_ops &&
	    vhb_dev_num_workers(dev) >= kthread_max_workers)
		return -EAGAIN;

	worker = vhb_worker_create(dev);
	if (IS_ERR(worker))
		return PTR_ERR(worker);
	state->worker_id = worker->id;
	return 0;
}

static int vhb_free_worker(struct vhb_dev *dev, struct vhost_worker_state *state)
{
	struct vhb_worker *worker = vhb_worker_find(dev, state->worker_id);

	if (!worker)
		return -ENODEV;

	mutex_lock(&worker->mutex);
	if (worker->attachment_cnt || worker->killed) {
		mutex_unlock(&worker->mutex);
		return -EBUSY;
	}
	/* Let work that raced with the last detach finish. */
	__vhb_worker_flush(worker, true);
	mutex_unlock(&worker->mutex);

	vhb_worker_notify(worker, VHB_EV_WORKER_FREED);
	vhb_worker_destroy(dev, worker);
	return 0;
}

/**
 * vhb_vq_attach_worker - make worker @id serve @vq
 * @vq: the virtqueue
 * @id: the worker's id
 *
 * The ioctl's and netlink's common path.  Caller holds dev->mutex; the device
 * has an owner.  Returns -ENODEV if there is no such worker.
 */
int vhb_vq_attach_worker(struct vhb_virtqueue *vq, u32 id)
{
	struct vhb_worker *worker = vhb_worker_find(vq->dev, id);

	if (!worker)
		return -ENODEV;
	vhb_vq_attach(vq, worker);
	return 0;
}

static int vhb_get_vq(struct vhb_dev *dev, void __user *argp,
		      struct vhb_virtqueue **vq)
{
	u32 idx;

	if (get_user(idx, (u32 __user *)argp))
		return -EFAULT;
	if (idx >= dev->nvqs)
		return -ENOBUFS;
	*vq = dev->vqs[array_index_nospec(idx, dev->nvqs)];
	return 0;
}

/**
 * vhb_worker_ioctl - VHOST_NEW_WORKER, VHOST_FREE_WORKER,
 * VHOST_ATTACH_VRING_WORKER and VHOST_GET_VRING_WORKER
 * @dev: the device
 * @ioctl: the command
 * @argp: its argument, in user memory
 *
 * Mainline's checks, in mainline's order: no owner yet is EINVAL, a caller
 * that is not the owner EPERM.  Caller holds dev->mutex.  Returns
 * -ENOIOCTLCMD for any other command.
 */
long vhb_worker_ioctl(struct vhb_dev *dev, unsigned int ioctl,
		      void __user *argp)
{
	struct vhb_virtqueue *vq;
	struct vhost_vring_worker ring_worker;
	struct vhost_worker_state state;
	struct vhb_worker *worker;
	long ret;

	switch (ioctl) {
	case VHOST_NEW_WORKER:
	case VHOST_FREE_WORKER:
	case VHOST_ATTACH_VRING_WORKER:
	case VHOST_GET_VRING_WORKER:
		break;
	default:
		return -ENOIOCTLCMD;
	}

	if (!vhb_dev_has_owner(dev))
		return -EINVAL;
	ret = vhb_dev_check_owner(dev);
	if (ret)
		return ret;

	switch (ioctl) {
	case VHOST_NEW_WORKER:
		memset(&state, 0, sizeof(state));
		ret = vhb_new_worker(dev, &state);
		if (!ret && copy_to_user(argp, &state, sizeof(state)))
			ret = -EFAULT;
		return ret;
	case VHOST_FREE_WORKER:
		if (copy_from_user(&state, argp, sizeof(state)))
			return -EFAULT;
		return vhb_free_worker(dev, &state);
	}

	ret = vhb_get_vq(dev, argp, &vq);
	if (ret)
		return ret;

	if (ioctl == VHOST_ATTACH_VRING_WORKER) {
		if (copy_from_user(&ring_worker, argp, sizeof(ring_worker)))
			return -EFAULT;
		return vhb_vq_attach_worker(vq, ring_worker.worker_id);
	}

	/* VHOST_GET_VRING_WORKER */
	rcu_read_lock();
	worker = rcu_dereference(vq->worker);
	ring_worker.worker_id = worker ? worker->id : 0;
	rcu_read_unlock();
	if (!worker)
		return -EINVAL;
	ring_worker.index = vq->index;
	if (copy_to_user(argp, &ring_worker, sizeof(ring_worker)))
		return -EFAULT;
	return 0;
}

/**
 * vhb_set_nworkers - the vhost-blk RFC's VHOST_SET_NWORKERS
 * @dev: the device
 * @n: how many workers it is to have
 *
 * Create workers until the device has @n (at most one per virtqueue), then
 * spread the virtqueues over them round robin.  Only adds workers: asking
 * for fewer than the device has is EINVAL.  Caller holds dev->mutex and is
 * the owner.
 */
int vhb_set_nworkers(struct vhb_dev *dev, int n)
{
	struct vhb_worker **workers;
	struct vhb_worker *worker;
	unsigned int have = vhb_dev_num_workers(dev), i;
	unsigned long id;
	int ret = 0;

	if (n < 1 || n < have)
		return -EINVAL;
	n = min_t(unsigned int, n, dev->nvqs);

	for (i = have; i < n; i++) {
		struct vhost_worker_state state;

		ret = vhb_new_worker(dev, &state);
		if (ret)
			return ret;
	}

	workers = kcalloc(n, sizeof(*workers), GFP_KERNEL);
	if (!workers)
		return -ENOMEM;
	i = 0;
	xa_for_each(&dev->worker_ids, id, worker) {
		if (i < n)
			workers[i++] = worker;
	}
	for (i = 0; i < dev->nvqs; i++)
		vhb_vq_attach(dev->vqs[i], workers[i % n]);
	kfree(workers);
	return 0;
}
