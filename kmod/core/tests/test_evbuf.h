/* SPDX-License-Identifier: GPL-2.0 */
/*
 * test_evbuf.h - the buffered-event tests (test_evbuf.c), run by test_core.
 */
#ifndef _SBX_TEST_EVBUF_H
#define _SBX_TEST_EVBUF_H

/* Runs them; returns the failures and sets *@nr_checks to the checks made. */
int test_evbuf(int *nr_checks);

#endif
