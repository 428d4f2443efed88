/*
 * recover: sandboxd's start after a stop or a crash (see recover.c).
 */
#pragma once
#include "sandboxd/sbx.h"

/* Finish or undo what the rows say was in progress, remove leftovers. */
void recover(struct sbx *s);
/* Release imaged leases of containers that no longer exist. */
void recover_leases(struct sbx *s);
