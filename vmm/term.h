/* SPDX-License-Identifier: MIT */
/*
 * The interactive console, like kvmtool's term.c: the host terminal in raw
 * mode while the guest runs, stdin fed to the guest's UART with
 * backpressure, the Ctrl-A escapes (x quits, h helps, Ctrl-A Ctrl-A sends
 * one Ctrl-A), and the UART's output on stdout and in --console-log.
 *
 * Called by the composition root (vm.c): term_init() when the VM is
 * zeroed, term_open_log() early, term_attach_input() with the event
 * sources, term_raw_enter()/term_raw_restore() around the run, and
 * term_destroy(). The UART calls term_tx() and term_rx_space().
 *
 * Threads: term_tx() and term_rx_space() run on vCPU threads under the
 * serial lock; the input handler runs on the event-loop thread. in_fd and
 * in_paused are shared between them (atomics); everything else is set up
 * before the threads start or belongs to one of them.
 */
#ifndef VMM_TERM_H
#define VMM_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "base/event_loop.h"
#include "devices/serial.h"

struct term_config {
	struct event_loop *loop;
	struct serial *serial; /* the UART the input goes to */
	int in_fd;	       /* STDIN_FILENO (a pipe or pty in tests) */
	int out_fd;	       /* STDOUT_FILENO */
	/* Ctrl-A x: the user wants the VM to end */
	void (*quit)(void *opaque);
	void *opaque;
};

struct term {
	struct term_config cfg;
	int log_fd;	     /* --console-log, or -1 */
	int in_fd;	     /* cfg.in_fd while input is served, else -1 */
	bool in_paused;	     /* receive FIFO full: input not polled */
	bool in_is_tty;	     /* Ctrl-A escapes only on a terminal */
	bool escape_pending; /* Ctrl-A seen */
	struct el_source in_src;
	bool raw; /* the terminal is in raw mode; saved is what to restore */
	struct termios saved;
};

/* Record the configuration; opens nothing and cannot fail, so that
 * term_destroy() is safe from then on. */
void term_init(struct term *t, const struct term_config *cfg);

/* --console-log FILE: also write the guest's output there (truncated
 * first). Logs why it failed. */
int term_open_log(struct term *t, const char *path) __attribute__((warn_unused_result));

/* Serve input from cfg.in_fd on the event loop. A regular file or a closed
 * stdin cannot be polled: then the guest simply gets no input. */
void term_attach_input(struct term *t);

/* Raw mode while the guest runs: every key (Ctrl-C included) goes to the
 * guest; Ctrl-A x quits. Nothing happens when in_fd is not a terminal. */
void term_raw_enter(struct term *t);
/* Give the terminal back as it was (idempotent). */
void term_raw_restore(struct term *t);

/* Restores the terminal and closes the log. */
void term_destroy(struct term *t);

/* struct serial_config callbacks (opaque: the struct term) */
void term_tx(void *opaque, const uint8_t *buf, size_t len);
void term_rx_space(void *opaque);

#endif /* VMM_TERM_H */
