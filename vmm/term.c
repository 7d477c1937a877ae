/* SPDX-License-Identifier: MIT */
/*
 * The interactive console (see term.h): raw mode, input with backpressure
 * and the Ctrl-A escapes, output to stdout and --console-log. Used by vm.c
 * and, through the serial callbacks, by the UART.
 */
#include "vmm/term.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/log.h"

#define CTRL_A 0x01

void term_init(struct term *t, const struct term_config *cfg)
{
	memset(t, 0, sizeof(*t));
	t->cfg = *cfg;
	t->log_fd = -1;
	t->in_fd = -1;
}

int term_open_log(struct term *t, const char *path)
{
	int ret;

	t->log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (t->log_fd < 0) {
		ret = -errno;
		log_err("cannot open console log %s: %s", path, strerror(-ret));
		return ret;
	}
	return 0;
}

static void write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* console gone (EPIPE...): drop output, keep running */
		buf += n;
		len -= (size_t)n;
	}
}

/* serial -> host: runs on a vCPU thread under the serial lock */
void term_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct term *t = opaque;

	write_all(t->cfg.out_fd, buf, len);
	if (t->log_fd >= 0)
		write_all(t->log_fd, buf, len);
}

/* Called from the event loop (pause) and from vCPU threads (resume): the
 * flag is atomic, and the loop re-checks for space after pausing, so a
 * resume racing with a pause is never lost. */
static void input_set_polling(struct term *t, bool on)
{
	if (__atomic_load_n(&t->in_fd, __ATOMIC_ACQUIRE) < 0)
		return; /* input is gone (EOF) */
	if (el_modify(t->cfg.loop, &t->in_src, on ? EPOLLIN : 0) == 0)
		__atomic_store_n(&t->in_paused, !on, __ATOMIC_RELEASE);
}

/* The guest drained the receive FIFO: poll input again (serial lock held). */
void term_rx_space(void *opaque)
{
	struct term *t = opaque;

	if (__atomic_load_n(&t->in_paused, __ATOMIC_ACQUIRE))
		input_set_polling(t, true);
}

static void term_help(void)
{
	static const char help[] = "\r\nvmm console: Ctrl-A x  quit\r\n"
				   "             Ctrl-A Ctrl-A  send Ctrl-A\r\n"
				   "             Ctrl-A h  this help\r\n";

	write_all(STDERR_FILENO, (const uint8_t *)help, sizeof(help) - 1);
}

/* Strip the Ctrl-A escapes out of buf in place; returns the bytes left.
 * After Ctrl-A x the rest of buf is dropped: the VM is ending. */
static size_t term_filter(struct term *t, uint8_t *buf, size_t len)
{
	size_t i, out = 0;

	for (i = 0; i < len; i++) {
		uint8_t c = buf[i];

		if (t->escape_pending) {
			t->escape_pending = false;
			if (c == 'x' || c == 'X') {
				log_info("quit requested from the console");
				t->cfg.quit(t->cfg.opaque);
				return out;
			}
			if (c == 'h' || c == 'H' || c == '?')
				term_help();
			else if (c == CTRL_A)
				buf[out++] = CTRL_A;
			continue;
		}
		if (c == CTRL_A && t->in_is_tty)
			t->escape_pending = true;
		else
			buf[out++] = c;
	}
	return out;
}

/* input -> serial: on the event loop, never more than the FIFO takes */
static void input_handler(struct el_source *src, uint32_t events)
{
	struct term *t = src->opaque;
	uint8_t buf[SERIAL_FIFO_SIZE];
	size_t space, n;
	ssize_t got;

	space = serial_rx_space(t->cfg.serial);
	if (space == 0) {
		input_set_polling(t, false);
		/* the guest may have read in between: look again */
		if (serial_rx_space(t->cfg.serial) > 0)
			input_set_polling(t, true);
		return;
	}
	got = read(t->in_fd, buf, space < sizeof(buf) ? space : sizeof(buf));
	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (got <= 0) { /* EOF or error: stop serving input, keep the VM */
		(void)el_remove(t->cfg.loop, &t->in_src);
		__atomic_store_n(&t->in_fd, -1, __ATOMIC_RELEASE);
		return;
	}
	n = term_filter(t, buf, (size_t)got);
	if (n)
		(void)serial_receive(t->cfg.serial, buf, n);
}

void term_attach_input(struct term *t)
{
	/* epoll refuses regular files (EPERM) and a closed fd (EBADF) */
	t->in_fd = t->cfg.in_fd;
	t->in_is_tty = isatty(t->cfg.in_fd);
	t->in_src = (struct el_source){ .fd = t->cfg.in_fd, .handler = input_handler, .opaque = t };
	if (el_add(t->cfg.loop, &t->in_src, EPOLLIN) < 0) {
		log_debug("stdin is not pollable; the guest gets no console input");
		t->in_fd = -1;
	}
}

void term_raw_enter(struct term *t)
{
	struct termios raw;

	t->raw = false;
	if (!isatty(t->cfg.in_fd) || tcgetattr(t->cfg.in_fd, &t->saved) < 0)
		return;
	raw = t->saved;
	cfmakeraw(&raw);
	if (tcsetattr(t->cfg.in_fd, TCSANOW, &raw) == 0)
		t->raw = true;
}

void term_raw_restore(struct term *t)
{
	if (t->raw)
		tcsetattr(t->cfg.in_fd, TCSANOW, &t->saved);
	t->raw = false;
}

void term_destroy(struct term *t)
{
	term_raw_restore(t);
	if (t->log_fd >= 0)
		close(t->log_fd);
	t->log_fd = -1;
}
