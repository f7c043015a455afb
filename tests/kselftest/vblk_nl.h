/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small generic netlink client for the suites that read the "vhost_blk"
 * family: requests, dumps and attribute parsing, on a raw socket.
 */
#ifndef VBLK_NL_H
#define VBLK_NL_H

#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vhost_blk.h>

#define MAX_ATTR 40

struct nl {
	int fd;
	__u16 family;
	__u32 seq;
};

/* One parsed message: its command and its top-level attributes. */
struct msg {
	__u8 cmd;
	const struct nlattr *attr[MAX_ATTR];
};

static inline int nl_send(struct nl *nl, __u16 type, __u16 flags, __u8 cmd, const void *attrs,
			  size_t attrs_len)
{
	char buf[256];
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct genlmsghdr *g = NLMSG_DATA(nlh);

	memset(buf, 0, sizeof(buf));
	nlh->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + attrs_len;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	g->cmd = cmd;
	g->version = 1;
	memcpy((char *)g + GENL_HDRLEN, attrs, attrs_len);
	return send(nl->fd, buf, nlh->nlmsg_len, 0) < 0 ? -errno : 0;
}

static inline size_t put_u32(void *buf, __u16 type, __u32 v)
{
	struct nlattr *a = buf;

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + sizeof(v);
	memcpy((char *)a + NLA_HDRLEN, &v, sizeof(v));
	return NLA_ALIGN(a->nla_len);
}

static inline size_t put_str(void *buf, __u16 type, const char *s)
{
	struct nlattr *a = buf;

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + strlen(s) + 1;
	memcpy((char *)a + NLA_HDRLEN, s, strlen(s) + 1);
	return NLA_ALIGN(a->nla_len);
}

static inline void parse_attrs(const struct nlattr *a, int len, const struct nlattr **tb)
{
	memset(tb, 0, sizeof(*tb) * MAX_ATTR);
	while (len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len) {
		if ((a->nla_type & NLA_TYPE_MASK) < MAX_ATTR)
			tb[a->nla_type & NLA_TYPE_MASK] = a;
		len -= NLA_ALIGN(a->nla_len);
		a = (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
}

static inline __u32 get_u32(const struct nlattr *a)
{
	__u32 v;

	memcpy(&v, (const char *)a + NLA_HDRLEN, sizeof(v));
	return v;
}

static inline __u64 get_u64(const struct nlattr *a)
{
	__u64 v;

	memcpy(&v, (const char *)a + NLA_HDRLEN, sizeof(v));
	return v;
}

/*
 * Receive the replies to the last request into @msgs (at most @max), the
 * payload into @store.  Returns the number of messages or -errno (from an
 * NLMSG_ERROR).
 */
static inline int nl_recv(struct nl *nl, struct msg *msgs, int max, char *store, size_t store_len)
{
	size_t used = 0;
	int n = 0;

	for (;;) {
		ssize_t len = recv(nl->fd, store + used, store_len - used, 0);
		struct nlmsghdr *nlh = (struct nlmsghdr *)(store + used);

		if (len < 0)
			return -errno;
		used += len;
		for (; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_type == NLMSG_DONE)
				return n;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nlh);

				return e->error ? e->error : n;
			}
			if (n < max) {
				struct genlmsghdr *g = NLMSG_DATA(nlh);

				msgs[n].cmd = g->cmd;
				parse_attrs((const struct nlattr *)((char *)g + GENL_HDRLEN),
					    nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN),
					    msgs[n].attr);
				n++;
			}
			if (!(nlh->nlmsg_flags & NLM_F_MULTI))
				return n;
		}
		if (store_len - used < 65536)
			return -ENOSPC;
	}
}

/* The id of generic netlink family @name: >0, or -errno. */
static inline int nl_family_id(struct nl *nl, const char *name)
{
	char attrs[64], store[8192];
	struct msg m;
	__u16 id;
	int n;

	n = nl_send(nl, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, attrs,
		    put_str(attrs, CTRL_ATTR_FAMILY_NAME, name));
	if (n)
		return n;
	n = nl_recv(nl, &m, 1, store, sizeof(store));
	if (n < 1)
		return n < 0 ? n : -ENOENT;
	if (!m.attr[CTRL_ATTR_FAMILY_ID])
		return -EPROTO;
	memcpy(&id, (const char *)m.attr[CTRL_ATTR_FAMILY_ID] + NLA_HDRLEN, sizeof(id));
	/* The ack that follows. */
	return nl_recv(nl, &m, 0, store, sizeof(store)) < 0 ? -EPROTO : id;
}

static inline int nl_open(struct nl *nl)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	int id;

	nl->seq = 0;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->fd < 0 || bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	id = nl_family_id(nl, VHOST_BLK_GENL_NAME);
	if (id < 0)
		return id;
	nl->family = id;
	return 0;
}

/* A dump of @cmd, filtered by device @dev_id (attribute @filter) if >= 0. */
static inline int nl_dump(struct nl *nl, __u8 cmd, int filter, long dev_id, struct msg *msgs,
			  int max, char *store, size_t store_len)
{
	char attrs[16] = "";
	size_t len = 0;
	int ret;

	if (dev_id >= 0)
		len = put_u32(attrs, filter, dev_id);
	ret = nl_send(nl, nl->family, NLM_F_DUMP, cmd, attrs, len);
	return ret ? ret : nl_recv(nl, msgs, max, store, store_len);
}

/*
 * The vq @index of the one device this process owns: attribute @attr of
 * its VQ_GET message, a u64 counter, into *@val.  0, or -errno.
 */
static inline int nl_my_vq_u64(unsigned int index, int attr, __u64 *val)
{
	static struct msg msgs[256];
	static char store[1 << 20];
	int n, i, dev = -1, ret;
	struct nl nl = {.fd = -1};

	ret = nl_open(&nl);
	if (ret)
		return ret;
	n = nl_dump(&nl, VHOST_BLK_CMD_DEV_GET, 0, -1, msgs, 256, store, sizeof(store));
	for (i = 0; i < n; i++) {
		if (msgs[i].attr[VHOST_BLK_A_DEV_OWNER_PID] &&
		    get_u32(msgs[i].attr[VHOST_BLK_A_DEV_OWNER_PID]) == (__u32)getpid()) {
			if (dev >= 0)
				n = -EEXIST;
			dev = get_u32(msgs[i].attr[VHOST_BLK_A_DEV_ID]);
		}
	}
	ret = n < 0 ? n : dev < 0 ? -ENODEV : 0;
	if (!ret) {
		n = nl_dump(&nl, VHOST_BLK_CMD_VQ_GET, VHOST_BLK_A_VQ_DEV_ID, dev, msgs, 256, store,
			    sizeof(store));
		ret = n <= (int)index ? -ENOENT : !msgs[index].attr[attr] ? -ENODATA : 0;
		if (!ret)
			*val = get_u64(msgs[index].attr[attr]);
	}
	close(nl.fd);
	return ret;
}

#endif /* VBLK_NL_H */
