/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared between the parts of vhost_blk.ko: the misc device
 * (blk.c), the netlink family (nl.c) and module init (main.c).
 */
#ifndef VHB_VHOST_BLK_H
#define VHB_VHOST_BLK_H

int vhb_blk_init(void);
void vhb_blk_exit(void);
int vhb_nl_init(void);
void vhb_nl_exit(void);

#endif /* VHB_VHOST_BLK_H */
