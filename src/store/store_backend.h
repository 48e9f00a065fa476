/*
 * store_backend: what backends share and callers must not see. A backend's subscription object
 * starts with struct store_sub so that store_unsubscribe can find the backend's vtable from the
 * subscription alone. Included only by store.c and the store_*.c backends.
 */
#ifndef MCPD_STORE_STORE_BACKEND_H
#define MCPD_STORE_STORE_BACKEND_H

#include "store/store.h"

struct store_sub {
    struct store *store; /* the store the subscription belongs to */
};

#endif
