/* SPDX-License-Identifier: MIT */
/* The interactive console (vmm/term.c), on pipes and a pseudo-terminal
 * feeding a real UART: output to stdout and the log, the Ctrl-A escapes
 * (on a terminal only), FIFO backpressure, end of input, raw mode. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/term.h"

#define UART_RBR 0 /* receive buffer (read) */
#define UART_FCR 2 /* FIFO control (write) */

struct fixture {
	struct event_loop loop;
	struct serial serial;
	struct irq_line irq;
	struct term term;
	int quits;
	int in_fd;   /* what term reads: a pipe's read end or a pty slave */
	int feed_fd; /* where the test types: the pipe's write end or the master */
};

static int fake_irq_set(struct irq_line *line, int level)
{
	return 0;
}

static void on_quit(void *opaque)
{
	struct fixture *f = opaque;

	f->quits++;
}

static struct fixture *fixture_new(int in_fd, int feed_fd, int out_fd)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(el_init(&f->loop), 0);
	f->irq.set = fake_irq_set;
	f->in_fd = in_fd;
	f->feed_fd = feed_fd;
	term_init(&f->term, &(struct term_config){
				    .loop = &f->loop,
				    .serial = &f->serial,
				    .in_fd = in_fd,
				    .out_fd = out_fd,
				    .quit = on_quit,
				    .opaque = f,
			    });
	serial_init(&f->serial, &(struct serial_config){
					.irq = &f->irq,
					.tx = term_tx,
					.tx_opaque = &f->term,
					.rx_space = term_rx_space,
					.rx_opaque = &f->term,
				});
	return f;
}

static void fixture_free(struct fixture *f)
{
	term_destroy(&f->term);
	serial_destroy(&f->serial);
	el_destroy(&f->loop);
	if (f->feed_fd >= 0)
		close(f->feed_fd);
	close(f->in_fd);
	free(f);
}

static struct fixture *on_pipe(void)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	return fixture_new(p[0], p[1], -1);
}

static struct fixture *on_pty(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave;

	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	return fixture_new(slave, master, -1);
}

/* The guest's side of the UART (the bus takes the serial lock around its ops). */
static void uart_write(struct fixture *f, uint64_t reg, uint8_t v)
{
	pthread_mutex_lock(&f->serial.lock);
	serial_bus_ops.write(&f->serial, reg, &v, 1);
	pthread_mutex_unlock(&f->serial.lock);
}

static uint8_t uart_read(struct fixture *f)
{
	uint8_t v = 0;

	pthread_mutex_lock(&f->serial.lock);
	serial_bus_ops.read(&f->serial, UART_RBR, &v, 1);
	pthread_mutex_unlock(&f->serial.lock);
	return v;
}

/* Type `s`, wait until term can read it, and run its input handler once
 * (as the event loop would). */
static void type_and_handle(struct fixture *f, const char *s, size_t len)
{
	struct pollfd p = { .fd = f->in_fd, .events = POLLIN };

	if (len)
		assert_int_equal(write(f->feed_fd, s, len), (ssize_t)len);
	assert_int_equal(poll(&p, 1, 2000), 1);
	f->term.in_src.handler(&f->term.in_src, EPOLLIN);
}

static void test_output_to_stdout_and_log(void **state)
{
	char path[] = "/tmp/test_term_log.XXXXXX", buf[16] = "";
	int p[2], fd = mkstemp(path);
	struct fixture *f;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	f = fixture_new(dup(p[0]), -1, p[1]);
	assert_int_equal(term_open_log(&f->term, path), 0);
	term_tx(&f->term, (const uint8_t *)"hi\n", 3);
	assert_int_equal(read(p[0], buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "hi\n", 3);
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "hi\n", 3);
	fixture_free(f);
	close(p[0]);
	close(p[1]);
	close(fd);
	unlink(path);
}

static void test_log_that_cannot_be_opened(void **state)
{
	struct fixture *f = on_pipe();

	(void)state;
	assert_int_equal(term_open_log(&f->term, "/nonexistent/dir/console.log"), -ENOENT);
	assert_int_equal(f->term.log_fd, -1);
	fixture_free(f); /* term_destroy closes nothing */
}

static void test_escapes_on_a_terminal(void **state)
{
	static const char keys[] = "a\x01\x01"
				   "b\x01hc\x01x"
				   "dropped";
	struct fixture *f = on_pty();

	(void)state;
	term_raw_enter(&f->term); /* bytes reach term one by one, Ctrl-A too */
	term_attach_input(&f->term);
	assert_true(f->term.in_is_tty);
	uart_write(f, UART_FCR, 0x01); /* the 16-byte FIFO */
	type_and_handle(f, keys, sizeof(keys) - 1);
	/* Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A h only helps, Ctrl-A x quits
	 * and drops the rest */
	assert_int_equal(f->quits, 1);
	assert_int_equal(uart_read(f), 'a');
	assert_int_equal(uart_read(f), 0x01);
	assert_int_equal(uart_read(f), 'b');
	assert_int_equal(uart_read(f), 'c');
	assert_int_equal(serial_rx_space(&f->serial), SERIAL_FIFO_SIZE);
	fixture_free(f);
}

static void test_no_escapes_on_a_pipe(void **state)
{
	struct fixture *f = on_pipe();

	(void)state;
	term_attach_input(&f->term);
	assert_false(f->term.in_is_tty);
	uart_write(f, UART_FCR, 0x01);
	type_and_handle(f, "\x01x", 2);
	assert_int_equal(f->quits, 0);
	assert_int_equal(uart_read(f), 0x01);
	assert_int_equal(uart_read(f), 'x');
	fixture_free(f);
}

static void test_backpressure(void **state)
{
	struct fixture *f = on_pipe();

	(void)state;
	term_attach_input(&f->term);
	/* without the FIFO the UART holds one byte: the rest waits in the pipe */
	type_and_handle(f, "xy", 2);
	assert_int_equal(serial_rx_space(&f->serial), 0);
	assert_false(f->term.in_paused);
	type_and_handle(f, "", 0);
	assert_true(f->term.in_paused); /* no room: input not polled */
	/* the guest reads: the UART calls back and input is polled again */
	assert_int_equal(uart_read(f), 'x');
	assert_false(f->term.in_paused);
	type_and_handle(f, "", 0);
	assert_int_equal(uart_read(f), 'y');
	fixture_free(f);
}

static void test_end_of_input(void **state)
{
	struct fixture *f = on_pipe();

	(void)state;
	term_attach_input(&f->term);
	close(f->feed_fd);
	f->feed_fd = -1;
	type_and_handle(f, "", 0);
	assert_int_equal(f->term.in_fd, -1); /* no longer served */
	term_rx_space(&f->term);	     /* and never polled again */
	assert_false(f->term.in_paused);
	fixture_free(f);
}

static void test_unpollable_input(void **state)
{
	char path[] = "/tmp/test_term_in.XXXXXX";
	int fd = mkstemp(path);
	struct fixture *f;

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	f = fixture_new(fd, -1, -1);
	term_attach_input(&f->term); /* epoll refuses regular files */
	assert_int_equal(f->term.in_fd, -1);
	fixture_free(f);
}

static void test_raw_mode_and_restore(void **state)
{
	struct fixture *f = on_pty(), *p = on_pipe();
	struct termios tio;

	(void)state;
	assert_int_equal(tcgetattr(f->in_fd, &tio), 0);
	assert_true(tio.c_lflag & ICANON);
	term_raw_enter(&f->term);
	assert_int_equal(tcgetattr(f->in_fd, &tio), 0);
	assert_false(tio.c_lflag & (ICANON | ECHO | ISIG));
	term_raw_restore(&f->term);
	assert_int_equal(tcgetattr(f->in_fd, &tio), 0);
	assert_true(tio.c_lflag & ICANON);
	/* term_destroy restores too, if the run did not */
	term_raw_enter(&f->term);
	term_destroy(&f->term);
	assert_int_equal(tcgetattr(f->in_fd, &tio), 0);
	assert_true(tio.c_lflag & (ICANON | ECHO));
	/* not a terminal: nothing to do */
	term_raw_enter(&p->term);
	assert_false(p->term.raw);
	fixture_free(p);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_to_stdout_and_log),
		cmocka_unit_test(test_log_that_cannot_be_opened),
		cmocka_unit_test(test_escapes_on_a_terminal),
		cmocka_unit_test(test_no_escapes_on_a_pipe),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_end_of_input),
		cmocka_unit_test(test_unpollable_input),
		cmocka_unit_test(test_raw_mode_and_restore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
