/* Shared includes for the cmocka unit tests. */
#ifndef MCPD_TESTUTIL_H
#define MCPD_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#endif
